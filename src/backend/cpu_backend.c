/* The CPU backend: host memory, the kernels of src/ops/cpu and
 * src/optim/update_cpu.c on the backend's ISA path and thread pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_impl.h"
#include "repro/isa.h"
#include "ops/cpu/gemm_bf16.h"
#include "ops/cpu/linear.h"
#include "ops/cpu/ops.h"
#include "ops/cpu/update.h"

#define CPU(be) (&(be)->cpu)

static repro_status cpu_alloc(const repro_backend *be, size_t bytes, void **out, repro_error *err)
{
    (void)be;
    *out = malloc(bytes ? bytes : 1);
    return *out ? REPRO_OK : repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate %zu bytes", bytes);
}

static void cpu_free(const repro_backend *be, void *p)
{
    (void)be;
    free(p);
}

/* Zeroing in 64 KiB chunks over the pool: the gradients are cleared every
 * step (1 MB for the Fashion-MNIST MLP), and on one thread that was serial
 * time the other threads waited through. Only stores of zero: who writes
 * which bytes cannot matter. */
enum { ZERO_CHUNK = 65536, ZERO_POOLED_MIN = 4 * ZERO_CHUNK };

typedef struct zero_job {
    char *p;
    size_t bytes;
} zero_job;

static void zero_chunks(void *ctx, int64_t begin, int64_t end)
{
    const zero_job *z = ctx;
    size_t lo = (size_t)begin * ZERO_CHUNK, hi = (size_t)end * ZERO_CHUNK;
    memset(z->p + lo, 0, (hi < z->bytes ? hi : z->bytes) - lo);
}

static repro_status cpu_zero(const repro_backend *be, void *p, size_t bytes, repro_error *err)
{
    (void)err;
    if (bytes < ZERO_POOLED_MIN) {
        memset(p, 0, bytes);
        return REPRO_OK;
    }
    zero_job z = {p, bytes};
    repro_pool_run(CPU(be)->pool, (int64_t)((bytes + ZERO_CHUNK - 1) / ZERO_CHUNK), zero_chunks, &z);
    return REPRO_OK;
}

static repro_status cpu_copy(const repro_backend *be, void *dst, const void *src, size_t bytes, int kind,
                             repro_error *err)
{
    (void)be, (void)kind, (void)err;
    if (dst != src)
        memcpy(dst, src, bytes);
    return REPRO_OK;
}

/* mode: fast (be->fast): OpenBLAS sgemm, not bit-exact (linear_blas.c) */
static repro_status cpu_linear_forward(const repro_backend *be, float *y, const float *x, const float *w,
                                       const float *bias, int64_t B, int64_t I, int64_t O, repro_error *err)
{
    if (be->fast) {
        repro_linear_forward_blas(y, x, w, bias, B, I, O);
        return REPRO_OK;
    }
    if (be->bf16)
        return repro_linear_forward_bf16(CPU(be), y, x, w, bias, B, I, O, err);
    return repro_linear_forward(CPU(be), y, x, w, bias, B, I, O, err);
}

static repro_status cpu_linear_backward(const repro_backend *be, float *dx, float *dw, float *db, const float *dy,
                                        const float *x, const float *w, int64_t B, int64_t I, int64_t O,
                                        repro_error *err)
{
    if (be->fast) {
        repro_linear_backward_blas(dx, dw, db, dy, x, w, B, I, O);
        return REPRO_OK;
    }
    if (be->bf16)
        return repro_linear_backward_bf16(CPU(be), dx, dw, db, dy, x, w, B, I, O, err);
    return repro_linear_backward(CPU(be), dx, dw, db, dy, x, w, B, I, O, err);
}

static repro_status cpu_act_forward(const repro_backend *be, repro_act act, float *y, const float *x, int64_t n,
                                    repro_error *err)
{
    return repro_act_forward(CPU(be), act, y, x, n, err);
}

static repro_status cpu_act_backward(const repro_backend *be, repro_act act, float *dx, const float *dy,
                                     const float *saved, int64_t n, repro_error *err)
{
    return repro_act_backward(CPU(be), act, dx, dy, saved, n, err);
}

static repro_status cpu_add_inplace(const repro_backend *be, float *y, const float *x, int64_t n, repro_error *err)
{
    return repro_add_inplace(CPU(be), y, x, n, err);
}

