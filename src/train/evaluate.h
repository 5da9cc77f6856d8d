/* Evaluating a model on a data set (validation and test). */
#ifndef REPRO_TRAIN_EVALUATE_H
#define REPRO_TRAIN_EVALUATE_H

#include <stdint.h>

#include "nn/model.h"
#include "data/batch.h"
#include "train/resident_data.h"

typedef struct repro_eval_ctx {
    const repro_model_config *mc;
    repro_model *model;
    const repro_backend *be;
    const repro_dataset *data;
    repro_batch *batch; /* its capacity is the evaluation batch size */
    /* data kept in backend memory (NULL: batches are filled on the host and
     * staged): batches are gathered there, with the same bits */
    const repro_resident_data *resident;
} repro_eval_ctx;

typedef struct repro_eval_result {
    int64_t n;
    float loss;                        /* weighted over heads, as in training */
    float head_loss[REPRO_MAX_HEADS];  /* each head's mean loss */
    int has_accuracy;                  /* there is a cross-entropy head */
    float accuracy;                    /* of the first cross-entropy head */
    int64_t correct;                   /* its right answers: accuracy = correct / n */
    int has_bits_per_char;             /* there is an lm_cross_entropy head */
    float bits_per_char;               /* its mean loss / ln 2 (in double, then rounded) */
} repro_eval_result;

/* Evaluates params on data rows rows[0..n) (rows NULL: rows 0..n-1). */
repro_status repro_evaluate(const repro_eval_ctx *e, const float *params, const uint32_t *rows,
                            int64_t n, repro_eval_result *r, repro_error *err);

#endif
