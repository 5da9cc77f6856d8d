/* Activations (ReLU, GELU, tanh, sigmoid, SiLU) and add_inplace on the
 * GPU: one thread per element (grid-stride), each element the formula of
 * src/ops/ops_math.h / repro/math.h, the text the CPU kernels
 * (src/ops/cpu/activation.c, elementwise.c) run. */
#include "ops/cuda/cuda_util.cuh"
#include "ops/ops_math.h"

namespace {

enum act_op { RELU, GELU, TANH, SIGMOID, SILU };

template <int op>
__global__ void forward_kernel(float *y, const float *x, int64_t n)
{
    REPRO_CUDA_FOR(i, n)
    {
        float v = x[i];
        y[i] = op == RELU      ? repro_relu_f(v)
               : op == GELU    ? repro_gelu_f(v)
               : op == TANH    ? repro_tanhf(v)
               : op == SIGMOID ? repro_sigmoidf(v)
                               : repro_silu_f(v);
    }
}

/* s = the forward's input x (ReLU, GELU, SiLU) or output y (tanh, sigmoid). */
template <int op>
__global__ void backward_kernel(float *dx, const float *dy, const float *s, int64_t n)
{
    REPRO_CUDA_FOR(i, n)
    {
        float g = dy[i], v = s[i];
        dx[i] = op == RELU      ? repro_relu_df(g, v)
                : op == GELU    ? repro_gelu_df(g, v)
                : op == TANH    ? repro_tanh_df(g, v)
                : op == SIGMOID ? repro_sigmoid_df(g, v)
                                : repro_silu_df(g, v);
    }
}

__global__ void add_kernel(float *y, const float *x, int64_t n)
{
    REPRO_CUDA_FOR(i, n)
    y[i] = y[i] + x[i];
}

template <int op>
repro_status forward(const char *name, float *y, const float *x, int64_t n, repro_cuda_stream s, repro_error *err)
{
    if (n <= 0)
        return REPRO_OK;
    forward_kernel<op><<<repro_cuda_blocks(n), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(y, x, n);
    return repro_cuda_check(name, err);
}

template <int op>
repro_status backward(const char *name, float *dx, const float *dy, const float *v, int64_t n,
                      repro_cuda_stream s, repro_error *err)
{
    if (n <= 0)
        return REPRO_OK;
    backward_kernel<op><<<repro_cuda_blocks(n), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(dx, dy, v, n);
    return repro_cuda_check(name, err);
}

} // namespace

extern "C" {

repro_status repro_cuda_relu_forward(float *y, const float *x, int64_t n, repro_cuda_stream s, repro_error *err)
{
    return forward<RELU>("relu forward", y, x, n, s, err);
}

repro_status repro_cuda_relu_backward(float *dx, const float *dy, const float *x, int64_t n, repro_cuda_stream s,
                                      repro_error *err)
{
    return backward<RELU>("relu backward", dx, dy, x, n, s, err);
}

repro_status repro_cuda_gelu_forward(float *y, const float *x, int64_t n, repro_cuda_stream s, repro_error *err)
{
    return forward<GELU>("gelu forward", y, x, n, s, err);
}

repro_status repro_cuda_gelu_backward(float *dx, const float *dy, const float *x, int64_t n, repro_cuda_stream s,
                                      repro_error *err)
{
    return backward<GELU>("gelu backward", dx, dy, x, n, s, err);
}

repro_status repro_cuda_tanh_forward(float *y, const float *x, int64_t n, repro_cuda_stream s, repro_error *err)
{
    return forward<TANH>("tanh forward", y, x, n, s, err);
}

repro_status repro_cuda_tanh_backward(float *dx, const float *dy, const float *y, int64_t n, repro_cuda_stream s,
                                      repro_error *err)
{
    return backward<TANH>("tanh backward", dx, dy, y, n, s, err);
}

repro_status repro_cuda_sigmoid_forward(float *y, const float *x, int64_t n, repro_cuda_stream s, repro_error *err)
{
    return forward<SIGMOID>("sigmoid forward", y, x, n, s, err);
}

repro_status repro_cuda_sigmoid_backward(float *dx, const float *dy, const float *y, int64_t n,
                                         repro_cuda_stream s, repro_error *err)
{
    return backward<SIGMOID>("sigmoid backward", dx, dy, y, n, s, err);
}

repro_status repro_cuda_silu_forward(float *y, const float *x, int64_t n, repro_cuda_stream s, repro_error *err)
{
    return forward<SILU>("silu forward", y, x, n, s, err);
}

repro_status repro_cuda_silu_backward(float *dx, const float *dy, const float *x, int64_t n, repro_cuda_stream s,
                                      repro_error *err)
{
    return backward<SILU>("silu backward", dx, dy, x, n, s, err);
}

repro_status repro_cuda_add_inplace(float *y, const float *x, int64_t n, repro_cuda_stream s, repro_error *err)
{
    if (n <= 0)
        return REPRO_OK;
    add_kernel<<<repro_cuda_blocks(n), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(y, x, n);
    return repro_cuda_check("add_inplace", err);
}

} /* extern "C" */
