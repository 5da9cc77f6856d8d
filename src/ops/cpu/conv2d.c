/* The fast conv2d: im2col matrices times the weights through repro_gemm.
 * The order is conv.h's contract; here is only how each chain becomes one
 * GEMM output with its taps in that order (A(m,k), B(k,n) as in gemm.h):
 *
 *   forward, per image n and group g, output channels as rows, pixels
 *   r = oh*OW + ow as columns:
 *     colT [Kc][rows]  colT[k][r] = x tap k = (ci, kh, kw) of pixel r (+0 padding)
 *     y[n][g*Og + o'][r] = sum_k w[g*Og + o'][k] colT[k][r]: M = Og, N = rows, K = Kc,
 *       A = w (Kc, 1), B = colT (rows, 1), C = y's planes in place; then
 *       + bias[o] on those rows (the contract's acc + bias) while they are in cache.
 *   dx, per image and group, input pixels r = ih*W + iw as rows ("dy-im2col"):
 *     dcolT [Kd][rows] dcolT[k][r] = dy tap k = (o', kh, kw) of pixel r (+0 absent)
 *     dxt[r][ci] = sum_k dcolT[k][r] wr[k][ci],  wr[(o, kh, kw)][ci] = w[o][ci][kh][kw]:
 *       M = rows, N = Cg, K = Kd = Og*KH*KW; dxt [rows][C] then transposed into dx.
 *   dw and db, per group, the parameters as rows (transposed: dwT[k][o']):
 *     dwT[k][o'] += sum_r colT[k][r] dy[n][g*Og + o'][r], once per image n in
 *       ascending order with accumulate: M = Kc (+1 for db), N = Og, K = OH*OW,
 *       A = colT (OH*OW, 1), B(r, o') = dy (1, OH*OW). The same chain carries on
 *       from image to image, so the sum runs over (n, oh, ow) ascending. db is
 *       one more row of the same product, its taps all 1.0f (see "dw and db").
 *       Fused with a 2x2 max pool's backward (the first layer's dw), dy is
 *       made pixel-major, B = dy (C, 1), and read in place (dy_planes).
 *
 * (The orientations were measured on the Fashion CNN's layers. The
 * forward writes y's planes directly: with the pixels as rows its result
 * had to be transposed into y, which cost as much as the product for
 * conv1 (32 planes of 784 pixels) and took a quarter of both layers'
 * forward time. dx keeps the pixels as rows (its transpose is small), and
 * dw as dwT keeps its 16-wide SIMD lanes on output channels.)
 *
 * The im2col matrices are copied, row by row of the image, out of
 * zero-padded copies of the image's planes; those copies and the
 * transposes go through conv2d_copy.h (AVX2 on the SIMD paths). They only
 * move floats.
 *
 * Threads: one pool run per phase, each thread a "part" with its own
 * scratch, calling repro_gemm inline (no pool). y and dx split images (or,
 * with fewer images than threads, pixels of every image); dw and db split
 * their rows (group, tap) in blocks of 8. K is never split. */
#include <stdlib.h>

#include "ops/cpu/conv.h"
#include "ops/cpu/conv2d_copy.h"
#include "ops/cpu/gemm.h"
#include "ops/cpu/pool2d.h"

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* A checked shape and the sizes derived from it. */
typedef struct geom {
    repro_conv2d_shape s;
    int64_t Cg, Og, KK; /* channels per group, kernel taps KH*KW */
    int64_t Kc, Kd;     /* chain lengths: Cg*KK (forward, dw), Og*KK (dx) */
    int64_t HW, OHW;
    int64_t Hp, Wp;     /* x padded: H + 2*pad_h, W + 2*pad_w */
    int64_t Hq, Wq;     /* dy spread and padded: H + (KH-1)*dil_h, W + (KW-1)*dil_w */
} geom;

static geom geom_of(const repro_conv2d_shape *s)
{
    geom G = {.s = *s, .Cg = s->C / s->groups, .Og = s->O / s->groups, .KK = s->KH * s->KW,
              .HW = s->H * s->W, .OHW = s->OH * s->OW};
    G.Kc = G.Cg * G.KK;
    G.Kd = G.Og * G.KK;
    G.Hp = s->H + 2 * s->pad_h;
    G.Wp = s->W + 2 * s->pad_w;
    G.Hq = s->H + (s->KH - 1) * s->dil_h;
    G.Wq = s->W + (s->KW - 1) * s->dil_w;
    return G;
}

/* The work of one call, split into parts (one per thread). */
typedef struct conv_job {
    geom G;
    repro_conv_copy2d_fn copy2d;
    repro_conv_transpose_fn transpose;
    repro_cpu inner; /* cpu->isa without the pool: repro_gemm runs inline in a part */
    float *y, *dx, *dw, *db;
    const float *x, *w, *bias, *dy;
    const float *wr;    /* [O][KH*KW][Cg]: w regrouped as dx's B */
    float *pool_y;      /* forward then max pool (NULL: plain forward): pool2d.h's y, argmax */
    int32_t *argmax;
    const float *pool_dy;          /* dw and db from a max pool's backward (NULL: from dy): its dy, */
    const int32_t *pool_argmax;    /* argmax, and each part's dy of one image at dyn (slot's end) */
    size_t dyn_at;
    repro_pool2d_shape ps; /* the pool of one image (N = 1) */
    int pool_pixels;       /* a 2x2 pool's dy pixel-major (dy_planes): where pool2d has its SIMD twin */
    float *scratch;     /* parts x slot floats */
    size_t slot;
    int64_t parts;
    int by_image;       /* y, dx: parts split images (else pixels of every image) */
    repro_status *st;   /* [parts] */
    repro_error *errs;  /* [parts] */
} conv_job;

