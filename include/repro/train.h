/* repro/train.h: train a model from a config and record the run.
 *
 * repro_train() is the whole of `repro train`: it loads the data, builds the
 * model, trains it under the config's exact evaluation orders, evaluates it
 * every epoch and writes the run directory (run.json, metrics.jsonl,
 * ledger.jsonl, model.safetensors; see docs/run-directory.md). The same
 * config gives the same bits for any thread count, ISA path or
 * gradient-accumulation split. */
#ifndef REPRO_TRAIN_H
#define REPRO_TRAIN_H

#include <stdint.h>

#include "repro/config.h"
#include "repro/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum repro_progress_kind {
    REPRO_PROGRESS_START = 0, /* the run is set up; totals are known */
    REPRO_PROGRESS_STEP,      /* an optimiser step finished */
    REPRO_PROGRESS_EPOCH      /* an epoch finished and was evaluated */
} repro_progress_kind;

typedef struct repro_progress {
    repro_progress_kind kind;
    const char *run_dir;
    int epoch, epochs;                  /* epoch is 0-based */
    int64_t step, total_steps;          /* optimiser steps done so far, and planned */
    int64_t step_in_epoch, steps_in_epoch;
    float loss;                         /* this step's loss (STEP), or the epoch's mean train loss (EPOCH) */
    float lr;
    double samples_per_sec;             /* over the current epoch so far */
    double elapsed_sec;                 /* since the start of training */
    /* EPOCH only: evaluation (has_* says which exist) */
    int has_val, has_test, has_accuracy;
    float val_loss, val_accuracy, test_loss, test_accuracy;
    int early_stop;                     /* training stops after this epoch */
} repro_progress;

typedef void (*repro_progress_fn)(void *ctx, const repro_progress *p);

typedef struct repro_train_options {
    const char *out_dir;        /* run directory; NULL = runs/<config name>-<time> */
    int force;                  /* overwrite a directory that holds a complete run */
    const char *isa;            /* "auto"/NULL, "scalar", "avx2", "avx512" (REPRO_ISA) */
    repro_progress_fn progress; /* may be NULL */
    void *progress_ctx;
    const char *const *overrides; /* the --set strings, recorded in run.json */
    int n_overrides;
    const char *resume_dir;     /* continue this run from its newest valid checkpoint */
    int resume_force;           /* resume even if the checkpoint's config hash differs */
    int64_t stop_after;         /* > 0: checkpoint and stop (status interrupted) after this step */
    volatile const int *interrupt; /* when it becomes non-zero: checkpoint and stop (e.g. SIGINT) */
} repro_train_options;

typedef struct repro_train_result {
    char run_dir[REPRO_PATH_MAX];
    char params_sha256[65];  /* of the parameters after the last step */
    char optim_sha256[65];   /* of the optimiser state after the last step */
    char model_sha256[65];   /* of the weights in model.safetensors (EMA or best epoch when on) */
    int64_t steps;
    int epochs_run;
    int stopped_early;
    int interrupted;        /* stopped by stop_after or interrupt; resumable */
    char resumed_from[REPRO_PATH_MAX + 64]; /* the checkpoint a resume started from */
    char resume_notes[1024];               /* newer checkpoints skipped as torn or corrupt */
    float final_loss;       /* the last step's loss */
    int has_val, has_test, has_accuracy;
    float val_loss, val_accuracy, test_loss, test_accuracy; /* of the final model */
    double train_seconds;
    double samples_per_sec;
} repro_train_result;

/* Trains as cfg says. On failure after the run directory exists, the run is
 * marked failed there (never left looking complete) and err says why. */
repro_status repro_train(const repro_config *cfg, const repro_train_options *opts,
                         repro_train_result *result, repro_error *err);

#ifdef __cplusplus
}
#endif
#endif
