/* Column chains (internal to the CUDA ops): for every column c of a
 * [rows][cols] layout, one sequential chain over the rows b ascending,
 * acc = step(acc, values(b, c)): the bias gradient (db[o] += dy[b][o]) and
 * layer norm's dgamma and dbeta are such chains, and the contract forbids
 * splitting them, so the only parallelism is across columns. With a few
 * hundred columns that is a few hundred threads on a GPU of 100k: what
 * limits a chain is then not its adds but waiting for its loads.
 *
 * So a block owns 32 columns and splits the roles: 8 loader warps fetch the
 * next tile of 256 rows (each loader thread issues all its 32 rows' loads
 * before it stores any, so they are in flight together) and compute the
 * staged values, while warp 0 runs the 32 chains over the current tile from
 * shared memory (double buffering). The chain's arithmetic is the Op's
 * step, once per row in ascending order, exactly as the CPU's loop.
 *
 * An Op provides (NV staged values a row and column, NA accumulators):
 *   __device__ void load(int64_t b, int64_t c, float v[NV]) const;
 *   __device__ void init(int64_t c, float acc[NA]) const;
 *   __device__ void step(float acc[NA], const float v[NV]) const;
 *   __device__ void store(int64_t c, const float acc[NA]) const; */
#ifndef REPRO_OPS_CUDA_COLUMN_CHAIN_CUH
#define REPRO_OPS_CUDA_COLUMN_CHAIN_CUH

#include <stdint.h>

#include "ops/cuda/cuda_util.cuh"

#define REPRO_CHAIN_COLS 32    /* columns a block: a warp's lanes */
#define REPRO_CHAIN_LOADERS 8  /* loader warps a block */
#define REPRO_CHAIN_ROWS 256   /* rows a tile */
#define REPRO_CHAIN_THREADS (REPRO_CHAIN_COLS * (1 + REPRO_CHAIN_LOADERS))

template <int NV, int NA, class Op>
__global__ void __launch_bounds__(REPRO_CHAIN_THREADS) repro_column_chain_kernel(Op op, int64_t rows, int64_t cols)
{
    constexpr int PER = REPRO_CHAIN_ROWS / REPRO_CHAIN_LOADERS; /* rows a loader thread stages */
    extern __shared__ float tiles[];                           /* [2][NV][ROWS][COLS] */
    const int lane = threadIdx.x % REPRO_CHAIN_COLS, warp = threadIdx.x / REPRO_CHAIN_COLS;
    const int64_t c = (int64_t)blockIdx.x * REPRO_CHAIN_COLS + lane;
    const bool live = c < cols;
    const int64_t ntiles = (rows + REPRO_CHAIN_ROWS - 1) / REPRO_CHAIN_ROWS;

    /* Loader warps: tile `tile` into buffer tile % 2. Rows past the end and
     * columns past the last read the last row or column instead (never
     * used), so the loads carry no branch and all PER of them are issued
     * before the first store waits on one. */
    auto stage = [&](int64_t tile) {
        float *buf = tiles + (tile % 2) * NV * REPRO_CHAIN_ROWS * REPRO_CHAIN_COLS;
        const int64_t b0 = tile * REPRO_CHAIN_ROWS, cc = live ? c : cols - 1;
        float v[PER][NV];
#pragma unroll
        for (int k = 0; k < PER; k++) {
            int64_t b = b0 + (warp - 1) + (int64_t)k * REPRO_CHAIN_LOADERS;
            op.load(b < rows ? b : rows - 1, cc, v[k]);
        }
#pragma unroll
        for (int k = 0; k < PER; k++) {
            int r = (warp - 1) + k * REPRO_CHAIN_LOADERS;
#pragma unroll
            for (int s = 0; s < NV; s++)
                buf[(s * REPRO_CHAIN_ROWS + r) * REPRO_CHAIN_COLS + lane] = v[k][s];
        }
    };

    float acc[NA];
    if (warp == 0 && live)
        op.init(c, acc);
    if (warp > 0)
        stage(0);
    __syncthreads();
    for (int64_t tile = 0; tile < ntiles; tile++) {
        if (warp > 0) {
            if (tile + 1 < ntiles)
                stage(tile + 1);
        } else if (live) {
            const float *buf = tiles + (tile % 2) * NV * REPRO_CHAIN_ROWS * REPRO_CHAIN_COLS;
            int64_t left = rows - tile * REPRO_CHAIN_ROWS;
            int n = (int)(left < REPRO_CHAIN_ROWS ? left : REPRO_CHAIN_ROWS);
#pragma unroll 8 /* the shared-memory reads of the next rows ahead of the adds */
            for (int r = 0; r < n; r++) {
                float v[NV];
#pragma unroll
                for (int s = 0; s < NV; s++)
                    v[s] = buf[(s * REPRO_CHAIN_ROWS + r) * REPRO_CHAIN_COLS + lane];
                op.step(acc, v);
            }
        }
        __syncthreads();
    }
    if (warp == 0 && live)
        op.store(c, acc);
}

/* Launches the chains of every column (nothing when rows or cols is 0:
 * then the accumulators keep their values, as the CPU's empty loop). */
template <int NV, int NA, class Op>
repro_status repro_column_chains(const Op &op, int64_t rows, int64_t cols, repro_cuda_stream s, const char *what,
                                 repro_error *err)
{
    if (rows <= 0 || cols <= 0)
        return REPRO_OK;
    const size_t smem = 2 * (size_t)NV * REPRO_CHAIN_ROWS * REPRO_CHAIN_COLS * sizeof(float);
    cudaError_t e = cudaFuncSetAttribute(repro_column_chain_kernel<NV, NA, Op>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess)
        return repro_fail(err, REPRO_ERR_INTERNAL, "CUDA %s: %s (%s)", what, cudaGetErrorString(e),
                          cudaGetErrorName(e));
    unsigned blocks = (unsigned)((cols + REPRO_CHAIN_COLS - 1) / REPRO_CHAIN_COLS);
    repro_column_chain_kernel<NV, NA, Op><<<blocks, REPRO_CHAIN_THREADS, smem, repro_cuda_s(s)>>>(op, rows, cols);
    return repro_cuda_check(what, err);
}

#endif