/* ---- im2col ----
 *
 * The taps are copied out of zero-padded copies of one image's planes, so
 * the copies need no bounds checks: padding taps read the zeros.
 *   xp  [Cg][Hp][Wp]: x's planes with pad_h, pad_w zeros on each side;
 *       forward tap (ci, kh, kw) of pixel (oh, ow) = xp[ci][oh*sh + kh*dh][ow*sw + kw*dw]
 *   dyp [Og][Hq][Wq]: dy spread out by the strides (zeros in between) and
 *       placed so that dx tap (o, kh, kw) of pixel (ih, iw) =
 *       dyp[o][ih + (KH-1-kh)*dh][iw + (KW-1-kw)*dw]: row th - th_min with
 *       th = ih + pad_h - kh*dh, th_min = pad_h - (KH-1)*dh (columns alike). */

static void zero(float *p, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        p[i] = +0.0f;
}

static void copy(float *restrict d, const float *restrict s, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        d[i] = s[i];
}

/* The scalar path's copies (conv2d_copy.h's contracts). */
static void copy2d(float *dst, int64_t dst_ld, const float *src, int64_t src_ld, int64_t rows, int64_t n)
{
    for (int64_t r = 0; r < rows; r++)
        copy(dst + r * dst_ld, src + r * src_ld, n);
}

/* Blocks of 16 rows keep the reads of src in L1. */
static void transpose(float *dst, int64_t ld_dst, const float *src, int64_t ld_src, int64_t rows, int64_t cols)
{
    for (int64_t r0 = 0; r0 < rows; r0 += 16) {
        int64_t r1 = min64(r0 + 16, rows);
        for (int64_t c = 0; c < cols; c++)
            for (int64_t r = r0; r < r1; r++)
                dst[c * ld_dst + r] = src[r * ld_src + c];
    }
}

/* xp's planes [c0, c1) from xg = x[n][g*Cg]. */
static void pad_x(float *xp, const geom *G, const float *xg, int64_t c0, int64_t c1)
{
    const repro_conv2d_shape *s = &G->s;
    for (int64_t ci = c0; ci < c1; ci++) {
        float *plane = xp + ci * G->Hp * G->Wp;
        zero(plane, s->pad_h * G->Wp);
        for (int64_t ih = 0; ih < s->H; ih++) {
            float *row = plane + (ih + s->pad_h) * G->Wp;
            zero(row, s->pad_w);
            copy(row + s->pad_w, xg + ci * G->HW + ih * s->W, s->W);
            zero(row + s->pad_w + s->W, s->pad_w);
        }
        zero(plane + (s->pad_h + s->H) * G->Wp, s->pad_h * G->Wp);
    }
}

/* dyp from dyg = dy[n][g*Og]. An output whose row or column falls outside
 * dyp is met by no input pixel (only padding can reach it) and is left out. */
static void pad_dy(const conv_job *j, float *dyp, const geom *G, const float *dyg)
{
    const repro_conv2d_shape *s = &G->s;
    const int64_t top = (s->KH - 1) * s->dil_h - s->pad_h, left = (s->KW - 1) * s->dil_w - s->pad_w;
    const int64_t sw = s->stride_w;
    /* the columns ow with 0 <= ow*sw + left < Wq */
    const int64_t ow0 = left >= 0 ? 0 : ceil_div(-left, sw);
    const int64_t ow1 = min64(s->OW, ceil_div(G->Wq - left, sw));
    /* and the rows oh with 0 <= oh*sh + top < Hq */
    const int64_t oh0 = top >= 0 ? 0 : ceil_div(-top, s->stride_h);
    const int64_t oh1 = min64(s->OH, ceil_div(G->Hq - top, s->stride_h));
    zero(dyp, G->Og * G->Hq * G->Wq);
    if (oh0 >= oh1 || ow0 >= ow1)
        return;
    for (int64_t o = 0; o < G->Og; o++) {
        float *d = dyp + (o * G->Hq + oh0 * s->stride_h + top) * G->Wq + ow0 * sw + left;
        const float *src = dyg + (o * s->OH + oh0) * s->OW + ow0;
        if (sw == 1) {
            j->copy2d(d, s->stride_h * G->Wq, src, s->OW, oh1 - oh0, ow1 - ow0);
            continue;
        }
        for (int64_t oh = 0; oh < oh1 - oh0; oh++)
            for (int64_t ow = 0; ow < ow1 - ow0; ow++)
                d[oh * s->stride_h * G->Wq + ow * sw] = src[oh * s->OW + ow];
    }
}

/* A run of pixels to copy for one tap: the tap's matrix row and where the
 * tap reads at pixel (0, 0) of an image `width` pixels wide. */
typedef struct run_args {
    const conv_job *j;
    float *d;         /* the tap's matrix row, at the first pixel copied */
    const float *tap; /* the source of pixel (0, 0) */
    int64_t src_ld;   /* source floats per image row */
    int64_t step;     /* source floats per image column */
    int64_t width;
} run_args;

