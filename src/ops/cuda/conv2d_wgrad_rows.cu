/* The weight gradient dw (and db) of a 3-wide kernel at stride 1, walking
 * the chain one output row at a time (arguments: conv2d_args.cuh). Same
 * chains as the references and as conv2d_wgrad.cu:
 *
 *   dw[o][ci][kh][kw]: acc = dw; for n asc, oh asc, ow asc:
 *                      acc = fmaf(dy[n][o][oh][ow], x[n][ci][oh - ph + kh][ow - pw + kw] or +0, acc)
 *   db[o]:             acc = db; same order: acc = fmaf(dy, 1.0f, acc) = acc + dy
 *
 * Why another kernel: dw has few chains (18 432 for a 32 -> 64 3x3 layer,
 * about 140 a multiprocessor) and long ones, so each multiprocessor runs
 * about one warp a scheduler and the time is the instructions a warp issues
 * per chain step. The GEMM form (conv2d_wgrad.cu) stages one im2col value
 * per (tap, step): 9 copies of each x value for a 3x3 kernel, and about 8
 * instructions a step. Here a thread owns the three chains kw = 0, 1, 2 of
 * one (o, ci, kh): they read the same dy value and three neighbouring x
 * values of one input row, so a step costs one dy read and (sliding along
 * the row) one x read for three fmas, both as float4 every 4 steps; and
 * the block stages whole rows, x once per (ci, kh) row instead of once per
 * tap.
 *
 * A block: BO output channels x BC column groups (ci, kh); thread (o, cg)
 * = (tid / BC, tid % BC). With db, the last column group is the bias: its
 * staged "x rows" are 1.0f everywhere, so its kw = 0 chain is db's chain
 * (fmaf(dy, 1.0f, acc) rounds acc + dy once: the same bits, signed zeros,
 * infinities and NaN included). A tile is R output rows (n, oh), in chain
 * order; each row is staged as dy[o][0..OW) and x[cg][j], j in [0, OW + 2)
 * standing for iw = j - pw (+0.0f outside the image). Rows sit LD floats
 * apart, a channel's or group's rows SO apart (4 x an odd number, so the
 * float4 reads of a warp's 8 different rows hit different banks). The tiles
 * go through a ring of S stages filled by cp.async, as in conv2d_wgrad.cu.
 *
 * The row width OW is a template argument (7, 14, 28: the 3x3 layers of
 * nets on 28x28 images, and of a 224x224 ResNet's last three stages), so
 * a row's steps, their float4 reads and the last OW % 4 steps unroll into
 * straight code. A block is 16 channels x 8 groups, 4 warps: few enough
 * blocks that a multiprocessor holds about one warp a scheduler, and 2.75
 * staged values a thread a row; or 16 x 4, 2 warps, for layers whose 16 x 8
 * blocks would leave most multiprocessors idle (conv2d.cu, auto_wgrad_rows).
 * A tile is 16 rows (24 of 7): each tile
 * costs a wait, a barrier that the block's slowest warp sets, and the ring's
 * bookkeeping, so big tiles pay them rarely (the shared memory, 75 to 148
 * KiB in 3 stages, is asked for past the 48 KiB default).
 *
 * Measured (H200, batch 128, `test_cuda_conv --bench-only`, dw + db),
 * against the GEMM form's best: 32 -> 64 on 14x14 431 -> 190 us, 64 -> 64
 * on 14x14 490 -> 190 us, on 7x7 129 -> 69 us, 1 -> 32 on 28x28 1083 ->
 * 535 us. Tiles of 56 steps (2 rows of 28, 4 of 14, 8 of 7) and dy copied a
 * float at a time gave 899, 268 and 98 us; 32 rows of 14 and 48 of 7 were
 * slower again than 16 and 24. A first version with one row a tile and the
 * row width at run time was 3x slower than the GEMM form: 20 instructions a
 * step, most of them staging.
 *
 * Staging: a row of the tile is BO*OW dy values and BC*(OW + 2) x values,
 * the same pattern in every row, so each thread works out once where its
 * values come from and go (its copy e = tid + i*NT of each kind); per row
 * it only adds the row's offsets, and an x value off the image's rows is a
 * zero-filling copy (no branch). dy rows are copied 4 floats (16 bytes) a
 * copy when they are a multiple of 4 floats and dy is 16-byte aligned, 2
 * when even and 8-byte aligned, else 1; x stays 1 (its staged row starts
 * pw floats in). Values that are the same in every
 * row (padding columns, the bias group's 1.0f, channels past the group)
 * are written into every stage once.
 *
 * With a staging warp (wrows8x4ws, rows of 14 and 28): a block is one warp
 * of 8 channels x 4 groups that only runs chains, and one warp that only
 * stages, on another scheduler. The chain warp's scheduler then issues little
 * besides the fmas and shared reads, and a layer with few chains spreads over
 * more multiprocessors. They hand the S = 4 stages over by named barriers:
 * the staging warp keeps 3 tiles in flight, says a stage is full once its
 * copies landed, and refills it once the chain warp says it is empty. One
 * warp staging a float at a time could not keep up with the chains (1 -> 32
 * on 28x28: the chain warp waited at the full barrier); so here x rows are
 * copied 16 (or 8) bytes a copy too, when the padding is 1 and x is aligned:
 * a staged row then holds value j at j + 3, so that iw = 0 lands on a
 * 16-byte boundary, and the chains read x through a window of three float4s
 * (SH = 3 in rows_chains). Tiles are 8 rows of 28 or 16 of 14. Measured
 * (H200, dw + db, batch 128): 1 -> 32 on 28x28 544 -> 333 us (two staging
 * warps copying x a float at a time: 369 us, one: 483 us), 32 -> 64 on
 * 14x14 175 -> 111 us; on rows of 7 it was slower, so it refuses them. Each
 * chain step of 1 -> 32 takes about 6.5 cycles (ncu: 57 % of the chain
 * warp's cycles issue, the rest waiting on the fma before and on shared
 * reads), against the fma's 4.
 *
 * wrows8x4ws1, for layers with few chains: the same blocks with one chain
 * a thread, three blocks (one for each kw) staging the same tiles. A step
 * is then one fma, and the chain warp reads the next row into registers
 * while this row's fmas run (rows_chains::tile_ahead), so it waits mostly
 * on the fma before: 1 -> 32 on 28x28 334 -> 275 us (tiles of 16 rows).
 * ncu's source counters, the chain warp's code alone: 54 % of its samples
 * wait on the fma before, 34 % issue, 7 % wait for shared reads, 1 % at
 * the barrier; 1.53 instructions a step (one fma, 0.53 float4 reads), so
 * about 4.5 cycles a step against the fma's 4. The staging warp waits at
 * the empty barrier (41 % of its samples): it runs ahead. */
