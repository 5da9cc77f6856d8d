/* 2-D convolution on the GPU: the entry points of cuda_conv.h, the shape
 * checks, the choice of kernels, and the direct kernels (one thread an
 * output, int64 indices, any shape) that the tiled kernels of
 * conv2d_igemm.cu and conv2d_pixel.cu (forward, dx), conv2d_wgrad.cu and
 * conv2d_wgrad_rows.cu (dw, db) fall back to.
 * Every kernel runs each output's chain in the order written in
 * cuda_conv.h, so every choice gives the same bits. */
#include "ops/cuda/conv2d_args.cuh"

namespace {

typedef repro_conv2d_shape shape;

/* ---- direct kernels: one thread an output, the written loops verbatim ---- */

__global__ void forward_direct(shape s, float *y, const float *x, const float *w, const float *bias)
{
    const int64_t Cg = s.C / s.groups, Og = s.O / s.groups;
    REPRO_CUDA_FOR(idx, s.N * s.O * s.OH * s.OW)
    {
        int64_t t = idx;
        const int64_t ow = t % s.OW;
        t /= s.OW;
        const int64_t oh = t % s.OH;
        t /= s.OH;
        const int64_t o = t % s.O, n = t / s.O, g = o / Og;
        float acc = 0.0f;
        for (int64_t ci = 0; ci < Cg; ci++) {
            const float *xp = x + (n * s.C + g * Cg + ci) * s.H * s.W;
            const float *wp = w + (o * Cg + ci) * s.KH * s.KW;
            for (int64_t kh = 0; kh < s.KH; kh++) {
                const int64_t ih = oh * s.stride_h - s.pad_h + kh * s.dil_h;
                for (int64_t kw = 0; kw < s.KW; kw++) {
                    const int64_t iw = ow * s.stride_w - s.pad_w + kw * s.dil_w;
                    const float xv = (ih >= 0 && ih < s.H && iw >= 0 && iw < s.W) ? xp[ih * s.W + iw] : 0.0f;
                    acc = fmaf(xv, wp[kh * s.KW + kw], acc);
                }
            }
        }
        y[idx] = bias ? acc + bias[o] : acc;
    }
}

/* The output index a tap of dx reads, or -1 when the tap is absent
 * (t < 0, not on the stride, or past the output). */
__device__ __forceinline__ int64_t dx_tap(int64_t t, int64_t stride, int64_t out)
{
    if (t < 0 || t % stride != 0 || t / stride >= out)
        return -1;
    return t / stride;
}

__global__ void dx_direct(shape s, float *dx, const float *dy, const float *w)
{
    const int64_t Cg = s.C / s.groups, Og = s.O / s.groups;
    REPRO_CUDA_FOR(idx, s.N * s.C * s.H * s.W)
    {
        int64_t t = idx;
        const int64_t iw = t % s.W;
        t /= s.W;
        const int64_t ih = t % s.H;
        t /= s.H;
        const int64_t c = t % s.C, n = t / s.C, g = c / Cg, ci = c % Cg;
        float acc = 0.0f;
        for (int64_t o = g * Og; o < (g + 1) * Og; o++) {
            const float *dyp = dy + (n * s.O + o) * s.OH * s.OW;
            const float *wp = w + (o * Cg + ci) * s.KH * s.KW;
            for (int64_t kh = 0; kh < s.KH; kh++) {
                const int64_t oh = dx_tap(ih + s.pad_h - kh * s.dil_h, s.stride_h, s.OH);
                for (int64_t kw = 0; kw < s.KW; kw++) {
                    const int64_t ow = dx_tap(iw + s.pad_w - kw * s.dil_w, s.stride_w, s.OW);
                    const float dyv = (oh >= 0 && ow >= 0) ? dyp[oh * s.OW + ow] : 0.0f;
                    acc = fmaf(dyv, wp[kh * s.KW + kw], acc);
                }
            }
        }
        dx[idx] = acc;
    }
}

__global__ void dw_direct(shape s, float *dw, const float *dy, const float *x)
{
    const int64_t Cg = s.C / s.groups, Og = s.O / s.groups;
    REPRO_CUDA_FOR(idx, s.O * Cg * s.KH * s.KW)
    {
        int64_t t = idx;
        const int64_t kw = t % s.KW;
        t /= s.KW;
        const int64_t kh = t % s.KH;
        t /= s.KH;
        const int64_t ci = t % Cg, o = t / Cg, c = (o / Og) * Cg + ci;
        float acc = dw[idx];
        for (int64_t n = 0; n < s.N; n++) {
            const float *dyp = dy + (n * s.O + o) * s.OH * s.OW;
            const float *xp = x + (n * s.C + c) * s.H * s.W;
            for (int64_t oh = 0; oh < s.OH; oh++) {
                const int64_t ih = oh * s.stride_h - s.pad_h + kh * s.dil_h;
                for (int64_t ow = 0; ow < s.OW; ow++) {
                    const int64_t iw = ow * s.stride_w - s.pad_w + kw * s.dil_w;
                    const float xv = (ih >= 0 && ih < s.H && iw >= 0 && iw < s.W) ? xp[ih * s.W + iw] : 0.0f;
                    acc = fmaf(dyp[oh * s.OW + ow], xv, acc);
                }
            }
        }
        dw[idx] = acc;
    }
}

__global__ void db_direct(shape s, float *db, const float *dy)
{
    const int64_t P = s.OH * s.OW;
    REPRO_CUDA_FOR(o, s.O)
    {
        float acc = db[o];
        for (int64_t n = 0; n < s.N; n++) {
            const float *dyp = dy + (n * s.O + o) * P;
            for (int64_t p = 0; p < P; p++)
                acc = acc + dyp[p];
        }
        db[o] = acc;
    }
}

/* ---- shapes ---- */

bool mul_ok(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* The element count a*b*c*d, or -1 on int64 overflow. */
int64_t count4(int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t ab, abc, abcd;
    if (!mul_ok(a, b, &ab) || !mul_ok(ab, c, &abc) || !mul_ok(abc, d, &abcd))
        return -1;
    return abcd;
}

/* The shape must be one repro_conv2d_shape_check filled: sizes >= 1,
 * groups dividing C and O, OH/OW as the formula gives. */
repro_status check_shape(const char *what, const shape *s, repro_error *err)
{
    if (!s)
        return repro_fail(err, REPRO_ERR_ARG, "cuda conv2d %s: shape is NULL", what);
    if (s->N < 1 || s->C < 1 || s->H < 1 || s->W < 1 || s->O < 1 || s->KH < 1 || s->KW < 1 || s->stride_h < 1 ||
        s->stride_w < 1 || s->dil_h < 1 || s->dil_w < 1 || s->pad_h < 0 || s->pad_w < 0 || s->groups < 1 ||
        s->C % s->groups != 0 || s->O % s->groups != 0 || s->H > INT32_MAX || s->W > INT32_MAX ||
        s->KH > INT32_MAX || s->KW > INT32_MAX || s->pad_h > INT32_MAX || s->pad_w > INT32_MAX ||
        s->dil_h > INT32_MAX || s->dil_w > INT32_MAX || s->stride_h > INT32_MAX || s->stride_w > INT32_MAX)
        return repro_fail(err, REPRO_ERR_ARG,
                          "cuda conv2d %s: invalid shape N=%lld C=%lld H=%lld W=%lld O=%lld kernel %lldx%lld "
                          "stride %lldx%lld padding %lldx%lld dilation %lldx%lld groups %lld",
                          what, (long long)s->N, (long long)s->C, (long long)s->H, (long long)s->W,
                          (long long)s->O, (long long)s->KH, (long long)s->KW, (long long)s->stride_h,
                          (long long)s->stride_w, (long long)s->pad_h, (long long)s->pad_w, (long long)s->dil_h,
                          (long long)s->dil_w, (long long)s->groups);
    const int64_t eh = s->dil_h * (s->KH - 1) + 1, ew = s->dil_w * (s->KW - 1) + 1;
    const int64_t ph = s->H + 2 * s->pad_h, pw = s->W + 2 * s->pad_w;
    const int64_t oh = ph >= eh ? (ph - eh) / s->stride_h + 1 : 0, ow = pw >= ew ? (pw - ew) / s->stride_w + 1 : 0;
    if (oh < 1 || ow < 1 || s->OH != oh || s->OW != ow)
        return repro_fail(err, REPRO_ERR_ARG,
                          "cuda conv2d %s: output %lldx%lld is not the shape's (%lldx%lld): "
                          "fill it with repro_conv2d_shape_check",
                          what, (long long)s->OH, (long long)s->OW, (long long)oh, (long long)ow);
    if (count4(s->N, s->C, s->H, s->W) < 0 || count4(s->N, s->O, s->OH, s->OW) < 0 ||
        count4(s->O, s->C / s->groups, s->KH, s->KW) < 0)
        return repro_fail(err, REPRO_ERR_ARG, "cuda conv2d %s: an element count overflows int64", what);
    return REPRO_OK;
}

/* The tiled kernels index with int32: every tensor under 2^31 elements,
 * the chain of dw too, and at most 65535 groups (the grid's z). */
bool fits_tiles(const shape *s)
{
    const int64_t lim = INT32_MAX;
    return count4(s->N, s->C, s->H, s->W) <= lim && count4(s->N, s->O, s->OH, s->OW) <= lim &&
           count4(s->O, s->C / s->groups, s->KH, s->KW) <= lim && s->groups <= 65535;
}

bool is_igemm(repro_cuda_conv_tiling t)
{
    return t == REPRO_CUDA_CONV_128X64 || t == REPRO_CUDA_CONV_64X64 || t == REPRO_CUDA_CONV_128X32 ||
           t == REPRO_CUDA_CONV_64X32;
}

bool is_pixel(repro_cuda_conv_tiling t)
{
    return t == REPRO_CUDA_CONV_PIXEL || t == REPRO_CUDA_CONV_PIXEL2;
}

bool is_wgrad(repro_cuda_conv_tiling t)
{
    return t == REPRO_CUDA_CONV_W32X32 || t == REPRO_CUDA_CONV_W16X32 || t == REPRO_CUDA_CONV_W16X16 ||
           t == REPRO_CUDA_CONV_W8X16;
}

int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

/* The multiprocessors the choices below are tuned for (H100 / H200 SXM). */
constexpr int64_t SMS = 132;

/* Forward (dx = 0) or dx as an implicit GEMM: rows, columns and chain
 * channels of one group. */
struct gemm_dims {
    int64_t rows, cols, kc;
};

gemm_dims dims_of(const shape *s, int dx)
{
    const int64_t Cg = s->C / s->groups, Og = s->O / s->groups;
    if (dx)
        return {s->N * s->H * s->W, Cg, Og};
    return {s->N * s->OH * s->OW, Og, Cg};
}

repro_conv_igemm_args igemm_args_of(const shape *s, int dx, float *out, const float *src, const float *w,
                                    const float *bias);

/* Whether `t` (a tile or pixel tiling) can run the forward (dx = 0) or dx of s. */
bool igemm_can(repro_cuda_conv_tiling t, const shape *s, int dx)
{
    if (is_pixel(t))
        return fits_tiles(s) && repro_conv_pixel_can(t, igemm_args_of(s, dx, NULL, NULL, NULL, NULL));
    if (!is_igemm(t))
        return false;
    const gemm_dims d = dims_of(s, dx);
    repro_conv_tile_dims td = repro_conv_tiling_dims(t);
    return s->KH * s->KW <= REPRO_CONV_IG_BK && fits_tiles(s) && ceil_div(d.cols, td.bn) <= 65535;
}

repro_conv_wgrad_args wgrad_args_of(const shape *s, float *dw, float *db, const float *dy, const float *x);

bool is_wgrad_rows(repro_cuda_conv_tiling t)
{
    return t == REPRO_CUDA_CONV_WROWS16X8 || t == REPRO_CUDA_CONV_WROWS16X4 || t == REPRO_CUDA_CONV_WROWS8X4WS ||
           t == REPRO_CUDA_CONV_WROWS8X4WS1;
}

/* Whether `t` can run dw (with_dw) and db (with_db) of s. */
bool wgrad_can(repro_cuda_conv_tiling t, const shape *s, int with_dw, int with_db)
{
    if (is_wgrad_rows(t)) {
        float dummy;
        return fits_tiles(s) && s->O / s->groups <= 65535 * 8 &&
               repro_conv_wgrad_rows_can(t, wgrad_args_of(s, with_dw ? &dummy : NULL, with_db ? &dummy : NULL,
                                                           NULL, NULL));
    }
    if (!is_wgrad(t))
        return false;
    repro_conv_tile_dims td = repro_conv_tiling_dims(t);
    return fits_tiles(s) && ceil_div(s->O / s->groups, td.bm) <= 65535;
}

/* A 3x3 kernel: one thread a row (pixel) for the forward up to 128
 * columns and for dx up to 32, as measured on the H200 (test_cuda_conv
 * --bench, batch 128, docs/cuda.md): every forward of bench_layers was
 * faster so (conv1 18.0 -> 7.4 us, 64 -> 64 on 14x14 122 -> 81, 64 -> 128
 * at stride 2 75 -> 67), and dx up to 32 columns (conv1's one column
 * 202 -> 22 us, 16 -> 16 62 -> 26, 32 -> 32 33 -> 30); with 64 columns
 * the tiles were faster at dx (75 against 80 us on 64 -> 64 14x14).
 * Two rows a thread (pixel2) where one row a thread would make at least
 * 98 304 threads (24 warps a multiprocessor) over chains of 8 channels or
 * more: 64 -> 64 on 14x14 98 -> 81 us, conv2 51 -> 43, 16 -> 16 26 -> 23
 * (dx 28 -> 26); with fewer threads (32 -> 32 on 14x14) or conv1's forward
 * (chains of one channel) one row was faster. The 1x1 layer (64 -> 128
 * at stride 2) keeps the tiles: 15.8 us against 19.8 for pixel.
 *
 * Else tiles need a kernel of at most 28 taps and int32 indices; fewer
 * than 8 columns (depthwise) would leave most of a tile idle, and the
 * chains are short there, so the direct kernel serves them. Else the
 * largest tile that still makes two blocks a multiprocessor, 32 columns
 * wide when the group has no more; else the one with the most blocks. */
repro_cuda_conv_tiling auto_igemm(const shape *s, int dx)
{
    const gemm_dims d = dims_of(s, dx);
    if (s->KH * s->KW == 9 && d.cols <= (dx ? 32 : 128) && igemm_can(REPRO_CUDA_CONV_PIXEL, s, dx)) {
        const int64_t threads = d.rows * ceil_div(d.cols, 16) * s->groups;
        return threads >= 98304 && d.kc >= 8 ? REPRO_CUDA_CONV_PIXEL2 : REPRO_CUDA_CONV_PIXEL;
    }
    if (s->KH * s->KW > REPRO_CONV_IG_BK || !fits_tiles(s) || d.cols < 8)
        return REPRO_CUDA_CONV_DIRECT;
    static const repro_cuda_conv_tiling wide[] = {REPRO_CUDA_CONV_128X64, REPRO_CUDA_CONV_64X64,
                                                  REPRO_CUDA_CONV_128X32, REPRO_CUDA_CONV_64X32};
    static const repro_cuda_conv_tiling narrow[] = {REPRO_CUDA_CONV_128X32, REPRO_CUDA_CONV_64X32};
    const repro_cuda_conv_tiling *cand = d.cols > 32 ? wide : narrow;
    const int nc = d.cols > 32 ? 4 : 2;
    repro_cuda_conv_tiling best = cand[nc - 1];
    int64_t best_blocks = -1;
    for (int i = 0; i < nc; i++) {
        repro_conv_tile_dims td = repro_conv_tiling_dims(cand[i]);
        int64_t blocks = ceil_div(d.rows, td.bm) * ceil_div(d.cols, td.bn) * s->groups;
        if (blocks >= 2 * SMS) {
            best = cand[i];
            break;
        }
        if (blocks > best_blocks) {
            best_blocks = blocks;
            best = cand[i];
        }
    }
    return igemm_can(best, s, dx) ? best : REPRO_CUDA_CONV_DIRECT;
}

/* The row kernel's block. On rows of 14 or 28, when the blocks fit in one
 * wave (at most 3 a multiprocessor), a chain warp of 8 channels x 4
 * (ci, kh) groups with its own staging warp (wrows8x4ws): its scheduler
 * issues only the chains' fmas and shared reads, and the layer spreads over
 * more multiprocessors. Measured on the H200 at batch 128 (test_cuda_conv
 * --bench-only, dw + db; docs/cuda.md): 1 -> 32 and 16 -> 16 on 28x28
 * 544 -> 333 us, 32 -> 64 on 14x14 175 -> 111 us, 32 -> 32 174 -> 92 us,
 * 64 -> 64 (392 blocks) 175 -> 152 us; slower on rows of 7 (66 -> 70 us),
 * so the kernel refuses them. Where even three times as many blocks fit
 * one a multiprocessor, one chain a thread and a block per kw
 * (wrows8x4ws1): its chain warp issues one fma a step and reads the next
 * row while it runs, so the step comes near the fma's latency: 1 -> 32
 * and 16 -> 16 on 28x28 (12 and 78 blocks) 334 -> 275 us; with 300 blocks
 * (32 -> 32 on 14x14) it was slower, 92 -> 136 us. Larger layers keep the
 * blocks below, which
 * put more chain warps on a multiprocessor (not measured against it).
 * Else 16 channels x 8 (ci, kh) groups (4 warps, every thread staging) runs
 * the most chain steps a cycle on one multiprocessor, but a layer with few
 * chains gets few such blocks. On rows of 7 or 14, when they would leave
 * more than half of the multiprocessors idle and 16 x 4 blocks (2 warps)
 * are more of them, those win: 32 -> 64 on 14x14, 52 blocks of 16 x 8 or
 * 100 of 16 x 4, 190 -> 156 us; but on rows of 28 16 x 4 was slower (16 ->
 * 16: 552 -> 591 us), and so were blocks of one warp (8 x 4) and a thread's
 * one chain in place of three (more, smaller threads) on every layer. */
repro_cuda_conv_tiling auto_wgrad_rows(const shape *s, int with_dw, int with_db)
{
    const int64_t Og = s->O / s->groups;
    const int64_t groups_ck = (with_dw ? (s->C / s->groups) * s->KH : 0) + (with_db ? 1 : 0);
    const int64_t b8x4ws = ceil_div(groups_ck, 4) * ceil_div(Og, 8) * s->groups;
    const int64_t b16x8 = ceil_div(groups_ck, 8) * ceil_div(Og, 16) * s->groups;
    const int64_t b16x4 = ceil_div(groups_ck, 4) * ceil_div(Og, 16) * s->groups;
    if ((s->OW == 14 || s->OW == 28) && 3 * b8x4ws <= SMS &&
        wgrad_can(REPRO_CUDA_CONV_WROWS8X4WS1, s, with_dw, with_db))
        return REPRO_CUDA_CONV_WROWS8X4WS1;
    if ((s->OW == 14 || s->OW == 28) && b8x4ws <= 3 * SMS &&
        wgrad_can(REPRO_CUDA_CONV_WROWS8X4WS, s, with_dw, with_db))
        return REPRO_CUDA_CONV_WROWS8X4WS;
    if (s->OW <= 14 && 2 * b16x8 <= SMS && b16x4 > b16x8 &&
        wgrad_can(REPRO_CUDA_CONV_WROWS16X4, s, with_dw, with_db))
        return REPRO_CUDA_CONV_WROWS16X4;
    return REPRO_CUDA_CONV_WROWS16X8;
}

/* dw: the chain of N*OH*OW steps is fixed, so the time is the steps times
 * the cycles a step takes on the busiest multiprocessor: at least the fma
 * latency (4), at least what one warp issues a step, and the instructions
 * of all its warps shared by 4 schedulers. Per warp and step: its fmas, a
 * float4 read per row and column every 4 steps, and about 6 instructions
 * per staged element (rows + columns of the block over its threads). */
repro_cuda_conv_tiling auto_wgrad(const shape *s, int with_dw, int with_db)
{
    if (!fits_tiles(s))
        return REPRO_CUDA_CONV_DIRECT;
    const int64_t Og = s->O / s->groups;
    const int64_t cols = (with_dw ? (s->C / s->groups) * s->KH * s->KW : 0) + (with_db ? 1 : 0);
    static const repro_cuda_conv_tiling cand[] = {REPRO_CUDA_CONV_W32X32, REPRO_CUDA_CONV_W16X32,
                                                  REPRO_CUDA_CONV_W16X16, REPRO_CUDA_CONV_W8X16};
    static const int tm[] = {2, 2, 2, 1}, tn[] = {2, 2, 1, 1};
    repro_cuda_conv_tiling best = REPRO_CUDA_CONV_W8X16;
    double best_t = 1e300;
    for (int i = 0; i < 4; i++) {
        repro_conv_tile_dims td = repro_conv_tiling_dims(cand[i]);
        const int64_t threads = (td.bm / tm[i]) * (td.bn / tn[i]), warps = threads / 32;
        const int64_t blocks = ceil_div(cols, td.bn) * ceil_div(Og, td.bm) * s->groups;
        const double staged = (double)(td.bm + td.bn) / (double)threads; /* per thread and step */
        const double per_warp = tm[i] * tn[i] + (tm[i] + tn[i]) / 4.0 + 6.0 * staged;
        const double busiest = (double)(ceil_div(blocks, SMS) * warps) * per_warp / 4.0;
        double t = per_warp > 4.0 ? per_warp : 4.0;
        t = busiest > t ? busiest : t;
        if (t < best_t) {
            best_t = t;
            best = cand[i];
        }
    }
    if (!wgrad_can(best, s, with_dw, with_db))
        return REPRO_CUDA_CONV_DIRECT;
    /* A 3-wide kernel at stride 1 on rows of 7, 14 or 28: the row kernel,
     * 1.2-1.8x the GEMM form's speed (test_cuda_conv --bench-only) */
    if (!wgrad_can(REPRO_CUDA_CONV_WROWS16X8, s, with_dw, with_db))
        return best;
    return auto_wgrad_rows(s, with_dw, with_db);
}

int to_int(int64_t v)
{
    return (int)v;
}

repro_conv_igemm_args igemm_args_of(const shape *s, int dx, float *out, const float *src, const float *w,
                                    const float *bias)
{
    const int64_t Cg = s->C / s->groups, Og = s->O / s->groups, KHW = s->KH * s->KW;
    const gemm_dims d = dims_of(s, dx);
    repro_conv_igemm_args a;
    a.src = src;
    a.w = w;
    a.bias = bias;
    a.out = out;
    a.M = to_int(d.rows);
    a.P = to_int(dx ? s->H * s->W : s->OH * s->OW);
    a.PW = to_int(dx ? s->W : s->OW);
    a.cols = to_int(d.cols);
    a.KC = to_int(d.kc);
    a.KHW = to_int(KHW);
    a.KW = to_int(s->KW);
    int64_t cpt = REPRO_CONV_IG_BK / KHW;
    cpt = cpt < d.kc ? cpt : d.kc;
    a.cpt = to_int(cpt);
    a.bk = to_int(cpt * KHW);
    a.SH = to_int(dx ? s->OH : s->H);
    a.SW = to_int(dx ? s->OW : s->W);
    a.SP = a.SH * a.SW;
    a.src_n = to_int((dx ? s->O : s->C) * a.SP);
    a.stride_h = to_int(s->stride_h);
    a.stride_w = to_int(s->stride_w);
    a.pad_h = to_int(s->pad_h);
    a.pad_w = to_int(s->pad_w);
    a.dil_h = to_int(s->dil_h);
    a.dil_w = to_int(s->dil_w);
    a.w_col = to_int(dx ? KHW : Cg * KHW);
    a.w_chan = to_int(dx ? Cg * KHW : KHW);
    a.w_group = to_int(Og * Cg * KHW);
    a.out_n = to_int((dx ? s->C : s->O) * a.P);
    a.groups = to_int(s->groups);
    return a;
}

repro_conv_wgrad_args wgrad_args_of(const shape *s, float *dw, float *db, const float *dy, const float *x)
{
    const int64_t Cg = s->C / s->groups, Og = s->O / s->groups, KHW = s->KH * s->KW;
    repro_conv_wgrad_args a;
    a.dy = dy;
    a.x = x;
    a.dw = dw;
    a.db = db;
    a.N = to_int(s->N);
    a.OH = to_int(s->OH);
    a.OW = to_int(s->OW);
    a.P = to_int(s->OH * s->OW);
    a.K = to_int(s->N * s->OH * s->OW);
    a.H = to_int(s->H);
    a.W = to_int(s->W);
    a.HW = to_int(s->H * s->W);
    a.Og = to_int(Og);
    a.Cg = to_int(Cg);
    a.KHW = to_int(KHW);
    a.KW = to_int(s->KW);
    a.taps = dw ? to_int(Cg * KHW) : 0;
    a.cols = a.taps + (db ? 1 : 0);
    a.dy_n = to_int(s->O * s->OH * s->OW);
    a.x_n = to_int(s->C * s->H * s->W);
    a.stride_h = to_int(s->stride_h);
    a.stride_w = to_int(s->stride_w);
    a.pad_h = to_int(s->pad_h);
    a.pad_w = to_int(s->pad_w);
    a.dil_h = to_int(s->dil_h);
    a.dil_w = to_int(s->dil_w);
    a.groups = to_int(s->groups);
    return a;
}

repro_status unsupported(const char *what, repro_cuda_conv_tiling t, repro_error *err)
{
    return repro_fail(err, REPRO_ERR_UNSUPPORTED, "cuda conv2d %s: tiling %s cannot run this shape", what,
                      repro_cuda_conv_tiling_name(t));
}

} // namespace

repro_conv_tile_dims repro_conv_tiling_dims(repro_cuda_conv_tiling t)
{
    switch (t) {
    case REPRO_CUDA_CONV_128X64: return {128, 64};
    case REPRO_CUDA_CONV_64X64: return {64, 64};
    case REPRO_CUDA_CONV_128X32: return {128, 32};
    case REPRO_CUDA_CONV_64X32: return {64, 32};
    case REPRO_CUDA_CONV_W32X32: return {32, 32};
    case REPRO_CUDA_CONV_W16X32: return {16, 32};
    case REPRO_CUDA_CONV_W16X16: return {16, 16};
    case REPRO_CUDA_CONV_W8X16: return {8, 16};
    default: return {0, 0};
    }
}

extern "C" {

const char *repro_cuda_conv_tiling_name(repro_cuda_conv_tiling t)
{
    static const char *const names[REPRO_CUDA_CONV_TILINGS] = {"auto",   "direct",   "128x64",  "64x64",
                                                               "128x32", "64x32",    "w32x32",  "w16x32",
                                                               "w16x16", "w8x16",    "wrows16x8",
                                                               "wrows16x4", "wrows8x4ws", "wrows8x4ws1",
                                                               "pixel",  "pixel2"};
    return (int)t >= 0 && (int)t < REPRO_CUDA_CONV_TILINGS ? names[t] : "unknown";
}

void repro_cuda_conv2d_auto_tilings(const repro_conv2d_shape *s, repro_cuda_conv_tiling *fwd,
                                    repro_cuda_conv_tiling *dx, repro_cuda_conv_tiling *dw)
{
    if (fwd)
        *fwd = auto_igemm(s, 0);
    if (dx)
        *dx = auto_igemm(s, 1);
    if (dw)
        *dw = auto_wgrad(s, 1, 1);
}

repro_status repro_cuda_conv2d_forward_tiled(repro_cuda_conv_tiling tiling, const repro_conv2d_shape *s, float *y,
                                             const float *x, const float *w, const float *bias,
                                             repro_cuda_stream stream, repro_error *err)
{
    repro_status st = check_shape("forward", s, err);
    if (st != REPRO_OK)
        return st;
    if (!y || !x || !w)
        return repro_fail(err, REPRO_ERR_ARG, "cuda conv2d forward: %s is NULL", !y ? "y" : !x ? "x" : "w");
    if (tiling == REPRO_CUDA_CONV_AUTO)
        tiling = auto_igemm(s, 0);
    if (tiling == REPRO_CUDA_CONV_DIRECT) {
        forward_direct<<<repro_cuda_blocks(s->N * s->O * s->OH * s->OW), REPRO_CUDA_THREADS, 0,
                         repro_cuda_s(stream)>>>(*s, y, x, w, bias);
        return repro_cuda_check("conv2d forward (direct)", err);
    }
    if (!igemm_can(tiling, s, 0))
        return unsupported("forward", tiling, err);
    if (is_pixel(tiling))
        repro_conv_pixel_launch(tiling, 0, igemm_args_of(s, 0, y, x, w, bias), repro_cuda_s(stream));
    else
        repro_conv_igemm_launch(tiling, 0, igemm_args_of(s, 0, y, x, w, bias), repro_cuda_s(stream));
    return repro_cuda_check("conv2d forward (tiled)", err);
}

repro_status repro_cuda_conv2d_backward_tiled(repro_cuda_conv_tiling dx_tiling, repro_cuda_conv_tiling dw_tiling,
                                              const repro_conv2d_shape *s, float *dx, float *dw, float *db,
                                              const float *dy, const float *x, const float *w,
                                              repro_cuda_stream stream, repro_error *err)
{
    repro_status st = check_shape("backward", s, err);
    if (st != REPRO_OK)
        return st;
    if (!dy || !x || !w)
        return repro_fail(err, REPRO_ERR_ARG, "cuda conv2d backward: %s is NULL", !dy ? "dy" : !x ? "x" : "w");
    if (dx_tiling == REPRO_CUDA_CONV_AUTO)
        dx_tiling = auto_igemm(s, 1);
    if (dw_tiling == REPRO_CUDA_CONV_AUTO)
        dw_tiling = auto_wgrad(s, dw != NULL, db != NULL);
    /* refuse before launching anything */
    if (dx && dx_tiling != REPRO_CUDA_CONV_DIRECT && !igemm_can(dx_tiling, s, 1))
        return unsupported("backward dx", dx_tiling, err);
    if ((dw || db) && dw_tiling != REPRO_CUDA_CONV_DIRECT && !wgrad_can(dw_tiling, s, dw != NULL, db != NULL))
        return unsupported("backward dw", dw_tiling, err);
    cudaStream_t cs = repro_cuda_s(stream);
    if (dx) {
        if (dx_tiling == REPRO_CUDA_CONV_DIRECT)
            dx_direct<<<repro_cuda_blocks(s->N * s->C * s->H * s->W), REPRO_CUDA_THREADS, 0, cs>>>(*s, dx, dy, w);
        else if (is_pixel(dx_tiling))
            repro_conv_pixel_launch(dx_tiling, 1, igemm_args_of(s, 1, dx, dy, w, NULL), cs);
        else
            repro_conv_igemm_launch(dx_tiling, 1, igemm_args_of(s, 1, dx, dy, w, NULL), cs);
        st = repro_cuda_check("conv2d backward dx", err);
        if (st != REPRO_OK)
            return st;
    }
    if (!dw && !db)
        return REPRO_OK;
    if (dw_tiling == REPRO_CUDA_CONV_DIRECT) {
        if (dw) {
            dw_direct<<<repro_cuda_blocks(s->O * (s->C / s->groups) * s->KH * s->KW), REPRO_CUDA_THREADS, 0, cs>>>(
                *s, dw, dy, x);
            st = repro_cuda_check("conv2d backward dw (direct)", err);
        }
        if (st == REPRO_OK && db) {
            db_direct<<<repro_cuda_blocks(s->O), REPRO_CUDA_THREADS, 0, cs>>>(*s, db, dy);
            st = repro_cuda_check("conv2d backward db (direct)", err);
        }
        return st;
    }
    if (is_wgrad_rows(dw_tiling))
        repro_conv_wgrad_rows_launch(dw_tiling, wgrad_args_of(s, dw, db, dy, x), cs);
    else
        repro_conv_wgrad_launch(dw_tiling, wgrad_args_of(s, dw, db, dy, x), cs);
    return repro_cuda_check("conv2d backward dw/db (tiled)", err);
}

repro_status repro_cuda_conv2d_forward(const repro_conv2d_shape *s, float *y, const float *x, const float *w,
                                       const float *bias, repro_cuda_stream stream, repro_error *err)
{
    return repro_cuda_conv2d_forward_tiled(REPRO_CUDA_CONV_AUTO, s, y, x, w, bias, stream, err);
}

repro_status repro_cuda_conv2d_backward(const repro_conv2d_shape *s, float *dx, float *dw, float *db,
                                        const float *dy, const float *x, const float *w, repro_cuda_stream stream,
                                        repro_error *err)
{
    return repro_cuda_conv2d_backward_tiled(REPRO_CUDA_CONV_AUTO, REPRO_CUDA_CONV_AUTO, s, dx, dw, db, dy, x, w,
                                            stream, err);
}

} /* extern "C" */