/* Copies pixels [r0, r1) of the run: whole image rows in one 2-D copy
 * where they can be, else the part of one row. */
static void copy_runs(const run_args *a, int64_t r0, int64_t r1)
{
    const int64_t w = a->width;
    for (int64_t r = r0; r < r1;) {
        const int64_t row = r / w, c = r - row * w, len = min64(w, r1 - row * w) - c;
        const int64_t rows = c == 0 && len == w ? (r1 - r) / w : 1;
        float *d = a->d + (r - r0);
        const float *src = a->tap + row * a->src_ld + c * a->step;
        if (a->step == 1) {
            a->j->copy2d(d, w, src, a->src_ld, rows, len);
        } else {
            for (int64_t q = 0; q < rows; q++)
                for (int64_t i = 0; i < len; i++)
                    d[q * w + i] = src[q * a->src_ld + i * a->step];
        }
        r += rows * len;
    }
}

/* The forward's taps: rows k in [k0, k1) of the tap order (ci, kh, kw),
 * columns the output pixels [r0, r1): col[(k - k0)*ld + (r - r0)]. */
static void x_cols(const conv_job *j, float *col, int64_t ld, const float *xp, int64_t k0, int64_t k1, int64_t r0,
                   int64_t r1)
{
    const geom *G = &j->G;
    const repro_conv2d_shape *s = &G->s;
    for (int64_t k = k0; k < k1; k++) {
        const int64_t ci = k / G->KK, kh = k % G->KK / s->KW, kw = k % s->KW;
        run_args a = {j, col + (k - k0) * ld, xp + (ci * G->Hp + kh * s->dil_h) * G->Wp + kw * s->dil_w,
                      s->stride_h * G->Wp, s->stride_w, s->OW};
        copy_runs(&a, r0, r1);
    }
}

/* dx's taps: rows k = (o', kh, kw) in [0, Kd), columns the input pixels
 * [r0, r1): col[k*ld + (r - r0)]. */
static void dy_cols(const conv_job *j, float *col, int64_t ld, const float *dyp, int64_t r0, int64_t r1)
{
    const geom *G = &j->G;
    const repro_conv2d_shape *s = &G->s;
    for (int64_t k = 0; k < G->Kd; k++) {
        const int64_t o = k / G->KK, kh = k % G->KK / s->KW, kw = k % s->KW;
        run_args a = {j, col + k * ld,
                      dyp + (o * G->Hq + (s->KH - 1 - kh) * s->dil_h) * G->Wq + (s->KW - 1 - kw) * s->dil_w, G->Wq,
                      1, s->W};
        copy_runs(&a, r0, r1);
    }
}

/* ---- the parts ---- */

/* Part p's images [n0, n1) and pixels [r0, r1) of `pixels` per image. */
static void part_range(const conv_job *j, int64_t p, int64_t pixels, int64_t *n0, int64_t *n1, int64_t *r0,
                       int64_t *r1)
{
    const int64_t N = j->G.s.N, P = j->parts;
    *n0 = j->by_image ? N * p / P : 0;
    *n1 = j->by_image ? N * (p + 1) / P : N;
    *r0 = j->by_image ? 0 : pixels * p / P;
    *r1 = j->by_image ? pixels : pixels * (p + 1) / P;
}

/* y[o][r] += bias[o] for the rows [r0, r0 + rows) of every output plane:
 * acc + bias, the contract's last step, while y's rows are still in cache. */
static void add_bias(float *y, int64_t ld, const float *bias, int64_t planes, int64_t rows)
{
    for (int64_t o = 0; o < planes; o++) {
        float *row = y + o * ld;
        const float b = bias[o];
        for (int64_t r = 0; r < rows; r++)
            row[r] = row[r] + b;
    }
}

static void forward_part(void *ctx, int64_t begin, int64_t end)
{
    conv_job *j = ctx;
    const geom *G = &j->G;
    const repro_conv2d_shape *s = &G->s;
    for (int64_t p = begin; p < end; p++) {
        int64_t n0, n1, r0, r1;
        part_range(j, p, G->OHW, &n0, &n1, &r0, &r1);
        const int64_t rows = r1 - r0;
        float *colT = j->scratch + p * j->slot; /* [Kc][rows] */
        float *xp = colT + G->Kc * rows;        /* [Cg][Hp][Wp] */
        float *yn = xp + G->Cg * G->Hp * G->Wp; /* pooled: this image's output [O][OH*OW] */
        for (int64_t n = n0; n < n1 && rows > 0 && j->st[p] == REPRO_OK; n++) {
            float *y_image = j->pool_y ? yn : j->y + n * s->O * G->OHW;
            for (int64_t g = 0; g < s->groups && j->st[p] == REPRO_OK; g++) {
                float *yg = y_image + g * G->Og * G->OHW + r0; /* [Og][OH*OW], from pixel r0 */
                pad_x(xp, G, j->x + (n * s->C + g * G->Cg) * G->HW, 0, G->Cg);
                x_cols(j, colT, rows, xp, 0, G->Kc, r0, r1);
                j->st[p] = repro_gemm(&j->inner, G->Og, rows, G->Kc, j->w + g * G->Og * G->Kc, G->Kc, 1, colT,
                                      rows, 1, NULL, yg, G->OHW, 0, &j->errs[p]);
                if (j->st[p] == REPRO_OK && j->bias)
                    add_bias(yg, G->OHW, j->bias + g * G->Og, G->Og, rows);
            }
            if (j->pool_y && j->st[p] == REPRO_OK) { /* by image: the pool's planes of image n, inline */
                const int64_t pooled = s->O * j->ps.OH * j->ps.OW;
                j->st[p] = repro_maxpool2d_forward(&j->inner, &j->ps, j->pool_y + n * pooled,
                                                   j->argmax ? j->argmax + n * pooled : NULL, yn, &j->errs[p]);
            }
        }
    }
}

