/* The exact GEMM in small tiles, for outputs that 128 x 128 tiles leave the
 * GPU mostly idle on (the MLP's 256 x 256 is 4 such blocks on 132
 * multiprocessors). Same contract and the same bits as gemm.cu: every
 * output is one fmaf chain over k ascending, started at +0 or at C, then
 * `+ bias[n]`; the tiling only decides which thread runs which chains.
 *
 * A block of (BM/TM) x (BN/TN) threads owns a BM x BN tile of C; thread
 * (ty, tx) holds the TM x TN accumulators of rows ty + i*(BM/TM) and
 * columns tx + j*(BN/TN) (strided, so a warp's shared-memory reads are
 * broadcasts or consecutive words and its stores to C are coalesced); the
 * 64 x 64 tiles instead hold rows ty*4 + i and columns tx*4 + j, read as
 * one float4 each from shared memory (2 reads for 16 fmas instead of 8).
 * K is walked in tiles of BK, staged in shared memory and double-buffered
 * through registers; a partial last tile runs only its valid k. Each
 * operand tile is read with k or m/n varying fastest across threads,
 * whichever is contiguous in memory. */
#include "ops/cuda/gemm_args.cuh"

namespace {

/* Row (or column) of the tile that register index i of thread coordinate t
 * covers: strided (t + i * T, T threads along the edge), or with VEC
 * contiguous (t * R + i, R registers) so that the R values are one float4
 * in shared memory. */
template <bool VEC, int T, int R>
__device__ __forceinline__ int tile_at(int t, int i)
{
    return VEC ? t * R + i : t + i * T;
}

template <int BM, int BN, int TM, int TN, int BK, bool A_KFAST, bool B_NFAST, bool VEC = false>
__global__ void __launch_bounds__((BM / TM) * (BN / TN)) gemm_small_kernel(repro_gemm_args g)
{
    constexpr int TX = BN / TN, TY = BM / TM, NT = TX * TY;
    constexpr int LA = BM * BK / NT, LB = BN * BK / NT; /* staged floats per thread */
    static_assert(LA * NT == BM * BK && LB * NT == BN * BK, "tile loads must divide evenly");
    static_assert(!VEC || (TM == 4 && TN == 4), "VEC reads 4 rows and 4 columns as float4");
    /* +1: conflict-free transposed stores; VEC: +4 keeps the float4 rows aligned */
    constexpr int PAD = VEC ? 4 : 1;
    __shared__ __align__(16) float As[2][BK][BM + PAD];
    __shared__ __align__(16) float Bs[2][BK][BN + PAD];
    const int tid = threadIdx.x, tx = tid % TX, ty = tid / TX;
    const int64_t m0 = (int64_t)blockIdx.y * BM, n0 = (int64_t)blockIdx.x * BN;

    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < TN; j++) {
            int64_t m = m0 + tile_at<VEC, TY, TM>(ty, i), n = n0 + tile_at<VEC, TX, TN>(tx, j);
            acc[i][j] = (g.accumulate && m < g.M && n < g.N) ? g.C[m * g.ldc + n] : 0.0f;
        }

