/* The convolution's weight gradient dw, and its bias gradient db, as one
 * GEMM (arguments: conv2d_args.cuh). Same chains as the references:
 *
 *   dw[o][ci][kh][kw]: acc = dw; for n asc, oh asc, ow asc:
 *                      acc = fmaf(dy[n][o][oh][ow], xtap(n, ci, oh, ow, kh, kw) or +0, acc)
 *   db[o]:             acc = db; same order: acc = acc + dy[n][o][oh][ow]
 *
 * db is one more column of the GEMM whose tap is 1.0f: fmaf(dy, 1.0f, acc)
 * rounds dy + acc once, which is acc + dy exactly (signed zeros, infinities
 * and NaN included), so its chain runs beside dw's at no extra launch.
 *
 * dw has few outputs (288 for a 1 -> 32 3x3 layer) and long chains
 * (N*OH*OW), and no chain may be split: the time is the chain's length
 * times the fma latency unless the loads keep up. A block of NT threads owns
 * BM output channels x BN columns (ci, kh, kw); each thread TM x TN
 * accumulators (rows ty + TYr*i, columns tx + TXc*j). The chain is walked
 * in tiles of BK k = (n, oh, ow), staged in shared memory as [row][k], so
 * each accumulator reads 4 steps of k with one float4 and takes them in
 * ascending order. With few blocks (a 1 -> 32 layer has 4) nothing else
 * hides a global load's latency (~600 cycles) behind a tile's fmas, so the
 * staging is a ring of S stages filled by cp.async: S - 1 tiles of loads are
 * in flight while one is consumed, and one __syncthreads a tile both
 * publishes the oldest tile and frees the stage its loads then go to.
 * A warp stages 32 consecutive k of one row: dy reads and x reads along an
 * image row are coalesced. Padding taps are stored as +0.0f directly; rows
 * and columns that never change in a block (channels past the group, the
 * db column's 1.0f, columns past the last) are written into every stage
 * once. Each thread tracks its k as (n, oh, ow), advanced by a mixed radix
 * add per tile (no division in the loop); a staged column's (ci, kh, kw)
 * offsets are fixed, computed once. */
#include "ops/cuda/conv2d_args.cuh"
#include "ops/cuda/cp_async.cuh"