static void dx_part(void *ctx, int64_t begin, int64_t end)
{
    conv_job *j = ctx;
    const geom *G = &j->G;
    const repro_conv2d_shape *s = &G->s;
    for (int64_t p = begin; p < end; p++) {
        int64_t n0, n1, r0, r1;
        part_range(j, p, G->HW, &n0, &n1, &r0, &r1);
        const int64_t rows = r1 - r0;
        float *dcolT = j->scratch + p * j->slot; /* [Kd][rows] */
        float *dxt = dcolT + G->Kd * rows;       /* [rows][C] */
        float *dyp = dxt + rows * s->C;          /* [Og][Hq][Wq] */
        for (int64_t n = n0; n < n1 && rows > 0 && j->st[p] == REPRO_OK; n++) {
            for (int64_t g = 0; g < s->groups && j->st[p] == REPRO_OK; g++) {
                pad_dy(j, dyp, G, j->dy + (n * s->O + g * G->Og) * G->OHW);
                dy_cols(j, dcolT, rows, dyp, r0, r1);
                j->st[p] = repro_gemm(&j->inner, rows, G->Cg, G->Kd, dcolT, 1, rows, j->wr + g * G->Kd * G->Cg,
                                      G->Cg, 1, NULL, dxt + g * G->Cg, s->C, 0, &j->errs[p]);
            }
            if (j->st[p] == REPRO_OK)
                j->transpose(j->dx + n * s->C * G->HW + r0, G->HW, dxt, s->C, rows, s->C);
        }
    }
}

/* ---- dw and db ----
 *
 * Per group, the parameter gradients as rows of one GEMM: taps k < Kc are
 * dw's (transposed: dwT[k][o'] = dw[g*Og + o'][k]) and row k = Kc, when db
 * is wanted, is db: its "taps" are all 1.0f, and fmaf(1.0f, dy, acc) is
 * exactly acc + dy (the product is exact, then one rounding of the sum, as
 * the addition does, for every input, signed zeros and infinities
 * included), so db's chain runs in the GEMM beside dw's. */

/* The rows [kfirst, klast) of each group's parameter matrix this call
 * computes: the taps for dw, the ones row for db. */
static void param_rows(const conv_job *j, int64_t *kfirst, int64_t *klast)
{
    *kfirst = j->dw ? 0 : j->G.Kc;
    *klast = j->db ? j->G.Kc + 1 : j->G.Kc;
}

/* Rows [k0, k1) of group g between the gradients and dwT [k1-k0][Og]: load
 * (to_dwt) or store back. */
static void move_params(const conv_job *j, int64_t g, int64_t k0, int64_t k1, float *dwT, int to_dwt)
{
    const geom *G = &j->G;
    const int64_t kt = min64(k1, G->Kc); /* tap rows [k0, kt), then maybe the ones row */
    float *dwg = j->dw ? j->dw + g * G->Og * G->Kc : NULL;
    if (k0 < kt) {
        if (to_dwt)
            j->transpose(dwT, G->Og, dwg + k0, G->Kc, G->Og, kt - k0);
        else
            j->transpose(dwg + k0, G->Kc, dwT, G->Og, kt - k0, G->Og);
    }
    if (k1 > G->Kc) {
        float *dbg = j->db + g * G->Og, *row = dwT + (G->Kc - k0) * G->Og;
        if (to_dwt)
            copy(row, dbg, G->Og);
        else
            copy(dbg, row, G->Og);
    }
}

/* dy of image n, group g, channels [c0, c1) as the GEMM's B(r, o'), at
 * B[r * rs + o' * cs]: the caller's planes (rs 1, cs OH*OW), or, after a
 * max pool, the pool's backward for those planes (pool2d.h's), made in
 * part p's dyn while the GEMM that reads it is next. A pool of 2x2 windows
 * at stride 2 writes it pixel-major (rs c1 - c0, cs 1) on the AVX2 and
 * AVX-512 paths, which the GEMM reads in place: as planes, the GEMM packs
 * (transposes) them, and for conv1 (32 planes of 784 pixels) the planes
 * (4.2-6.6 us an image) and that transpose (about 1.9 more) took twice
 * the pixel-major backward's 3.3 us (pool2d_avx2.c; its plain twin has no
 * reason to be faster than the planes on the other paths). */
