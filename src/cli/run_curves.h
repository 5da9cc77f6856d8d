/* A run directory's curves, read for `repro plot` and `repro report`: the
 * per-step training loss from ledger.jsonl and the per-epoch measurements
 * of metrics.jsonl. */
#ifndef REPRO_CLI_RUN_CURVES_H
#define REPRO_CLI_RUN_CURVES_H

#include <cjson/cJSON.h>

typedef struct run_curves {
    const char *dir;
    cJSON *record;       /* run.json */
    double *step, *loss; /* [n_steps]: the ledger's step and exact loss */
    int n_steps;
    cJSON *metrics; /* array: one object per metrics.jsonl line */
} run_curves;

/* Reads DIR; on failure prints "<what>: <why>" to stderr and returns 2
 * (free with run_curves_free either way). A missing metrics.jsonl is no
 * error (a run stopped in its first epoch has none). */
int run_curves_load(const char *dir, const char *what, run_curves *rc);
void run_curves_free(run_curves *rc);

/* The series of one metric: "loss" is the ledger's per-step training loss
 * (x: step); any other name a numeric field of metrics.jsonl (x: epoch).
 * Returns the number of points (0 if the run has none) and sets *x, *y to
 * arrays the caller frees; -1 when out of memory. */
int run_curves_series(const run_curves *rc, const char *metric, double **x, double **y);

#endif
