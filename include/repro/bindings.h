/* repro/bindings.h: a flat C ABI for foreign-function bindings.
 *
 * The Python package (python/repro, docs/python.md) loads librepro.so.0
 * with ctypes, which can mirror neither repro_config (large, and it grows
 * with new keys) nor repro_train_result without breaking at every change.
 * So this header gives what a binding needs with opaque handles, plain
 * integers and strings: a config is a handle, a training result and a run
 * comparison come back as JSON text. Only repro_error, repro_array_set and
 * repro_progress are read field by field; they only ever grow at the end.
 * repro_bindings_abi() changes whenever a signature here changes. */
#ifndef REPRO_BINDINGS_H
#define REPRO_BINDINGS_H

#include <stdint.h>

#include "repro/config.h"
#include "repro/data.h"
#include "repro/status.h"
#include "repro/train.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { REPRO_BINDINGS_ABI = 1 };

/* REPRO_BINDINGS_ABI of the library loaded: a binding checks it first. */
int repro_bindings_abi(void);

/* repro's version string ("0.1.0"). */
const char *repro_version(void);

/* Frees a string this header returned. NULL-safe. */
void repro_string_free(char *s);

/* repro_config_load into a new heap config; NULL on failure (err says why). */
repro_config *repro_config_new(const char *path, const char *const *overrides, int n_overrides, repro_error *err);
void repro_config_delete(repro_config *cfg);
/* The resolved config as JSON (repro_config_to_json); free with repro_string_free. */
char *repro_config_json(const repro_config *cfg);

/* repro_dataset_from_arrays into a new heap data set; NULL on failure. */
repro_dataset *repro_dataset_new(const repro_array_set *arrays, repro_error *err);
void repro_dataset_delete(repro_dataset *ds);
int64_t repro_dataset_samples(const repro_dataset *ds);

/* What repro_train needs from a binding. */
typedef struct repro_train_call {
    const char *out_dir;            /* NULL = runs/<config name>-<time> */
    int force;
    const char *resume_dir;         /* NULL, or continue that run */
    const char *const *overrides;   /* recorded in run.json (already applied to cfg) */
    int n_overrides;
    const repro_dataset *train_data, *test_data; /* data.format: memory */
    repro_progress_fn progress;     /* may be NULL */
    void *progress_ctx;
    volatile const int *interrupt;  /* non-zero: checkpoint and stop (a callback asked to stop) */
} repro_train_call;

/* repro_train with call's options. *result_json (free with
 * repro_string_free) is set whenever the run directory was made, even on
 * failure: {"run_dir", "params_sha256", "optim_sha256", "model_sha256",
 * "steps", "epochs_run", "stopped_early", "interrupted", "final_loss",
 * "val_loss", "val_accuracy", "test_loss", "test_accuracy" (those that
 * exist), "train_seconds", "samples_per_sec", "record_error"}. */
repro_status repro_train_json(const repro_config *cfg, const repro_train_call *call, char **result_json,
                              repro_error *err);

/* The parameters cfg's model starts from, before step 1 (drawn by the
 * layers' initialisers, or read from init.from): their params_sha256 in
 * hex, and when path is not NULL a safetensors file of them by repro name.
 * input: features per sample (0: cfg's model.input / input_shape). On the
 * CPU; every backend draws the same bits. */
repro_status repro_initial_params(const repro_config *cfg, int input, const char *path, char hex[65],
                                  repro_error *err);

/* repro_run_compare's report as JSON text (free with repro_string_free). */
repro_status repro_run_compare_json(const char *dir_a, const char *dir_b, char **report_json, repro_error *err);

/* repro_verify_compare's outcome as JSON text: {"identical", "first_step",
 * "detail", "params_sha256", "model_sha256"}. */
repro_status repro_verify_compare_json(const char *base_dir, const char *run_dir, char **outcome_json,
                                       repro_error *err);

#ifdef __cplusplus
}
#endif
#endif