static const float *dy_planes(conv_job *j, int64_t p, int64_t n, int64_t g, int64_t c0, int64_t c1, int64_t *rs,
                              int64_t *cs)
{
    const geom *G = &j->G;
    const int64_t at = n * G->s.O + g * G->Og + c0; /* the first plane */
    *rs = 1, *cs = G->OHW;
    if (!j->pool_dy)
        return j->dy + at * G->OHW;
    repro_pool2d_shape one = j->ps;
    one.C = c1 - c0;
    float *dyn = j->scratch + p * j->slot + j->dyn_at;
    const int64_t pooled = one.OH * one.OW;
    if (j->pool_pixels && repro_pool2d_is_2x2_tiling(&one)) {
        *rs = one.C, *cs = 1;
        j->st[p] = repro_maxpool2x2_backward_pixels(&j->inner, &one, dyn, one.C, j->pool_dy + at * pooled,
                                                    j->pool_argmax + at * pooled, &j->errs[p]);
    } else {
        j->st[p] = repro_maxpool2d_backward(&j->inner, &one, dyn, j->pool_dy + at * pooled,
                                            j->pool_argmax + at * pooled, &j->errs[p]);
    }
    return j->st[p] == REPRO_OK ? dyn : NULL;
}

/* Image n's step of group g's chains for parameter rows [k0, k1) and
 * channels [c0, c1): the rows' taps into colT [k1-k0][OH*OW] (the ones
 * row, when k1 passes the taps, is written at n == 0 and kept), then
 * dwT [k1-k0][c1-c0] += colT dy^T, one GEMM that carries each chain on. */
static repro_status param_image(conv_job *j, int64_t p, int64_t g, int64_t n, int64_t k0, int64_t k1, int64_t c0,
                                int64_t c1, float *colT, float *dwT, float *xp)
{
    const geom *G = &j->G;
    const repro_conv2d_shape *s = &G->s;
    const int64_t kt = min64(k1, G->Kc);
    if (k0 < kt) {
        pad_x(xp, G, j->x + (n * s->C + g * G->Cg) * G->HW, k0 / G->KK, (kt - 1) / G->KK + 1);
        x_cols(j, colT, G->OHW, xp, k0, kt, 0, G->OHW);
    }
    if (k1 > G->Kc && n == 0)
        for (int64_t i = 0; i < G->OHW; i++)
            colT[(G->Kc - k0) * G->OHW + i] = 1.0f;
    int64_t rs, cs;
    const float *dy = dy_planes(j, p, n, g, c0, c1, &rs, &cs);
    if (!dy)
        return j->st[p];
    return repro_gemm(&j->inner, k1 - k0, c1 - c0, G->OHW, colT, G->OHW, 1, dy, rs, cs, NULL, dwT, c1 - c0, 1,
                      &j->errs[p]);
}

/* Parameter rows [q0, q1) of the (group, row) order, all images, in part
 * p: per group dwT carries the chains through one GEMM per image, images
 * ascending. */
static repro_status param_part_rows(conv_job *j, int64_t p, int64_t q0, int64_t q1)
{
    const geom *G = &j->G;
    const repro_conv2d_shape *s = &G->s;
    int64_t kfirst, klast;
    param_rows(j, &kfirst, &klast);
    const int64_t Rg = klast - kfirst, rows_max = q1 - q0;
    float *colT = j->scratch + p * j->slot;      /* [rows][OH*OW] */
    float *dwT = colT + rows_max * G->OHW;       /* [rows][Og] */
    float *xp = dwT + rows_max * G->Og;          /* [Cg][Hp][Wp], the planes these rows read */
    for (int64_t g = q0 / Rg; g * Rg < q1; g++) {
        const int64_t k0 = max64(q0, g * Rg) - g * Rg + kfirst, k1 = min64(q1, (g + 1) * Rg) - g * Rg + kfirst;
        move_params(j, g, k0, k1, dwT, 1);
        for (int64_t n = 0; n < s->N; n++) {
            repro_status st = param_image(j, p, g, n, k0, k1, 0, G->Og, colT, dwT, xp);
            if (st != REPRO_OK)
                return st; /* this group's rows keep their old value (the chains live in dwT) */
        }
        move_params(j, g, k0, k1, dwT, 0);
    }
    return REPRO_OK;
}

/* The parameter rows of part p: blocks of 8 (a micro-tile's rows) split
 * evenly. */
static void param_split(const conv_job *j, int64_t p, int64_t *q0, int64_t *q1)
{
    int64_t kfirst, klast;
    param_rows(j, &kfirst, &klast);
    const int64_t R = j->G.s.groups * (klast - kfirst), blocks = ceil_div(R, 8);
    *q0 = min64(R, blocks * p / j->parts * 8);
    *q1 = min64(R, blocks * (p + 1) / j->parts * 8);
}

/* ---- dw and db split by output channels ----
 *
 * Split by rows as above, every part packs (transposes) all of each
 * image's dy for its GEMM's B, and for a layer with fewer rows than
 * output channels that is most of the work (conv1: 10 rows, 32 channels
 * of 784 pixels): two threads each transposed all of it and ran no faster
 * than one. There the parts split the output channels instead, in blocks
 * of 16 (SIMD widths) over (group, block) units: each part builds all of
 * the (few) rows' taps and packs only its own channels of dy. Same
 * products, same chains: only which thread computes an output changes. */

enum { COLUMN_BLOCK = 16 };

/* Whether dw and db split their output channels: fewer rows than channels
 * and at least one block of channels for every part. A function of the
 * shape and the part count alone. */
static int params_by_columns(const conv_job *j)
{
    int64_t kfirst, klast;
    param_rows(j, &kfirst, &klast);
    const int64_t units = j->G.s.groups * ceil_div(j->G.Og, COLUMN_BLOCK);
    return j->parts > 1 && klast - kfirst < j->G.Og && units >= j->parts;
}

