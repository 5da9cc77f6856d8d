/* The convolution forward and its input gradient dx as implicit GEMMs
 * (arguments: conv2d_args.cuh). Same chains as the references:
 *
 *   forward out = y:  rows (n, oh, ow), columns o of the group,
 *                     k = (ci, kh, kw) ascending, tap x[n][c][ih][iw] or +0
 *   dx      out = dx: rows (n, ih, iw), columns ci of the group,
 *                     k = (o, kh, kw) ascending, tap dy[n][o][th/sh][tw/sw] or +0
 *
 * and every output is one fmaf chain from +0 over all of k, padding and
 * absent taps included as +0 (so fmaf(+0, inf, acc) is NaN, as on the
 * CPU), then `+ bias` (forward).
 *
 * A block of NT threads owns a BM x BN output tile of one group; each thread
 * TM x TN accumulators (rows tx*4 + {0..3} + 4*TXm*i', columns ty*4 + {0..3}
 * + 4*TYc*j', read from shared memory as float4). k is walked in tiles of cpt
 * whole chain channels (bk = cpt*KH*KW taps <= 28), staged in shared memory
 * (double-buffered: the next tile's global loads are in flight while this
 * one's fmas run), each accumulator taking the tile's k in ascending order.
 * The last tile may hold fewer channels: only its valid k run, so each
 * chain has exactly the contract's terms, no padded fmaf(0, 0, acc).
 *
 * The finished tile goes out through shared memory, so that a warp's
 * stores are 32 consecutive rows of one channel.
 *
 * Staging: a thread loads the same row m (the same column) in every tile
 * and the same tile-relative taps (channel in tile, kh, kw), so whether a
 * tap falls in the padding (or, for dx, between strides) is decided once,
 * into a bit mask; a tile's load is then one table read and one predicated
 * global load. Rows vary fastest across a warp: x / dy reads along a row of
 * the image are coalesced. */
#include "ops/cuda/conv2d_args.cuh"

