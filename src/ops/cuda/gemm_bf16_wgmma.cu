/* The bf16 GEMM on Hopper's warpgroup tensor-core instructions (wgmma),
 * with the written order of gemm_bf16.cu: for every C(m,n), c starts from
 * +0 (or C when accumulating), then for each block of 16 k, ascending, c
 * becomes the tensor core's block sum of the block's 16 products and c
 * (src/ops/tc_model.h); a bias is added last in fp32.
 *
 * Each wgmma.m64n256k16 is, for each of its 64 x 256 outputs, exactly one
 * such block: its accumulator registers are the c, and the instructions on
 * one accumulator run in issue order, k ascending. So this kernel runs the
 * same chains as the mma.sync kernels and gives their bits (checked with
 * the CPU model in tests/cuda/test_cuda_bf16.cu for every tiling).
 *
 * Shape of the work: a block owns 128 x 256 outputs (or 64 x 128, for
 * products with few of those) and has three warpgroups (two). Warpgroup 0
 * is the producer: one thread streams k tiles of 64 (A: 128 x 64, B: 256 x
 * 64 bf16, 48 KB) into a ring of STAGES slots with the Tensor Memory
 * Accelerator (TMA), which also zero-fills rows and k past the operands'
 * ends. The other warpgroups each own 64 rows: for every k tile they wait
 * for its slot, issue the tile's four k16 instructions and hand the slot
 * back once those have read it. mbarriers carry both signals; no thread
 * ever adds anything but the tensor core.
 *
 * Shared layout: TMA's 128-byte swizzle, the layout wgmma reads through a
 * descriptor (rows of 128 bytes, 16-byte chunk c of row r at chunk
 * c ^ (r % 8), 8-row groups 1024 bytes apart); a k16 slice starts 32
 * bytes further into each row.
 *
 * Built as sm_90a machine code (wgmma exists nowhere else); for any other
 * target the kernel is empty and repro_cuda_bf16_wgmma_ready() says no, so
 * gemm_bf16.cu keeps its mma.sync kernels there. */
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_runtime.h>

#include "ops/cuda/cuda_util.cuh"
#include "ops/cuda/gemm_bf16_wgmma.h"

namespace {

constexpr int BK = 64, STAGES = 4;

/* A tiling: CONSUMERS warpgroups of 64 rows x BN columns each, and the
 * producer's. 128 x 256 (two consumers) for large products; 64 x 128 (one,
 * two blocks a multiprocessor) where those would leave it idle. */
template <int CONSUMERS_, int BN_> struct shape {
    static constexpr int CONSUMERS = CONSUMERS_, BM = 64 * CONSUMERS_, BN = BN_;
    static constexpr int THREADS = 128 * (1 + CONSUMERS), BLOCKS_PER_SM = CONSUMERS == 1 ? 2 : 1;
    static constexpr int TILE_A = BM * BK * 2, TILE_B = BN * BK * 2; /* bytes */
    static constexpr int STAGE_BYTES = TILE_A + TILE_B;
    /* the ring, its barriers, and 1024 bytes to align the ring for the swizzle */
    static constexpr size_t SMEM = (size_t)STAGES * STAGE_BYTES + 2 * STAGES * sizeof(uint64_t) + 1024;
};
typedef shape<2, 256> large_shape;
typedef shape<1, 128> small_shape;

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define REPRO_WGMMA 1
#endif

#ifdef REPRO_WGMMA
__device__ __forceinline__ uint32_t smem_addr(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}

__device__ __forceinline__ void bar_init(uint64_t *bar, int count)
{
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(count));
}

/* The producer's arrival: the slot will be full when `bytes` have landed. */
__device__ __forceinline__ void bar_expect(uint64_t *bar, uint32_t bytes)
{
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(bytes)
                 : "memory");
}

__device__ __forceinline__ void bar_arrive(uint64_t *bar)
{
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_addr(bar)) : "memory");
}

/* Wait until the barrier's phase `parity` has completed. */
__device__ __forceinline__ void bar_wait(uint64_t *bar, uint32_t parity)
{
    asm volatile("{\n"
                 ".reg .pred done;\n"
                 "WAIT_%=:\n"
                 "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
                 "@!done bra WAIT_%=;\n"
                 "}\n" ::"r"(smem_addr(bar)),
                 "r"(parity)
                 : "memory");
}