#include <cstddef>
#include <cstdint>

#include "ops/cuda/conv2d_args.cuh"
#include "ops/cuda/cp_async.cuh"

namespace {

typedef repro_conv_wgrad_args wgrad_args;

constexpr int round4(int v)
{
    return (v + 3) / 4 * 4;
}

/* 4 x an odd number, at least v: rows this far apart put the float4 reads
 * of 8 rows in 8 different bank quads. */
constexpr int odd_quad_at_least(int v)
{
    return 4 * ((v + 3) / 4 + ((v + 3) / 4 % 2 == 0));
}

template <int BO, int BC, int OW, int R, int DQ, int XQ>
struct rows_layout {
    static constexpr int XW = OW + 2;                                    /* x values a row */
    static constexpr int SH = XQ > 1 ? 3 : 0;                            /* where x value j sits: j + SH */
    static constexpr int FULL = OW / 4 * 4;                              /* steps in whole float4s */
    static constexpr int READ = SH + 5 >= 8 ? FULL + 8 : FULL + 4;      /* the float4 reads' end */
    static constexpr int LD = round4(SH + XW > READ ? SH + XW : READ);  /* floats between rows */
    static constexpr int SO = odd_quad_at_least(R * LD);                 /* between channels' / groups' rows */
    static constexpr int XOFF = BO * SO;                                 /* the x rows in a stage */
    static constexpr int STAGE = (BO + BC) * SO;                         /* floats a stage */
    static constexpr int DYC = BO * OW / DQ;                             /* dy copies a row, DQ floats each */
    static constexpr int XC = XQ > 1 ? BC * OW / XQ : BC * XW;           /* x copies (or fixed values) a row */
    static_assert(OW % DQ == 0 && OW % XQ == 0, "a copy stays in its row");
};

/* The staging of one thread among the NP that stage a block's tiles: its
 * copies, and the next tile to load. */
template <int BO, int BC, int OW, int R, int S, int DQ, int XQ, int NP>
struct rows_stager {
    typedef rows_layout<BO, BC, OW, R, DQ, XQ> L;
    static constexpr int NDY = (L::DYC + NP - 1) / NP; /* dy copies this thread makes a row */
    static constexpr int NX = (L::XC + NP - 1) / NP;   /* x copies */

