/* The exact matrix product on the GPU: src/ops/cpu/gemm.h's contract.
 *
 * Evaluation order (bit for bit that of repro_gemm_ref):
 *   for every C(m,n) independently:
 *       acc = accumulate ? C(m,n) : +0.0f
 *       for k = 0, 1, ..., K-1 (ascending): acc = fmaf(A(m,k), B(k,n), acc)
 *       C(m,n) = bias ? acc + bias[n] : acc
 *
 * How the work is split: outputs too few to fill the GPU with blocks of
 * 128 x 128 go to gemm_small.cu's smaller tiles (same chains; see
 * repro_cuda_gemm_auto_tiling);
 * otherwise a block of 256 threads owns a 128 x 128 tile of C,
 * each thread an 8 x 8 register tile of accumulators (rows ty*4 + {0..3}
 * and 64 + ty*4 + {0..3}, columns likewise with tx). K is walked in tiles of
 * 8: the A and B tiles are staged in shared memory (double-buffered, the
 * next tile's global loads in flight while this one is used), and every
 * accumulator takes its 8 fmas in ascending k before the next tile. So each
 * output is one fma chain over k ascending, as on the CPU: no split-k, no
 * tree over k, no tensor cores. The last, partial k tile runs only its
 * valid k (a padded fmaf(0, 0, acc) would turn an acc of -0 into +0).
 *
 * Staging: out-of-range rows/columns load zeros (their outputs are never
 * stored). Each operand is read in the order its strides make coalesced:
 * float4 along a contiguous, 16-byte-aligned dimension when the block's
 * tiles are all full (for B either n or k), else one float per thread
 * along whichever of the two dimensions is contiguous. */
#include "ops/cuda/gemm_args.cuh"

namespace {

/* Blocks per multiprocessor the register budget is cut for: 1 lets a thread
 * take what it needs (no spills); 2 caps it at 128 registers (a few spill
 * bytes). Measured on an H100 (test_cuda_ops --bench): 1 is 1-20% faster. */
#ifndef REPRO_GEMM_MIN_BLOCKS
#define REPRO_GEMM_MIN_BLOCKS 1
#endif

constexpr int BM = 128, BN = 128, BK = 8, THREADS = 256;
constexpr int PAD = 4; /* shared rows of 132 floats: conflict-free transposed stores */
constexpr int LD = BM + PAD;

/* How a block stages an operand tile. */
enum load_mode {
    VEC_CONTIG = 0, /* float4 along the contiguous dimension, all tiles full */
    SCALAR_K_FAST,  /* one float per thread, k varying fastest across threads */
    SCALAR_MN_FAST, /* one float per thread, m (or n) varying fastest */
    VEC_K           /* B only: float4 along k (b_rs == 1: the linear layer's W^T), all tiles full */
};

typedef repro_gemm_args gemm_args;

__device__ __forceinline__ float load_or_zero(const float *p, int64_t r, int64_t c, int64_t rs, int64_t cs,
                                              bool ok)
{
    return ok ? p[r * rs + c * cs] : 0.0f;
}

/* Loads the A tile (rows m0.., k0..) into 4 registers; the mode fixes which
 * (m, k) each register holds, store_a puts them in As[k][m]. */
template <int mode>
__device__ __forceinline__ void load_a(const gemm_args &g, const float *pa, int64_t m0, int64_t k0,
                                       int tid, float r[4])
{
    if constexpr (mode == VEC_CONTIG) { /* pa: row m0 + tid / 2, column k0 + (tid % 2) * 4 */
        const float4 v = *reinterpret_cast<const float4 *>(pa);
        r[0] = v.x;
        r[1] = v.y;
        r[2] = v.z;
        r[3] = v.w;
    } else {
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int e = tid + i * THREADS;
            int mm = mode == SCALAR_K_FAST ? e / BK : e % BM;
            int kk = mode == SCALAR_K_FAST ? e % BK : e / BM;
            int64_t m = m0 + mm, k = k0 + kk;
            r[i] = load_or_zero(g.A, m, k, g.a_rs, g.a_cs, m < g.M && k < g.K);
        }
    }
}

