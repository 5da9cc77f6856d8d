/* Attention and softmax on the GPU (cuda_attention.h): the row functions
 * of src/ops/attention_math.h, one thread a row, and softmax's rows with
 * the canonical sums of canon_tree.cuh. */
#include "ops/cuda/canon_tree.cuh"
#include "ops/cuda/cuda_attention.h"
#include "ops/cuda/cuda_util.cuh"

namespace {

/* 64 threads a block: a block is 64 consecutive rows, mostly one (b, h),
 * so the key and value rows every thread reads come through the cache once. */
constexpr int kThreads = 64;

unsigned blocks_of(int64_t n)
{
    int64_t b = (n + kThreads - 1) / kThreads;
    return (unsigned)(b < REPRO_CUDA_MAX_BLOCKS ? (b < 1 ? 1 : b) : REPRO_CUDA_MAX_BLOCKS);
}

#define ROW_LOOP(r, n) for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < (n); r += (int64_t)gridDim.x * blockDim.x)

__global__ void forward_kernel(repro_attn_args a)
{
    ROW_LOOP(r, a.B * a.H * a.T)
    repro_attn_forward_row(&a, r);
}

__global__ void dsum_kernel(repro_attn_args a)
{
    ROW_LOOP(r, a.B * a.H * a.T)
    repro_attn_dsum_row(&a, r);
}

__global__ void dq_kernel(repro_attn_args a)
{
    ROW_LOOP(r, a.B * a.H * a.T)
    repro_attn_dq_row(&a, r);
}

__global__ void dkv_kernel(repro_attn_args a)
{
    ROW_LOOP(r, a.B * a.H * a.T)
    repro_attn_dkv_row(&a, r);
}

__global__ void softmax_forward_kernel(float *y, const float *x, int64_t rows, int64_t n)
{
    REPRO_CUDA_FOR(r, rows)
    {
        const float *xr = x + r * n;
        float *yr = y + r * n, m = -repro_math_inff();
        for (int64_t k = 0; k < n; k++)
            m = xr[k] > m ? xr[k] : m;
        for (int64_t k = 0; k < n; k++)
            yr[k] = repro_expf(xr[k] - m);
        repro_canon_src src = {REPRO_CANON_X, yr, NULL, 0.0f, 0.0f, 0, 0};
        float s = repro_cuda_canon_sum_thread(&src, n);
        for (int64_t k = 0; k < n; k++)
            yr[k] = yr[k] / s;
    }
}

__global__ void softmax_backward_kernel(float *dx, const float *dy, const float *y, int64_t rows, int64_t n)
{
    REPRO_CUDA_FOR(r, rows)
    {
        const float *yr = y + r * n, *dyr = dy + r * n;
        float *dxr = dx + r * n;
        repro_canon_src src = {REPRO_CANON_XY, dyr, yr, 0.0f, 0.0f, 0, 0};
        float g = repro_cuda_canon_sum_thread(&src, n);
        for (int64_t k = 0; k < n; k++)
            dxr[k] = yr[k] * (dyr[k] - g);
    }
}

} // namespace

extern "C" {

repro_status repro_cuda_attention_forward(const repro_attn_args *a, repro_cuda_stream s, repro_error *err)
{
    repro_status st = repro_attention_check(a, 1, err);
    int64_t rows = a->B * a->H * a->T;
    if (st != REPRO_OK || rows == 0)
        return st;
    forward_kernel<<<blocks_of(rows), kThreads, 0, repro_cuda_s(s)>>>(*a);
    return repro_cuda_check("attention forward", err);
}

repro_status repro_cuda_attention_backward(const repro_attn_args *a, repro_cuda_stream s, repro_error *err)
{
    repro_status st = repro_attention_check(a, 0, err);
    int64_t rows = a->B * a->H * a->T;
    if (st != REPRO_OK || rows == 0)
        return st;
    dsum_kernel<<<blocks_of(rows), kThreads, 0, repro_cuda_s(s)>>>(*a);
    st = repro_cuda_check("attention backward (dsum)", err);
    if (st != REPRO_OK)
        return st;
    dq_kernel<<<blocks_of(rows), kThreads, 0, repro_cuda_s(s)>>>(*a);
    st = repro_cuda_check("attention backward (dq)", err);
    if (st != REPRO_OK)
        return st;
    dkv_kernel<<<blocks_of(rows), kThreads, 0, repro_cuda_s(s)>>>(*a);
    return repro_cuda_check("attention backward (dk, dv)", err);
}

repro_status repro_cuda_softmax_forward(float *y, const float *x, int64_t rows, int64_t n, repro_cuda_stream s,
                                        repro_error *err)
{
    if (rows <= 0 || n <= 0)
        return REPRO_OK;
    softmax_forward_kernel<<<repro_cuda_blocks(rows), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(y, x, rows, n);
    return repro_cuda_check("softmax forward", err);
}

repro_status repro_cuda_softmax_backward(float *dx, const float *dy, const float *y, int64_t rows, int64_t n,
                                         repro_cuda_stream s, repro_error *err)
{
    if (rows <= 0 || n <= 0)
        return REPRO_OK;
    softmax_backward_kernel<<<repro_cuda_blocks(rows), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(dx, dy, y, rows,
                                                                                               n);
    return repro_cuda_check("softmax backward", err);
}

} /* extern "C" */
