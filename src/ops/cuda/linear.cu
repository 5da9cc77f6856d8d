/* The linear layer on the GPU, src/ops/cpu/linear.c's three products on
 * repro_cuda_gemm (same strides, so the same fma chains) and its bias
 * gradient:
 *   forward  y  = x  W^T: M=B, N=O, K=I; A = x  (I, 1), B(i,o) = W[o][i] (1, I)
 *   dx          = dy W:   M=B, N=I, K=O; A = dy (O, 1), B = W (I, 1)
 *   dW         += dy^T x: M=O, N=I, K=B; A(o,b) = dy[b][o] (1, O), B = x (I, 1)
 *   db[o]      += dy[b][o] for b ascending (acc = acc + dy, from db's value):
 *                 one thread per column o, sequential over the rows
 *                 (staged through shared memory). */
#include "ops/cuda/cuda_util.cuh"

namespace {

/* db[o] = db[o] + dy[0][o] + dy[1][o] + ... in that order, one thread per
 * column. A block owns 32 columns: its 8 warps stage BG_ROWS rows of them
 * in shared memory (coalesced), then warp 0 runs the 32 chains over the
 * staged rows, reading ahead of its adds. */
constexpr int BG_COLS = 32, BG_WARPS = 8, BG_ROWS = 64;

__global__ void __launch_bounds__(BG_COLS *BG_WARPS) bias_grad_kernel(float *db, const float *dy, int64_t B, int64_t O)
{
    __shared__ float rows[BG_ROWS][BG_COLS];
    const int lane = threadIdx.x % BG_COLS, warp = threadIdx.x / BG_COLS;
    const int64_t o = (int64_t)blockIdx.x * BG_COLS + lane;
    float acc = (warp == 0 && o < O) ? db[o] : 0.0f;
    for (int64_t b0 = 0; b0 < B; b0 += BG_ROWS) {
        const int n = (int)(B - b0 < BG_ROWS ? B - b0 : BG_ROWS);
        for (int r = warp; r < n; r += BG_WARPS)
            rows[r][lane] = o < O ? dy[(b0 + r) * O + o] : 0.0f;
        __syncthreads();
        if (warp == 0)
            for (int r = 0; r < n; r++)
                acc = acc + rows[r][lane];
        __syncthreads();
    }
    if (warp == 0 && o < O)
        db[o] = acc;
}

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
    if (st == REPRO_OK)
        st = gemm(O, I, B, dy, 1, O, x, I, 1, NULL, dw, I, 1, s, err);
    if (st == REPRO_OK && db && O > 0) {
        unsigned blocks = (unsigned)((O + BG_COLS - 1) / BG_COLS);
        bias_grad_kernel<<<blocks, BG_COLS * BG_WARPS, 0, repro_cuda_s(s)>>>(db, dy, B, O);
        st = repro_cuda_check("linear bias gradient", err);
    }
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