template <int mode>
__device__ __forceinline__ void store_a(float (*As)[LD], int tid, const float r[4])
{
    if constexpr (mode == VEC_CONTIG) {
        int mm = tid / 2, kk = (tid % 2) * 4;
#pragma unroll
        for (int j = 0; j < 4; j++)
            As[kk + j][mm] = r[j];
    } else {
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int e = tid + i * THREADS;
            int mm = mode == SCALAR_K_FAST ? e / BK : e % BM;
            int kk = mode == SCALAR_K_FAST ? e % BK : e / BM;
            As[kk][mm] = r[i];
        }
    }
}

/* The B tile (k0.., columns n0..) into Bs[k][n]. */
template <int mode>
__device__ __forceinline__ void load_b(const gemm_args &g, const float *pb, int64_t k0, int64_t n0,
                                       int tid, float r[4])
{
    if constexpr (mode == VEC_CONTIG || mode == VEC_K) { /* pb: row k0 + tid / 32, column n0 + (tid % 32) * 4;
                                                          VEC_K: column n0 + tid / 2, rows k0 + (tid % 2) * 4.. */
        const float4 v = *reinterpret_cast<const float4 *>(pb);
        r[0] = v.x;
        r[1] = v.y;
        r[2] = v.z;
        r[3] = v.w;
    } else {
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int e = tid + i * THREADS;
            int kk = mode == SCALAR_K_FAST ? e % BK : e / BN;
            int nn = mode == SCALAR_K_FAST ? e / BK : e % BN;
            int64_t k = k0 + kk, n = n0 + nn;
            r[i] = load_or_zero(g.B, k, n, g.b_rs, g.b_cs, k < g.K && n < g.N);
        }
    }
}

template <int mode>
__device__ __forceinline__ void store_b(float (*Bs)[LD], int tid, const float r[4])
{
    if constexpr (mode == VEC_CONTIG) {
        *reinterpret_cast<float4 *>(&Bs[tid / 32][(tid % 32) * 4]) = make_float4(r[0], r[1], r[2], r[3]);
    } else if constexpr (mode == VEC_K) { /* as A's float4 rows: 16 columns and 2 k offsets a warp, no conflicts */
        int nn = tid / 2, kk = (tid % 2) * 4;
#pragma unroll
        for (int j = 0; j < 4; j++)
            Bs[kk + j][nn] = r[j];
    } else {
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int e = tid + i * THREADS;
            int kk = mode == SCALAR_K_FAST ? e % BK : e / BN;
            int nn = mode == SCALAR_K_FAST ? e / BK : e % BN;
            Bs[kk][nn] = r[i];
        }
    }
}

/* One k step of the register tile: acc[i][j] = fmaf(a_i, b_j, acc[i][j]). */
__device__ __forceinline__ void fma_step(float acc[8][8], const float (*As)[LD], const float (*Bs)[LD], int kk,
                                         int ty, int tx)
{
    float a[8], b[8];
    float4 t;
    t = *reinterpret_cast<const float4 *>(&As[kk][ty * 4]);
    a[0] = t.x, a[1] = t.y, a[2] = t.z, a[3] = t.w;
    t = *reinterpret_cast<const float4 *>(&As[kk][64 + ty * 4]);
    a[4] = t.x, a[5] = t.y, a[6] = t.z, a[7] = t.w;
    t = *reinterpret_cast<const float4 *>(&Bs[kk][tx * 4]);
    b[0] = t.x, b[1] = t.y, b[2] = t.z, b[3] = t.w;
    t = *reinterpret_cast<const float4 *>(&Bs[kk][64 + tx * 4]);
    b[4] = t.x, b[5] = t.y, b[6] = t.z, b[7] = t.w;
#pragma unroll
    for (int i = 0; i < 8; i++)
#pragma unroll
        for (int j = 0; j < 8; j++)
            acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
}

/* Row (or column) of C that register index i of thread coordinate t covers. */
__device__ __forceinline__ int tile_index(int t, int i)
{
    return i < 4 ? t * 4 + i : 64 + t * 4 + (i - 4);
}