/* TMA: the box at (k, row) of the tensor map into shared dst, counted on bar. */
__device__ __forceinline__ void tma_load(void *dst, const CUtensorMap *map, int k, int row, uint64_t *bar)
{
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], "
                 "[%4];\n" ::"r"(smem_addr(dst)),
                 "l"((uint64_t)map), "r"(k), "r"(row), "r"(smem_addr(bar))
                 : "memory");
}

/* A K-major operand tile in the 128-byte swizzle: start address, 8-row
 * groups 1024 bytes apart (the leading offset is unused by this layout). */
__device__ __forceinline__ uint64_t descriptor(const void *tile)
{
    return (uint64_t)((smem_addr(tile) & 0x3ffff) >> 4) | (uint64_t)1 << 16 | (uint64_t)(1024 >> 4) << 32 |
           (uint64_t)1 << 62;
}

/* d (this thread's BN / 2 floats of a 64 x BN tile) = the tensor core's
 * 16-product block sum of one k16 slice with d as its c, for the whole
 * warpgroup: A (64 x 16) and B (BN x 16) read from shared memory through
 * their descriptors. */
__device__ __forceinline__ void wgmma_m64n256k16(float d[128], uint64_t desc_a, uint64_t desc_b)
{
    asm volatile("{\n"
                 ".reg .pred p;\n"
                 "setp.ne.b32 p, %130, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {"
                 "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,"
                 "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,"
                 "%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,"
                 "%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63,"
                 "%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,"
                 "%80,%81,%82,%83,%84,%85,%86,%87,%88,%89,%90,%91,%92,%93,%94,%95,"
                 "%96,%97,%98,%99,%100,%101,%102,%103,%104,%105,%106,%107,%108,%109,%110,%111,"
                 "%112,%113,%114,%115,%116,%117,%118,%119,%120,%121,%122,%123,%124,%125,%126,%127"
                 "}, %128, %129, p, 1, 1, 0, 0;\n"
                 "}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
                   "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
                   "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
                   "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
                   "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
                   "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
                   "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
                   "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
                   "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
                   "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
                   "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
                   "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
                   "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
                   "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
                   "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
                   "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
                 : "l"(desc_a), "l"(desc_b), "r"(1));
}

__device__ __forceinline__ void wgmma_m64n128k16(float d[64], uint64_t desc_a, uint64_t desc_b)
{
    asm volatile("{\n"
                 ".reg .pred p;\n"
                 "setp.ne.b32 p, %66, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {"
                 "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,"
                 "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,"
                 "%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,"
                 "%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63"
                 "}, %64, %65, p, 1, 1, 0, 0;\n"
                 "}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
                   "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
                   "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
                   "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
                   "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
                   "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
                   "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
                   "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
                 : "l"(desc_a), "l"(desc_b), "r"(1));
}

template <int BN> __device__ __forceinline__ void wgmma_tile(float (&d)[BN / 2], uint64_t desc_a, uint64_t desc_b);
template <> __device__ __forceinline__ void wgmma_tile<256>(float (&d)[128], uint64_t desc_a, uint64_t desc_b)
{
    wgmma_m64n256k16(d, desc_a, desc_b);
}
template <> __device__ __forceinline__ void wgmma_tile<128>(float (&d)[64], uint64_t desc_a, uint64_t desc_b)
{
    wgmma_m64n128k16(d, desc_a, desc_b);
}

__device__ __forceinline__ void wgmma_fence()
{
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}

__device__ __forceinline__ void wgmma_commit()
{
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}

template <int R> __device__ __forceinline__ void wgmma_wait_all(float (&d)[R])
{
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
    /* the accumulators are the asm's outputs from here on */
#pragma unroll
    for (int i = 0; i < R; i++)
        asm volatile("" : "+f"(d[i])::"memory");
}
#endif