    /* This thread's copies: destination in a stage's row 0, in bytes (-1: nothing to copy, the
     * value is written once, here), and source in the first row of image 0 (an x source is the
     * input row kh - ph, channel ci, iw = 0); a row adds one offset to every source. For x,
     * xk is the input row's offset kh - ph, to zero-fill rows off the image. */
    int dyd[NDY], xd[NX], xk[NX];
    const float *dys[NDY], *xs[NX];
    /* the next tile to load: its first row q = n*OH + oh */
    int Q, qn, n, oh;
    unsigned sbase;
    int H, W, OH, dy_n, x_n;

    /* pt: this thread among the NP; the block's channels from o0 and column groups from cg0 */
    __device__ __forceinline__ rows_stager(const wgrad_args &a, float *sm, int pt, int g, int o0, int cg0, int CG,
                                           int bias_group)
        : Q(a.N * a.OH), qn(0), n(0), oh(0), sbase(repro_shared_addr(sm)), H(a.H), W(a.W), OH(a.OH),
          dy_n(a.dy_n), x_n(a.x_n)
    {
        constexpr int LD = L::LD, XW = L::XW;
        const int KH = a.KHW / 3;
#pragma unroll
        for (int i = 0; i < NDY; i++) {
            const int e = pt + i * NP, ol = e / (OW / DQ), ow = (e - ol * (OW / DQ)) * DQ, o = o0 + ol;
            dyd[i] = -1;
            dys[i] = a.dy;
            if (e >= L::DYC)
                continue;
            if (o < a.Og) {
                dyd[i] = (ol * L::SO + ow) * 4;
                dys[i] = a.dy + ((g * a.Og + o) * a.P + ow);
            } else {
#pragma unroll
                for (int st = 0; st < S; st++)
#pragma unroll
                    for (int r = 0; r < R; r++)
#pragma unroll
                        for (int q = 0; q < DQ; q++)
                            sm[st * L::STAGE + r * LD + ol * L::SO + ow + q] = 0.0f;
            }
        }
        /* x values that are the same in every row: the bias group's 1.0f, +0.0f off the image's
         * columns or past the groups */
#pragma unroll 1
        for (int e = pt; e < BC * XW; e += NP) {
            const int cl = e / XW, j = e - cl * XW, cg = cg0 + cl, iw = j - a.pad_w;
            if (cg != bias_group && cg < CG && iw >= 0 && iw < a.W)
                continue;
            const float fixed = cg == bias_group ? 1.0f : 0.0f;
            for (int st = 0; st < S; st++)
                for (int r = 0; r < R; r++)
                    sm[st * L::STAGE + r * LD + L::XOFF + cl * L::SO + j + L::SH] = fixed;
        }
        /* copies of XQ values iw .. iw + XQ - 1 (with XQ > 1, the padding is 1 and W == OW) */
#pragma unroll
        for (int i = 0; i < NX; i++) {
            const int e = pt + i * NP;
            int cl, iw;
            if (XQ > 1) {
                cl = e / (OW / XQ);
                iw = (e - cl * (OW / XQ)) * XQ;
            } else {
                cl = e / XW;
                iw = e - cl * XW - a.pad_w;
            }
            const int cg = cg0 + cl;
            xd[i] = -1;
            xk[i] = 0;
            xs[i] = a.x;
            if (e < L::XC && cg != bias_group && cg < CG && iw >= 0 && iw < a.W) {
                const int ci = cg / KH, kh = cg - ci * KH;
                xd[i] = (L::XOFF + cl * L::SO + iw + a.pad_w + L::SH) * 4;
                xk[i] = kh - a.pad_h;
                xs[i] = a.x + ((g * a.Cg + ci) * a.HW + xk[i] * a.W + iw);
            }
        }
    }