static repro_status cpu_dropout_forward(const repro_backend *be, float *y, uint8_t *mask, const float *x,
                                        int64_t B, int64_t D, float p, uint64_t seed, uint32_t layer,
                                        uint64_t step, const uint32_t *sample_pos, repro_error *err)
{
    return repro_dropout_forward(CPU(be), y, mask, x, B, D, p, seed, layer, step, sample_pos, err);
}

static repro_status cpu_dropout_backward(const repro_backend *be, float *dx, const float *dy, const uint8_t *mask,
                                         int64_t B, int64_t D, float p, repro_error *err)
{
    return repro_dropout_backward(CPU(be), dx, dy, mask, B, D, p, err);
}

static repro_status cpu_layernorm_forward(const repro_backend *be, float *y, float *mean, float *rstd,
                                          const float *x, const float *gamma, const float *beta, int64_t B,
                                          int64_t D, float eps, repro_error *err)
{
    return repro_layernorm_forward(CPU(be), y, mean, rstd, x, gamma, beta, B, D, eps, err);
}

static repro_status cpu_layernorm_backward(const repro_backend *be, float *dx, float *dgamma, float *dbeta,
                                           const float *dy, const float *x, const float *mean, const float *rstd,
                                           const float *gamma, int64_t B, int64_t D, repro_error *err)
{
    return repro_layernorm_backward(CPU(be), dx, dgamma, dbeta, dy, x, mean, rstd, gamma, B, D, err);
}

static repro_status cpu_xent_forward(const repro_backend *be, float *loss, int32_t *pred, const float *z,
                                     const int32_t *labels, int64_t B, int64_t C, repro_error *err)
{
    return repro_softmax_xent_forward(CPU(be), loss, pred, z, labels, B, C, err);
}

static repro_status cpu_xent_backward(const repro_backend *be, float *dz, const float *z, const int32_t *labels,
                                      int64_t B, int64_t C, float scale, repro_error *err)
{
    return repro_softmax_xent_backward(CPU(be), dz, z, labels, B, C, scale, err);
}

static repro_status cpu_mse_forward(const repro_backend *be, float *loss, const float *pred, const float *target,
                                    int64_t B, int64_t T, repro_error *err)
{
    return repro_mse_forward(CPU(be), loss, pred, target, B, T, err);
}

static repro_status cpu_mse_backward(const repro_backend *be, float *dpred, const float *pred, const float *target,
                                     int64_t B, int64_t T, float scale, repro_error *err)
{
    return repro_mse_backward(CPU(be), dpred, pred, target, B, T, scale, err);
}

static repro_status cpu_huber_forward(const repro_backend *be, float *loss, const float *pred, const float *target,
                                      int64_t B, int64_t T, float delta, repro_error *err)
{
    return repro_huber_forward(CPU(be), loss, pred, target, B, T, delta, err);
}

static repro_status cpu_huber_backward(const repro_backend *be, float *dpred, const float *pred,
                                       const float *target, int64_t B, int64_t T, float delta, float scale,
                                       repro_error *err)
{
    return repro_huber_backward(CPU(be), dpred, pred, target, B, T, delta, scale, err);
}

static repro_status cpu_sum(const repro_backend *be, const float *x, int64_t n, float *out, repro_error *err)
{
    return repro_sum_canonical_mt(CPU(be), x, n, out, err);
}

static repro_status cpu_clip(const repro_backend *be, float *grads, int64_t n, float max_norm, float *norm,
                             repro_error *err)
{
    float v;
    repro_status st = repro_clip_grad_norm(CPU(be), grads, n, max_norm, &v, err);
    if (st == REPRO_OK && norm)
        *norm = v;
    return st;
}

static repro_status cpu_copy_2d(const repro_backend *be, void *dst, size_t dst_pitch, const void *src,
                                size_t src_pitch, size_t width, size_t rows, repro_error *err)
{
    (void)be;
    (void)err;
    for (size_t r = 0; r < rows; r++)
        memcpy((char *)dst + r * dst_pitch, (const char *)src + r * src_pitch, width);
    return REPRO_OK;
}

static repro_status cpu_gather_rows(const repro_backend *be, void *dst, const void *src, size_t row_bytes,
                                    const uint32_t *rows, int64_t n, repro_error *err)
{
    (void)be;
    (void)err;
    for (int64_t i = 0; i < n; i++)
        memcpy((char *)dst + (size_t)i * row_bytes, (const char *)src + (size_t)rows[i] * row_bytes, row_bytes);
    return REPRO_OK;
}

