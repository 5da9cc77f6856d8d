/* Optimiser updates, the EMA and gradient clipping on the GPU: one thread
 * per parameter element, the element formulas of src/ops/adam_math.h and
 * src/ops/update_math.h (the text src/optim/optim.c runs). The coefficients
 * (Adam's bias corrections, AdamW's decay factor, SGD's first-step flag)
 * are computed once per step on the host, exactly as repro_optim_step does,
 * and passed by value. Clipping keeps the norm on the device: the
 * canonical sum of squares (reduce.cu), then one kernel that takes its
 * root and scales when norm > max_norm. */
#include "ops/cuda/cuda_util.cuh"
#include "repro/math.h"

namespace {

__global__ void adam_kernel(repro_adam_coef c, float *p, float *m, float *v, const float *g, int64_t n)
{
    REPRO_CUDA_FOR(i, n)
    {
        /* locals, so the element's state is read once and written once */
        float pi = p[i], mi = m[i], vi = v[i];
        repro_adam_elem(&c, &pi, &mi, &vi, g[i]);
        p[i] = pi;
        m[i] = mi;
        v[i] = vi;
    }
}

__global__ void sgd_kernel(repro_sgd_coef c, float *p, float *buf, const float *g, int64_t n)
{
    REPRO_CUDA_FOR(i, n)
    {
        float pi = p[i], bi = buf ? buf[i] : 0.0f;
        repro_sgd_elem(&c, &pi, &bi, g[i]);
        p[i] = pi;
        if (buf)
            buf[i] = bi;
    }
}

__global__ void ema_kernel(float *ema, const float *p, int64_t n, float decay, float one_minus_decay)
{
    REPRO_CUDA_FOR(i, n)
    ema[i] = repro_ema_elem(ema[i], p[i], decay, one_minus_decay);
}

/* norm = sqrt(*sumsq) into *norm_out (every thread computes the same
 * value; block 0 thread 0 stores it); g = g * factor when clipping. */
__global__ void clip_kernel(float *g, int64_t n, float max_norm, float *norm_out, const float *sumsq)
{
    float norm = repro_sqrtf(*sumsq);
    if (blockIdx.x == 0 && threadIdx.x == 0)
        *norm_out = norm;
    if (!repro_clip_needed(norm, max_norm))
        return;
    float f = repro_clip_factor(norm, max_norm);
    REPRO_CUDA_FOR(i, n)
    g[i] = g[i] * f;
}

} // namespace

extern "C" {

repro_status repro_cuda_adam_step(const repro_adam_coef *coef, float *p, float *m, float *v, const float *g,
                                  int64_t n, repro_cuda_stream s, repro_error *err)
{
    if (n <= 0)
        return REPRO_OK;
    adam_kernel<<<repro_cuda_blocks(n), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(*coef, p, m, v, g, n);
    return repro_cuda_check("adam step", err);
}

repro_status repro_cuda_sgd_step(const repro_sgd_coef *coef, float *p, float *buf, const float *g, int64_t n,
                                 repro_cuda_stream s, repro_error *err)
{
    if (coef->momentum != 0.0f && !buf)
        return repro_fail(err, REPRO_ERR_ARG, "cuda sgd step: momentum %g needs a momentum buffer",
                          (double)coef->momentum);
    if (n <= 0)
        return REPRO_OK;
    sgd_kernel<<<repro_cuda_blocks(n), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(*coef, p, buf, g, n);
    return repro_cuda_check("sgd step", err);
}

repro_status repro_cuda_ema_update(float *ema, const float *params, int64_t n, float decay, repro_cuda_stream s,
                                   repro_error *err)
{
    if (n <= 0)
        return REPRO_OK;
    ema_kernel<<<repro_cuda_blocks(n), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(ema, params, n, decay,
                                                                                1.0f - decay);
    return repro_cuda_check("ema update", err);
}

repro_status repro_cuda_clip_grad_norm(float *grads, int64_t n, float max_norm, float *norm_out, float *scratch,
                                       repro_cuda_stream s, repro_error *err)
{
    /* the sum of squares goes to scratch[m], after the m block sums: the
     * clip kernel reads it in every block, so it cannot be norm_out, which
     * block 0 overwrites */
    int64_t m = repro_cuda_canon_scratch(n);
    repro_status st = repro_cuda_sumsq_canonical(scratch + m, grads, n, scratch, s, err);
    if (st != REPRO_OK)
        return st;
    clip_kernel<<<repro_cuda_blocks(n), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(grads, n, max_norm, norm_out,
                                                                                 scratch + m);
    return repro_cuda_check("clip grad norm", err);
}

} /* extern "C" */
