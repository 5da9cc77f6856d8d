/* Evaluation: the model's loss and accuracy over a set of samples.
 *
 * Samples go through the model in batches of eval_batch_size with dropout
 * off; every per-sample loss lands in one array [n] that is reduced
 * canonically, so the batch size used for evaluation never changes a bit.
 * With the data in backend memory (e->resident) the batches are gathered
 * there from the rows, uploaded once; the bits are the same. */
#include "train/evaluate.h"

#include <stdlib.h>

#include "train/heads.h"
#include "train/staged_batch.h"

/* rows[0..n) (NULL: 0..n-1) in backend memory. */
static repro_status resident_rows(const repro_eval_ctx *e, const uint32_t *rows, int64_t n, uint32_t **out,
                                  repro_error *err)
{
    uint32_t *host = NULL;
    if (!rows) {
        if (!(host = malloc((size_t)n * sizeof *host)))
            return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the evaluation rows");
        for (int64_t i = 0; i < n; i++)
            host[i] = (uint32_t)i;
    }
    repro_status st = repro_be_alloc(e->be, (size_t)n * sizeof **out, (void **)out, err);
    if (st == REPRO_OK)
        st = repro_be_upload(e->be, *out, rows ? rows : host, (size_t)n * sizeof **out, err);
    free(host);
    return st;
}

repro_status repro_evaluate(const repro_eval_ctx *e, const float *params, const uint32_t *rows,
                            int64_t n, repro_eval_result *r, repro_error *err)
{
    const repro_model_config *mc = e->mc;
    r->n = n;
    r->loss = 0.0f;
    r->accuracy = 0.0f;
    r->correct = 0;
    r->has_accuracy = 0;
    r->has_bits_per_char = 0;
    if (n == 0)
        return REPRO_OK;
    int nh = repro_model_n_heads(e->model);
    const repro_backend *be = e->be;
    float *losses[REPRO_MAX_HEADS] = {0};   /* [n] each, backend memory */
    int32_t *pred = NULL, *pred_host = NULL; /* [batch capacity] */
    repro_staged_batch staged;
    repro_batch rbatch = {0};
    uint32_t *rows_be = NULL; /* resident: the rows in backend memory */
    repro_status st = repro_staged_batch_init(&staged, be, e->data, e->resident ? 0 : e->batch->capacity, err);
    if (st == REPRO_OK && e->resident)
        st = resident_rows(e, rows, n, &rows_be, err);
    if (st == REPRO_OK && e->resident)
        st = repro_resident_batch_alloc(e->resident, e->batch->capacity, &rbatch, err);
    if (st == REPRO_OK)
        st = repro_be_alloc(be, (size_t)e->batch->capacity * sizeof *pred, (void **)&pred, err);
    if (st == REPRO_OK && !(pred_host = malloc((size_t)e->batch->capacity * sizeof *pred_host)))
        st = repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate evaluation buffers");
    for (int h = 0; st == REPRO_OK && h < nh; h++)
        st = repro_be_alloc(be, (size_t)n * sizeof(float), (void **)&losses[h], err);
    /* the first cross-entropy head gives the accuracy */
    int acc_head = -1;
    for (int h = 0; h < nh && acc_head < 0; h++)
        if (mc->heads[h].loss == REPRO_LOSS_CROSS_ENTROPY)
            acc_head = h;
    int64_t correct = 0;
    for (int64_t start = 0; st == REPRO_OK && start < n; start += e->batch->capacity) {
        int64_t b = n - start < e->batch->capacity ? n - start : e->batch->capacity;
        for (int64_t i = 0; i < b; i++)
            e->batch->index[i] = rows ? rows[start + i] : (uint32_t)(start + i);
        const repro_batch *db = &rbatch;
        if (e->resident) {
            st = repro_resident_gather(e->resident, rows_be + start, start, b, &rbatch, err);
        } else {
            st = repro_batch_fill(e->batch, e->data, b, err);
            if (st == REPRO_OK)
                st = repro_staged_batch_put(&staged, e->batch, b, &db, err);
        }
        if (st == REPRO_OK)
            st = repro_model_forward(e->model, be, params, db->x, b, 0, 0, 0, NULL, err);
        for (int h = 0; st == REPRO_OK && h < nh; h++) {
            st = repro_head_loss(be, &mc->heads[h], repro_model_head_output(e->model, h),
                                 repro_model_head_width(e->model, h), db, b, losses[h] + start,
                                 h == acc_head ? pred : NULL, err);
            if (st == REPRO_OK && h == acc_head)
                st = repro_be_download(be, pred_host, pred, (size_t)b * sizeof *pred, err);
            if (st == REPRO_OK && h == acc_head)
                for (int64_t i = 0; i < b; i++)
                    correct += pred_host[i] == e->data->label[e->batch->index[i]];
        }
    }
    if (st == REPRO_OK) {
        float total = 0.0f;
        for (int h = 0; st == REPRO_OK && h < nh; h++) {
            float sum;
            st = repro_be_sum(be, losses[h], n, &sum, err);
            float mean = sum / (float)n;
            r->head_loss[h] = mean;
            if (mc->heads[h].loss == REPRO_LOSS_LM_CROSS_ENTROPY && !r->has_bits_per_char) {
                r->has_bits_per_char = 1; /* nats to bits: one double division, one rounding */
                r->bits_per_char = (float)((double)mean / 0.69314718055994530942);
            }
            total = total + mc->heads[h].weight * mean;
        }
        r->loss = total;
        if (acc_head >= 0) {
            r->has_accuracy = 1;
            r->accuracy = (float)((double)correct / (double)n);
            r->correct = correct;
        }
    }
    for (int h = 0; h < nh; h++)
        repro_be_free(be, losses[h]);
    repro_be_free(be, pred);
    free(pred_host);
    repro_staged_batch_free(&staged);
    if (e->resident)
        repro_resident_batch_free(e->resident, &rbatch);
    repro_be_free(be, rows_be);
    return st;
}