template <class S>
__global__ void __launch_bounds__(S::THREADS, S::BLOCKS_PER_SM)
    gemm_bf16_wgmma_kernel(int64_t M, int64_t N, int Kp, const __grid_constant__ CUtensorMap map_a,
                           const __grid_constant__ CUtensorMap map_b, const float *__restrict__ bias, float *C,
                           int64_t ldc, int accumulate)
{
    constexpr int BM = S::BM, BN = S::BN, CONSUMERS = S::CONSUMERS, TILE_A = S::TILE_A,
                  STAGE_BYTES = S::STAGE_BYTES, R = BN / 2;
#ifdef REPRO_WGMMA
    extern __shared__ __align__(16) unsigned char smem_raw[];
    unsigned char *ring = (unsigned char *)(((uintptr_t)smem_raw + 1023) & ~(uintptr_t)1023);
    uint64_t *full = (uint64_t *)(ring + (size_t)STAGES * STAGE_BYTES), *empty = full + STAGES;
    const int wg = threadIdx.x / 128, t = threadIdx.x % 128;
    const int64_t m0 = (int64_t)blockIdx.y * BM, n0 = (int64_t)blockIdx.x * BN;
    const int KT = (Kp + BK - 1) / BK;

    if (threadIdx.x == 0) {
        for (int s = 0; s < STAGES; s++) {
            bar_init(&full[s], 1);
            bar_init(&empty[s], CONSUMERS * 4); /* lane 0 of each consumer warp */
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    if (wg == 0) { /* the producer */
        if (t == 0)
            for (int kt = 0; kt < KT; kt++) {
                int slot = kt % STAGES;
                if (kt >= STAGES) /* the slot's previous tile has been read */
                    bar_wait(&empty[slot], (uint32_t)((kt / STAGES - 1) & 1));
                unsigned char *a = ring + (size_t)slot * STAGE_BYTES, *b = a + TILE_A;
                bar_expect(&full[slot], STAGE_BYTES);
                tma_load(a, &map_a, kt * BK, (int)m0, &full[slot]);
                tma_load(b, &map_b, kt * BK, (int)n0, &full[slot]);
            }
        return;
    }

    /* a consumer: rows m0 + 64 (wg - 1) .. + 63, all BN columns.
     * d[4j + r]: row (t / 32) * 16 + (t % 32) / 4 + 8 (r >> 1), column 8j + 2 (t % 4) + (r & 1) */
    const int warp = t / 32, lane = t % 32;
    const int64_t row0 = m0 + 64 * (wg - 1) + 16 * warp + lane / 4;
    const int64_t col0 = n0 + 2 * (lane % 4);
    float d[R];
#pragma unroll
    for (int i = 0; i < R; i++) {
        int64_t m = row0 + 8 * ((i >> 1) & 1), n = col0 + 8 * (i >> 2) + (i & 1);
        d[i] = (accumulate && m < M && n < N) ? C[m * ldc + n] : 0.0f;
    }
    for (int kt = 0; kt < KT; kt++) {
        int slot = kt % STAGES;
        bar_wait(&full[slot], (uint32_t)((kt / STAGES) & 1));
        const unsigned char *a = ring + (size_t)slot * STAGE_BYTES + (wg - 1) * (64 * BK * 2), *b =
            ring + (size_t)slot * STAGE_BYTES + TILE_A;
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < BK / 16; kk++) /* the tile's four k blocks, ascending */
            wgmma_tile<BN>(d, descriptor(a + 32 * kk), descriptor(b + 32 * kk));
        wgmma_commit();
        wgmma_wait_all(d);
        if (lane == 0)
            bar_arrive(&empty[slot]);
    }
#pragma unroll
    for (int i = 0; i < R; i++) {
        int64_t m = row0 + 8 * ((i >> 1) & 1), n = col0 + 8 * (i >> 2) + (i & 1);
        if (m < M && n < N)
            C[m * ldc + n] = bias ? d[i] + bias[n] : d[i];
    }
#else
    (void)M, (void)N, (void)Kp, (void)map_a, (void)map_b, (void)bias, (void)C, (void)ldc, (void)accumulate;
    (void)BM, (void)BN, (void)CONSUMERS, (void)TILE_A, (void)STAGE_BYTES, (void)R;
    __trap(); /* never launched: repro_cuda_bf16_wgmma_ready() says no */
#endif
}

/* The driver's cuTensorMapEncodeTiled, looked up once a GEMM for both maps. */
repro_status encoder_of(PFN_cuTensorMapEncodeTiled_v12000 *encode, repro_error *err)
{
    void *fn = NULL;
    cudaDriverEntryPointQueryResult found;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found) !=
            cudaSuccess ||
        found != cudaDriverEntryPointSuccess || !fn)
        return repro_fail(err, REPRO_ERR_INTERNAL, "bf16 gemm: the CUDA driver has no cuTensorMapEncodeTiled");
    *encode = (PFN_cuTensorMapEncodeTiled_v12000)fn;
    return REPRO_OK;
}