    /* Start the copies of the next tile into stage st (its rows past the chain's end: none). */
    __device__ __forceinline__ void issue(int st)
    {
        int hr = oh;
        ptrdiff_t dyo = (ptrdiff_t)n * dy_n + oh * OW, xo = (ptrdiff_t)n * x_n + oh * W; /* the row's offsets */
#pragma unroll
        for (int r = 0; r < R; r++) {
            if (qn + r >= Q)
                break;
            const unsigned base = sbase + (unsigned)(st * L::STAGE + r * L::LD) * 4u;
#pragma unroll
            for (int i = 0; i < NDY; i++)
                if (dyd[i] >= 0)
                    repro_cp_async_at<4 * DQ>(base + (unsigned)dyd[i], dys[i] + dyo);
#pragma unroll
            for (int i = 0; i < NX; i++)
                if (xd[i] >= 0) /* off the image's rows: +0.0f */
                    repro_cp_async_at_or_zero<4 * XQ>(base + (unsigned)xd[i], xs[i] + xo,
                                                      (unsigned)(hr + xk[i]) < (unsigned)H);
            /* the next row: the next image's first when this one ends */
            dyo += OW;
            xo += W;
            if (++hr == OH) {
                hr = 0;
                dyo += dy_n - OH * OW;
                xo += x_n - OH * W;
            }
        }
        qn += R;
        oh += R;
        while (oh >= OH) {
            oh -= OH;
            n++;
        }
    }
};

/* The three chains kw = 0, 1, 2 of one (o, ci, kh) (KW = -1), or only
 * chain KW (0, 1 or 2, in acc0); or db's chain (in acc0) when the thread's
 * column group is the bias (live with KW = -1 or 0 only). A staged x row
 * holds value j (iw = j - pw) at j + SH. */
template <int OW, int SH, int KW = -1>
struct rows_chains {
    static constexpr int FULL = OW / 4 * 4;
    static constexpr bool THIRD = SH + 5 >= 8; /* step c + 3, kw = 2 reads past the second float4 */
    static constexpr int K0 = KW < 0 ? 0 : KW;  /* the kw of acc0 */
    float acc0, acc1, acc2;
    int widx;
    bool live, bias;

    /* The chains start at the gradients' current values. */
    __device__ __forceinline__ rows_chains(const wgrad_args &a, int g, int o, int cg, int CG, int bias_group)
        : acc0(0.0f), acc1(0.0f), acc2(0.0f), widx(0), live(o < a.Og && cg < CG && (cg != bias_group || K0 == 0)),
          bias(cg == bias_group)
    {
        if (live && !bias) {
            const int KH = a.KHW / 3, ci = cg / KH, kh = cg - ci * KH;
            widx = ((g * a.Og + o) * a.Cg + ci) * a.KHW + kh * 3 + K0;
            acc0 = a.dw[widx];
            if (KW < 0) {
                acc1 = a.dw[widx + 1];
                acc2 = a.dw[widx + 2];
            }
        } else if (live) {
            widx = g * a.Og + o;
            acc0 = a.db[widx];
        }
    }

    /* Step ow of the chains: d = dy[ow], x = the staged row (value ow + kw at ow + kw + SH). */
    __device__ __forceinline__ void step(float d, float x0, float x1, float x2)
    {
        acc0 = fmaf(d, KW == 1 ? x1 : KW == 2 ? x2 : x0, acc0);
        if (KW < 0) {
            acc1 = fmaf(d, x1, acc1);
            acc2 = fmaf(d, x2, acc2);
        }
    }

    /* One staged row: its OW steps of the chains. Step ow, chain kw reads x value
     * ow + kw, at ow + kw + SH: a window of two float4s (three when SH = 3) slides along. */
    __device__ __forceinline__ void row(const float *dr, const float *xr)
    {
        /* The float4 each group of 4 steps adds is read at the group's top.
         * (Rows of 7 in the kernel without a staging warp take 87 us for
         * 64 -> 64 where commit a4e5efa took 69.5, with the same instructions
         * scheduled differently by ptxas; reading here or at the bottom of the
         * group before made no difference. docs/cuda.md.) */
        float4 xa = *reinterpret_cast<const float4 *>(xr);
        float4 xb = THIRD ? *reinterpret_cast<const float4 *>(xr + 4) : xa;
#pragma unroll
        for (int c = 0; c < FULL; c += 4) {
            const float4 d = *reinterpret_cast<const float4 *>(dr + c);
            if (!THIRD)
                xb = *reinterpret_cast<const float4 *>(xr + c + 4);
            const float4 xc = THIRD ? *reinterpret_cast<const float4 *>(xr + c + 8) : xb;
            const float w[12] = {xa.x, xa.y, xa.z, xa.w, xb.x, xb.y, xb.z, xb.w, xc.x, xc.y, xc.z, xc.w};
            const float dv[4] = {d.x, d.y, d.z, d.w};
#pragma unroll
            for (int k = 0; k < 4; k++) /* step ow = c + k */
                step(dv[k], w[SH + k], w[SH + k + 1], w[SH + k + 2]);
            xa = xb;
            if (THIRD)
                xb = xc;
        }
#pragma unroll
        for (int c = FULL; c < OW; c++) /* the row's last OW % 4 steps */
            step(dr[c], xr[c + SH], xr[c + SH + 1], xr[c + SH + 2]);
    }