    float ra[LA], rb[LB];
    auto load = [&](int64_t k0) {
#pragma unroll
        for (int r = 0; r < LA; r++) {
            int e = tid + r * NT;
            int mm = A_KFAST ? e / BK : e % BM, kk = A_KFAST ? e % BK : e / BM;
            int64_t m = m0 + mm, k = k0 + kk;
            ra[r] = (m < g.M && k < g.K) ? g.A[m * g.a_rs + k * g.a_cs] : 0.0f;
        }
#pragma unroll
        for (int r = 0; r < LB; r++) {
            int e = tid + r * NT;
            int nn = B_NFAST ? e % BN : e / BK, kk = B_NFAST ? e / BN : e % BK;
            int64_t n = n0 + nn, k = k0 + kk;
            rb[r] = (n < g.N && k < g.K) ? g.B[k * g.b_rs + n * g.b_cs] : 0.0f;
        }
    };
    auto store = [&](int buf) {
#pragma unroll
        for (int r = 0; r < LA; r++) {
            int e = tid + r * NT;
            As[buf][A_KFAST ? e % BK : e / BM][A_KFAST ? e / BK : e % BM] = ra[r];
        }
#pragma unroll
        for (int r = 0; r < LB; r++) {
            int e = tid + r * NT;
            Bs[buf][B_NFAST ? e / BN : e % BK][B_NFAST ? e % BN : e / BK] = rb[r];
        }
    };
    auto fma_k = [&](int buf, int kk) {
        float a[TM], b[TN];
        if constexpr (VEC) {
            const float4 va = *reinterpret_cast<const float4 *>(&As[buf][kk][ty * TM]);
            const float4 vb = *reinterpret_cast<const float4 *>(&Bs[buf][kk][tx * TN]);
            a[0] = va.x, a[1] = va.y, a[2] = va.z, a[3] = va.w;
            b[0] = vb.x, b[1] = vb.y, b[2] = vb.z, b[3] = vb.w;
        } else {
#pragma unroll
            for (int i = 0; i < TM; i++)
                a[i] = As[buf][kk][ty + i * TY];
#pragma unroll
            for (int j = 0; j < TN; j++)
                b[j] = Bs[buf][kk][tx + j * TX];
        }
#pragma unroll
        for (int i = 0; i < TM; i++)
#pragma unroll
            for (int j = 0; j < TN; j++)
                acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    };

    const int64_t tiles = (g.K + BK - 1) / BK;
    if (tiles > 0) {
        load(0);
        store(0);
    }
    __syncthreads();
    for (int64_t t = 0; t < tiles; t++) {
        const int cur = (int)(t & 1);
        const bool more = t + 1 < tiles;
        if (more) /* the next tile's global loads overlap this tile's fmas */
            load((t + 1) * BK);
        const int64_t klen = g.K - t * BK;
        if (klen >= BK) {
#pragma unroll
            for (int kk = 0; kk < BK; kk++)
                fma_k(cur, kk);
        } else {
            for (int kk = 0; kk < (int)klen; kk++)
                fma_k(cur, kk);
        }
        if (more)
            store(cur ^ 1);
        __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < TM; i++) {
        int64_t m = m0 + tile_at<VEC, TY, TM>(ty, i);
        if (m >= g.M)
            continue;
#pragma unroll
        for (int j = 0; j < TN; j++) {
            int64_t n = n0 + tile_at<VEC, TX, TN>(tx, j);
            if (n < g.N)
                g.C[m * g.ldc + n] = g.bias ? acc[i][j] + g.bias[n] : acc[i][j];
        }
    }
}

template <int BM, int BN, int TM, int TN, int BK, bool VEC = false>
void launch(const repro_gemm_args &g, cudaStream_t s)
{
    dim3 grid((unsigned)((g.N + BN - 1) / BN), (unsigned)((g.M + BM - 1) / BM));
    constexpr int threads = (BM / TM) * (BN / TN);
    /* k runs along A's rows when its columns are contiguous (a_cs == 1);
     * n along B's rows when b_cs == 1 */
    const bool a_kfast = g.a_cs == 1, b_nfast = g.b_cs == 1 || g.b_rs != 1;
    if (a_kfast && b_nfast)
        gemm_small_kernel<BM, BN, TM, TN, BK, true, true, VEC><<<grid, threads, 0, s>>>(g);
    else if (a_kfast)
        gemm_small_kernel<BM, BN, TM, TN, BK, true, false, VEC><<<grid, threads, 0, s>>>(g);
    else if (b_nfast)
        gemm_small_kernel<BM, BN, TM, TN, BK, false, true, VEC><<<grid, threads, 0, s>>>(g);
    else
        gemm_small_kernel<BM, BN, TM, TN, BK, false, false, VEC><<<grid, threads, 0, s>>>(g);
}

} // namespace

int repro_cuda_gemm_small_launch(const repro_gemm_args &g, repro_cuda_gemm_tiling tiling, cudaStream_t s)
{
    switch (tiling) {
    case REPRO_CUDA_GEMM_32X32: launch<32, 32, 2, 2, 32>(g, s); return 1;
    case REPRO_CUDA_GEMM_16X16: launch<16, 16, 1, 1, 64>(g, s); return 1;
    case REPRO_CUDA_GEMM_64X64: launch<64, 64, 4, 4, 16, true>(g, s); return 1;
    default: return 0;
    }
}
