/* The bf16 matrix product on tensor cores, with one written order.
 *
 * Contract (bit for bit that of repro_gemm_bf16_ref, src/ops/cpu/gemm_bf16.c):
 *   A and B are rounded once to bf16 (round to nearest even);
 *   for every C(m,n): c = accumulate ? C(m,n) : +0;
 *       for each block of 16 k, ascending (the last one zero-padded):
 *           c = the tensor core's block sum (src/ops/tc_model.h) of the
 *               block's 16 products and c;
 *       C(m,n) = bias ? c + bias[n] : c   (an fp32 add, rounded to nearest)
 *
 * Each mma.sync.m16n8k16 instruction is exactly one such block for a 16 x 8
 * piece of C, and the accumulator registers carry c from one k-block to the
 * next in ascending order. No split-k, no atomics: the tiling below only
 * decides which warp runs which chain, never the chain itself, so every
 * tile size gives the same bits (tests/cuda/test_cuda_bf16.cu).
 *
 * Layout of the main kernel's operands ("NT", both k-contiguous, the form
 * the tensor core reads): Ap[M][Kp] and Bp[N][Kp] bf16, Kp a multiple of 32,
 * zero beyond K. repro_cuda_gemm_bf16 packs any strided fp32 operands into
 * that form (rounding each element once) in stream-ordered scratch memory.
 *
 * Tilings: a block of 128 x 128 outputs (8 warps of 64 x 32 = 4 x 4 mma
 * tiles) for large products, 32 x 64 (4 warps of 16 x 32) for those that
 * would not fill the GPU; k tiles of 32 staged by cp.async in a 3-deep
 * ring, fragments by ldmatrix. On Hopper (compute capability 9.0) large
 * products go to gemm_bf16_wgmma.cu's 128 x 256 blocks instead: the same
 * chains on wgmma. */
#include <cuda_bf16.h>

#include "ops/cuda/cuda_bf16.h"
#include "ops/cuda/cuda_util.cuh"
#include "ops/cuda/gemm_bf16_wgmma.h"
#include "ops/tc_model.h"

