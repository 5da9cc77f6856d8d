/* The backend dispatcher: every repro_be_* call goes to the backend's table
 * (cpu_backend.c, cuda_backend.c). */
#include <stdlib.h>

#include "backend/backend_impl.h"
#include "backend/kernel.h"

repro_status repro_backend_create_cuda(int fast, int tf32, repro_backend **out, repro_error *err)
{
    *out = NULL;
#ifdef REPRO_HAVE_CUDA
    repro_backend *be = calloc(1, sizeof *be);
    if (!be)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the CUDA backend");
    repro_status st = repro_cuda_backend_init(be, fast, tf32, err);
    if (st != REPRO_OK) {
        free(be);
        return st;
    }
    *out = be;
    return REPRO_OK;
#else
    (void)fast;
    (void)tf32;
    return repro_fail(err, REPRO_ERR_UNSUPPORTED,
                      "device: cuda: this build of repro has no CUDA backend (configure with -DREPRO_CUDA=ON)");
#endif
}

repro_status repro_backend_use_bf16(repro_backend *be, repro_error *err)
{
#ifdef REPRO_HAVE_CUDA
    if (be->device == REPRO_DEVICE_CUDA) {
        repro_status st = repro_cuda_backend_check_bf16(be, err);
        if (st != REPRO_OK)
            return st;
    }
#else
    (void)err;
#endif
    be->bf16 = 1;
    return REPRO_OK;
}

void repro_backend_destroy(repro_backend *be)
{
    if (!be)
        return;
    be->ops->destroy(be);
    free(be);
}

repro_device repro_backend_device(const repro_backend *be) { return be->device; }
const char *repro_backend_describe(const repro_backend *be) { return be->describe; }
const repro_cpu *repro_backend_cpu(const repro_backend *be) { return be->device == REPRO_DEVICE_CPU ? &be->cpu : NULL; }
const char *repro_backend_facts(const repro_backend *be) { return be->facts; }

repro_status repro_be_alloc(const repro_backend *be, size_t bytes, void **out, repro_error *err)
{
    return be->ops->alloc(be, bytes, out, err);
}

void repro_be_free(const repro_backend *be, void *p)
{
    if (p)
        be->ops->free(be, p);
}

repro_status repro_be_host_alloc(const repro_backend *be, size_t bytes, void **out, repro_error *err)
{
    return be->ops->host_alloc(be, bytes, out, err);
}

void repro_be_host_free(const repro_backend *be, void *p)
{
    if (p)
        be->ops->host_free(be, p);
}

repro_status repro_be_zero(const repro_backend *be, void *p, size_t bytes, repro_error *err)
{
    return be->ops->zero(be, p, bytes, err);
}

repro_status repro_be_upload(const repro_backend *be, void *dst, const void *host, size_t bytes, repro_error *err)
{
    return be->ops->copy(be, dst, host, bytes, 0, err);
}

repro_status repro_be_download(const repro_backend *be, void *host, const void *src, size_t bytes,
                               repro_error *err)
{
    return be->ops->copy(be, host, src, bytes, 1, err);
}

repro_status repro_be_copy(const repro_backend *be, void *dst, const void *src, size_t bytes, repro_error *err)
{
    return be->ops->copy(be, dst, src, bytes, 2, err);
}

repro_status repro_be_copy_2d(const repro_backend *be, void *dst, size_t dst_pitch, const void *src,
                              size_t src_pitch, size_t width, size_t rows, repro_error *err)
{
    if (width == 0 || rows == 0)
        return REPRO_OK;
    return be->ops->copy_2d(be, dst, dst_pitch, src, src_pitch, width, rows, err);
}

repro_status repro_be_run(const repro_backend *be, const repro_kernel *k, const void *args, repro_error *err)
{
    repro_kernel_fn fn = be->device == REPRO_DEVICE_CUDA ? k->cuda : k->cpu;
    if (!fn)
        return repro_fail(err, REPRO_ERR_UNSUPPORTED, "%s has no kernel on %s in this build", k->name,
                          be->device == REPRO_DEVICE_CUDA ? "cuda" : "cpu");
    return fn(be, args, err);
}

