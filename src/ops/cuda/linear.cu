/* The linear layer on the GPU, src/ops/cpu/linear.c's three products on
 * repro_cuda_gemm (same strides, so the same fma chains) and its bias
 * gradient:
 *   forward  y  = x  W^T: M=B, N=O, K=I; A = x  (I, 1), B(i,o) = W[o][i] (1, I)
 *   dx          = dy W:   M=B, N=I, K=O; A = dy (O, 1), B = W (I, 1)
 *   dW         += dy^T x: M=O, N=I, K=B; A(o,b) = dy[b][o] (1, O), B = x (I, 1)
 *   db[o]      += dy[b][o] for b ascending (acc = acc + dy, from db's value):
 *                 one thread per column o, sequential over the rows. */
#include "ops/cuda/cuda_util.cuh"

namespace {

__global__ void bias_grad_kernel(float *db, const float *dy, int64_t B, int64_t O)
{
    REPRO_CUDA_FOR(o, O)
    {
        float acc = db[o];
        for (int64_t b = 0; b < B; b++)
            acc = acc + dy[b * O + o];
        db[o] = acc;
    }
}

} // namespace

extern "C" {

repro_status repro_cuda_linear_forward(float *y, const float *x, const float *w, const float *bias, int64_t B,
                                       int64_t I, int64_t O, repro_cuda_stream s, repro_error *err)
{
    repro_status st = repro_cuda_gemm(B, O, I, x, I, 1, w, 1, I, bias, y, O, 0, s, err);
    if (st != REPRO_OK)
        return repro_error_prefix(err, "cuda linear forward (%lldx%lld -> %lld)", (long long)B, (long long)I,
                                  (long long)O);
    return REPRO_OK;
}

repro_status repro_cuda_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                        const float *w, int64_t B, int64_t I, int64_t O, repro_cuda_stream s,
                                        repro_error *err)
{
    repro_status st = REPRO_OK;
    if (dx)
        st = repro_cuda_gemm(B, I, O, dy, O, 1, w, I, 1, NULL, dx, I, 0, s, err);
    if (st == REPRO_OK)
        st = repro_cuda_gemm(O, I, B, dy, 1, O, x, I, 1, NULL, dw, I, 1, s, err);
    if (st == REPRO_OK && db && O > 0) {
        bias_grad_kernel<<<repro_cuda_blocks(O), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(db, dy, B, O);
        st = repro_cuda_check("linear bias gradient", err);
    }
    if (st != REPRO_OK)
        return repro_error_prefix(err, "cuda linear backward (%lldx%lld -> %lld)", (long long)B, (long long)I,
                                  (long long)O);
    return REPRO_OK;
}

} /* extern "C" */