/* Channels [c0, c1) of group g between the gradients and dwT
 * [klast-kfirst][c1-c0]: load (to_dwt) or store back. */
static void move_param_columns(const conv_job *j, int64_t g, int64_t c0, int64_t c1, float *dwT, int to_dwt)
{
    const geom *G = &j->G;
    int64_t kfirst, klast;
    param_rows(j, &kfirst, &klast);
    const int64_t kt = min64(klast, G->Kc), cols = c1 - c0;
    if (kfirst < kt) {
        float *dwc = j->dw + (g * G->Og + c0) * G->Kc; /* [cols][Kc] */
        if (to_dwt)
            j->transpose(dwT, cols, dwc + kfirst, G->Kc, cols, kt - kfirst);
        else
            j->transpose(dwc + kfirst, G->Kc, dwT, cols, kt - kfirst, cols);
    }
    if (klast > G->Kc) {
        float *dbc = j->db + g * G->Og + c0, *row = dwT + (G->Kc - kfirst) * cols;
        if (to_dwt)
            copy(row, dbc, cols);
        else
            copy(dbc, row, cols);
    }
}

/* Units [u0, u1) of the (group, block of channels) order, all images, in
 * part p: per group, its channels among them through one GEMM per image,
 * images ascending. */
static repro_status param_part_columns(conv_job *j, int64_t p, int64_t u0, int64_t u1)
{
    const geom *G = &j->G;
    const repro_conv2d_shape *s = &G->s;
    int64_t kfirst, klast;
    param_rows(j, &kfirst, &klast);
    const int64_t nk = klast - kfirst, blocks = ceil_div(G->Og, COLUMN_BLOCK);
    float *colT = j->scratch + p * j->slot;         /* [nk][OH*OW] */
    float *dwT = colT + nk * G->OHW;                /* [nk][channels] */
    float *xp = dwT + nk * min64(G->Og, (u1 - u0) * COLUMN_BLOCK); /* [Cg][Hp][Wp] */
    for (int64_t g = u0 / blocks; g * blocks < u1; g++) {
        const int64_t c0 = (max64(u0, g * blocks) - g * blocks) * COLUMN_BLOCK;
        const int64_t c1 = min64(G->Og, (min64(u1, (g + 1) * blocks) - g * blocks) * COLUMN_BLOCK);
        move_param_columns(j, g, c0, c1, dwT, 1);
        for (int64_t n = 0; n < s->N; n++) {
            repro_status st = param_image(j, p, g, n, kfirst, klast, c0, c1, colT, dwT, xp);
            if (st != REPRO_OK)
                return st; /* these channels keep their old value (the chains live in dwT) */
        }
        move_param_columns(j, g, c0, c1, dwT, 0);
    }
    return REPRO_OK;
}

/* The (group, block) units of part p, split evenly. */
static void column_split(const conv_job *j, int64_t p, int64_t *u0, int64_t *u1)
{
    const int64_t units = j->G.s.groups * ceil_div(j->G.Og, COLUMN_BLOCK);
    *u0 = units * p / j->parts;
    *u1 = units * (p + 1) / j->parts;
}

static void params_part(void *ctx, int64_t begin, int64_t end)
{
    conv_job *j = ctx;
    const int by_columns = params_by_columns(j);
    for (int64_t p = begin; p < end; p++) {
        int64_t q0, q1;
        if (by_columns)
            column_split(j, p, &q0, &q1);
        else
            param_split(j, p, &q0, &q1);
        if (q0 < q1)
            j->st[p] = by_columns ? param_part_columns(j, p, q0, q1) : param_part_rows(j, p, q0, q1);
    }
}

/* ---- entry points ---- */

/* Re-checks the caller's shape on a copy: a valid shape with the OH/OW the
 * check derives. */
static repro_status check_shape(const repro_conv2d_shape *s, const char *op, geom *G, repro_error *err)
{
    if (!s)
        return repro_fail(err, REPRO_ERR_ARG, "%s: shape is NULL", op);
    repro_conv2d_shape c = *s;
    repro_status st = repro_conv2d_shape_check(&c, err);
    if (st != REPRO_OK)
        return st;
    if (c.OH != s->OH || c.OW != s->OW)
        return repro_fail(err, REPRO_ERR_ARG,
                          "%s: the shape says the output is %lldx%lld but its sizes give %lldx%lld "
                          "(fill it with repro_conv2d_shape_check)",
                          op, (long long)s->OH, (long long)s->OW, (long long)c.OH, (long long)c.OW);
    *G = geom_of(&c);
    return REPRO_OK;
}

/* The job's scratch: `slot` floats per part plus `extra` after them. */
static repro_status alloc_scratch(conv_job *j, size_t slot, size_t extra, const char *op, repro_error *err)
{
    size_t parts = (size_t)j->parts;
    /* counts are below 2^61 (the shape check's bounds), so this stops any
     * overflow below; no machine has 2^63 bytes to give anyway */
    const size_t limit = (size_t)1 << 61;
    if (slot > limit / parts || extra > limit)
        return repro_fail(err, REPRO_ERR_NOMEM, "%s: the im2col scratch would exceed 2^63 bytes", op);
    j->slot = (slot + 15) / 16 * 16; /* each part on its own cache lines */
    size_t bytes = (parts * j->slot + extra) * sizeof(float) + parts * (sizeof(repro_status) + sizeof(repro_error));
    bytes = (bytes + 63) / 64 * 64;
    j->scratch = aligned_alloc(64, bytes);
    if (!j->scratch)
        return repro_fail(err, REPRO_ERR_NOMEM, "%s: cannot allocate %zu bytes of im2col scratch", op, bytes);
    j->errs = (repro_error *)(j->scratch + parts * j->slot + extra);
    j->st = (repro_status *)(j->errs + parts);
    for (size_t p = 0; p < parts; p++) {
        j->st[p] = REPRO_OK;
        j->errs[p].status = REPRO_OK;
        j->errs[p].message[0] = '\0';
    }
    return REPRO_OK;
}