void *repro_backend_stream(const repro_backend *be)
{
    return be->stream;
}

repro_status repro_backend_side_stream(const repro_backend *be, const void *key, void **stream, repro_error *err)
{
    *stream = be->stream;
    return be->ops->side_stream ? be->ops->side_stream(be, key, stream, err) : REPRO_OK;
}

repro_status repro_be_join_side(const repro_backend *be, repro_error *err)
{
    return be->ops->join_side ? be->ops->join_side(be, err) : REPRO_OK;
}

repro_status repro_be_linear_forward(const repro_backend *be, float *y, const float *x, const float *w,
                                     const float *bias, int64_t B, int64_t I, int64_t O, repro_error *err)
{
    return be->ops->linear_forward(be, y, x, w, bias, B, I, O, err);
}

repro_status repro_be_linear_backward(const repro_backend *be, float *dx, float *dw, float *db, const float *dy,
                                      const float *x, const float *w, int64_t B, int64_t I, int64_t O,
                                      repro_error *err)
{
    return be->ops->linear_backward(be, dx, dw, db, dy, x, w, B, I, O, err);
}

repro_status repro_be_act_forward(const repro_backend *be, repro_act act, float *y, const float *x, int64_t n,
                                  repro_error *err)
{
    return be->ops->act_forward(be, act, y, x, n, err);
}

repro_status repro_be_act_backward(const repro_backend *be, repro_act act, float *dx, const float *dy,
                                   const float *saved, int64_t n, repro_error *err)
{
    return be->ops->act_backward(be, act, dx, dy, saved, n, err);
}

repro_status repro_be_add_inplace(const repro_backend *be, float *y, const float *x, int64_t n, repro_error *err)
{
    return be->ops->add_inplace(be, y, x, n, err);
}

repro_status repro_be_dropout_forward(const repro_backend *be, float *y, uint8_t *mask, const float *x, int64_t B,
                                      int64_t D, float p, uint64_t seed, uint32_t layer, uint64_t step,
                                      const uint32_t *sample_pos, repro_error *err)
{
    return be->ops->dropout_forward(be, y, mask, x, B, D, p, seed, layer, step, sample_pos, err);
}

repro_status repro_be_dropout_backward(const repro_backend *be, float *dx, const float *dy, const uint8_t *mask,
                                       int64_t B, int64_t D, float p, repro_error *err)
{
    return be->ops->dropout_backward(be, dx, dy, mask, B, D, p, err);
}

repro_status repro_be_layernorm_forward(const repro_backend *be, float *y, float *mean, float *rstd,
                                        const float *x, const float *gamma, const float *beta, int64_t B,
                                        int64_t D, float eps, repro_error *err)
{
    return be->ops->layernorm_forward(be, y, mean, rstd, x, gamma, beta, B, D, eps, err);
}

repro_status repro_be_layernorm_backward(const repro_backend *be, float *dx, float *dgamma, float *dbeta,
                                         const float *dy, const float *x, const float *mean, const float *rstd,
                                         const float *gamma, int64_t B, int64_t D, repro_error *err)
{
    return be->ops->layernorm_backward(be, dx, dgamma, dbeta, dy, x, mean, rstd, gamma, B, D, err);
}

repro_status repro_be_xent_forward(const repro_backend *be, float *loss, int32_t *pred, const float *z,
                                   const int32_t *labels, int64_t B, int64_t C, repro_error *err)
{
    return be->ops->xent_forward(be, loss, pred, z, labels, B, C, err);
}

repro_status repro_be_xent_backward(const repro_backend *be, float *dz, const float *z, const int32_t *labels,
                                    int64_t B, int64_t C, float scale, repro_error *err)
{
    return be->ops->xent_backward(be, dz, z, labels, B, C, scale, err);
}

