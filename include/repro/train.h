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
#include "repro/data.h"
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
    double loader_wait_sec;             /* time the training loop waited for data this epoch */
    /* EPOCH only: evaluation (has_* says which exist) */
    int has_val, has_test, has_accuracy;
    float val_loss, val_accuracy, test_loss, test_accuracy;
    int has_bits_per_char;              /* an lm_cross_entropy head: val_loss / ln 2 */
    float val_bits_per_char;
    int early_stop;                     /* training stops after this epoch */
} repro_progress;

typedef void (*repro_progress_fn)(void *ctx, const repro_progress *p);

/* A warning for a person (e.g. determinism: warn naming an operation that
 * is not bit-exact). */
typedef void (*repro_warn_fn)(void *ctx, const char *message);

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
    int rehash;                 /* read every data file in full to hash it, whatever the hash cache
                                 * holds (repro_sha256_file_cached) */
    const char *resume_config_sha256; /* a resume that changed settings that never change a bit
                                       * (threads, device, ...: src/train/resume_policy.c): the
                                       * run's own config_sha256, which its checkpoints carry;
                                       * NULL = the hash of cfg */
    const char *resume_changes; /* those changes, {"KEY": {"from": A, "to": B}} as JSON text, for
                                 * run.json's "resumes" list; NULL = none */
    int64_t stop_after;         /* > 0: checkpoint and stop (status interrupted) after this step */
    volatile const int *interrupt; /* when it becomes non-zero: checkpoint and stop (e.g. SIGINT) */
    const char *trace_dir;      /* non-NULL: write per-operation fingerprints of steps
                                   trace_first..trace_last (1-based) there (src/train/trace.h) */
    int64_t trace_first, trace_last;
    repro_warn_fn warn;         /* determinism: warn messages; NULL = written to stderr */
    void *warn_ctx;
    int no_graphs;              /* GPU: run each step kernel by kernel, not as a CUDA Graph (diagnostics;
                                   REPRO_CUDA_GRAPHS=0 in the CLI). Never changes a bit. */
    int stop_at_start;          /* checkpoint the initial state (step 0: the initial weights) and stop
                                   before step 1, status interrupted (--stop-after 0) */
    /* data.format: memory: the data sets (e.g. repro_dataset_from_arrays), used
     * in place of files; only read (copied). test_data may be NULL. run.json
     * records their repro_dataset_sha256. Must be NULL for the other formats. */
    const repro_dataset *train_data, *test_data;
    struct repro_comm_local *local_world; /* `repro train --procs N`: this process's place among the
                                             forked ranks (docs/parallel.md), or NULL (mpirun, or one) */
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
    /* "" when run.json records how the run ended; else why it could not
     * (the end is then noted in run.lock: repro_run_stale_note) */
    char record_error[REPRO_ERROR_MESSAGE_MAX];
    int world_rank, world_size; /* data parallel: this process's rank and the number of processes */
} repro_train_result;

/* The operations cfg asks for that have no bit-exact implementation, as
 * "operation: implementation" strings ("linear: OpenBLAS sgemm"): writes up
 * to max of them to out and returns how many there are. Today only
 * `mode: fast` on the CPU has one. Under `determinism: strict` such a config
 * is refused at the start of repro_train (REPRO_ERR_UNSUPPORTED, before any
 * run directory exists); under warn each is warned about once; under off
 * nothing is said. run.json's "determinism" section lists them. */
int repro_not_exact_ops(const repro_config *cfg, const char **out, int max);

/* Trains as cfg says. On failure after the run directory exists, the run is
 * marked failed there (never left looking complete) and err says why. */
repro_status repro_train(const repro_config *cfg, const repro_train_options *opts,
                         repro_train_result *result, repro_error *err);

#ifdef __cplusplus
}
#endif
#endif