template <int a_mode, int b_mode>
__global__ void __launch_bounds__(THREADS, REPRO_GEMM_MIN_BLOCKS) gemm_kernel(gemm_args g)
{
    __shared__ __align__(16) float As[2][BK][LD];
    __shared__ __align__(16) float Bs[2][BK][LD];
    const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
    const int64_t m0 = (int64_t)blockIdx.y * BM, n0 = (int64_t)blockIdx.x * BN;

    float acc[8][8];
#pragma unroll
    for (int i = 0; i < 8; i++)
#pragma unroll
        for (int j = 0; j < 8; j++) {
            int64_t m = m0 + tile_index(ty, i), n = n0 + tile_index(tx, j);
            acc[i][j] = (g.accumulate && m < g.M && n < g.N) ? g.C[m * g.ldc + n] : 0.0f;
        }

    const int64_t tiles = (g.K + BK - 1) / BK;
    /* The float4 paths walk one pointer per operand (used only in VEC_CONTIG mode). */
    const float *pa = g.A + (a_mode == VEC_CONTIG ? (m0 + tid / 2) * g.a_rs + (tid % 2) * 4 : 0);
    const float *pb = g.B + (b_mode == VEC_CONTIG ? (int64_t)(tid / 32) * g.b_rs + n0 + (tid % 32) * 4
                             : b_mode == VEC_K ? (n0 + tid / 2) * g.b_cs + (tid % 2) * 4
                                               : 0);
    const int64_t pb_step = BK * g.b_rs; /* VEC_K: b_rs == 1 */
    float ra[4], rb[4];
    if (tiles > 0) {
        load_a<a_mode>(g, pa, m0, 0, tid, ra);
        load_b<b_mode>(g, pb, 0, n0, tid, rb);
        store_a<a_mode>(As[0], tid, ra);
        store_b<b_mode>(Bs[0], tid, rb);
    }
    __syncthreads();
    for (int64_t t = 0; t < tiles; t++) {
        const int cur = (int)(t & 1);
        const bool more = t + 1 < tiles;
        if (more) { /* the next tile's loads overlap this tile's fmas */
            pa += BK;
            pb += pb_step;
            load_a<a_mode>(g, pa, m0, (t + 1) * BK, tid, ra);
            load_b<b_mode>(g, pb, (t + 1) * BK, n0, tid, rb);
        }
        const int64_t klen = g.K - t * BK;
        if (klen >= BK) {
#pragma unroll
            for (int kk = 0; kk < BK; kk++)
                fma_step(acc, As[cur], Bs[cur], kk, ty, tx);
        } else {
            for (int kk = 0; kk < (int)klen; kk++)
                fma_step(acc, As[cur], Bs[cur], kk, ty, tx);
        }
        if (more) {
            store_a<a_mode>(As[cur ^ 1], tid, ra);
            store_b<b_mode>(Bs[cur ^ 1], tid, rb);
        }
        __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < 8; i++) {
        int64_t m = m0 + tile_index(ty, i);
        if (m >= g.M)
            continue;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            int64_t n = n0 + tile_index(tx, j);
            if (n < g.N)
                g.C[m * g.ldc + n] = g.bias ? acc[i][j] + g.bias[n] : acc[i][j];
        }
    }
}

typedef void launch_fn(gemm_args);

bool aligned16(const void *p)
{
    return ((uintptr_t)p & 15u) == 0;
}

/* The staging mode of A: float4 rows when k is contiguous, rows are 16-byte
 * aligned and every tile of the launch is full; else scalar along the
 * contiguous dimension. */
int a_mode_of(const gemm_args &g)
{
    if (g.a_cs == 1 && g.a_rs % 4 == 0 && aligned16(g.A) && g.M % BM == 0 && g.K % BK == 0)
        return VEC_CONTIG;
    return g.a_cs == 1 ? SCALAR_K_FAST : SCALAR_MN_FAST;
}

int b_mode_of(const gemm_args &g)
{
    if (g.b_cs == 1 && g.b_rs % 4 == 0 && aligned16(g.B) && g.N % BN == 0 && g.K % BK == 0)
        return VEC_CONTIG;
    if (g.b_rs == 1 && g.b_cs % 4 == 0 && aligned16(g.B) && g.N % BN == 0 && g.K % BK == 0)
        return VEC_K;
    return g.b_cs == 1 || g.b_rs != 1 ? SCALAR_MN_FAST : SCALAR_K_FAST;
}

int64_t blocks_of(int64_t M, int64_t N, int64_t edge)
{
    return ((M + edge - 1) / edge) * ((N + edge - 1) / edge);
}

} // namespace

/* Measured on an H100 (132 multiprocessors) with test_cuda_ops --bench over
 * the MLP's products and 2048^2 / 4096^2 (docs/cuda.md): 128 x 128 tiles
 * win once they make 128 blocks; below that 32 x 32 tiles while they make
 * 192 blocks, else one output a thread in 16 x 16 tiles (the 256 x 256
 * outputs at batch 256). On an H200 the transformer's weight gradients
 * (512-2048 x 512 outputs, K = 8192) run 1.2-1.6x faster in 64 x 64 tiles
 * than in 32 x 32 once those make 192 blocks (2026-11-30, --bench). */