repro_status repro_be_mse_forward(const repro_backend *be, float *loss, const float *pred, const float *target,
                                  int64_t B, int64_t T, repro_error *err)
{
    return be->ops->mse_forward(be, loss, pred, target, B, T, err);
}

repro_status repro_be_mse_backward(const repro_backend *be, float *dpred, const float *pred, const float *target,
                                   int64_t B, int64_t T, float scale, repro_error *err)
{
    return be->ops->mse_backward(be, dpred, pred, target, B, T, scale, err);
}

repro_status repro_be_huber_forward(const repro_backend *be, float *loss, const float *pred, const float *target,
                                    int64_t B, int64_t T, float delta, repro_error *err)
{
    return be->ops->huber_forward(be, loss, pred, target, B, T, delta, err);
}

repro_status repro_be_huber_backward(const repro_backend *be, float *dpred, const float *pred,
                                     const float *target, int64_t B, int64_t T, float delta, float scale,
                                     repro_error *err)
{
    return be->ops->huber_backward(be, dpred, pred, target, B, T, delta, scale, err);
}

repro_status repro_be_gather_rows(const repro_backend *be, void *dst, const void *src, size_t row_bytes,
                                  const uint32_t *rows, int64_t n, repro_error *err)
{
    if (row_bytes % 4 != 0 || n < 0)
        return repro_fail(err, REPRO_ERR_ARG, "gather rows: %zu-byte rows (not a multiple of 4) or n=%lld",
                          row_bytes, (long long)n);
    return be->ops->gather_rows(be, dst, src, row_bytes, rows, n, err);
}

repro_status repro_be_fill_positions(const repro_backend *be, uint32_t *dst, uint32_t first, int64_t n,
                                     repro_error *err)
{
    return be->ops->fill_positions(be, dst, first, n, err);
}

repro_status repro_be_sum_into(const repro_backend *be, const float *x, int64_t n, float *out, repro_error *err)
{
    return be->ops->sum_into(be, x, n, out, err);
}

repro_status repro_be_sum(const repro_backend *be, const float *x, int64_t n, float *out, repro_error *err)
{
    return be->ops->sum(be, x, n, out, err);
}

repro_status repro_be_clip(const repro_backend *be, float *grads, int64_t n, float max_norm, float *norm,
                           repro_error *err)
{
    return be->ops->clip(be, grads, n, max_norm, norm, err);
}

repro_status repro_be_adam(const repro_backend *be, const repro_adam_coef *c, float *p, float *m, float *v,
                           const float *g, int64_t n, repro_error *err)
{
    return be->ops->adam(be, c, p, m, v, g, n, err);
}

repro_status repro_be_sgd(const repro_backend *be, const repro_sgd_coef *c, float *p, float *buf, const float *g,
                          int64_t n, repro_error *err)
{
    return be->ops->sgd(be, c, p, buf, g, n, err);
}

repro_status repro_be_ema(const repro_backend *be, float *ema, const float *p, int64_t n, float decay,
                          repro_error *err)
{
    return be->ops->ema(be, ema, p, n, decay, err);
}

int repro_be_has_graphs(const repro_backend *be)
{
    return be->ops->graph_begin != NULL;
}

repro_status repro_be_graph_begin(const repro_backend *be, repro_error *err)
{
    if (!be->ops->graph_begin)
        return repro_fail(err, REPRO_ERR_UNSUPPORTED, "%s has no graphs", be->describe);
    return be->ops->graph_begin(be, err);
}

repro_status repro_be_graph_end(const repro_backend *be, int launch, repro_error *err)
{
    if (!be->ops->graph_end)
        return repro_fail(err, REPRO_ERR_UNSUPPORTED, "%s has no graphs", be->describe);
    return be->ops->graph_end(be, launch, err);
}