namespace {

constexpr int BK = 32, STAGES = 3;
constexpr int LDS = BK + 8; /* shared row of 40 bf16 (80 bytes): ldmatrix rows hit distinct banks */

/* A tiling: a block owns BM x BN outputs, each warp WM x WN of them. Every
 * tiling runs the same chains (one per output, k blocks ascending), so all
 * give the same bits; they differ in how many blocks a product makes. */
template <int BM, int BN, int WM, int WN, int MIN_BLOCKS> struct tiling {
    static constexpr int WARPS = (BM / WM) * (BN / WN), THREADS = 32 * WARPS;
    static constexpr int BLOCKS_PER_SM = MIN_BLOCKS; /* the register cap: two large blocks hide latency better */
    static constexpr int MI = WM / 16, NJ = WN / 8; /* mma tiles per warp */
    static constexpr int TILE_A = BM * LDS, TILE_B = BN * LDS;
    static constexpr size_t SMEM = (size_t)STAGES * (TILE_A + TILE_B) * sizeof(uint16_t);
    static_assert(WM % 16 == 0 && WN % 16 == 0 && BM % WM == 0 && BN % WN == 0, "whole mma tiles");
};
typedef tiling<128, 128, 64, 32, 2> large_tiles; /* 8 warps; big products (264 vs 174 TFLOP/s with 1 block) */
typedef tiling<32, 64, 16, 32, 4> small_tiles; /* 4 warps; products too small to fill the GPU otherwise */

__device__ __forceinline__ void cp_async16(void *smem, const void *gmem, bool valid)
{
    const unsigned d = (unsigned)__cvta_generic_to_shared(smem);
    const int bytes = valid ? 16 : 0; /* 0: fill the 16 bytes with zeros */
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(gmem), "r"(bytes));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const uint16_t *smem)
{
    const unsigned a = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

/* d = the tensor core's 16-product block sum of a 16 x 8 tile, d the c. */
__device__ __forceinline__ void mma_bf16(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
                 "{%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* Stage k tile kt of `rows` operand rows from row r0 into a shared tile:
 * each row's 32 values as four 16-byte copies; rows past `limit` are zeros. */
template <int THREADS, int ROWS>
__device__ __forceinline__ void stage_rows(uint16_t *tile, const uint16_t *P, int64_t limit, int64_t Kp, int64_t r0,
                                           int kt)
{
#pragma unroll
    for (int i = threadIdx.x; i < ROWS * 4; i += THREADS) {
        int row = i >> 2, piece = i & 3;
        int64_t r = r0 + row;
        cp_async16(tile + row * LDS + piece * 8, P + (r < limit ? r : 0) * Kp + (int64_t)kt * BK + piece * 8,
                   r < limit);
    }
}

template <class T>
__global__ void __launch_bounds__(T::THREADS, T::BLOCKS_PER_SM) gemm_bf16_kernel(int64_t M, int64_t N, int64_t Kp,
                                                               const uint16_t *__restrict__ Ap,
                                                               const uint16_t *__restrict__ Bp,
                                                               const float *__restrict__ bias, float *C,
                                                               int64_t ldc, int accumulate)
{
    constexpr int BM = T::TILE_A / LDS, BN = T::TILE_B / LDS, MI = T::MI, NJ = T::NJ;
    constexpr int WARPS_N = BN / (NJ * 8);
    extern __shared__ __align__(16) uint16_t smem[];
    uint16_t *sA = smem, *sB = smem + STAGES * T::TILE_A;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int wm = (warp / WARPS_N) * MI * 16, wn = (warp % WARPS_N) * NJ * 8; /* the warp's piece */
    const int g = lane >> 2, q = lane & 3;
    const int64_t m0 = (int64_t)blockIdx.y * BM, n0 = (int64_t)blockIdx.x * BN;

    /* acc[i][j]: mma tile (rows wm + 16i, cols wn + 8j); the c of the first block */
    float acc[MI][NJ][4];
    for (int i = 0; i < MI; i++)
        for (int j = 0; j < NJ; j++)
            for (int r = 0; r < 4; r++) {
                int64_t m = m0 + wm + 16 * i + g + (r >> 1) * 8, n = n0 + wn + 8 * j + 2 * q + (r & 1);
                acc[i][j][r] = (accumulate && m < M && n < N) ? C[m * ldc + n] : 0.0f;
            }

    const int KT = (int)(Kp / BK);
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < KT) {
            stage_rows<T::THREADS, BM>(sA + s * T::TILE_A, Ap, M, Kp, m0, s);
            stage_rows<T::THREADS, BN>(sB + s * T::TILE_B, Bp, N, Kp, n0, s);
        }
        asm volatile("cp.async.commit_group;\n" ::: "memory");
    }
    /* ldmatrix addresses: lane l feeds row (l & 7) of 8x8 matrix l >> 3 */
    const int mat = lane >> 3, r8 = lane & 7;
    const int a_row = r8 + (mat & 1) * 8, a_col = (mat >> 1) * 8;
    const int b_row = r8 + (mat >> 1) * 8, b_col = (mat & 1) * 8;
    for (int kt = 0; kt < KT; kt++) {
        asm volatile("cp.async.wait_group %0;\n" ::"n"(STAGES - 2) : "memory");
        __syncthreads();
        {   /* keep STAGES - 1 tiles in flight: the next one goes where tile kt - 1 was */
            int next = kt + STAGES - 1;
            if (next < KT) {
                int slot = next % STAGES;
                stage_rows<T::THREADS, BM>(sA + slot * T::TILE_A, Ap, M, Kp, m0, next);
                stage_rows<T::THREADS, BN>(sB + slot * T::TILE_B, Bp, N, Kp, n0, next);
            }
            asm volatile("cp.async.commit_group;\n" ::: "memory");
        }
        const uint16_t *tA = sA + (kt % STAGES) * T::TILE_A, *tB = sB + (kt % STAGES) * T::TILE_B;
#pragma unroll
        for (int kk = 0; kk < BK; kk += 16) { /* the tile's two k blocks, ascending */
            uint32_t af[MI][4], bf[NJ / 2][4];
#pragma unroll
            for (int i = 0; i < MI; i++) ldmatrix_x4(af[i], tA + (wm + 16 * i + a_row) * LDS + kk + a_col);
#pragma unroll
            for (int j = 0; j < NJ / 2; j++) ldmatrix_x4(bf[j], tB + (wn + 16 * j + b_row) * LDS + kk + b_col);
#pragma unroll
            for (int i = 0; i < MI; i++)
#pragma unroll
                for (int j = 0; j < NJ; j++)
                    mma_bf16(acc[i][j], af[i], bf[j >> 1][(j & 1) * 2], bf[j >> 1][(j & 1) * 2 + 1]);
        }
    }
    asm volatile("cp.async.wait_group 0;\n" ::: "memory");

    for (int i = 0; i < MI; i++)
        for (int j = 0; j < NJ; j++)
            for (int r = 0; r < 4; r++) {
                int64_t m = m0 + wm + 16 * i + g + (r >> 1) * 8, n = n0 + wn + 8 * j + 2 * q + (r & 1);
                if (m < M && n < N) C[m * ldc + n] = bias ? acc[i][j][r] + bias[n] : acc[i][j][r];
            }
}

