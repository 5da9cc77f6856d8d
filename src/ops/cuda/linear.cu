/* The linear layer on the GPU, src/ops/cpu/linear.c's three products on
 * repro_cuda_gemm (same strides, so the same fma chains) and its bias
 * gradient:
 *   forward  y  = x  W^T: M=B, N=O, K=I; A = x  (I, 1), B(i,o) = W[o][i] (1, I)
 *   dx          = dy W:   M=B, N=I, K=O; A = dy (O, 1), B = W (I, 1)
 *   dW         += dy^T x: M=O, N=I, K=B; A(o,b) = dy[b][o] (1, O), B = x (I, 1)
 *   db[o]      += dy[b][o] for b ascending (acc = acc + dy, from db's value):
 *                 one chain per column o, sequential over the rows
 *                 (column_chain.cuh stages the rows through shared memory). */
#include "ops/cuda/column_chain.cuh"
#include "ops/cuda/cuda_util.cuh"

namespace {

/* db[o] = db[o] + dy[0][o] + dy[1][o] + ... in that order: one chain a
 * column (column_chain.cuh). */
struct bias_grad_op {
    float *db;
    const float *dy;
    int64_t O;
    __device__ void load(int64_t b, int64_t o, float v[1]) const { v[0] = dy[b * O + o]; }
    __device__ void init(int64_t o, float acc[1]) const { acc[0] = db[o]; }
    __device__ void step(float acc[1], const float v[1]) const { acc[0] = acc[0] + v[0]; }
    __device__ void store(int64_t o, const float acc[1]) const { db[o] = acc[0]; }
};

/* The layer over one matrix product: repro_cuda_gemm (fp32) or
 * repro_cuda_gemm_bf16 (tensor cores); both share the signature. The bias
 * and its gradient are fp32 sums in both precisions. */
typedef repro_status (*gemm_fn)(int64_t M, int64_t N, int64_t K, const float *A, int64_t a_rs, int64_t a_cs,
                                const float *B, int64_t b_rs, int64_t b_cs, const float *bias, float *C, int64_t ldc,
                                int accumulate, repro_cuda_stream stream, repro_error *err);

repro_status forward_with(gemm_fn gemm, const char *what, float *y, const float *x, const float *w, const float *bias,
                          int64_t B, int64_t I, int64_t O, repro_cuda_stream s, repro_error *err)
{
    repro_status st = gemm(B, O, I, x, I, 1, w, 1, I, bias, y, O, 0, s, err);
    if (st != REPRO_OK)
        return repro_error_prefix(err, "cuda %s forward (%lldx%lld -> %lld)", what, (long long)B, (long long)I,
                                  (long long)O);
    return REPRO_OK;
}

repro_status backward_with(gemm_fn gemm, const char *what, float *dx, float *dw, float *db, const float *dy,
                           const float *x, const float *w, int64_t B, int64_t I, int64_t O, repro_cuda_stream s,
                           repro_error *err)
{
    repro_status st = REPRO_OK;
    if (dx)
        st = gemm(B, I, O, dy, O, 1, w, I, 1, NULL, dx, I, 0, s, err);
    if (st == REPRO_OK && dw)
        st = gemm(O, I, B, dy, 1, O, x, I, 1, NULL, dw, I, 1, s, err);
    if (st == REPRO_OK && db)
        st = repro_column_chains<1, 1>(bias_grad_op{db, dy, O}, B, O, s, "linear bias gradient", err);
    if (st != REPRO_OK)
        return repro_error_prefix(err, "cuda %s backward (%lldx%lld -> %lld)", what, (long long)B, (long long)I,
                                  (long long)O);
    return REPRO_OK;
}

} // namespace

extern "C" {

repro_status repro_cuda_linear_forward(float *y, const float *x, const float *w, const float *bias, int64_t B,
                                       int64_t I, int64_t O, repro_cuda_stream s, repro_error *err)
{
    return forward_with(repro_cuda_gemm, "linear", y, x, w, bias, B, I, O, s, err);
}

repro_status repro_cuda_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                        const float *w, int64_t B, int64_t I, int64_t O, repro_cuda_stream s,
                                        repro_error *err)
{
    return backward_with(repro_cuda_gemm, "linear", dx, dw, db, dy, x, w, B, I, O, s, err);
}

repro_status repro_cuda_linear_forward_bf16(float *y, const float *x, const float *w, const float *bias, int64_t B,
                                            int64_t I, int64_t O, repro_cuda_stream s, repro_error *err)
{
    return forward_with(repro_cuda_gemm_bf16, "bf16 linear", y, x, w, bias, B, I, O, s, err);
}

repro_status repro_cuda_linear_backward_bf16(float *dx, float *dw, float *db, const float *dy, const float *x,
                                             const float *w, int64_t B, int64_t I, int64_t O, repro_cuda_stream s,
                                             repro_error *err)
{
    return backward_with(repro_cuda_gemm_bf16, "bf16 linear", dx, dw, db, dy, x, w, B, I, O, s, err);
}

} /* extern "C" */