    /* A staged tile of `rows` rows, LD floats apart; R of them in straight
     * code, the next row's reads free to start early. */
    template <int R, int LD>
    __device__ __forceinline__ void tile(const float *dyp, const float *xp, int rows)
    {
        if (rows == R) {
#pragma unroll
            for (int r = 0; r < R; r++)
                row(dyp + r * LD, xp + r * LD);
        } else {
#pragma unroll 1
            for (int r = 0; r < rows; r++)
                row(dyp + r * LD, xp + r * LD);
        }
    }

    /* The same tile with the next row's reads issued before this row's
     * steps: a row's dy and x values go into registers as float4s (ND and
     * NXQ of them, a few floats past the row's end, inside its pitch), and
     * row r + 1's are in flight while row r's fmas run. For a warp alone on
     * its scheduler, whose chains would otherwise wait for every read. */
    static constexpr int ND = (OW + 3) / 4, NXQ = (OW + 1 + SH) / 4 + 1;

    __device__ __forceinline__ static void load_row(float4 (&d)[ND], float4 (&x)[NXQ], const float *dr,
                                                    const float *xr)
    {
#pragma unroll
        for (int i = 0; i < ND; i++)
            d[i] = *reinterpret_cast<const float4 *>(dr + 4 * i);
#pragma unroll
        for (int i = 0; i < NXQ; i++)
            x[i] = *reinterpret_cast<const float4 *>(xr + 4 * i);
    }

    /* float j of a row held as float4s (j a constant once unrolled) */
    template <int N>
    __device__ __forceinline__ static float at(const float4 (&v)[N], int j)
    {
        const float4 &q = v[j / 4];
        return j % 4 == 0 ? q.x : j % 4 == 1 ? q.y : j % 4 == 2 ? q.z : q.w;
    }

    __device__ __forceinline__ void row_of(const float4 (&d)[ND], const float4 (&x)[NXQ])
    {
#pragma unroll
        for (int ow = 0; ow < OW; ow++)
            step(at(d, ow), at(x, ow + SH), at(x, ow + SH + 1), at(x, ow + SH + 2));
    }

    template <int R, int LD>
    __device__ __forceinline__ void tile_ahead(const float *dyp, const float *xp, int rows)
    {
        static_assert(4 * ND <= LD && 4 * NXQ <= LD, "a row's float4 reads stay in its pitch");
        if (rows != R) {
            tile<R, LD>(dyp, xp, rows);
            return;
        }
        float4 d[2][ND], x[2][NXQ];
        load_row(d[0], x[0], dyp, xp);
#pragma unroll
        for (int r = 0; r < R; r++) {
            if (r + 1 < R)
                load_row(d[(r + 1) & 1], x[(r + 1) & 1], dyp + (r + 1) * LD, xp + (r + 1) * LD);
            row_of(d[r & 1], x[r & 1]);
        }
    }