extern "C" repro_cuda_gemm_tiling repro_cuda_gemm_auto_tiling(int64_t M, int64_t N)
{
    if (blocks_of(M, N, 128) >= 128)
        return REPRO_CUDA_GEMM_128X128;
    if (blocks_of(M, N, 64) >= 192)
        return REPRO_CUDA_GEMM_64X64;
    if (blocks_of(M, N, 32) >= 192)
        return REPRO_CUDA_GEMM_32X32;
    return REPRO_CUDA_GEMM_16X16;
}

extern "C" repro_status repro_cuda_gemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t a_rs,
                                        int64_t a_cs, const float *B, int64_t b_rs, int64_t b_cs,
                                        const float *bias, float *C, int64_t ldc, int accumulate,
                                        repro_cuda_stream stream, repro_error *err)
{
    return repro_cuda_gemm_tiled(REPRO_CUDA_GEMM_AUTO, M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, bias, C, ldc,
                                 accumulate, stream, err);
}

extern "C" repro_status repro_cuda_gemm_tiled(repro_cuda_gemm_tiling tiling, int64_t M, int64_t N, int64_t K,
                                              const float *A, int64_t a_rs, int64_t a_cs, const float *B,
                                              int64_t b_rs, int64_t b_cs, const float *bias, float *C,
                                              int64_t ldc, int accumulate, repro_cuda_stream stream,
                                              repro_error *err)
{
    if (M < 0 || N < 0 || K < 0)
        return repro_fail(err, REPRO_ERR_ARG, "cuda gemm: negative size M=%lld N=%lld K=%lld", (long long)M,
                          (long long)N, (long long)K);
    if (M == 0 || N == 0)
        return REPRO_OK;
    if (ldc < N)
        return repro_fail(err, REPRO_ERR_ARG, "cuda gemm: ldc=%lld is less than N=%lld", (long long)ldc,
                          (long long)N);
    if (!C || (K > 0 && (!A || !B)))
        return repro_fail(err, REPRO_ERR_ARG, "cuda gemm: %s is NULL for a %lldx%lldx%lld product",
                          !C ? "C" : !A ? "A" : "B", (long long)M, (long long)N, (long long)K);
    if (bias && accumulate)
        return repro_fail(err, REPRO_ERR_ARG, "cuda gemm: bias is only allowed without accumulate");
    if (tiling == REPRO_CUDA_GEMM_AUTO)
        tiling = repro_cuda_gemm_auto_tiling(M, N);
    const int64_t edge = tiling == REPRO_CUDA_GEMM_128X128 ? BM
                         : tiling == REPRO_CUDA_GEMM_64X64 ? 64
                         : tiling == REPRO_CUDA_GEMM_32X32 ? 32
                                                           : 16;
    const int64_t gy = (M + edge - 1) / edge;
    if (gy > 65535)
        return repro_fail(err, REPRO_ERR_ARG, "cuda gemm: M=%lld needs more than 65535 row tiles", (long long)M);
    gemm_args g = {M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, bias, C, ldc, accumulate};
    if (tiling != REPRO_CUDA_GEMM_128X128) {
        if (!repro_cuda_gemm_small_launch(g, tiling, repro_cuda_s(stream)))
            return repro_fail(err, REPRO_ERR_ARG, "cuda gemm: unknown tiling %d", (int)tiling);
        return repro_cuda_check("gemm kernel (small tiles)", err);
    }
    int64_t gx = (N + BN - 1) / BN;
    dim3 grid((unsigned)gx, (unsigned)gy);
    launch_fn *const table[3][4] = {{gemm_kernel<0, 0>, gemm_kernel<0, 1>, gemm_kernel<0, 2>, gemm_kernel<0, 3>},
                                    {gemm_kernel<1, 0>, gemm_kernel<1, 1>, gemm_kernel<1, 2>, gemm_kernel<1, 3>},
                                    {gemm_kernel<2, 0>, gemm_kernel<2, 1>, gemm_kernel<2, 2>, gemm_kernel<2, 3>}};
    table[a_mode_of(g)][b_mode_of(g)]<<<grid, THREADS, 0, repro_cuda_s(stream)>>>(g);
    return repro_cuda_check("gemm kernel", err);
}
