/* Layer norm on the GPU, src/ops/cpu/layernorm.c's order:
 *   forward, per row b:
 *     mean = canonical sum of x[b][.] / (float)D
 *     var  = canonical sum of (x - mean)^2 / (float)D
 *     rstd = repro_layernorm_rstd(var, eps); y = repro_layernorm_f(...)
 *   backward, per row for dx:
 *     dxhat = dy * gamma; m1 = canon(dxhat) / D; m2 = canon(dxhat * xhat) / D
 *     dx = repro_layernorm_dx(dxhat, xhat, rstd, m1, m2)
 *   and one chain per feature d for the parameter gradients, b ascending
 *   from their current values: dgamma = fmaf(dy, xhat, dgamma); dbeta = dbeta + dy
 *   (column_chain.cuh).
 * The row sums are the canonical sums of src/ops/reduce.h. A row of at most
 * REPRO_CANON_BLOCK values is one block: 8 lanes striding it, combined
 * ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)). There a row is a group
 * of 8 threads, thread j its lane j (the same elements in the same order),
 * the combine three butterfly shuffles (a + b is b + a, so every thread of
 * the group holds the block sum), and the group's reads are 8 consecutive
 * floats. Longer rows take one thread a row (canon_tree.cuh). */
#include "ops/cuda/canon_tree.cuh"
#include "ops/cuda/column_chain.cuh"
#include "ops/cuda/cuda_util.cuh"
#include "ops/ops_math.h"

namespace {

constexpr int kLanes = REPRO_CANON_LANES;                /* threads a row */
constexpr int kGroupRows = REPRO_CUDA_THREADS / kLanes;  /* rows a block */

/* The block sum of a group's 8 lane sums, in every thread of the group. */
__device__ __forceinline__ float lanes_combine(float l)
{
    l = l + __shfl_xor_sync(0xffffffffu, l, 1);
    l = l + __shfl_xor_sync(0xffffffffu, l, 2);
    return l + __shfl_xor_sync(0xffffffffu, l, 4);
}

__global__ void forward_group_kernel(float *y, float *mean_out, float *rstd_out, const float *x, const float *gamma,
                                     const float *beta, int64_t B, int64_t D, float eps)
{
    const int j = threadIdx.x % kLanes;
    const int64_t b = (int64_t)blockIdx.x * kGroupRows + threadIdx.x / kLanes;
    const bool live = b < B; /* every thread takes part in the shuffles */
    const float fD = (float)D, *xr = x + (live ? b : 0) * D;
    float l = 0.0f;
    if (live)
        for (int64_t k = j; k < D; k += kLanes)
            l = l + xr[k];
    const float mean = lanes_combine(l) / fD;
    l = 0.0f;
    if (live)
        for (int64_t k = j; k < D; k += kLanes) {
            float d = xr[k] - mean;
            l = l + d * d;
        }
    const float var = lanes_combine(l) / fD;
    if (!live)
        return;
    const float rstd = repro_layernorm_rstd(var, eps);
    float *yr = y + b * D;
    for (int64_t k = j; k < D; k += kLanes)
        yr[k] = repro_layernorm_f(xr[k], mean, rstd, gamma[k], beta[k]);
    if (j == 0) {
        mean_out[b] = mean;
        rstd_out[b] = rstd;
    }
}

__global__ void dx_group_kernel(float *dx, const float *dy, const float *x, const float *mean, const float *rstd,
                                const float *gamma, int64_t B, int64_t D)
{
    const int j = threadIdx.x % kLanes;
    const int64_t b = (int64_t)blockIdx.x * kGroupRows + threadIdx.x / kLanes;
    const bool live = b < B;
    const int64_t row = (live ? b : 0) * D;
    const float fD = (float)D, mu = live ? mean[b] : 0.0f, rs = live ? rstd[b] : 0.0f;
    float l1 = 0.0f, l2 = 0.0f;
    if (live)
        for (int64_t k = j; k < D; k += kLanes) {
            float dxhat = dy[row + k] * gamma[k];
            l1 = l1 + dxhat;
            l2 = l2 + dxhat * repro_layernorm_xhat(x[row + k], mu, rs);
        }
    const float m1 = lanes_combine(l1) / fD, m2 = lanes_combine(l2) / fD;
    if (!live)
        return;
    for (int64_t k = j; k < D; k += kLanes) {
        float dxhat = dy[row + k] * gamma[k];
        dx[row + k] = repro_layernorm_dx(dxhat, repro_layernorm_xhat(x[row + k], mu, rs), rs, m1, m2);
    }
}

/* dgamma[d] = fmaf(dy, xhat, dgamma[d]) and dbeta[d] = dbeta[d] + dy, b ascending. */
struct param_op {
    float *dgamma, *dbeta;
    const float *dy, *x, *mean, *rstd;
    int64_t D;
    __device__ void load(int64_t b, int64_t d, float v[2]) const
    {
        v[0] = dy[b * D + d];
        v[1] = repro_layernorm_xhat(x[b * D + d], mean[b], rstd[b]);
    }
    __device__ void init(int64_t d, float acc[2]) const
    {
        acc[0] = dgamma[d];
        acc[1] = dbeta[d];
    }
    __device__ void step(float acc[2], const float v[2]) const
    {
        acc[0] = fmaf(v[0], v[1], acc[0]);
        acc[1] = acc[1] + v[0];
    }
    __device__ void store(int64_t d, const float acc[2]) const
    {
        dgamma[d] = acc[0];
        dbeta[d] = acc[1];
    }
};

unsigned group_blocks(int64_t B)
{
    return (unsigned)((B + kGroupRows - 1) / kGroupRows);
}

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

} // namespace

extern "C" {

repro_status repro_cuda_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                                          const float *beta, int64_t B, int64_t D, float eps, repro_cuda_stream s,
                                          repro_error *err)
{
    if (B <= 0 || D <= 0)
        return REPRO_OK;
    if (D <= REPRO_CANON_BLOCK && group_blocks(B) <= INT32_MAX)
        forward_group_kernel<<<group_blocks(B), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(y, mean, rstd, x, gamma,
                                                                                       beta, B, D, eps);
    else
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
    repro_status st = REPRO_OK;
    if (dgamma && dbeta)
        st = repro_column_chains<2, 2>(param_op{dgamma, dbeta, dy, x, mean, rstd, D}, B, D, s,
                                       "layernorm backward (dgamma, dbeta)", err);
    if (st != REPRO_OK || !dx)
        return st;
    if (D <= REPRO_CANON_BLOCK && group_blocks(B) <= INT32_MAX)
        dx_group_kernel<<<group_blocks(B), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(dx, dy, x, mean, rstd, gamma,
                                                                                   B, D);
    else
        dx_kernel<<<repro_cuda_blocks(B), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(dx, dy, x, mean, rstd, gamma, B,
                                                                                   D);
    return repro_cuda_check("layernorm backward (dx)", err);
}

} /* extern "C" */
