/* Test-only knobs of a training run, kept out of the public headers: the
 * CLI fills them from environment variables that only tests set
 * (REPRO_TEST_PERTURB, REPRO_TEST_LOADER_JITTER_US) and calls
 * repro_train_hooked; the public repro_train runs without them. A run made
 * with any of them on records it in run.json, so it is never mistaken for a
 * normal one. */
#ifndef REPRO_TRAIN_TEST_HOOKS_H
#define REPRO_TRAIN_TEST_HOOKS_H

#include <stdint.h>

#include "repro/train.h"

/* Makes one gradient element one ulp larger (the next float toward +inf)
 * after the backward pass of one step, before clipping and the optimiser,
 * to inject a known divergence ("test_perturb" in run.json). */
typedef struct repro_test_perturb {
    int64_t step;      /* optimiser step, 1-based like the ledger; 0 = off */
    char tensor[160];  /* a parameter tensor, e.g. "trunk.2.weight" */
    int64_t index;     /* the element within it (row-major) */
} repro_test_perturb;

typedef struct repro_test_hooks {
    repro_test_perturb perturb;
    int loader_jitter_us; /* each loader worker sleeps a pseudo-random 0..N us per sample (workers
                             finish out of order; "test_loader_jitter_us" in run.json); 0 = off */
    const char *hash_log; /* REPRO_TEST_HASH_LOG: append "PATH\n" for each data file read in full to hash
                             it (not found in the hash cache); NULL = off */
} repro_test_hooks;

/* Appends path and a newline to log (a test's record of what was read). */
void repro_test_hash_log(const char *log, const char *path);

/* repro_train with hooks (NULL: none, exactly repro_train). */
repro_status repro_train_hooked(const repro_config *cfg, const repro_train_options *opts,
                                const repro_test_hooks *hooks, repro_train_result *res, repro_error *err);

#endif
