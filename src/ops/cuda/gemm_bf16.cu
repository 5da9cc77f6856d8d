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
 * Block tile 128 x 128 (8 warps as 2 x 4, a warp 64 x 32 = 4 x 4 mma tiles),
 * k tiles of 32 staged by cp.async in a 3-deep ring, fragments by ldmatrix. */
#include <cuda_bf16.h>

#include "ops/cuda/cuda_util.cuh"
#include "ops/tc_model.h"

namespace {

constexpr int BM = 128, BN = 128, BK = 32, STAGES = 3, THREADS = 256;
constexpr int LDS = BK + 8; /* shared row of 40 bf16 (80 bytes): ldmatrix rows hit distinct banks */
constexpr int TILE = BM * LDS;
constexpr size_t SMEM = (size_t)STAGES * 2 * TILE * sizeof(uint16_t);

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

/* Stage k tile kt of the block's A and B rows into ring slot s. Each of the
 * 256 threads copies two 16-byte pieces of each operand (128 rows x 4 pieces). */
__device__ __forceinline__ void stage(uint16_t *sA, uint16_t *sB, const uint16_t *Ap, const uint16_t *Bp,
                                      int64_t M, int64_t N, int64_t Kp, int64_t m0, int64_t n0, int kt, int s)
{
    for (int i = threadIdx.x; i < BM * 4; i += THREADS) {
        int row = i >> 2, piece = i & 3;
        int64_t k = (int64_t)kt * BK + piece * 8;
        int64_t m = m0 + row, n = n0 + row;
        cp_async16(sA + s * TILE + row * LDS + piece * 8, Ap + (m < M ? m : 0) * Kp + k, m < M);
        cp_async16(sB + s * TILE + row * LDS + piece * 8, Bp + (n < N ? n : 0) * Kp + k, n < N);
    }
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}

__global__ void __launch_bounds__(THREADS) gemm_bf16_kernel(int64_t M, int64_t N, int64_t Kp,
                                                            const uint16_t *__restrict__ Ap,
                                                            const uint16_t *__restrict__ Bp,
                                                            const float *__restrict__ bias, float *C, int64_t ldc,
                                                            int accumulate)
{
    extern __shared__ __align__(16) uint16_t smem[];
    uint16_t *sA = smem, *sB = smem + STAGES * TILE;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int wm = (warp >> 2) * 64, wn = (warp & 3) * 32; /* the warp's 64 x 32 piece */
    const int g = lane >> 2, q = lane & 3;
    const int64_t m0 = (int64_t)blockIdx.y * BM, n0 = (int64_t)blockIdx.x * BN;

    /* acc[i][j]: mma tile (rows wm + 16i, cols wn + 8j); the c of the first block */
    float acc[4][4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            for (int r = 0; r < 4; r++) {
                int64_t m = m0 + wm + 16 * i + g + (r >> 1) * 8, n = n0 + wn + 8 * j + 2 * q + (r & 1);
                acc[i][j][r] = (accumulate && m < M && n < N) ? C[m * ldc + n] : 0.0f;
            }

    const int KT = (int)(Kp / BK);
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < KT) stage(sA, sB, Ap, Bp, M, N, Kp, m0, n0, s, s);
        else asm volatile("cp.async.commit_group;\n" ::: "memory");
    }
    /* ldmatrix addresses: lane l feeds row (l & 7) of 8x8 matrix l >> 3 */
    const int mat = lane >> 3, r8 = lane & 7;
    const int a_row = r8 + (mat & 1) * 8, a_col = (mat >> 1) * 8;
    const int b_row = r8 + (mat >> 1) * 8, b_col = (mat & 1) * 8;
    for (int kt = 0; kt < KT; kt++) {
        asm volatile("cp.async.wait_group %0;\n" ::"n"(STAGES - 2) : "memory");
        __syncthreads();
        {   /* keep STAGES - 1 tiles in flight: start tile kt + 2 in the slot freed by kt - 1 */
            int next = kt + STAGES - 1;
            if (next < KT) stage(sA, sB, Ap, Bp, M, N, Kp, m0, n0, next, next % STAGES);
            else asm volatile("cp.async.commit_group;\n" ::: "memory");
        }
        const uint16_t *tA = sA + (kt % STAGES) * TILE, *tB = sB + (kt % STAGES) * TILE;
        for (int kk = 0; kk < BK; kk += 16) { /* the two k-blocks of the tile, ascending */
            uint32_t af[4][4], bf[2][4];
            for (int i = 0; i < 4; i++) ldmatrix_x4(af[i], tA + (wm + 16 * i + a_row) * LDS + kk + a_col);
            for (int j = 0; j < 2; j++) ldmatrix_x4(bf[j], tB + (wn + 16 * j + b_row) * LDS + kk + b_col);
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) mma_bf16(acc[i][j], af[i], bf[j >> 1][(j & 1) * 2], bf[j >> 1][(j & 1) * 2 + 1]);
        }
    }
    asm volatile("cp.async.wait_group 0;\n" ::: "memory");

    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            for (int r = 0; r < 4; r++) {
                int64_t m = m0 + wm + 16 * i + g + (r >> 1) * 8, n = n0 + wn + 8 * j + 2 * q + (r & 1);
                if (m < M && n < N) C[m * ldc + n] = bias ? acc[i][j][r] + bias[n] : acc[i][j][r];
            }
}