/* The first failing part's status and message, then frees the scratch. */
static repro_status finish(conv_job *j, const char *op, repro_error *err)
{
    repro_status st = REPRO_OK;
    for (int64_t p = 0; p < j->parts && st == REPRO_OK; p++)
        if (j->st[p] != REPRO_OK) {
            st = j->st[p];
            if (err) {
                *err = j->errs[p];
                repro_error_prefix(err, "%s", op);
            }
        }
    free(j->scratch);
    return st;
}

static conv_job job_of(const repro_cpu *cpu, const geom *G)
{
    conv_job j = {.G = *G, .inner = {cpu->isa, NULL}, .parts = repro_pool_threads(cpu->pool)};
    /* every AVX-512 CPU has AVX2: both paths take its copies */
    j.copy2d = copy2d;
    j.transpose = transpose;
#if defined(__x86_64__)
    if (cpu->isa == REPRO_ISA_AVX2 || cpu->isa == REPRO_ISA_AVX512) {
        j.copy2d = repro_conv_copy2d_avx2;
        j.transpose = repro_conv_transpose_avx2;
        j.pool_pixels = 1;
    }
#endif
#if defined(__aarch64__)
    if (cpu->isa == REPRO_ISA_NEON) {
        j.copy2d = repro_conv_copy2d_neon;
        j.transpose = repro_conv_transpose_neon;
    }
#endif
    j.by_image = G->s.N >= j.parts;
    return j;
}

/* Floats of one part's y or dx scratch: taps [K][rows], result
 * [rows][channels] and the padded planes. */
static size_t pixel_slot(const conv_job *j, int64_t K, int64_t pixels, int64_t channels, int64_t planes)
{
    int64_t rows = j->by_image ? pixels : ceil_div(pixels, j->parts);
    return (size_t)((K + channels) * rows + planes);
}

repro_status repro_conv2d_forward(const repro_cpu *cpu, const repro_conv2d_shape *s, float *y, const float *x,
                                  const float *w, const float *bias, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    const char *op = "conv2d forward";
    geom G;
    repro_status st = check_shape(s, op, &G, err);
    if (st != REPRO_OK)
        return st;
    if (!y || !x || !w)
        return repro_fail(err, REPRO_ERR_ARG, "%s: %s is NULL", op, !y ? "y" : !x ? "x" : "w");
    conv_job j = job_of(cpu, &G);
    j.y = y, j.x = x, j.w = w, j.bias = bias;
    st = alloc_scratch(&j, pixel_slot(&j, G.Kc, G.OHW, 0, G.Cg * G.Hp * G.Wp), 0, op, err);
    if (st != REPRO_OK)
        return st;
    repro_pool_run(cpu->pool, j.parts, forward_part, &j);
    return finish(&j, op, err);
}

/* Whether ps pools this conv's output (N, C = O, H = OH, W = OW), checked;
 * *one is its shape for one image. */
static repro_status pools_output(const geom *G, const repro_pool2d_shape *ps, repro_pool2d_shape *one, const char *op,
                                 repro_error *err)
{
    *one = *ps;
    one->N = 1;
    if (ps->N == G->s.N && ps->C == G->s.O && ps->H == G->s.OH && ps->W == G->s.OW &&
        repro_pool2d_shape_check(one, err) == REPRO_OK && one->OH == ps->OH && one->OW == ps->OW)
        return REPRO_OK;
    return repro_fail(err, REPRO_ERR_ARG, "%s: the pool's input [%lld][%lld][%lld][%lld] is not the conv's "
                      "output [%lld][%lld][%lld][%lld], or its shape is not checked",
                      op, (long long)ps->N, (long long)ps->C, (long long)ps->H, (long long)ps->W,
                      (long long)G->s.N, (long long)G->s.O, (long long)G->s.OH, (long long)G->s.OW);
}

/* Floats of one part's dw and db scratch. */
static size_t param_slot_of(const conv_job *j)
{
    const geom *G = &j->G;
    int64_t kfirst, klast;
    param_rows(j, &kfirst, &klast);
    const int64_t nk = klast - kfirst;
    if (params_by_columns(j)) { /* [nk][OH*OW] taps, [nk][channels] gradients, the planes */
        int64_t units = G->s.groups * ceil_div(G->Og, COLUMN_BLOCK);
        int64_t cols_max = min64(G->Og, ceil_div(units, j->parts) * COLUMN_BLOCK);
        return (size_t)(nk * (G->OHW + cols_max) + G->Cg * G->Hp * G->Wp);
    } /* [rows][OH*OW] taps, [rows][Og] gradients, the planes */
    int64_t param_rows_max = ceil_div(ceil_div(G->s.groups * nk, 8), j->parts) * 8;
    return (size_t)(param_rows_max * (G->OHW + G->Og) + G->Cg * G->Hp * G->Wp);
}

