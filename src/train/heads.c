/* Head losses: see heads.h. */
#include "train/heads.h"

#include "backend/backend.h"
#include "backend/ops/ops.h"

repro_status repro_heads_check(const repro_model_config *mc, const int *head_widths, int n_classes,
                               int64_t n_targets, repro_error *err)
{
    for (int h = 0; h < mc->n_heads; h++) {
        const repro_head_config *hc = &mc->heads[h];
        int w = head_widths[h];
        if (hc->loss == REPRO_LOSS_LM_CROSS_ENTROPY) {
            /* logits [T][V]: the data's T = context target tokens, V = its vocabulary */
            if (n_classes <= 0 || n_targets <= 0)
                return repro_fail(err, REPRO_ERR_CONFIG,
                                  "model.heads.%d (%s): lm_cross_entropy needs token targets (data.format: text)",
                                  h, hc->name);
            /* [T][V'] with V' >= the vocabulary: a model sized for a larger alphabet
               trains on a smaller one (the extra logits are never a target) */
            if ((int64_t)w % n_targets != 0 || (int64_t)w / n_targets < n_classes)
                return repro_fail(err, REPRO_ERR_CONFIG,
                                  "model.heads.%d (%s): lm_cross_entropy head has %d outputs per sample; the data "
                                  "needs [%lld, V] (context x logits) with V >= its vocabulary of %d",
                                  h, hc->name, w, (long long)n_targets, n_classes);
        } else if (hc->loss == REPRO_LOSS_CROSS_ENTROPY) {
            if (n_classes <= 0)
                return repro_fail(err, REPRO_ERR_CONFIG,
                                  "model.heads.%d (%s): cross_entropy needs class labels, but the data has none "
                                  "(set data.label_column)", h, hc->name);
            if (w != n_classes)
                return repro_fail(err, REPRO_ERR_CONFIG,
                                  "model.heads.%d (%s): cross_entropy head has %d outputs but the data has %d classes",
                                  h, hc->name, w, n_classes);
        } else {
            if (n_targets <= 0)
                return repro_fail(err, REPRO_ERR_CONFIG,
                                  "model.heads.%d (%s): %s needs regression targets, but the data has none "
                                  "(set data.target_columns)", h, hc->name, repro_loss_kind_name(hc->loss));
            if (w != n_targets)
                return repro_fail(err, REPRO_ERR_CONFIG,
                                  "model.heads.%d (%s): head has %d outputs but the data has %lld targets",
                                  h, hc->name, w, (long long)n_targets);
        }
    }
    return REPRO_OK;
}

repro_status repro_head_loss(const repro_backend *be, const repro_head_config *hc, const float *out, int width,
                             const repro_batch *batch, int64_t b, float *loss, int32_t *pred, repro_error *err)
{
    switch (hc->loss) {
    case REPRO_LOSS_CROSS_ENTROPY:
        return repro_be_xent_forward(be, loss, pred, out, batch->label, b, width, err);
    case REPRO_LOSS_MSE:
        return repro_be_mse_forward(be, loss, out, batch->y, b, width, err);
    case REPRO_LOSS_HUBER:
        return repro_be_huber_forward(be, loss, out, batch->y, b, width, hc->huber_delta, err);
    case REPRO_LOSS_LM_CROSS_ENTROPY: {
        (void)pred;
        repro_lm_xent_args a = {.B = b, .T = batch->n_targets, .V = width / batch->n_targets,
                                .ignore = hc->ignore_index, .loss = loss, .z = out, .target = batch->y};
        return repro_be_run(be, &repro_k_lm_xent_forward, &a, err);
    }
    }
    return repro_fail(err, REPRO_ERR_INTERNAL, "unknown loss %d", (int)hc->loss);
}

repro_status repro_head_grad(const repro_backend *be, const repro_head_config *hc, const float *out, int width,
                             const repro_batch *batch, int64_t b, int64_t batch_total, float *d_out,
                             repro_error *err)
{
    float scale = hc->weight / (float)batch_total;
    switch (hc->loss) {
    case REPRO_LOSS_CROSS_ENTROPY:
        return repro_be_xent_backward(be, d_out, out, batch->label, b, width, scale, err);
    case REPRO_LOSS_MSE:
        return repro_be_mse_backward(be, d_out, out, batch->y, b, width, scale, err);
    case REPRO_LOSS_HUBER:
        return repro_be_huber_backward(be, d_out, out, batch->y, b, width, hc->huber_delta, scale, err);
    case REPRO_LOSS_LM_CROSS_ENTROPY: {
        /* each sample's mean over its counted positions: the kernel divides weight / batch size by
           their count (T without ignore_index) */
        repro_lm_xent_args a = {.B = b, .T = batch->n_targets, .V = width / batch->n_targets,
                                .ignore = hc->ignore_index, .scale = scale, .dz = d_out, .z = out,
                                .target = batch->y};
        return repro_be_run(be, &repro_k_lm_xent_backward, &a, err);
    }
    }
    return repro_fail(err, REPRO_ERR_INTERNAL, "unknown loss %d", (int)hc->loss);
}

repro_status repro_embedding_check(const repro_model_config *mc, int32_t n_vocab, const char *corpus,
                                   repro_error *err)
{
    for (int i = 0; i < mc->n_nodes; i++) {
        const repro_layer_config *l = &mc->nodes[i];
        if (l->kind == REPRO_LAYER_EMBEDDING && l->num_embeddings < n_vocab)
            return repro_fail(err, REPRO_ERR_CONFIG,
                              "model.nodes.%d '%s' (embedding): num_embeddings %d is smaller than the vocabulary of "
                              "'%s' (%d characters)", i, l->name, l->num_embeddings, corpus, (int)n_vocab);
    }
    return REPRO_OK;
}
