/* Losses of a model's heads: per-sample losses and the gradients sent back
 * into each head.
 *
 * A head's loss for a batch is the mean of per-sample losses; the model's
 * loss is the weighted sum over heads, added in head order:
 *     loss = ((+0 + w_0 * mean_0) + w_1 * mean_1) + ...
 * where mean_h = repro_sum_canonical(loss_h[0..n)) / n over the whole batch
 * (all micro-batches of a step), so the split into micro-batches never
 * shows. The gradient of head h's output for a sample is scaled by
 * w_h / n with n the whole batch's size. The batch's arrays (label, y) and
 * the head outputs are backend memory. */
#ifndef REPRO_TRAIN_HEADS_H
#define REPRO_TRAIN_HEADS_H

#include <stdint.h>

#include "data/batch.h"
#include "backend/backend.h"
#include "repro/config.h"
#include "repro/status.h"

/* Checks that each head's loss fits the data: a cross-entropy head needs
 * labels and as many outputs as classes; mse/huber heads need as many
 * outputs as regression targets. */
repro_status repro_heads_check(const repro_model_config *mc, const int *head_widths, int n_classes,
                               int64_t n_targets, repro_error *err);

/* Per-sample losses of head h for rows [0, b) into loss [b], and the
 * argmax prediction into pred [b] (cross-entropy heads; pred may be NULL). */
repro_status repro_head_loss(const repro_backend *be, const repro_head_config *hc, const float *out, int width,
                             const repro_batch *batch, int64_t b, float *loss, int32_t *pred, repro_error *err);

/* d_out [b][width] = gradient of (w_h * mean over `batch_total` samples)
 * with respect to head h's output for rows [0, b). */
repro_status repro_head_grad(const repro_backend *be, const repro_head_config *hc, const float *out, int width,
                             const repro_batch *batch, int64_t b, int64_t batch_total, float *d_out,
                             repro_error *err);

/* Every embedding node has a row for each token of the vocabulary:
 * REPRO_ERR_CONFIG naming the node, num_embeddings and the corpus otherwise. */
repro_status repro_embedding_check(const repro_model_config *mc, int32_t n_vocab, const char *corpus,
                                   repro_error *err);

#endif