namespace {

typedef repro_conv_igemm_args igemm_args;
constexpr int BK = REPRO_CONV_IG_BK;

template <int BM, int BN, int TM, int TN, bool DX>
__global__ void __launch_bounds__((BM / TM) * (BN / TN)) igemm_kernel(igemm_args a)
{
    constexpr int TXm = BM / TM, TYc = BN / TN, NT = TXm * TYc;
    constexpr int ASTEP = NT / BM, BSTEP = NT / BN; /* k rows between a thread's staged taps */
    constexpr int LA = (BK + ASTEP - 1) / ASTEP, LB = (BK + BSTEP - 1) / BSTEP;
    static_assert(NT % BM == 0 && NT % BN == 0, "a thread stages one row and one column");
    static_assert(TM % 4 == 0 && TN % 4 == 0, "fragments are read as float4");
    static_assert(LA <= 32, "the padding mask is 32 bits");
    /* The staging buffers, reused by the epilogue as the output tile. */
    __shared__ __align__(16) float smem[2 * BK * (BM + BN)];
    float(*As)[BK][BM] = reinterpret_cast<float(*)[BK][BM]>(smem);               /* [buf][k][row] */
    float(*Bs)[BK][BN] = reinterpret_cast<float(*)[BK][BN]>(smem + 2 * BK * BM); /* [buf][k][column] */
    __shared__ int koff_a[BK];                    /* tap offset of k within the source, tile-relative */
    __shared__ int koff_b[BK];                    /* offset of k within a weight column, tile-relative */

    const int tid = threadIdx.x;
    const int g = blockIdx.z;
    const int m0 = blockIdx.x * BM, c0 = blockIdx.y * BN;

    if (tid < a.bk) {
        int cl = tid / a.KHW, rr = tid - cl * a.KHW, kh = rr / a.KW, kw = rr - kh * a.KW;
        int ah = kh * a.dil_h, aw = kw * a.dil_w;
        koff_a[tid] = DX ? cl * a.SP - (ah / a.stride_h) * a.SW - aw / a.stride_w : cl * a.SP + ah * a.SW + aw;
        koff_b[tid] = cl * a.w_chan + rr;
    }

    /* This thread's staged row: m = m0 + ml, taps k = akl0 + i*ASTEP of each tile. */
    const int ml = tid % BM, akl0 = tid / BM;
    const bool mok = m0 + ml < a.M;
    const int mn = mok ? (m0 + ml) / a.P : 0, mp = mok ? m0 + ml - mn * a.P : 0; /* the row's (n, p) */
    int abase = 0;     /* source offset of (n, group, row's origin tap) */
    uint32_t amask = 0; /* bit i: tap i is inside the image (dx: present) */
    if (mok) {
        const int n = mn, p = mp, r = p / a.PW, c = p - r * a.PW;
        int qh, qw, rh = 0, rw = 0;
        if (DX) { /* th = (qh - ah/sh)*sh + (rh - ah%sh): present iff rh == ah%sh */
            const int eh = r + a.pad_h, ew = c + a.pad_w;
            qh = eh / a.stride_h;
            rh = eh - qh * a.stride_h;
            qw = ew / a.stride_w;
            rw = ew - qw * a.stride_w;
        } else {
            qh = r * a.stride_h - a.pad_h;
            qw = c * a.stride_w - a.pad_w;
        }
        abase = n * a.src_n + g * a.KC * a.SP + qh * a.SW + qw;
#pragma unroll
        for (int i = 0; i < LA; i++) {
            const int kl = akl0 + i * ASTEP;
            if (kl >= a.bk)
                continue;
            const int cl = kl / a.KHW, rr = kl - cl * a.KHW, kh = rr / a.KW, kw = rr - kh * a.KW;
            const int ah = kh * a.dil_h, aw = kw * a.dil_w;
            bool in;
            if (DX) {
                const int ih = qh - ah / a.stride_h, iw = qw - aw / a.stride_w;
                in = rh == ah % a.stride_h && rw == aw % a.stride_w && ih >= 0 && ih < a.SH && iw >= 0 &&
                     iw < a.SW;
            } else {
                const int ih = qh + ah, iw = qw + aw;
                in = ih >= 0 && ih < a.SH && iw >= 0 && iw < a.SW;
            }
            amask |= (uint32_t)in << i;
        }
    }
    /* This thread's staged column: c0 + bcl, taps k = bkl0 + i*BSTEP of each tile. */
    const int bcl = tid % BN, bkl0 = tid / BN;
    const bool bok = c0 + bcl < a.cols;
    const int bbase = bok ? g * a.w_group + (c0 + bcl) * a.w_col : 0;

    float ra[LA], rb[LB];
    auto load = [&](int t) {
        const int klen = min(a.cpt, a.KC - t * a.cpt) * a.KHW;
        const int ta = abase + t * a.cpt * a.SP, tb = bbase + t * a.cpt * a.w_chan;
#pragma unroll
        for (int i = 0; i < LA; i++) {
            const int kl = akl0 + i * ASTEP;
            ra[i] = (kl < klen && ((amask >> i) & 1u)) ? a.src[ta + koff_a[kl]] : 0.0f;
        }
#pragma unroll
        for (int i = 0; i < LB; i++) {
            const int kl = bkl0 + i * BSTEP;
            rb[i] = (kl < klen && bok) ? a.w[tb + koff_b[kl]] : 0.0f;
        }
    };
    auto store = [&](int buf) {
#pragma unroll
        for (int i = 0; i < LA; i++) {
            const int kl = akl0 + i * ASTEP;
            if (kl < BK)
                As[buf][kl][ml] = ra[i];
        }
#pragma unroll
        for (int i = 0; i < LB; i++) {
            const int kl = bkl0 + i * BSTEP;
            if (kl < BK)
                Bs[buf][kl][bcl] = rb[i];
        }
    };

    const int tx = tid % TXm, ty = tid / TXm;
    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < TN; j++)
            acc[i][j] = 0.0f;
    auto fma_k = [&](int buf, int kk) {
        float av[TM], bv[TN];
#pragma unroll
        for (int i = 0; i < TM / 4; i++) {
            const float4 v = *reinterpret_cast<const float4 *>(&As[buf][kk][tx * 4 + i * 4 * TXm]);
            av[4 * i] = v.x, av[4 * i + 1] = v.y, av[4 * i + 2] = v.z, av[4 * i + 3] = v.w;
        }
#pragma unroll
        for (int j = 0; j < TN / 4; j++) {
            const float4 v = *reinterpret_cast<const float4 *>(&Bs[buf][kk][ty * 4 + j * 4 * TYc]);
            bv[4 * j] = v.x, bv[4 * j + 1] = v.y, bv[4 * j + 2] = v.z, bv[4 * j + 3] = v.w;
        }
#pragma unroll
        for (int i = 0; i < TM; i++)
#pragma unroll
            for (int j = 0; j < TN; j++)
                acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    };

