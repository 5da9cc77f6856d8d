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
 * are written into every stage once. */
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

template <int BO, int BC, int OW, int R, int DQ>
struct rows_layout {
    static constexpr int NT = BO * BC;
    static constexpr int XW = OW + 2;                                    /* x values a row */
    static constexpr int FULL = OW / 4 * 4;                              /* steps in whole float4s */
    static constexpr int LD = round4(XW > FULL + 4 ? XW : FULL + 4);     /* floats between rows */
    static constexpr int SO = odd_quad_at_least(R * LD);                 /* between channels' / groups' rows */
    static constexpr int XOFF = BO * SO;                                 /* the x rows in a stage */
    static constexpr int STAGE = (BO + BC) * SO;                         /* floats a stage */
    static constexpr int DYC = BO * OW / DQ;                             /* dy copies a row, DQ floats each */
    static constexpr int NDY = (DYC + NT - 1) / NT;                      /* dy copies a thread makes a row */
    static constexpr int NX = (BC * XW + NT - 1) / NT;                   /* x values */
    static_assert(OW % DQ == 0, "a dy copy stays in its row");
};

template <int BO, int BC, int OW, int R, int S, int DQ>
__global__ void __launch_bounds__(BO * BC) wgrad_rows_kernel(wgrad_args a, int CG, int bias_group)
{
    typedef rows_layout<BO, BC, OW, R, DQ> L;
    constexpr int NT = L::NT, LD = L::LD, XW = L::XW;
    extern __shared__ __align__(16) float sm[];

    const int tid = threadIdx.x, g = blockIdx.z;
    const int cg0 = blockIdx.x * BC, o0 = blockIdx.y * BO;
    const int KH = a.KHW / 3;

    /* This thread's copies: destination in a stage's row 0, in bytes (-1: nothing to copy, the
     * value is written once, here), and source in the first row of image 0 (an x source is the
     * input row kh - ph, channel ci, iw = 0); a row adds one offset to every source. For x,
     * xk is the input row's offset kh - ph, to zero-fill rows off the image. */
    int dyd[L::NDY], xd[L::NX], xk[L::NX];
    const float *dys[L::NDY], *xs[L::NX];
#pragma unroll
    for (int i = 0; i < L::NDY; i++) {
        const int e = tid + i * NT, ol = e / (OW / DQ), ow = (e - ol * (OW / DQ)) * DQ, o = o0 + ol;
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
#pragma unroll
    for (int i = 0; i < L::NX; i++) {
        const int e = tid + i * NT, cl = e / XW, j = e - cl * XW, cg = cg0 + cl, iw = j - a.pad_w;
        xd[i] = -1;
        xk[i] = 0;
        xs[i] = a.x;
        if (e >= BC * XW)
            continue;
        const int d = L::XOFF + cl * L::SO + j;
        if (cg != bias_group && cg < CG && iw >= 0 && iw < a.W) {
            const int ci = cg / KH, kh = cg - ci * KH;
            xd[i] = d * 4;
            xk[i] = kh - a.pad_h;
            xs[i] = a.x + ((g * a.Cg + ci) * a.HW + xk[i] * a.W + iw);
            continue;
        }
        const float fixed = cg == bias_group ? 1.0f : 0.0f; /* the bias group, or off the image or the groups */
#pragma unroll
        for (int st = 0; st < S; st++)
#pragma unroll
            for (int r = 0; r < R; r++)
                sm[st * L::STAGE + r * LD + d] = fixed;
    }

    /* The next tile to load: its first row q = n*OH + oh. */
    const int Q = a.N * a.OH, tiles = (Q + R - 1) / R;
    int qn = 0, n = 0, oh = 0;
    const unsigned sbase = repro_shared_addr(sm);
    const int H = a.H, W = a.W, OH = a.OH, dy_n = a.dy_n, x_n = a.x_n;
    auto issue = [&](int st) {
        int hr = oh;
        ptrdiff_t dyo = (ptrdiff_t)n * dy_n + oh * OW, xo = (ptrdiff_t)n * x_n + oh * W; /* the row's offsets */
#pragma unroll
        for (int r = 0; r < R; r++) {
            if (qn + r >= Q)
                break;
            const unsigned base = sbase + (unsigned)(st * L::STAGE + r * LD) * 4u;
#pragma unroll
            for (int i = 0; i < L::NDY; i++)
                if (dyd[i] >= 0)
                    repro_cp_async_at<4 * DQ>(base + (unsigned)dyd[i], dys[i] + dyo);
#pragma unroll
            for (int i = 0; i < L::NX; i++)
                if (xd[i] >= 0) /* off the image's rows: +0.0f */
                    repro_cp_async4_at_or_zero(base + (unsigned)xd[i], xs[i] + xo,
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
    };

    /* The three chains of this thread start at the gradients' current values. */
    const int ol = tid / BC, cl = tid - ol * BC, o = o0 + ol, cg = cg0 + cl;
    const bool live = o < a.Og && cg < CG;
    float acc0 = 0.0f, acc1 = 0.0f, acc2 = 0.0f;
    int widx = 0;
    if (live && cg != bias_group) {
        const int ci = cg / KH, kh = cg - ci * KH;
        widx = ((g * a.Og + o) * a.Cg + ci) * a.KHW + kh * 3;
        acc0 = a.dw[widx];
        acc1 = a.dw[widx + 1];
        acc2 = a.dw[widx + 2];
    } else if (live) {
        acc0 = a.db[g * a.Og + o];
    }

    /* One staged row: its OW steps of the three chains. */
    auto row = [&](const float *dr, const float *xr) {
        float4 xa = *reinterpret_cast<const float4 *>(xr);
#pragma unroll
        for (int c = 0; c < L::FULL; c += 4) {
            const float4 d = *reinterpret_cast<const float4 *>(dr + c);
            const float4 xb = *reinterpret_cast<const float4 *>(xr + c + 4);
            /* ow = c .. c+3; chain kw reads x[ow + kw] */
            acc0 = fmaf(d.x, xa.x, acc0);
            acc1 = fmaf(d.x, xa.y, acc1);
            acc2 = fmaf(d.x, xa.z, acc2);
            acc0 = fmaf(d.y, xa.y, acc0);
            acc1 = fmaf(d.y, xa.z, acc1);
            acc2 = fmaf(d.y, xa.w, acc2);
            acc0 = fmaf(d.z, xa.z, acc0);
            acc1 = fmaf(d.z, xa.w, acc1);
            acc2 = fmaf(d.z, xb.x, acc2);
            acc0 = fmaf(d.w, xa.w, acc0);
            acc1 = fmaf(d.w, xb.x, acc1);
            acc2 = fmaf(d.w, xb.y, acc2);
            xa = xb;
        }
#pragma unroll
        for (int c = L::FULL; c < OW; c++) { /* the row's last OW % 4 steps */
            const float d = dr[c];
            acc0 = fmaf(d, xr[c], acc0);
            acc1 = fmaf(d, xr[c + 1], acc1);
            acc2 = fmaf(d, xr[c + 2], acc2);
        }
    };

    /* The ring, as in conv2d_wgrad.cu: tile t is consumed from stage t % S. */
#pragma unroll 1
    for (int st = 0; st < S - 1; st++) {
        if (st < tiles)
            issue(st);
        repro_cp_async_commit();
    }
    int cur = 0, nxt = S - 1;
#pragma unroll 1
    for (int t = 0; t < tiles; t++) {
        repro_cp_async_wait<S - 2>();
        __syncthreads();
        if (t + S - 1 < tiles)
            issue(nxt);
        repro_cp_async_commit();
        const float *dyp = sm + cur * L::STAGE + ol * L::SO;
        const float *xp = sm + cur * L::STAGE + L::XOFF + cl * L::SO;
        if (t * R + R <= Q) { /* a whole tile: straight code, the next row's reads free to start early */
#pragma unroll
            for (int r = 0; r < R; r++)
                row(dyp + r * LD, xp + r * LD);
        } else {
#pragma unroll 1
            for (int r = 0; r < Q - t * R; r++)
                row(dyp + r * LD, xp + r * LD);
        }
        cur = cur + 1 == S ? 0 : cur + 1;
        nxt = nxt + 1 == S ? 0 : nxt + 1;
    }

    if (!live)
        return;
    if (cg != bias_group) {
        a.dw[widx] = acc0;
        a.dw[widx + 1] = acc1;
        a.dw[widx + 2] = acc2;
    } else {
        a.db[g * a.Og + o] = acc0;
    }
}

/* Column groups: Cg*KH with dw, and the bias group last with db. */
int groups_of(const wgrad_args &a, int *bias_group)
{
    const int KH = a.KHW / 3, dwg = a.taps ? a.Cg * KH : 0;
    *bias_group = a.cols > a.taps ? dwg : -1;
    return dwg + (a.cols > a.taps ? 1 : 0);
}

/* R rows a tile (R*OW near 56 steps) and S stages, by width */
template <int OW>
struct rows_of {
    static constexpr int R = OW <= 7 ? 24 : 16, S = 3;
};

template <int BO, int BC, int OW, int DQ>
void launch_wq(const wgrad_args &a, cudaStream_t s)
{
    constexpr int R = rows_of<OW>::R, S = rows_of<OW>::S;
    typedef rows_layout<BO, BC, OW, R, DQ> L;
    int bias_group;
    const int CG = groups_of(a, &bias_group);
    const size_t smem = (size_t)S * L::STAGE * sizeof(float);
    static_assert(S * L::STAGE * 4 <= 227 * 1024, "shared memory a block (sm_90)");
    /* past 48 KiB a kernel must ask, on each device it runs on; a failure
     * shows as the launch's error */
    cudaFuncSetAttribute(wgrad_rows_kernel<BO, BC, OW, R, S, DQ>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                         (int)smem);
    dim3 grid((unsigned)((CG + BC - 1) / BC), (unsigned)((a.Og + BO - 1) / BO), (unsigned)a.groups);
    wgrad_rows_kernel<BO, BC, OW, R, S, DQ><<<grid, BO * BC, smem, s>>>(a, CG, bias_group);
}

/* dy's rows are copied DQ floats at a time: 4 (16 bytes) when rows of a
 * multiple of 4 floats start 16-byte aligned, 2 for even rows on 8 bytes,
 * else 1. (x keeps single floats: its staged row starts pw floats in.) */
template <int BO, int BC, int OW>
void launch_w(const wgrad_args &a, cudaStream_t s)
{
    const uintptr_t at = (uintptr_t)a.dy;
    if (OW % 4 == 0 && at % 16 == 0)
        launch_wq<BO, BC, OW, OW % 4 == 0 ? 4 : 1>(a, s);
    else if (OW % 2 == 0 && at % 8 == 0)
        launch_wq<BO, BC, OW, OW % 2 == 0 ? 2 : 1>(a, s);
    else
        launch_wq<BO, BC, OW, 1>(a, s);
}

template <int BO, int BC>
bool launch(const wgrad_args &a, cudaStream_t s)
{
    switch (a.OW) {
    case 7: launch_w<BO, BC, 7>(a, s); return true;
    case 14: launch_w<BO, BC, 14>(a, s); return true;
    case 28: launch_w<BO, BC, 28>(a, s); return true;
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
    return (tiling == REPRO_CUDA_CONV_WROWS16X8 || tiling == REPRO_CUDA_CONV_WROWS16X4) && can(a);
}

int repro_conv_wgrad_rows_launch(repro_cuda_conv_tiling tiling, const wgrad_args &a, cudaStream_t s)
{
    switch (tiling) {
    case REPRO_CUDA_CONV_WROWS16X8: return launch<16, 8>(a, s);
    case REPRO_CUDA_CONV_WROWS16X4: return launch<16, 4>(a, s);
    default: return 0;
    }
}