template <class T>
repro_status launch(int64_t M, int64_t N, int64_t Kp, const uint16_t *Ap, const uint16_t *Bp, const float *bias,
                    float *C, int64_t ldc, int accumulate, cudaStream_t s, repro_error *err)
{
    constexpr int BM = T::TILE_A / LDS, BN = T::TILE_B / LDS;
    if ((N + BN - 1) / BN > INT32_MAX || (M + BM - 1) / BM > 65535)
        return repro_fail(err, REPRO_ERR_ARG, "bf16 gemm: %lldx%lld output is too large", (long long)M,
                          (long long)N);
    if (T::SMEM > 48 * 1024)
        cudaFuncSetAttribute(gemm_bf16_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)T::SMEM);
    dim3 grid((unsigned)((N + BN - 1) / BN), (unsigned)((M + BM - 1) / BM));
    gemm_bf16_kernel<T><<<grid, T::THREADS, T::SMEM, s>>>(M, N, Kp, Ap, Bp, bias, C, ldc, accumulate);
    return repro_cuda_check("bf16 gemm", err);
}

/* dst[r][k] (rows x Kp) = bf16(src(r, k)), src(r, k) = src[r*rs + k*cs]
 * for k < K, and 0 for K <= k < Kp. Packing moves and rounds values one by
 * one (no arithmetic across elements), so any mapping of the work to
 * threads gives the same bits; three kernels make every copy coalesced. */

/* k contiguous in the source (cs == 1): a thread rounds 8 consecutive k of
 * a row and writes them as one 16-byte store. */
__global__ void pack_rows_kernel(uint16_t *dst, const float *src, int64_t rows, int64_t K, int64_t Kp, int64_t rs)
{
    const int64_t per_row = Kp / 8;
    REPRO_CUDA_FOR(i, rows * per_row)
    {
        int64_t r = i / per_row, k0 = (i % per_row) * 8;
        const float *row = src + r * rs;
        uint32_t w[4];
        for (int j = 0; j < 4; j++) {
            int64_t k = k0 + 2 * j;
            uint32_t lo = k < K ? repro_bf16_from_float(row[k]) : 0u;
            uint32_t hi = k + 1 < K ? repro_bf16_from_float(row[k + 1]) : 0u;
            w[j] = lo | hi << 16;
        }
        *(uint4 *)(dst + r * Kp + k0) = make_uint4(w[0], w[1], w[2], w[3]);
    }
}

/* r contiguous in the source (rs == 1, a transposed operand): a block
 * moves a tile of 32 rows x 64 k through shared memory, reading along r
 * and writing along k (two bf16 a thread). */
constexpr int TR = 32, TK = 64;
__global__ void pack_columns_kernel(uint16_t *dst, const float *src, int64_t rows, int64_t K, int64_t Kp, int64_t cs)
{
    __shared__ uint16_t tile[TK][TR + 2]; /* +2: the column reads hit distinct banks */
    const int64_t r0 = (int64_t)blockIdx.x * TR, k0 = (int64_t)blockIdx.y * TK;
    const int tx = threadIdx.x % 32, ty = threadIdx.x / 32; /* 256 threads: 8 rows of 32 */
    for (int kk = ty; kk < TK; kk += 8) {
        int64_t r = r0 + tx, k = k0 + kk;
        tile[kk][tx] = (r < rows && k < K) ? repro_bf16_from_float(src[r + k * cs]) : (uint16_t)0;
    }
    __syncthreads();
    for (int rr = ty; rr < TR; rr += 8) {
        int64_t r = r0 + rr, k = k0 + 2 * tx;
        if (r < rows && k < Kp) /* Kp is even: k + 1 < Kp too */
            *(uint32_t *)(dst + r * Kp + k) = (uint32_t)tile[2 * tx][rr] | (uint32_t)tile[2 * tx + 1][rr] << 16;
    }
}