    __syncthreads(); /* the offset tables */
    const int tiles = (a.KC + a.cpt - 1) / a.cpt;
    load(0);
    store(0);
    __syncthreads();
    for (int t = 0; t < tiles; t++) {
        const int cur = t & 1;
        const bool more = t + 1 < tiles;
        if (more) /* the next tile's global loads overlap this tile's fmas */
            load(t + 1);
        const int klen = min(a.cpt, a.KC - t * a.cpt) * a.KHW;
        for (int kk = 0; kk < klen; kk++)
            fma_k(cur, kk);
        if (more)
            store(cur ^ 1);
        __syncthreads();
    }

    /* Epilogue through shared memory (the loop ended on a barrier, so the
     * staging buffers are free): the tile goes in as [column][row], then
     * each thread writes its staged row's outputs, a warp 32 consecutive
     * rows of one channel, so the stores are coalesced. */
    constexpr int LDC = BM + 4;
    static_assert(BN * LDC <= 2 * BK * (BM + BN), "the output tile fits the staging buffers");
#pragma unroll
    for (int i = 0; i < TM / 4; i++)
#pragma unroll
        for (int j = 0; j < TN; j++) {
            const int col = ty * 4 + (j & 3) + (j >> 2) * 4 * TYc, row = tx * 4 + i * 4 * TXm;
            *reinterpret_cast<float4 *>(&smem[col * LDC + row]) =
                make_float4(acc[4 * i][j], acc[4 * i + 1][j], acc[4 * i + 2][j], acc[4 * i + 3][j]);
        }
    __syncthreads();
    if (!mok)
        return;
    float *orow = a.out + mn * a.out_n + mp;
    for (int cl = tid / BM; cl < BN; cl += ASTEP) {
        const int col = c0 + cl;
        if (col >= a.cols)
            break;
        const int oc = g * a.cols + col;
        const float v = smem[cl * LDC + ml];
        orow[oc * a.P] = (!DX && a.bias) ? v + a.bias[oc] : v;
    }
}

template <int BM, int BN, int TM, int TN>
void launch(const igemm_args &a, int dx, cudaStream_t s)
{
    constexpr int threads = (BM / TM) * (BN / TN);
    dim3 grid((unsigned)((a.M + BM - 1) / BM), (unsigned)((a.cols + BN - 1) / BN), (unsigned)a.groups);
    if (dx)
        igemm_kernel<BM, BN, TM, TN, true><<<grid, threads, 0, s>>>(a);
    else
        igemm_kernel<BM, BN, TM, TN, false><<<grid, threads, 0, s>>>(a);
}

} // namespace

int repro_conv_igemm_launch(repro_cuda_conv_tiling tiling, int dx, const igemm_args &a, cudaStream_t s)
{
    switch (tiling) {
    case REPRO_CUDA_CONV_128X64: launch<128, 64, 8, 4>(a, dx, s); return 1;
    case REPRO_CUDA_CONV_64X64: launch<64, 64, 4, 4>(a, dx, s); return 1;
    case REPRO_CUDA_CONV_128X32: launch<128, 32, 8, 4>(a, dx, s); return 1;
    case REPRO_CUDA_CONV_64X32: launch<64, 32, 4, 4>(a, dx, s); return 1;
    default: return 0;
    }
}
