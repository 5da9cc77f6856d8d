/* Layer norm on the GPU, src/ops/cpu/layernorm.c's order:
 *   forward, one thread per row b:
 *     mean = canonical sum of x[b][.] / (float)D
 *     var  = canonical sum of (x - mean)^2 / (float)D
 *     rstd = repro_layernorm_rstd(var, eps); y = repro_layernorm_f(...)
 *   backward, one thread per row for dx (dx doubles as the dxhat scratch):
 *     dxhat = dy * gamma; m1 = canon(dxhat) / D; m2 = canon(dxhat * xhat) / D
 *     dx = repro_layernorm_dx(dxhat, xhat, rstd, m1, m2)
 *   and one thread per feature d for the parameter gradients, b ascending
 *   from their current values: dgamma = fmaf(dy, xhat, dgamma); dbeta = dbeta + dy.
 * The row sums are the canonical sums (canon_tree.cuh), as on the CPU. */
#include "ops/cuda/canon_tree.cuh"
#include "ops/cuda/cuda_util.cuh"
#include "ops/ops_math.h"

namespace {

__global__ void forward_kernel(float *y, float *mean_out, float *rstd_out, const float *x, const float *gamma,
                               const float *beta, int64_t B, int64_t D, float eps)
{
    float fD = (float)D;
    REPRO_CUDA_FOR(b, B)
    {
        const float *xr = x + b * D;
        float *yr = y + b * D;
        repro_canon_src sum = {REPRO_CANON_X, xr, NULL, 0.0f, 0.0f, 0, 0};
        float mean = repro_cuda_canon_sum_thread(&sum, D) / fD;
        repro_canon_src sq = {REPRO_CANON_CENTRED_SQ, xr, NULL, mean, 0.0f, 0, 0};
        float var = repro_cuda_canon_sum_thread(&sq, D) / fD;
        float rstd = repro_layernorm_rstd(var, eps);
        for (int64_t d = 0; d < D; d++)
            yr[d] = repro_layernorm_f(xr[d], mean, rstd, gamma[d], beta[d]);
        mean_out[b] = mean;
        rstd_out[b] = rstd;
    }
}

__global__ void dx_kernel(float *dx, const float *dy, const float *x, const float *mean, const float *rstd,
                          const float *gamma, int64_t B, int64_t D)
{
    float fD = (float)D;
    REPRO_CUDA_FOR(b, B)
    {
        const float *dyr = dy + b * D, *xr = x + b * D;
        float *dxr = dx + b * D;
        float mu = mean[b], rs = rstd[b];
        for (int64_t d = 0; d < D; d++)
            dxr[d] = dyr[d] * gamma[d];
        repro_canon_src s1 = {REPRO_CANON_X, dxr, NULL, 0.0f, 0.0f, 0, 0};
        float m1 = repro_cuda_canon_sum_thread(&s1, D) / fD;
        repro_canon_src s2 = {REPRO_CANON_Y_XHAT, xr, dxr, mu, rs, 0, 0};
        float m2 = repro_cuda_canon_sum_thread(&s2, D) / fD;
        for (int64_t d = 0; d < D; d++)
            dxr[d] = repro_layernorm_dx(dxr[d], repro_layernorm_xhat(xr[d], mu, rs), rs, m1, m2);
    }
}

__global__ void param_kernel(float *dgamma, float *dbeta, const float *dy, const float *x, const float *mean,
                             const float *rstd, int64_t B, int64_t D)
{
    REPRO_CUDA_FOR(d, D)
    {
        float g = dgamma[d], bt = dbeta[d];
        for (int64_t b = 0; b < B; b++) {
            float v = dy[b * D + d];
            float xhat = repro_layernorm_xhat(x[b * D + d], mean[b], rstd[b]);
            g = fmaf(v, xhat, g);
            bt = bt + v;
        }
        dgamma[d] = g;
        dbeta[d] = bt;
    }
}

} // namespace

extern "C" {

repro_status repro_cuda_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                                          const float *beta, int64_t B, int64_t D, float eps, repro_cuda_stream s,
                                          repro_error *err)
{
    if (B <= 0 || D <= 0)
        return REPRO_OK;
    forward_kernel<<<repro_cuda_blocks(B), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(y, mean, rstd, x, gamma,
                                                                                    beta, B, D, eps);
    return repro_cuda_check("layernorm forward", err);
}

repro_status repro_cuda_layernorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                                           const float *x, const float *mean, const float *rstd,
                                           const float *gamma, int64_t B, int64_t D, repro_cuda_stream s,
                                           repro_error *err)
{
    if (B <= 0 || D <= 0)
        return REPRO_OK;
    param_kernel<<<repro_cuda_blocks(D), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(dgamma, dbeta, dy, x, mean,
                                                                                  rstd, B, D);
    repro_status st = repro_cuda_check("layernorm backward (dgamma, dbeta)", err);
    if (st != REPRO_OK)
        return st;
    dx_kernel<<<repro_cuda_blocks(B), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(dx, dy, x, mean, rstd, gamma, B,
                                                                               D);
    return repro_cuda_check("layernorm backward (dx)", err);
}

} /* extern "C" */
