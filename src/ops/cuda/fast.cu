/* Kernels of mode: fast on the GPU, beside cuBLAS SGEMM (cuda_backend.c).
 * NOT exact: the bias gradient adds per-block partial sums with atomics, in
 * whatever order the blocks finish. Nothing here may serve mode: exact. */
#include "ops/cuda/cuda_util.cuh"

namespace {

__global__ void bias_broadcast_kernel(float *y, const float *bias, int64_t B, int64_t O)
{
    REPRO_CUDA_FOR(i, B * O)
    y[i] = bias[i % O];
}

/* Block (x, y): columns x*256.., rows y*ROWS..; one partial sum per column,
 * added to db with atomicAdd. */
constexpr int ROWS = 32;

__global__ void bias_grad_atomic_kernel(float *db, const float *dy, int64_t B, int64_t O)
{
    int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    int64_t b0 = (int64_t)blockIdx.y * ROWS;
    if (o >= O)
        return;
    float acc = 0.0f;
    for (int64_t b = b0; b < B && b < b0 + ROWS; b++)
        acc += dy[b * O + o];
    atomicAdd(&db[o], acc);
}

} // namespace

extern "C" {

repro_status repro_cuda_fast_bias_broadcast(float *y, const float *bias, int64_t B, int64_t O, repro_cuda_stream s,
                                            repro_error *err)
{
    if (B * O <= 0)
        return REPRO_OK;
    bias_broadcast_kernel<<<repro_cuda_blocks(B * O), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(y, bias, B, O);
    return repro_cuda_check("fast bias broadcast", err);
}

repro_status repro_cuda_fast_bias_grad(float *db, const float *dy, int64_t B, int64_t O, repro_cuda_stream s,
                                       repro_error *err)
{
    if (B <= 0 || O <= 0)
        return REPRO_OK;
    int64_t gy = (B + ROWS - 1) / ROWS;
    if (gy > 65535)
        return repro_fail(err, REPRO_ERR_ARG, "fast bias gradient: a batch of %lld rows is too large", (long long)B);
    dim3 grid((unsigned)((O + 255) / 256), (unsigned)gy);
    bias_grad_atomic_kernel<<<grid, 256, 0, repro_cuda_s(s)>>>(db, dy, B, O);
    return repro_cuda_check("fast bias gradient (atomic)", err);
}

} /* extern "C" */