namespace {

typedef repro_conv_wgrad_args wgrad_args;

template <int BM, int BN, int TM, int TN, int BK, int S>
__global__ void __launch_bounds__((BM / TM) * (BN / TN)) wgrad_kernel(wgrad_args a)
{
    constexpr int TXc = BN / TN, TYr = BM / TM, NT = TXc * TYr;
    constexpr int LDK = BK + 4;     /* row stride: float4-aligned, an odd number of float4s: conflict-free reads */
    constexpr int RSTEP = NT / BK;  /* staged rows (columns) between a thread's loads */
    constexpr int LA = (BM + RSTEP - 1) / RSTEP, LB = (BN + RSTEP - 1) / RSTEP;
    static_assert(BK % 32 == 0 && NT % BK == 0, "a warp stages 32 consecutive k of one row");
    static_assert(LB <= 32, "the column kind masks are 32 bits");
    static_assert(S >= 2, "a ring of at least 2 stages");
    static_assert(S * (BM + BN) * LDK * 4 <= 48 * 1024, "static shared memory");
    __shared__ __align__(16) float As[S][BM][LDK]; /* dy  [stage][o][k] */
    __shared__ __align__(16) float Bs[S][BN][LDK]; /* tap [stage][column][k] */

    const int tid = threadIdx.x, g = blockIdx.z;
    const int c0 = blockIdx.x * BN, o0 = blockIdx.y * BM;
    const int taps = a.taps; /* dw columns; column `taps` is db's when a.cols > taps */

    /* Staging: this thread loads k = t*BK + kl of rows (columns) r0 + i*RSTEP. */
    const int kl = tid % BK, r0 = tid / BK;
    int arow[LA]; /* dy offset of row i's channel plane, -1 outside the group */
#pragma unroll
    for (int i = 0; i < LA; i++) {
        const int o = o0 + r0 + i * RSTEP;
        arow[i] = (r0 + i * RSTEP < BM && o < a.Og) ? (g * a.Og + o) * a.P : -1;
    }
    int boff[LB], bdh[LB], bdw[LB]; /* column i: x offset of its (ci, kh, kw) tap, and kh*dil, kw*dil */
    uint32_t btap = 0;              /* bit i: column i is a dw tap */
#pragma unroll
    for (int i = 0; i < LB; i++) {
        const int r = r0 + i * RSTEP, j = c0 + r;
        boff[i] = bdh[i] = bdw[i] = 0;
        if (r >= BN)
            continue;
        if (j < taps) {
            const int ci = j / a.KHW, rr = j - ci * a.KHW, kh = rr / a.KW, kw = rr - kh * a.KW;
            bdh[i] = kh * a.dil_h;
            bdw[i] = kw * a.dil_w;
            boff[i] = (g * a.Cg + ci) * a.HW + bdh[i] * a.W + bdw[i];
            btap |= 1u << i;
        } else { /* the db column's 1.0f, or a column past the last: the same in every tile */
            const float v = j < a.cols ? 1.0f : 0.0f;
#pragma unroll
            for (int st = 0; st < S; st++)
                Bs[st][r][kl] = v;
        }
    }
#pragma unroll
    for (int i = 0; i < LA; i++) /* rows past the group: zero in every tile */
        if (r0 + i * RSTEP < BM && arow[i] < 0)
#pragma unroll
            for (int st = 0; st < S; st++)
                As[st][r0 + i * RSTEP][kl] = 0.0f;

    /* This thread's k as (n, oh, ow) of the next tile to load, and a tile's step BK in the same radix. */
    int n = kl / a.P, oh = (kl - n * a.P) / a.OW, ow = kl - n * a.P - oh * a.OW;
    const int dn = BK / a.P, dh = (BK - dn * a.P) / a.OW, dwi = BK - dn * a.P - dh * a.OW;
    /* Start the loads of the next tile into stage st, then step to the tile after. k past
     * the chain (the last tile's tail) is left as it is: the last tile reads only its valid k. */
    auto issue = [&](int st) {
        if (n < a.N) {
            const int ihb = oh * a.stride_h - a.pad_h, iwb = ow * a.stride_w - a.pad_w;
            const int dyk = n * a.dy_n + oh * a.OW + ow, xk = n * a.x_n + ihb * a.W + iwb;
#pragma unroll
            for (int i = 0; i < LA; i++)
                if (arow[i] >= 0)
                    repro_cp_async4(&As[st][r0 + i * RSTEP][kl], a.dy + (dyk + arow[i]));
#pragma unroll
            for (int i = 0; i < LB; i++) {
                if (!((btap >> i) & 1u))
                    continue;
                const int ih = ihb + bdh[i], iw = iwb + bdw[i];
                if (ih >= 0 && ih < a.H && iw >= 0 && iw < a.W)
                    repro_cp_async4(&Bs[st][r0 + i * RSTEP][kl], a.x + (xk + boff[i]));
                else
                    Bs[st][r0 + i * RSTEP][kl] = 0.0f; /* a padding tap: +0.0f */
            }
        }
        ow += dwi;
        oh += dh;
        n += dn;
        if (ow >= a.OW) {
            ow -= a.OW;
            oh++;
        }
        if (oh >= a.OH) {
            oh -= a.OH;
            n++;
        }
    };

    /* The accumulators start at the gradients' current values. */
    const int tx = tid % TXc, ty = tid / TXc;
    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; i++) {
        const int o = o0 + ty + i * TYr;
#pragma unroll
        for (int j = 0; j < TN; j++) {
            const int c = c0 + tx + j * TXc;
            acc[i][j] = 0.0f;
            if (o < a.Og && c < taps)
                acc[i][j] = a.dw[(g * a.Og + o) * taps + c];
            else if (o < a.Og && c < a.cols)
                acc[i][j] = a.db[g * a.Og + o];
        }
    }