    __device__ __forceinline__ void store(const wgrad_args &a) const
    {
        if (!live)
            return;
        if (bias) {
            a.db[widx] = acc0;
            return;
        }
        a.dw[widx] = acc0;
        if (KW < 0) {
            a.dw[widx + 1] = acc1;
            a.dw[widx + 2] = acc2;
        }
    }
};

/* Every thread stages and runs chains. */
template <int BO, int BC, int OW, int R, int S, int DQ>
__global__ void __launch_bounds__(BO * BC) wgrad_rows_kernel(wgrad_args a, int CG, int bias_group)
{
    typedef rows_layout<BO, BC, OW, R, DQ, 1> L;
    constexpr int NT = BO * BC;
    extern __shared__ __align__(16) float sm[];

    const int tid = threadIdx.x, g = blockIdx.z;
    const int cg0 = blockIdx.x * BC, o0 = blockIdx.y * BO;
    rows_stager<BO, BC, OW, R, S, DQ, 1, NT> stage(a, sm, tid, g, o0, cg0, CG, bias_group);
    const int ol = tid / BC, cl = tid - ol * BC;
    rows_chains<OW, L::SH> ch(a, g, o0 + ol, cg0 + cl, CG, bias_group);
    const int Q = a.N * a.OH, tiles = (Q + R - 1) / R;

    /* The ring, as in conv2d_wgrad.cu: tile t is consumed from stage t % S. */
#pragma unroll 1
    for (int st = 0; st < S - 1; st++) {
        if (st < tiles)
            stage.issue(st);
        repro_cp_async_commit();
    }
    int cur = 0, nxt = S - 1;
#pragma unroll 1
    for (int t = 0; t < tiles; t++) {
        repro_cp_async_wait<S - 2>();
        __syncthreads();
        if (t + S - 1 < tiles)
            stage.issue(nxt);
        repro_cp_async_commit();
        const float *dyp = sm + cur * L::STAGE + ol * L::SO;
        const float *xp = sm + cur * L::STAGE + L::XOFF + cl * L::SO;
        ch.template tile<R, L::LD>(dyp, xp, Q - t * R < R ? Q - t * R : R);
        cur = cur + 1 == S ? 0 : cur + 1;
        nxt = nxt + 1 == S ? 0 : nxt + 1;
    }
    ch.store(a);
}

/* Named barriers of the warp-specialised kernel: stage s is full (its
 * copies landed) at barrier 1 + s, empty (its tile consumed) at 1 + S + s.
 * barrier.cta.arrive orders the arriving thread's earlier memory accesses
 * before the waiting threads' later ones (PTX memory model: an arrive
 * synchronizes with the sync that completes the barrier). */
__device__ __forceinline__ void named_sync(int id, int threads)
{
    asm volatile("barrier.cta.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

__device__ __forceinline__ void named_arrive(int id, int threads)
{
    asm volatile("barrier.cta.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

/* The chain warp's part of the warp-specialised kernel below: consume the
 * tiles as the staging warp fills them, then store the chains. */
template <int BO, int BC, int OW, int R, int S, int DQ, int XQ, int KW>
__device__ __forceinline__ void run_chain_warp(const wgrad_args &a, const float *sm, int all, int g, int o, int cg,
                                               int CG, int bias_group, int ol, int cl)
{
    typedef rows_layout<BO, BC, OW, R, DQ, XQ> L;
    const int Q = a.N * a.OH, tiles = (Q + R - 1) / R;
    rows_chains<OW, L::SH, KW> ch(a, g, o, cg, CG, bias_group);
#pragma unroll 1
    for (int t = 0; t < tiles; t++) {
        const int cur = t % S;
        named_sync(1 + cur, all);
        const float *dyp = sm + cur * L::STAGE + ol * L::SO;
        const float *xp = sm + cur * L::STAGE + L::XOFF + cl * L::SO;
        if (KW < 0) /* three chains a thread: enough fmas to cover the reads */
            ch.template tile<R, L::LD>(dyp, xp, Q - t * R < R ? Q - t * R : R);
        else
            ch.template tile_ahead<R, L::LD>(dyp, xp, Q - t * R < R ? Q - t * R : R);
        if (t + S < tiles) /* the staging warp refills this stage */
            named_arrive(1 + S + cur, all);
    }
    ch.store(a);
}

/* Warp-specialised: BO*BC threads run chains and never stage; NP more (one
 * warp; with x copied 16 bytes a copy, two warps and tiles of 4 rows were
 * slower on 1 -> 32: 395 against 333 us) stage every tile. A chain warp's
 * scheduler issues its fmas and shared reads only, and the block can be one
 * chain warp, so a layer with few chains spreads over many multiprocessors
 * (each one's shared-memory pipe serving one or two chain warps). The
 * staging warp keeps S - 1 tiles in flight: it refills a stage once its
 * tile is consumed (the empty barrier) and, when a tile's copies have
 * landed, says so (the full barrier).
 *
 * KS = 3: a thread runs the three chains kw = 0, 1, 2 of its (o, ci, kh).
 * KS = 1: one chain, kw = blockIdx.x % 3: three blocks stage the same
 * tiles, one for each kw. A step then costs a thread one fma and a quarter
 * of each float4 read instead of three fmas, so where the chains are few
 * (a warp alone on its scheduler) the step comes down toward the fma's
 * latency. */
template <int BO, int BC, int OW, int R, int S, int DQ, int XQ, int NP, int KS>
__global__ void __launch_bounds__(BO * BC + NP) wgrad_rows_ws_kernel(wgrad_args a, int CG, int bias_group)
{
    typedef rows_layout<BO, BC, OW, R, DQ, XQ> L;
    constexpr int NT = BO * BC, ALL = NT + NP;
    static_assert(NT % 32 == 0 && NP % 32 == 0 && 1 + 2 * S <= 16, "whole warps; 16 named barriers a block");
    static_assert(KS == 1 || KS == 3, "one chain a thread, or three");
    extern __shared__ __align__(16) float sm[];

    const int tid = threadIdx.x, g = blockIdx.z;
    const int cgb = KS == 3 ? (int)blockIdx.x : (int)blockIdx.x / 3, kw = KS == 3 ? -1 : (int)blockIdx.x % 3;
    const int cg0 = cgb * BC, o0 = blockIdx.y * BO;
    const int Q = a.N * a.OH, tiles = (Q + R - 1) / R;

    if (tid >= NT) { /* the staging warp */
        rows_stager<BO, BC, OW, R, S, DQ, XQ, NP> stage(a, sm, tid - NT, g, o0, cg0, CG, bias_group);
#pragma unroll 1
        for (int t = 0; t < tiles + S - 1; t++) {
            /* First say tile k = t - (S - 1) is full (the groups of tiles t - S + 2 .. t - 1 may
             * still fly), so that its chains start while this warp waits for a stage to refill. */
            const int k = t - (S - 1);
            if (k >= 0) {
                repro_cp_async_wait<S - 2>();
                named_arrive(1 + k % S, ALL);
            }
            if (t < tiles) {
                if (t >= S)
                    named_sync(1 + S + t % S, ALL); /* tile t - S consumed */
                stage.issue(t % S);
            }
            repro_cp_async_commit();
        }
        return;
    }

    const int ol = tid / BC, cl = tid - ol * BC, o = o0 + ol, cg = cg0 + cl;
    if constexpr (KS == 3) {
        run_chain_warp<BO, BC, OW, R, S, DQ, XQ, -1>(a, sm, ALL, g, o, cg, CG, bias_group, ol, cl);
    } else {
        switch (kw) { /* the same for the whole block */
        case 0: run_chain_warp<BO, BC, OW, R, S, DQ, XQ, 0>(a, sm, ALL, g, o, cg, CG, bias_group, ol, cl); break;
        case 1: run_chain_warp<BO, BC, OW, R, S, DQ, XQ, 1>(a, sm, ALL, g, o, cg, CG, bias_group, ol, cl); break;
        default: run_chain_warp<BO, BC, OW, R, S, DQ, XQ, 2>(a, sm, ALL, g, o, cg, CG, bias_group, ol, cl);
        }
    }
}

/* Column groups: Cg*KH with dw, and the bias group last with db. */
int groups_of(const wgrad_args &a, int *bias_group)
{
    const int KH = a.KHW / 3, dwg = a.taps ? a.Cg * KH : 0;
    *bias_group = a.cols > a.taps ? dwg : -1;
    return dwg + (a.cols > a.taps ? 1 : 0);
}

/* R rows a tile and S stages, by width (measured on the H200, docs/cuda.md).
 * Every thread staging: 16 rows (24 of 7) in 3 stages. With a staging warp,
 * S - 1 tiles are in flight while one is consumed, in 4 stages: rows of 28
 * in tiles of 8 (16 with one chain a thread: 282 -> 275 us for 1 -> 32;
 * 6 stages of 8 rows gave 280), rows of 14 in tiles of 16. */
template <int OW, bool WS, int KS>
struct rows_of {
    static constexpr int R = !WS ? (OW <= 7 ? 24 : 16) : (OW == 28 && KS == 3 ? 8 : 16);
    static constexpr int S = WS ? 4 : 3, NP = 32;
};

template <int BO, int BC, int OW, int DQ, int XQ, bool WS, int KS>
void launch_wq(const wgrad_args &a, cudaStream_t s)
{
    constexpr int R = rows_of<OW, WS, KS>::R, S = rows_of<OW, WS, KS>::S, NP = rows_of<OW, WS, KS>::NP;
    typedef rows_layout<BO, BC, OW, R, DQ, XQ> L;
    int bias_group;
    const int CG = groups_of(a, &bias_group);
    const size_t smem = (size_t)S * L::STAGE * sizeof(float);
    static_assert(S * L::STAGE * 4 <= 227 * 1024, "shared memory a block (sm_90)");
    void (*kernel)(wgrad_args, int, int) =
        WS ? wgrad_rows_ws_kernel<BO, BC, OW, R, S, DQ, XQ, NP, KS> : wgrad_rows_kernel<BO, BC, OW, R, S, DQ>;
    /* past 48 KiB a kernel must ask, on each device it runs on; a failure
     * shows as the launch's error */
    cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    dim3 grid((unsigned)((CG + BC - 1) / BC * (KS == 1 ? 3 : 1)), (unsigned)((a.Og + BO - 1) / BO),
              (unsigned)a.groups);
    kernel<<<grid, BO * BC + (WS ? NP : 0), smem, s>>>(a, CG, bias_group);
}

/* dy's rows are copied DQ floats at a time: 4 (16 bytes) when rows of a
 * multiple of 4 floats start 16-byte aligned, 2 for even rows on 8 bytes,
 * else 1. With staging warps, x's rows too when the padding is 1 (the
 * staged row then starts 3 floats before the 16-byte boundary where iw = 0
 * lands) and x is as aligned; else x is copied a float at a time. */
template <int BO, int BC, int OW, int DQ, bool WS, int KS>
void launch_dq(const wgrad_args &a, cudaStream_t s)
{
    if (WS && DQ > 1 && a.pad_w == 1 && (uintptr_t)a.x % (4 * DQ) == 0)
        launch_wq<BO, BC, OW, DQ, WS ? DQ : 1, WS, KS>(a, s);
    else
        launch_wq<BO, BC, OW, DQ, 1, WS, KS>(a, s);
}

template <int BO, int BC, int OW, bool WS, int KS>
void launch_w(const wgrad_args &a, cudaStream_t s)
{
    const uintptr_t at = (uintptr_t)a.dy;
    if (OW % 4 == 0 && at % 16 == 0)
        launch_dq<BO, BC, OW, OW % 4 == 0 ? 4 : 1, WS, KS>(a, s);
    else if (OW % 2 == 0 && at % 8 == 0)
        launch_dq<BO, BC, OW, OW % 2 == 0 ? 2 : 1, WS, KS>(a, s);
    else
        launch_dq<BO, BC, OW, 1, WS, KS>(a, s);
}

/* KS: chains a thread (3, or 1 with staging warps) */
template <int BO, int BC, bool WS = false, int KS = 3>
bool launch(const wgrad_args &a, cudaStream_t s)
{
    switch (a.OW) {
    case 7: /* staging warps: slower there (can_ws) */
        if (WS)
            return false;
        launch_w<BO, BC, 7, false, 3>(a, s);
        return true;
    case 14: launch_w<BO, BC, 14, WS, KS>(a, s); return true;
    case 28: launch_w<BO, BC, 28, WS, KS>(a, s); return true;
    default: return false;
    }
}

bool can(const wgrad_args &a)
{
    return a.KW == 3 && a.stride_h == 1 && a.stride_w == 1 && a.dil_h == 1 && a.dil_w == 1 && a.cols > 0 &&
           (a.OW == 7 || a.OW == 14 || a.OW == 28);
}

} // namespace

int repro_conv_wgrad_rows_can(repro_cuda_conv_tiling tiling, const wgrad_args &a)
{
    if (tiling == REPRO_CUDA_CONV_WROWS8X4WS || tiling == REPRO_CUDA_CONV_WROWS8X4WS1)
        return can(a) && a.OW != 7;
    return (tiling == REPRO_CUDA_CONV_WROWS16X8 || tiling == REPRO_CUDA_CONV_WROWS16X4) && can(a);
}

int repro_conv_wgrad_rows_launch(repro_cuda_conv_tiling tiling, const wgrad_args &a, cudaStream_t s)
{
    switch (tiling) {
    case REPRO_CUDA_CONV_WROWS16X8: return launch<16, 8>(a, s);
    case REPRO_CUDA_CONV_WROWS16X4: return launch<16, 4>(a, s);
    case REPRO_CUDA_CONV_WROWS8X4WS: return launch<8, 4, true, 3>(a, s);
    case REPRO_CUDA_CONV_WROWS8X4WS1: return launch<8, 4, true, 1>(a, s);
    default: return 0;
    }
}
