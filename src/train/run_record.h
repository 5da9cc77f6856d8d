/* What a training run writes into its run directory, section by section
 * (the format is in docs/run-directory.md; the files are written by
 * src/record). */
#ifndef REPRO_TRAIN_RUN_RECORD_H
#define REPRO_TRAIN_RUN_RECORD_H

#include "nn/model.h"
#include "repro/record.h"
#include "repro/train.h"
#include "train/test_hooks.h"
#include "train/evaluate.h"

/* Creates the run directory and its run.json: seed, resolved config and its
 * hash, overrides, environment, data files and their SHA-256, sizes. */
repro_status repro_record_start(repro_run **run, const repro_config *cfg, const repro_train_options *opts,
                                const repro_test_hooks *hooks,
                                const char *isa, int64_t n_train, int64_t n_val, int64_t n_test,
                                int64_t n_params, repro_error *err);

/* One metrics.jsonl line for a finished epoch. */
repro_status repro_record_epoch(repro_run *run, int epoch, int64_t step, float train_loss, float lr,
                                const repro_eval_result *val, const repro_eval_result *test,
                                double samples_per_sec, double loader_wait_sec, repro_error *err);

/* model.safetensors: the tensors of `params` (the model's layout) and of
 * `buffers` (its running statistics, host memory; NULL when it has none)
 * with metadata (repro version, config hash, step). */
repro_status repro_record_model(repro_run *run, const repro_model *model, const float *params,
                                const float *buffers, const repro_config *cfg, int64_t step, repro_error *err);

/* The "final" section of run.json. */
repro_status repro_record_final(repro_run *run, const repro_train_result *res, const repro_eval_result *val,
                                const repro_eval_result *test, int restored_best, repro_error *err);

/* vocab.json in the run directory (repro_vocab_json's text, written
 * atomically) and run.json's "vocab": {path, kind, size, sha256 of the file},
 * and pad_id when there is one (pad_id -1: none). */
repro_status repro_record_vocab(repro_run *run, const uint32_t *vocab, int32_t n, int32_t pad_id, repro_error *err);

#endif