/* Any other strides: one thread an element. */
__global__ void pack_any_kernel(uint16_t *dst, const float *src, int64_t rows, int64_t K, int64_t Kp, int64_t rs,
                                int64_t cs)
{
    REPRO_CUDA_FOR(i, rows * Kp)
    {
        int64_t r = i / Kp, k = i % Kp;
        dst[r * Kp + k] = k < K ? repro_bf16_from_float(src[r * rs + k * cs]) : (uint16_t)0;
    }
}

repro_status pack(uint16_t *dst, const float *src, int64_t rows, int64_t K, int64_t Kp, int64_t rs, int64_t cs,
                  cudaStream_t s, repro_error *err)
{
    if (rows * Kp == 0)
        return REPRO_OK;
    const bool aligned = Kp % 8 == 0 && (uintptr_t)dst % 16 == 0; /* the GEMM's Kp is a multiple of 32 */
    if (aligned && (cs == 1 || K == 1)) /* K == 1: cs is never used */
        pack_rows_kernel<<<repro_cuda_blocks(rows * (Kp / 8)), REPRO_CUDA_THREADS, 0, s>>>(dst, src, rows, K, Kp, rs);
    else if (aligned && rs == 1 && (Kp + TK - 1) / TK <= 65535)
        pack_columns_kernel<<<dim3((unsigned)((rows + TR - 1) / TR), (unsigned)((Kp + TK - 1) / TK)), 256, 0, s>>>(
            dst, src, rows, K, Kp, cs);
    else
        pack_any_kernel<<<repro_cuda_blocks(rows * Kp), REPRO_CUDA_THREADS, 0, s>>>(dst, src, rows, K, Kp, rs, cs);
    return repro_cuda_check("bf16 pack", err);
}

} /* namespace */

