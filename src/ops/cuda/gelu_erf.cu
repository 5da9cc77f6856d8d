/* GELU (erf form) on the GPU: src/ops/gelu_erf_math.h per element, one
 * thread an element (grid-stride), in double as on the CPU. */
#include "ops/cuda/cuda_attention.h"
#include "ops/cuda/cuda_util.cuh"
#include "ops/gelu_erf_math.h"

namespace {

__global__ void forward_kernel(float *y, const float *x, int64_t n)
{
    REPRO_CUDA_FOR(i, n)
    y[i] = repro_gelu_erf_f(x[i]);
}

__global__ void backward_kernel(float *dx, const float *dy, const float *x, int64_t n)
{
    REPRO_CUDA_FOR(i, n)
    dx[i] = repro_gelu_erf_df(dy[i], x[i]);
}

} // namespace

extern "C" {

repro_status repro_cuda_gelu_erf_forward(float *y, const float *x, int64_t n, repro_cuda_stream s, repro_error *err)
{
    if (n <= 0)
        return REPRO_OK;
    forward_kernel<<<repro_cuda_blocks(n), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(y, x, n);
    return repro_cuda_check("gelu (erf) forward", err);
}

repro_status repro_cuda_gelu_erf_backward(float *dx, const float *dy, const float *x, int64_t n, repro_cuda_stream s,
                                          repro_error *err)
{
    if (n <= 0)
        return REPRO_OK;
    backward_kernel<<<repro_cuda_blocks(n), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(dx, dy, x, n);
    return repro_cuda_check("gelu (erf) backward", err);
}

} /* extern "C" */