static repro_status cpu_fill_positions(const repro_backend *be, uint32_t *dst, uint32_t first, int64_t n,
                                       repro_error *err)
{
    (void)be;
    (void)err;
    for (int64_t i = 0; i < n; i++)
        dst[i] = first + (uint32_t)i;
    return REPRO_OK;
}

static repro_status cpu_adam(const repro_backend *be, const repro_adam_coef *c, float *p, float *m, float *v,
                             const float *g, int64_t n, repro_error *err)
{
    return repro_adam_cpu(CPU(be), c, p, m, v, g, n, err);
}

static repro_status cpu_sgd(const repro_backend *be, const repro_sgd_coef *c, float *p, float *buf,
                            const float *g, int64_t n, repro_error *err)
{
    return repro_sgd_cpu(CPU(be), c, p, buf, g, n, err);
}

static repro_status cpu_ema(const repro_backend *be, float *ema, const float *p, int64_t n, float decay,
                            repro_error *err)
{
    return repro_ema_update(CPU(be), ema, p, n, decay, err);
}

static void cpu_destroy(repro_backend *be)
{
    if (be->impl == NULL) /* impl marks a view: the pool is not ours */
        repro_pool_destroy(be->cpu.pool);
}

const repro_backend_ops repro_cpu_backend_ops = {
    .alloc = cpu_alloc,
    .free = cpu_free,
    .zero = cpu_zero,
    .host_alloc = cpu_alloc, /* host memory either way */
    .host_free = cpu_free,
    .copy = cpu_copy,
    .linear_forward = cpu_linear_forward,
    .linear_backward = cpu_linear_backward,
    .act_forward = cpu_act_forward,
    .act_backward = cpu_act_backward,
    .add_inplace = cpu_add_inplace,
    .dropout_forward = cpu_dropout_forward,
    .dropout_backward = cpu_dropout_backward,
    .layernorm_forward = cpu_layernorm_forward,
    .layernorm_backward = cpu_layernorm_backward,
    .xent_forward = cpu_xent_forward,
    .xent_backward = cpu_xent_backward,
    .mse_forward = cpu_mse_forward,
    .mse_backward = cpu_mse_backward,
    .huber_forward = cpu_huber_forward,
    .huber_backward = cpu_huber_backward,
    .gather_rows = cpu_gather_rows,
    .fill_positions = cpu_fill_positions,
    .copy_2d = cpu_copy_2d,
    .sum = cpu_sum,
    .sum_into = cpu_sum, /* backend memory is host memory */
    .clip = cpu_clip,
    .adam = cpu_adam,
    .sgd = cpu_sgd,
    .ema = cpu_ema,
    .destroy = cpu_destroy,
};

repro_status repro_backend_create_cpu(repro_isa isa, int threads, repro_backend **out, repro_error *err)
{
    *out = NULL;
    repro_cpu probe = {isa, NULL};
    REPRO_CPU_CHECK(&probe, err);
    repro_backend *be = calloc(1, sizeof *be);
    if (!be)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the CPU backend");
    be->ops = &repro_cpu_backend_ops;
    be->device = REPRO_DEVICE_CPU;
    be->cpu.isa = isa;
    repro_status st = repro_pool_create(threads, &be->cpu.pool, err);
    if (st != REPRO_OK) {
        free(be);
        return st;
    }
    snprintf(be->describe, sizeof be->describe, "cpu %s, %d thread%s", repro_isa_name(isa), threads,
             threads == 1 ? "" : "s");
    *out = be;
    return REPRO_OK;
}

void repro_backend_cpu_fast(repro_backend *be, int fast)
{
    if (be->device != REPRO_DEVICE_CPU)
        return;
    be->fast = fast;
    if (fast)
        repro_blas_set_threads(repro_pool_threads(be->cpu.pool));
}

repro_status repro_backend_wrap_cpu(const repro_cpu *cpu, repro_backend **out, repro_error *err)
{
    *out = NULL;
    REPRO_CPU_CHECK(cpu, err);
    repro_backend *be = calloc(1, sizeof *be);
    if (!be)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the CPU backend");
    be->ops = &repro_cpu_backend_ops;
    be->device = REPRO_DEVICE_CPU;
    be->cpu = *cpu;
    be->impl = be; /* a view */
    snprintf(be->describe, sizeof be->describe, "cpu %s, %d thread%s", repro_isa_name(cpu->isa),
             repro_pool_threads(cpu->pool), repro_pool_threads(cpu->pool) == 1 ? "" : "s");
    *out = be;
    return REPRO_OK;
}