repro_status repro_conv2d_forward_maxpool(const repro_cpu *cpu, const repro_conv2d_shape *s,
                                          const repro_pool2d_shape *ps, float *pool_y, int32_t *argmax, float *y,
                                          const float *x, const float *w, const float *bias, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    const char *op = "conv2d forward + max pool";
    geom G;
    repro_status st = check_shape(s, op, &G, err);
    if (st != REPRO_OK)
        return st;
    if (!ps || !pool_y || !y || !x || !w)
        return repro_fail(err, REPRO_ERR_ARG, "%s: %s is NULL", op,
                          !ps ? "the pool's shape" : !pool_y ? "pool_y" : !y ? "y" : !x ? "x" : "w");
    repro_pool2d_shape one;
    if ((st = pools_output(&G, ps, &one, op, err)) != REPRO_OK)
        return st;
    conv_job j = job_of(cpu, &G);
    if (!j.by_image) { /* fewer images than threads: each image is split by pixels, so pool after */
        st = repro_conv2d_forward(cpu, s, y, x, w, bias, err);
        return st == REPRO_OK ? repro_maxpool2d_forward(cpu, ps, pool_y, argmax, y, err) : st;
    }
    j.y = y, j.x = x, j.w = w, j.bias = bias;
    j.pool_y = pool_y, j.argmax = argmax, j.ps = one;
    st = alloc_scratch(&j, pixel_slot(&j, G.Kc, G.OHW, 0, G.Cg * G.Hp * G.Wp) + (size_t)(G.s.O * G.OHW), 0, op,
                       err);
    if (st != REPRO_OK)
        return st;
    repro_pool_run(cpu->pool, j.parts, forward_part, &j);
    return finish(&j, op, err);
}

repro_status repro_conv2d_backward_maxpool(const repro_cpu *cpu, const repro_conv2d_shape *s,
                                           const repro_pool2d_shape *ps, float *dw, float *db, const float *pool_dy,
                                           const int32_t *argmax, const float *x, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    const char *op = "conv2d backward after a max pool";
    geom G;
    repro_status st = check_shape(s, op, &G, err);
    if (st != REPRO_OK)
        return st;
    if (!dw && !db)
        return REPRO_OK;
    if (!ps || !pool_dy || !argmax || (dw && !x))
        return repro_fail(err, REPRO_ERR_ARG, "%s: %s is NULL", op,
                          !ps ? "the pool's shape" : !pool_dy ? "pool_dy" : !argmax ? "argmax" : "x (needed for dw)");
    conv_job j = job_of(cpu, &G);
    if ((st = pools_output(&G, ps, &j.ps, op, err)) != REPRO_OK)
        return st;
    j.dw = dw, j.db = db, j.x = x, j.pool_dy = pool_dy, j.pool_argmax = argmax;
    j.dyn_at = param_slot_of(&j);
    st = alloc_scratch(&j, j.dyn_at + (size_t)(G.Og * G.OHW), 0, op, err);
    if (st != REPRO_OK)
        return st;
    repro_pool_run(cpu->pool, j.parts, params_part, &j);
    return finish(&j, op, err);
}

repro_status repro_conv2d_backward(const repro_cpu *cpu, const repro_conv2d_shape *s, float *dx, float *dw,
                                   float *db, const float *dy, const float *x, const float *w, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    const char *op = "conv2d backward";
    geom G;
    repro_status st = check_shape(s, op, &G, err);
    if (st != REPRO_OK)
        return st;
    if (!dx && !dw && !db)
        return REPRO_OK;
    if (!dy || (dw && !x) || (dx && !w))
        return repro_fail(err, REPRO_ERR_ARG, "%s: %s is NULL", op,
                          !dy ? "dy" : (dw && !x) ? "x (needed for dw)" : "w (needed for dx)");
    conv_job j = job_of(cpu, &G);
    j.dx = dx, j.dw = dw, j.db = db, j.dy = dy, j.x = x, j.w = w;
    size_t slot = dx ? pixel_slot(&j, G.Kd, G.HW, G.s.C, G.Og * G.Hq * G.Wq) : 0;
    size_t param_slot = param_slot_of(&j);
    if ((dw || db) && param_slot > slot)
        slot = param_slot;
    size_t wr_floats = dx ? (size_t)(G.s.O * G.Kc) : 0;
    st = alloc_scratch(&j, slot, wr_floats, op, err);
    if (st != REPRO_OK)
        return st;
    if (dx) {
        float *wr = j.scratch + (size_t)j.parts * j.slot; /* wr[o][kk][ci] = w[o][ci][kk] */
        for (int64_t o = 0; o < G.s.O; o++)
            j.transpose(wr + o * G.Kc, G.Cg, w + o * G.Kc, G.KK, G.Cg, G.KK);
        j.wr = wr;
        repro_pool_run(cpu->pool, j.parts, dx_part, &j);
    }
    int dx_ok = 1;
    for (int64_t p = 0; p < j.parts; p++)
        dx_ok &= j.st[p] == REPRO_OK;
    if (dx_ok && (dw || db))
        repro_pool_run(cpu->pool, j.parts, params_part, &j);
    return finish(&j, op, err);
}