/* dst[r][k] (rows x Kp, k < K from src(r, k) = src[r*rs + k*cs] rounded to
 * bf16, zero for K <= k < Kp). One thread per element; the operand's
 * contiguous dimension decides which index varies fastest across threads. */
__global__ void pack_bf16_kernel(uint16_t *dst, const float *src, int64_t rows, int64_t K, int64_t Kp, int64_t rs,
                                 int64_t cs, int k_fast)
{
    REPRO_CUDA_FOR(i, rows * Kp)
    {
        int64_t r = k_fast ? i / Kp : i % rows, k = k_fast ? i % Kp : i / rows;
        dst[r * Kp + k] = k < K ? repro_bf16_from_float(src[r * rs + k * cs]) : (uint16_t)0;
    }
}

repro_status pack(uint16_t *dst, const float *src, int64_t rows, int64_t K, int64_t Kp, int64_t rs, int64_t cs,
                  cudaStream_t s, repro_error *err)
{
    if (rows * Kp == 0)
        return REPRO_OK;
    pack_bf16_kernel<<<repro_cuda_blocks(rows * Kp), REPRO_CUDA_THREADS, 0, s>>>(dst, src, rows, K, Kp, rs, cs,
                                                                                 cs <= rs);
    return repro_cuda_check("bf16 pack", err);
}

} /* namespace */

extern "C" {

repro_status repro_cuda_gemm_bf16_packed(int64_t M, int64_t N, int64_t Kp, const uint16_t *Ap, const uint16_t *Bp,
                                         const float *bias, float *C, int64_t ldc, int accumulate,
                                         repro_cuda_stream stream, repro_error *err)
{
    if (M < 0 || N < 0 || Kp < 0 || Kp % BK != 0 || (M > 0 && N > 0 && ldc < N))
        return repro_fail(err, REPRO_ERR_ARG, "bf16 gemm: bad shape %lldx%lld, k %lld (a multiple of %d), ldc %lld",
                          (long long)M, (long long)N, (long long)Kp, BK, (long long)ldc);
    if (M == 0 || N == 0)
        return REPRO_OK;
    if ((N + BN - 1) / BN > INT32_MAX || (M + BM - 1) / BM > 65535)
        return repro_fail(err, REPRO_ERR_ARG, "bf16 gemm: %lldx%lld output is too large", (long long)M,
                          (long long)N);
    static_assert(SMEM > 48 * 1024, "the ring needs the opt-in shared memory");
    cudaFuncSetAttribute(gemm_bf16_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)SMEM);
    dim3 grid((unsigned)((N + BN - 1) / BN), (unsigned)((M + BM - 1) / BM));
    gemm_bf16_kernel<<<grid, THREADS, SMEM, repro_cuda_s(stream)>>>(M, N, Kp, Ap, Bp, bias, C, ldc, accumulate);
    return repro_cuda_check("bf16 gemm", err);
}

repro_status repro_cuda_gemm_bf16(int64_t M, int64_t N, int64_t K, const float *A, int64_t a_rs, int64_t a_cs,
                                  const float *B, int64_t b_rs, int64_t b_cs, const float *bias, float *C,
                                  int64_t ldc, int accumulate, repro_cuda_stream stream, repro_error *err)
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
        st = repro_cuda_gemm_bf16_packed(M, N, Kp, Ap, Bp, bias, C, ldc, accumulate, stream, err);
    cudaFreeAsync(scratch, s);
    return st;
}

repro_status repro_cuda_pack_bf16(uint16_t *dst, const float *src, int64_t rows, int64_t K, int64_t Kp, int64_t rs,
                                  int64_t cs, repro_cuda_stream stream, repro_error *err)
{
    return pack(dst, src, rows, K, Kp, rs, cs, repro_cuda_s(stream), err);
}

} /* extern "C" */
