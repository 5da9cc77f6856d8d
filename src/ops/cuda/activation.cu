/* Activations (every row of src/ops/activations.h) and add_inplace on the
 * GPU: one thread per element (grid-stride), each element the formula of
 * src/ops/ops_math.h, the text the CPU kernels (src/ops/cpu/activation.c,
 * elementwise.c) run. */
#include "ops/cuda/cuda_util.cuh"
#include "ops/activations.h"

namespace {

/* act is a template argument, so repro_act_f's switch folds to one formula */
template <int act>
__global__ void forward_kernel(float *y, const float *x, int64_t n)
{
    REPRO_CUDA_FOR(i, n)
    y[i] = repro_act_f((repro_act)act, x[i]);
}

/* saved = the forward's input x or output y (repro_act_reads_output) */
template <int act>
__global__ void backward_kernel(float *dx, const float *dy, const float *saved, int64_t n)
{
    REPRO_CUDA_FOR(i, n)
    dx[i] = repro_act_df((repro_act)act, dy[i], saved[i]);
}

__global__ void add_kernel(float *y, const float *x, int64_t n)
{
    REPRO_CUDA_FOR(i, n)
    y[i] = y[i] + x[i];
}

template <int act>
repro_status forward(float *y, const float *x, int64_t n, cudaStream_t s, repro_error *err)
{
    forward_kernel<act><<<repro_cuda_blocks(n), REPRO_CUDA_THREADS, 0, s>>>(y, x, n);
    return repro_cuda_check(repro_act_name((repro_act)act), err);
}

template <int act>
repro_status backward(float *dx, const float *dy, const float *saved, int64_t n, cudaStream_t s, repro_error *err)
{
    backward_kernel<act><<<repro_cuda_blocks(n), REPRO_CUDA_THREADS, 0, s>>>(dx, dy, saved, n);
    return repro_cuda_check(repro_act_name((repro_act)act), err);
}

} // namespace

extern "C" {

#define FORWARD_CASE(ID, ...)                                                                      \
    case REPRO_ACT_##ID: return forward<REPRO_ACT_##ID>(y, x, n, repro_cuda_s(s), err);

repro_status repro_cuda_act_forward(repro_act act, float *y, const float *x, int64_t n, repro_cuda_stream s,
                                    repro_error *err)
{
    if (n <= 0)
        return REPRO_OK;
    switch (act) {
        REPRO_LAYER_KINDS(REPRO_SKIP_ROW_, FORWARD_CASE, REPRO_SKIP_ROW_)
    default: break;
    }
    return repro_fail(err, REPRO_ERR_ARG, "unknown activation %d", (int)act);
}

#define BACKWARD_CASE(ID, ...)                                                                     \
    case REPRO_ACT_##ID: return backward<REPRO_ACT_##ID>(dx, dy, saved, n, repro_cuda_s(s), err);

repro_status repro_cuda_act_backward(repro_act act, float *dx, const float *dy, const float *saved, int64_t n,
                                     repro_cuda_stream s, repro_error *err)
{
    if (n <= 0)
        return REPRO_OK;
    switch (act) {
        REPRO_LAYER_KINDS(REPRO_SKIP_ROW_, BACKWARD_CASE, REPRO_SKIP_ROW_)
    default: break;
    }
    return repro_fail(err, REPRO_ERR_ARG, "unknown activation %d", (int)act);
}

repro_status repro_cuda_add_inplace(float *y, const float *x, int64_t n, repro_cuda_stream s, repro_error *err)
{
    if (n <= 0)
        return REPRO_OK;
    add_kernel<<<repro_cuda_blocks(n), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(y, x, n);
    return repro_cuda_check("add_inplace", err);
}

} /* extern "C" */