extern "C" {

static repro_status gemm_packed(repro_cuda_bf16_tiling tiling, int64_t M, int64_t N, int64_t Kp, const uint16_t *Ap,
                                const uint16_t *Bp, const float *bias, float *C, int64_t ldc, int accumulate,
                                repro_cuda_stream stream, repro_error *err)
{
    if (M < 0 || N < 0 || Kp < 0 || Kp % BK != 0 || (M > 0 && N > 0 && ldc < N))
        return repro_fail(err, REPRO_ERR_ARG, "bf16 gemm: bad shape %lldx%lld, k %lld (a multiple of %d), ldc %lld",
                          (long long)M, (long long)N, (long long)Kp, BK, (long long)ldc);
    if (M == 0 || N == 0)
        return REPRO_OK;
    /* asked once a call: it queries the device and the kernel's attributes */
    const int wgmma = repro_cuda_bf16_wgmma_ready();
    if (tiling == REPRO_CUDA_BF16_AUTO) {
        /* On Hopper wgmma for all: 128x256 blocks when they make a wave of
         * the GPU, else 64x128 (the weight gradients' few outputs and long
         * k: 1.4-2.8x the mma.sync tilings in `test_cuda_bf16
         * --bench-layers`). Elsewhere fewer 128x128 blocks than
         * multiprocessors take the small ones. */
        if (wgmma)
            tiling = ((M + 127) / 128) * ((N + 255) / 256) >= 128 ? REPRO_CUDA_BF16_WGMMA
                                                                  : REPRO_CUDA_BF16_WGMMA_64X128;
        else
            tiling = ((M + 127) / 128) * ((N + 127) / 128) < 132 ? REPRO_CUDA_BF16_32X64 : REPRO_CUDA_BF16_128X128;
    }
    if (tiling == REPRO_CUDA_BF16_WGMMA || tiling == REPRO_CUDA_BF16_WGMMA_64X128) {
        if (!wgmma)
            return repro_fail(err, REPRO_ERR_UNSUPPORTED, "bf16 gemm: wgmma needs compute capability 9.0 and a "
                                                          "build with sm_90a code");
        return repro_cuda_gemm_bf16_wgmma(tiling, M, N, Kp, Ap, Bp, bias, C, ldc, accumulate, stream, err);
    }
    if (tiling == REPRO_CUDA_BF16_32X64)
        return launch<small_tiles>(M, N, Kp, Ap, Bp, bias, C, ldc, accumulate, repro_cuda_s(stream), err);
    return launch<large_tiles>(M, N, Kp, Ap, Bp, bias, C, ldc, accumulate, repro_cuda_s(stream), err);
}

repro_status repro_cuda_gemm_bf16(int64_t M, int64_t N, int64_t K, const float *A, int64_t a_rs, int64_t a_cs,
                                  const float *B, int64_t b_rs, int64_t b_cs, const float *bias, float *C,
                                  int64_t ldc, int accumulate, repro_cuda_stream stream, repro_error *err)
{
    return repro_cuda_gemm_bf16_tiled(REPRO_CUDA_BF16_AUTO, M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, bias, C, ldc,
                                      accumulate, stream, err);
}

repro_status repro_cuda_gemm_bf16_tiled(repro_cuda_bf16_tiling tiling, int64_t M, int64_t N, int64_t K,
                                        const float *A, int64_t a_rs, int64_t a_cs, const float *B, int64_t b_rs,
                                        int64_t b_cs, const float *bias, float *C, int64_t ldc, int accumulate,
                                        repro_cuda_stream stream, repro_error *err)
{
    if (M < 0 || N < 0 || K < 0)
        return repro_fail(err, REPRO_ERR_ARG, "bf16 gemm: negative size");
    if (M == 0 || N == 0)
        return REPRO_OK;
    const int64_t Kp = (K + BK - 1) / BK * BK;
    cudaStream_t s = repro_cuda_s(stream);
    void *scratch = NULL;
    size_t bytes = (size_t)(M + N) * (size_t)(Kp ? Kp : BK) * sizeof(uint16_t);
    cudaError_t e = cudaMallocAsync(&scratch, bytes, s);
    if (e != cudaSuccess)
        return repro_fail(err, REPRO_ERR_NOMEM, "bf16 gemm: %zu bytes of scratch: %s", bytes, cudaGetErrorString(e));
    uint16_t *Ap = (uint16_t *)scratch, *Bp = Ap + M * Kp;
    /* B(k, n) = B[k*b_rs + n*b_cs] becomes Bp[n][k]: rows n, stride b_cs; columns k, stride b_rs */
    repro_status st = pack(Ap, A, M, K, Kp, a_rs, a_cs, s, err);
    if (st == REPRO_OK)
        st = pack(Bp, B, N, K, Kp, b_cs, b_rs, s, err);
    if (st == REPRO_OK)
        st = gemm_packed(tiling, M, N, Kp, Ap, Bp, bias, C, ldc, accumulate, stream,
                                         err);
    cudaFreeAsync(scratch, s);
    return st;
}

repro_status repro_cuda_gemm_bf16_packed(int64_t M, int64_t N, int64_t Kp, const uint16_t *Ap, const uint16_t *Bp,
                                         const float *bias, float *C, int64_t ldc, int accumulate,
                                         repro_cuda_stream stream, repro_error *err)
{
    return gemm_packed(REPRO_CUDA_BF16_AUTO, M, N, Kp, Ap, Bp, bias, C, ldc, accumulate, stream, err);
}

repro_status repro_cuda_gemm_bf16_packed_tiled(repro_cuda_bf16_tiling tiling, int64_t M, int64_t N, int64_t Kp,
                                               const uint16_t *Ap, const uint16_t *Bp, const float *bias, float *C,
                                               int64_t ldc, int accumulate, repro_cuda_stream stream,
                                               repro_error *err)
{
    return gemm_packed(tiling, M, N, Kp, Ap, Bp, bias, C, ldc, accumulate, stream, err);
}

repro_status repro_cuda_pack_bf16(uint16_t *dst, const float *src, int64_t rows, int64_t K, int64_t Kp, int64_t rs,
                                  int64_t cs, repro_cuda_stream stream, repro_error *err)
{
    return pack(dst, src, rows, K, Kp, rs, cs, repro_cuda_s(stream), err);
}

} /* extern "C" */
