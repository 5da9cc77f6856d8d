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
 * in tiles of 32 k = (n, oh, ow), staged in shared memory as [row][k]
 * (double-buffered through registers), so each accumulator reads 4 steps of
 * k with one float4 and takes them in ascending order. A warp stages 32
 * consecutive k of one row: dy reads and x reads along an image row are
 * coalesced. Each thread tracks its k as (n, oh, ow), advanced by a mixed
 * radix add per tile (no division in the loop); a staged column's
 * (ci, kh, kw) offsets are fixed, computed once. */
#include "ops/cuda/conv2d_args.cuh"

namespace {

typedef repro_conv_wgrad_args wgrad_args;
constexpr int WBK = 32;      /* k a tile; also the warp width of the staging */
constexpr int LDK = WBK + 4; /* row stride: float4-aligned, and 9 float4s (odd): conflict-free reads */

template <int BM, int BN, int TM, int TN>
__global__ void __launch_bounds__((BM / TM) * (BN / TN)) wgrad_kernel(wgrad_args a)
{
    constexpr int TXc = BN / TN, TYr = BM / TM, NT = TXc * TYr;
    constexpr int RSTEP = NT / WBK; /* staged rows (columns) between a thread's loads */
    constexpr int LA = (BM + RSTEP - 1) / RSTEP, LB = (BN + RSTEP - 1) / RSTEP;
    static_assert(NT % WBK == 0, "a warp stages 32 consecutive k of one row");
    static_assert(LB <= 32, "the column kind masks are 32 bits");
    __shared__ __align__(16) float As[2][BM][LDK]; /* dy  [o][k] */
    __shared__ __align__(16) float Bs[2][BN][LDK]; /* tap [column][k] */

    const int tid = threadIdx.x, g = blockIdx.z;
    const int c0 = blockIdx.x * BN, o0 = blockIdx.y * BM;
    const int taps = a.taps; /* dw columns; column `taps` is db's when a.cols > taps */

    /* Staging: this thread loads k = t*32 + kl of rows (columns) r0 + i*RSTEP. */
    const int kl = tid % WBK, r0 = tid / WBK;
    int arow[LA]; /* dy offset of row i's channel plane, -1 outside the group */
#pragma unroll
    for (int i = 0; i < LA; i++) {
        const int o = o0 + r0 + i * RSTEP;
        arow[i] = (r0 + i * RSTEP < BM && o < a.Og) ? (g * a.Og + o) * a.P : -1;
    }
    int boff[LB], bdh[LB], bdw[LB]; /* column i: x offset of its (ci, kh, kw) tap, and kh*dil, kw*dil */
    uint32_t btap = 0, bone = 0;    /* bit i: column i is a dw tap / the db column */
#pragma unroll
    for (int i = 0; i < LB; i++) {
        const int j = c0 + r0 + i * RSTEP;
        boff[i] = bdh[i] = bdw[i] = 0;
        if (r0 + i * RSTEP >= BN)
            continue;
        if (j < taps) {
            const int ci = j / a.KHW, rr = j - ci * a.KHW, kh = rr / a.KW, kw = rr - kh * a.KW;
            bdh[i] = kh * a.dil_h;
            bdw[i] = kw * a.dil_w;
            boff[i] = (g * a.Cg + ci) * a.HW + bdh[i] * a.W + bdw[i];
            btap |= 1u << i;
        } else if (j < a.cols) {
            bone |= 1u << i;
        }
    }
    /* This thread's k as (n, oh, ow), and a tile's step 32 in the same radix. */
    int n = kl / a.P, oh = (kl - n * a.P) / a.OW, ow = kl - n * a.P - oh * a.OW;
    const int dn = WBK / a.P, dh = (WBK - dn * a.P) / a.OW, dwi = WBK - dn * a.P - dh * a.OW;
    auto advance = [&]() {
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

    float ra[LA], rb[LB];
    auto load = [&]() { /* the tile at this thread's current k */
        const bool live = n < a.N;
        const int ihb = oh * a.stride_h - a.pad_h, iwb = ow * a.stride_w - a.pad_w;
        const int dyk = live ? n * a.dy_n + oh * a.OW + ow : 0, xk = live ? n * a.x_n + ihb * a.W + iwb : 0;
#pragma unroll
        for (int i = 0; i < LA; i++)
            ra[i] = (live && arow[i] >= 0) ? a.dy[dyk + arow[i]] : 0.0f;
#pragma unroll
        for (int i = 0; i < LB; i++) {
            const int ih = ihb + bdh[i], iw = iwb + bdw[i];
            const bool in = ih >= 0 && ih < a.H && iw >= 0 && iw < a.W;
            if ((btap >> i) & 1u)
                rb[i] = (live && in) ? a.x[xk + boff[i]] : 0.0f;
            else
                rb[i] = (live && ((bone >> i) & 1u)) ? 1.0f : 0.0f;
        }
    };
    auto store = [&](int buf) {
#pragma unroll
        for (int i = 0; i < LA; i++)
            if (r0 + i * RSTEP < BM)
                As[buf][r0 + i * RSTEP][kl] = ra[i];
#pragma unroll
        for (int i = 0; i < LB; i++)
            if (r0 + i * RSTEP < BN)
                Bs[buf][r0 + i * RSTEP][kl] = rb[i];
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

    const int tiles = (a.K + WBK - 1) / WBK;
    load();
    advance();
    store(0);
    __syncthreads();
    for (int t = 0; t < tiles; t++) {
        const int cur = t & 1;
        const bool more = t + 1 < tiles;
        if (more) { /* the next tile's global loads overlap this tile's fmas */
            load();
            advance();
        }
        const int klen = min(WBK, a.K - t * WBK);
        if (klen == WBK) {
#pragma unroll
            for (int kk = 0; kk < WBK; kk += 4) {
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
        if (more)
            store(cur ^ 1);
        __syncthreads();
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

template <int BM, int BN, int TM, int TN>
void launch(const wgrad_args &a, cudaStream_t s)
{
    constexpr int threads = (BM / TM) * (BN / TN);
    dim3 grid((unsigned)((a.cols + BN - 1) / BN), (unsigned)((a.Og + BM - 1) / BM), (unsigned)a.groups);
    wgrad_kernel<BM, BN, TM, TN><<<grid, threads, 0, s>>>(a);
}

} // namespace

int repro_conv_wgrad_launch(repro_cuda_conv_tiling tiling, const wgrad_args &a, cudaStream_t s)
{
    switch (tiling) {
    case REPRO_CUDA_CONV_W32X32: launch<32, 32, 2, 2>(a, s); return 1;
    case REPRO_CUDA_CONV_W16X32: launch<16, 32, 2, 2>(a, s); return 1;
    case REPRO_CUDA_CONV_W16X16: launch<16, 16, 2, 1>(a, s); return 1;
    case REPRO_CUDA_CONV_W8X16: launch<8, 16, 1, 1>(a, s); return 1;
    default: return 0;
    }
}
