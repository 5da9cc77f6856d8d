/* Head losses: see heads.h. */
#include "train/heads.h"

#include "backend/backend.h"

repro_status repro_heads_check(const repro_model_config *mc, const int *head_widths, int n_classes,
                               int64_t n_targets, repro_error *err)
{
    for (int h = 0; h < mc->n_heads; h++) {
        const repro_head_config *hc = &mc->heads[h];
        int w = head_widths[h];
        if (hc->loss == REPRO_LOSS_CROSS_ENTROPY) {
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
    }
    return repro_fail(err, REPRO_ERR_INTERNAL, "unknown loss %d", (int)hc->loss);
}