    /* The ring: tile t is consumed from stage t % S. Every iteration commits
     * one group (empty past the last tile), so before iteration t's wait
     * S - 1 + t groups are committed, and waiting until at most S - 2 are in
     * flight completes this thread's loads of tile t. The barrier then makes
     * every thread's loads of tile t visible and ends every thread's reads of
     * tile t - 1, whose stage the loads of tile t + S - 1 go to. */
    const int tiles = (a.K + BK - 1) / BK;
#pragma unroll 1
    for (int st = 0; st < S - 1; st++) {
        if (st < tiles)
            issue(st);
        repro_cp_async_commit();
    }
    int cur = 0, nxt = S - 1; /* stages of tile t and of tile t + S - 1 */
    for (int t = 0; t < tiles; t++) {
        repro_cp_async_wait<S - 2>();
        __syncthreads();
        if (t + S - 1 < tiles)
            issue(nxt);
        repro_cp_async_commit();
        const int klen = min(BK, a.K - t * BK);
        if (klen == BK) {
#pragma unroll
            for (int kk = 0; kk < BK; kk += 4) {
                float4 av[TM], bv[TN];
#pragma unroll
                for (int i = 0; i < TM; i++)
                    av[i] = *reinterpret_cast<const float4 *>(&As[cur][ty + i * TYr][kk]);
#pragma unroll
                for (int j = 0; j < TN; j++)
                    bv[j] = *reinterpret_cast<const float4 *>(&Bs[cur][tx + j * TXc][kk]);
#pragma unroll
                for (int i = 0; i < TM; i++)
#pragma unroll
                    for (int j = 0; j < TN; j++) {
                        acc[i][j] = fmaf(av[i].x, bv[j].x, acc[i][j]);
                        acc[i][j] = fmaf(av[i].y, bv[j].y, acc[i][j]);
                        acc[i][j] = fmaf(av[i].z, bv[j].z, acc[i][j]);
                        acc[i][j] = fmaf(av[i].w, bv[j].w, acc[i][j]);
                    }
            }
        } else { /* the last, partial tile: only its valid k */
            for (int kk = 0; kk < klen; kk++)
#pragma unroll
                for (int i = 0; i < TM; i++)
#pragma unroll
                    for (int j = 0; j < TN; j++)
                        acc[i][j] = fmaf(As[cur][ty + i * TYr][kk], Bs[cur][tx + j * TXc][kk], acc[i][j]);
        }
        cur = cur + 1 == S ? 0 : cur + 1;
        nxt = nxt + 1 == S ? 0 : nxt + 1;
    }

#pragma unroll
    for (int i = 0; i < TM; i++) {
        const int o = o0 + ty + i * TYr;
        if (o >= a.Og)
            continue;
#pragma unroll
        for (int j = 0; j < TN; j++) {
            const int c = c0 + tx + j * TXc;
            if (c < taps)
                a.dw[(g * a.Og + o) * taps + c] = acc[i][j];
            else if (c < a.cols)
                a.db[g * a.Og + o] = acc[i][j];
        }
    }
}

/* BK and S: as many tiles of loads in flight as 48 KB of static shared
 * memory holds (S - 1 tiles, 224-320 k: ~900-1300 cycles of a single chain's
 * fmas), and 64 k a tile where the block is small enough, so the barrier
 * and the loads' issue are paid every 64 k. */
template <int BM, int BN, int TM, int TN, int BK, int S>
void launch(const wgrad_args &a, cudaStream_t s)
{
    constexpr int threads = (BM / TM) * (BN / TN);
    dim3 grid((unsigned)((a.cols + BN - 1) / BN), (unsigned)((a.Og + BM - 1) / BM), (unsigned)a.groups);
    wgrad_kernel<BM, BN, TM, TN, BK, S><<<grid, threads, 0, s>>>(a);
}

} // namespace

int repro_conv_wgrad_launch(repro_cuda_conv_tiling tiling, const wgrad_args &a, cudaStream_t s)
{
    switch (tiling) {
    case REPRO_CUDA_CONV_W32X32: launch<32, 32, 2, 2, 32, 4>(a, s); return 1;
    case REPRO_CUDA_CONV_W16X32: launch<16, 32, 2, 2, 32, 6>(a, s); return 1;
    case REPRO_CUDA_CONV_W16X16: launch<16, 16, 2, 1, 64, 5>(a, s); return 1;
    case REPRO_CUDA_CONV_W8X16: launch<8, 16, 1, 1, 64, 6>(a, s); return 1;
    default: return 0;
    }
}
