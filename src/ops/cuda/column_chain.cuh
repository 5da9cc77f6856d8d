/* Column chains (internal to the CUDA ops): for every column c of a
 * [rows][cols] layout, one sequential chain over the rows b ascending,
 * acc = step(acc, values(b, c)): the bias gradient (db[o] += dy[b][o]) and
 * layer norm's dgamma and dbeta are such chains, and the contract forbids
 * splitting them, so the only parallelism is across columns. With a few
 * hundred columns that is a few hundred threads on a GPU of 100k: what
 * limits a chain is then not its adds but waiting for its loads.
 *
 * So a block owns 8 columns and splits the roles: 8 loader warps fetch the
 * next tile of 256 rows (a warp's load covers 4 rows of the 8 columns; each
 * loader thread issues all its 8 rows' loads before it stores any, so they
 * are in flight together) and compute the staged values, while warp 0 runs
 * the 8 chains over the current tile from shared memory (double
 * buffering). The chain's arithmetic is the Op's
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

#define REPRO_CHAIN_COLS 8     /* columns a block (see below) */
#define REPRO_CHAIN_GROUPS (32 / REPRO_CHAIN_COLS) /* rows a loader warp covers with one load */
#define REPRO_CHAIN_LOADERS 8  /* loader warps a block */
#define REPRO_CHAIN_ROWS 256   /* rows a tile */
#define REPRO_CHAIN_THREADS (32 * (1 + REPRO_CHAIN_LOADERS))

/* Why 8 columns a block: what a multiprocessor keeps in flight is a fixed
 * number of loads, so the rows per second one block streams are about
 * bytes-in-flight / latency / bytes-a-row, whatever its loaders do. 32
 * columns a block (128 bytes a row) put a 512-column layer on 16
 * multiprocessors at about 15 cycles a row; 8 columns put it on 64 and
 * leave each block a quarter of the bytes a row. */
template <int NV, int NA, class Op>
__global__ void __launch_bounds__(REPRO_CHAIN_THREADS) repro_column_chain_kernel(Op op, int64_t rows, int64_t cols)
{
    constexpr int COLS = REPRO_CHAIN_COLS, ROWS = REPRO_CHAIN_ROWS;
    constexpr int STRIDE = REPRO_CHAIN_LOADERS * REPRO_CHAIN_GROUPS; /* rows between a loader's rows */
    constexpr int PER = ROWS / STRIDE;                                /* rows a loader thread stages */
    static_assert(ROWS % STRIDE == 0, "whole tiles");
    extern __shared__ float tiles[]; /* [2][NV][ROWS][COLS] */
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int col = lane % COLS, sub = lane / COLS; /* a loader lane's column and row in its warp's group */
    const int64_t c = (int64_t)blockIdx.x * COLS + col;
    const bool live = c < cols;
    const int64_t ntiles = (rows + ROWS - 1) / ROWS;

    /* Loader warps: tile `tile` into buffer tile % 2. Rows past the end and
     * columns past the last read the last row or column instead (never
     * used), so the loads carry no branch and all PER of them are issued
     * before the first store waits on one. */
    auto stage = [&](int64_t tile) {
        float *buf = tiles + (tile % 2) * NV * ROWS * COLS;
        const int r0 = (warp - 1) * REPRO_CHAIN_GROUPS + sub;
        const int64_t b0 = tile * ROWS + r0, cc = live ? c : cols - 1;
        float v[PER][NV];
#pragma unroll
        for (int k = 0; k < PER; k++) {
            int64_t b = b0 + (int64_t)k * STRIDE;
            op.load(b < rows ? b : rows - 1, cc, v[k]);
        }
#pragma unroll
        for (int k = 0; k < PER; k++) {
            int r = r0 + k * STRIDE;
#pragma unroll
            for (int s = 0; s < NV; s++)
                buf[(s * ROWS + r) * COLS + col] = v[k][s];
        }
    };

    const bool chains = warp == 0 && sub == 0 && live; /* the chain threads: warp 0's first COLS lanes */
    float acc[NA];
    if (chains)
        op.init(c, acc);
    if (warp > 0)
        stage(0);
    __syncthreads();
    for (int64_t tile = 0; tile < ntiles; tile++) {
        if (warp > 0) {
            if (tile + 1 < ntiles)
                stage(tile + 1);
        } else if (chains) {
            const float *buf = tiles + (tile % 2) * NV * ROWS * COLS;
            int64_t left = rows - tile * ROWS;
            int n = (int)(left < ROWS ? left : ROWS);
#pragma unroll 8 /* the shared-memory reads of the next rows ahead of the adds */
            for (int r = 0; r < n; r++) {
                float v[NV];
#pragma unroll
                for (int s = 0; s < NV; s++)
                    v[s] = buf[(s * ROWS + r) * COLS + col];
                op.step(acc, v);
            }
        }
        __syncthreads();
    }
    if (chains)
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