/* A 2-D tensor map over a packed operand P[rows][Kp] (bf16), boxes of
 * box_rows x 64 in the 128-byte swizzle, zeros outside. */
repro_status make_map(PFN_cuTensorMapEncodeTiled_v12000 encode, CUtensorMap *map, const uint16_t *P, int64_t rows,
                      int64_t Kp, int box_rows, repro_error *err)
{
    static_assert(sizeof(uint16_t) * BK == 128, "a box row is one 128-byte swizzle row");
    cuuint64_t dims[2] = {(cuuint64_t)Kp, (cuuint64_t)rows}, strides[1] = {(cuuint64_t)Kp * 2};
    cuuint32_t box[2] = {BK, (cuuint32_t)box_rows}, unit[2] = {1, 1};
    CUresult r = encode(map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, (void *)P, dims, strides, box, unit,
                        CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                        CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS)
        return repro_fail(err, REPRO_ERR_INTERNAL, "bf16 gemm: tensor map of %lldx%lld failed (CUresult %d)",
                          (long long)rows, (long long)Kp, (int)r);
    return REPRO_OK;
}

template <class S>
repro_status launch(int64_t M, int64_t N, int64_t Kp, const uint16_t *Ap, const uint16_t *Bp, const float *bias,
                    float *C, int64_t ldc, int accumulate, cudaStream_t stream, repro_error *err)
{
    if ((M + S::BM - 1) / S::BM > 65535 || (N + S::BN - 1) / S::BN > INT32_MAX)
        return repro_fail(err, REPRO_ERR_ARG, "bf16 gemm (wgmma): %lldx%lld output is too large", (long long)M,
                          (long long)N);
    CUtensorMap map_a, map_b;
    PFN_cuTensorMapEncodeTiled_v12000 encode = NULL;
    repro_status st = encoder_of(&encode, err);
    if (st == REPRO_OK)
        st = make_map(encode, &map_a, Ap, M, Kp, S::BM, err);
    if (st == REPRO_OK)
        st = make_map(encode, &map_b, Bp, N, Kp, S::BN, err);
    if (st != REPRO_OK)
        return st;
    cudaFuncSetAttribute(gemm_bf16_wgmma_kernel<S>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)S::SMEM);
    dim3 grid((unsigned)((N + S::BN - 1) / S::BN), (unsigned)((M + S::BM - 1) / S::BM));
    gemm_bf16_wgmma_kernel<S><<<grid, S::THREADS, S::SMEM, stream>>>(M, N, (int)Kp, map_a, map_b, bias, C, ldc,
                                                                     accumulate);
    return repro_cuda_check("bf16 gemm (wgmma)", err);
}

} /* namespace */

extern "C" {

int repro_cuda_bf16_wgmma_ready(void)
{
    int dev = 0, major = 0, minor = 0;
    cudaFuncAttributes attr;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess)
        return 0;
    /* sm_90a code runs on compute capability 9.0 only; a kernel from PTX
     * of an older target (CUDA_FORCE_PTX_JIT, or no sm_90a in the build)
     * reports that target and is the empty one */
    if (major != 9 || minor != 0 || cudaFuncGetAttributes(&attr, gemm_bf16_wgmma_kernel<large_shape>) != cudaSuccess)
        return 0;
    return attr.ptxVersion >= 90 && attr.binaryVersion == 90;
}

repro_status repro_cuda_gemm_bf16_wgmma(repro_cuda_bf16_tiling tiling, int64_t M, int64_t N, int64_t Kp,
                                        const uint16_t *Ap, const uint16_t *Bp, const float *bias, float *C,
                                        int64_t ldc, int accumulate, repro_cuda_stream stream, repro_error *err)
{
    if (Kp % 32 != 0 || Kp > INT32_MAX || M > INT32_MAX || N > INT32_MAX)
        return repro_fail(err, REPRO_ERR_ARG, "bf16 gemm (wgmma): %lldx%lld, k %lld out of range", (long long)M,
                          (long long)N, (long long)Kp);
    cudaStream_t s = repro_cuda_s(stream);
    if (tiling == REPRO_CUDA_BF16_WGMMA_64X128)
        return launch<small_shape>(M, N, Kp, Ap, Bp, bias, C, ldc, accumulate, s, err);
    return launch<large_shape>(M, N, Kp, Ap, Bp, bias, C, ldc, accumulate, s, err);
}

} /* extern "C" */
