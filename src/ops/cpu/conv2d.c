/* The fast conv2d: im2col matrices times the weights through repro_gemm.
 * The order is conv.h's contract; here is only how each chain becomes one
 * GEMM output with its taps in that order (A(m,k), B(k,n) as in gemm.h):
 *
 *   forward, per image n and group g, output pixels r = oh*OW + ow as rows:
 *     colT [Kc][rows]  colT[k][r] = x tap k = (ci, kh, kw) of pixel r (+0 padding)
 *     yt[r][o'] = sum_k colT[k][r] w[g*Og + o'][k] (+ bias): M = rows, N = Og, K = Kc,
 *       A = colT (1, rows), B(k, o') = w (1, Kc); yt [rows][O] then transposed into y.
 *   dx, per image and group, input pixels r = ih*W + iw as rows ("dy-im2col"):
 *     dcolT [Kd][rows] dcolT[k][r] = dy tap k = (o', kh, kw) of pixel r (+0 absent)
 *     dxt[r][ci] = sum_k dcolT[k][r] wr[k][ci],  wr[(o, kh, kw)][ci] = w[o][ci][kh][kw]:
 *       M = rows, N = Cg, K = Kd = Og*KH*KW; dxt [rows][C] then transposed into dx.
 *   dw, per group, the weights' taps k = (ci, kh, kw) as rows (dw transposed):
 *     dwT[k][o'] += sum_r colT[k][r] dy[n][g*Og + o'][r], once per image n in
 *       ascending order with accumulate: M = Kc, N = Og, K = OH*OW,
 *       A = colT (OH*OW, 1), B(r, o') = dy (1, OH*OW). The same chain carries on
 *       from image to image, so the sum runs over (n, oh, ow) ascending.
 *   db[o]: for n, r ascending, acc + dy, eight channels' chains side by side.
 *
 * (The orientations were measured on the Fashion CNN's layers: the pixels
 * as GEMM rows read the im2col matrix in place, which packs nothing big,
 * and dw as dwT keeps its 16-wide SIMD lanes on output channels.)
 *
 * Threads: one pool run per phase, each thread a "part" with its own
 * scratch, calling repro_gemm inline (no pool). y and dx split images (or,
 * with fewer images than threads, pixels of every image); dw splits its
 * rows (g, k) in blocks of 8, db its channels. K is never split. */
#include <stdlib.h>
#include <string.h>

#include "ops/cpu/conv.h"
#include "ops/cpu/gemm.h"

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* A checked shape and the sizes derived from it. */
typedef struct geom {
    repro_conv2d_shape s;
    int64_t Cg, Og, KK; /* channels per group, kernel taps KH*KW */
    int64_t Kc, Kd;     /* chain lengths: Cg*KK (forward, dw), Og*KK (dx) */
    int64_t HW, OHW;
} geom;

static geom geom_of(const repro_conv2d_shape *s)
{
    geom G = {.s = *s, .Cg = s->C / s->groups, .Og = s->O / s->groups, .KK = s->KH * s->KW,
              .HW = s->H * s->W, .OHW = s->OH * s->OW};
    G.Kc = G.Cg * G.KK;
    G.Kd = G.Og * G.KK;
    return G;
}

/* ---- im2col ---- */

static void zero(float *p, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        p[i] = +0.0f;
}

/* out[j] = row[(a + j)*step + off] for j < b - a where that index is in
 * [0, len), +0 elsewhere. */
static void gather_row(float *out, const float *row, int64_t a, int64_t b, int64_t off, int64_t step, int64_t len)
{
    int64_t lo = off >= 0 ? 0 : ceil_div(-off, step);
    int64_t hi = len - off <= 0 ? 0 : ceil_div(len - off, step);
    lo = min64(max64(lo, a), b);
    hi = min64(max64(hi, lo), b);
    zero(out, lo - a);
    if (step == 1) {
        const float *src = row + off;
        for (int64_t i = lo; i < hi; i++)
            out[i - a] = src[i];
    } else {
        for (int64_t i = lo; i < hi; i++)
            out[i - a] = row[i * step + off];
    }
    zero(out + (hi - a), b - hi);
}

/* The forward's taps of one image's group: xg = x[n][g*Cg], rows k in
 * [k0, k1) of the tap order (ci, kh, kw), columns the output pixels
 * [r0, r1): col[(k - k0)*ld + (r - r0)] = x tap, +0 for padding. */
static void x_cols(float *col, int64_t ld, const geom *G, const float *xg, int64_t k0, int64_t k1, int64_t r0,
                   int64_t r1)
{
    const repro_conv2d_shape *s = &G->s;
    for (int64_t k = k0; k < k1; k++) {
        const int64_t ci = k / G->KK, kh = k % G->KK / s->KW, kw = k % s->KW;
        const float *plane = xg + ci * G->HW;
        const int64_t off = kw * s->dil_w - s->pad_w;
        for (int64_t oh = r0 / s->OW; oh * s->OW < r1; oh++) {
            int64_t base = oh * s->OW, a = max64(r0, base) - base, b = min64(r1, base + s->OW) - base;
            int64_t ih = oh * s->stride_h - s->pad_h + kh * s->dil_h;
            float *out = col + (k - k0) * ld + (base + a - r0);
            if (ih < 0 || ih >= s->H)
                zero(out, b - a);
            else
                gather_row(out, plane + ih * s->W, a, b, off, s->stride_w, s->W);
        }
    }
}

/* out[j] for input columns iw = a + j < b: dy row at tw/stride when
 * tw = iw + off >= 0 is a multiple of the stride and tw/stride < OW, else +0. */
static void dy_row(float *out, const float *row, int64_t a, int64_t b, int64_t off, int64_t stride, int64_t OW)
{
    if (stride == 1) {
        gather_row(out, row, a, b, off, 1, OW);
        return;
    }
    zero(out, b - a);
    int64_t iw = max64(a, -off), rem = (iw + off) % stride;
    if (rem)
        iw += stride - rem;
    for (; iw < b && (iw + off) / stride < OW; iw += stride)
        out[iw - a] = row[(iw + off) / stride];
}

/* dx's taps of one image's group: dyg = dy[n][g*Og], rows k = (o', kh, kw)
 * in [0, Kd), columns the input pixels [r0, r1):
 * col[k*ld + (r - r0)] = the dy tap, +0 when absent. */
static void dy_cols(float *col, int64_t ld, const geom *G, const float *dyg, int64_t r0, int64_t r1)
{
    const repro_conv2d_shape *s = &G->s;
    for (int64_t k = 0; k < G->Kd; k++) {
        const int64_t o = k / G->KK, kh = k % G->KK / s->KW, kw = k % s->KW;
        const float *plane = dyg + o * G->OHW;
        const int64_t off = s->pad_w - kw * s->dil_w;
        for (int64_t ih = r0 / s->W; ih * s->W < r1; ih++) {
            int64_t base = ih * s->W, a = max64(r0, base) - base, b = min64(r1, base + s->W) - base;
            int64_t th = ih + s->pad_h - kh * s->dil_h; /* >= 0 before the remainder */
            float *out = col + k * ld + (base + a - r0);
            if (th < 0 || th % s->stride_h != 0 || th / s->stride_h >= s->OH)
                zero(out, b - a);
            else
                dy_row(out, plane + th / s->stride_h * s->OW, a, b, off, s->stride_w, s->OW);
        }
    }
}

/* dst[c*ld_dst + r] = src[r*ld_src + c], r < rows, c < cols; blocks of 16
 * rows keep the reads of src in L1. */
static void transpose(float *dst, int64_t ld_dst, const float *src, int64_t ld_src, int64_t rows, int64_t cols)
{
    for (int64_t r0 = 0; r0 < rows; r0 += 16) {
        int64_t r1 = min64(r0 + 16, rows);
        for (int64_t c = 0; c < cols; c++)
            for (int64_t r = r0; r < r1; r++)
                dst[c * ld_dst + r] = src[r * ld_src + c];
    }
}

/* ---- the work of one call, split into parts (one per thread) ---- */

typedef struct conv_job {
    geom G;
    repro_cpu inner; /* cpu->isa without the pool: repro_gemm runs inline in a part */
    float *y, *dx, *dw, *db;
    const float *x, *w, *bias, *dy;
    const float *wr;    /* [O][KH*KW][Cg]: w regrouped as dx's B */
    float *scratch;     /* parts x slot floats */
    size_t slot;
    int64_t parts;
    int by_image;       /* y, dx: parts split images (else pixels of every image) */
    repro_status *st;   /* [parts] */
    repro_error *errs;  /* [parts] */
} conv_job;

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
        float *yt = colT + G->Kc * rows;        /* [rows][O] */
        for (int64_t n = n0; n < n1 && rows > 0 && j->st[p] == REPRO_OK; n++) {
            for (int64_t g = 0; g < s->groups && j->st[p] == REPRO_OK; g++) {
                x_cols(colT, rows, G, j->x + (n * s->C + g * G->Cg) * G->HW, 0, G->Kc, r0, r1);
                j->st[p] = repro_gemm(&j->inner, rows, G->Og, G->Kc, colT, 1, rows, j->w + g * G->Og * G->Kc, 1,
                                      G->Kc, j->bias ? j->bias + g * G->Og : NULL, yt + g * G->Og, s->O, 0,
                                      &j->errs[p]);
            }
            if (j->st[p] == REPRO_OK)
                transpose(j->y + n * s->O * G->OHW + r0, G->OHW, yt, s->O, rows, s->O);
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
        for (int64_t n = n0; n < n1 && rows > 0 && j->st[p] == REPRO_OK; n++) {
            for (int64_t g = 0; g < s->groups && j->st[p] == REPRO_OK; g++) {
                dy_cols(dcolT, rows, G, j->dy + (n * s->O + g * G->Og) * G->OHW, r0, r1);
                j->st[p] = repro_gemm(&j->inner, rows, G->Cg, G->Kd, dcolT, 1, rows, j->wr + g * G->Kd * G->Cg,
                                      G->Cg, 1, NULL, dxt + g * G->Cg, s->C, 0, &j->errs[p]);
            }
            if (j->st[p] == REPRO_OK)
                transpose(j->dx + n * s->C * G->HW + r0, G->HW, dxt, s->C, rows, s->C);
        }
    }
}

/* db[o] for o in [o0, o1): eight channels' chains advance together (each
 * still its own sum over n, then pixels, ascending). */
static void db_range(const conv_job *j, int64_t o0, int64_t o1)
{
    const geom *G = &j->G;
    const int64_t O = G->s.O, OHW = G->OHW;
    for (int64_t o = o0; o < o1; o += 8) {
        const int64_t nb = min64(8, o1 - o);
        float acc[8] = {0};
        for (int64_t c = 0; c < nb; c++)
            acc[c] = j->db[o + c];
        for (int64_t n = 0; n < G->s.N; n++) {
            const float *d = j->dy + (n * O + o) * OHW;
            if (nb == 8) {
                for (int64_t i = 0; i < OHW; i++)
                    for (int c = 0; c < 8; c++)
                        acc[c] = acc[c] + d[c * OHW + i];
            } else {
                for (int64_t i = 0; i < OHW; i++)
                    for (int64_t c = 0; c < nb; c++)
                        acc[c] = acc[c] + d[c * OHW + i];
            }
        }
        for (int64_t c = 0; c < nb; c++)
            j->db[o + c] = acc[c];
    }
}

/* dw rows [q0, q1) of the (group, tap) order, all images: per group a
 * transposed copy dwT carries the chains through one GEMM per image. */
static repro_status dw_rows(conv_job *j, int64_t p, int64_t q0, int64_t q1)
{
    const geom *G = &j->G;
    const repro_conv2d_shape *s = &G->s;
    const int64_t rows_max = q1 - q0;
    float *colT = j->scratch + p * j->slot; /* [rows][OH*OW] */
    float *dwT = colT + rows_max * G->OHW;  /* [rows][Og] */
    for (int64_t g = q0 / G->Kc; g * G->Kc < q1; g++) {
        const int64_t k0 = max64(q0, g * G->Kc) - g * G->Kc, k1 = min64(q1, (g + 1) * G->Kc) - g * G->Kc;
        float *dwg = j->dw + g * G->Og * G->Kc;
        transpose(dwT, G->Og, dwg + k0, G->Kc, G->Og, k1 - k0); /* dwT[k][o] = dwg[o][k0 + k] */
        for (int64_t n = 0; n < s->N; n++) {
            x_cols(colT, G->OHW, G, j->x + (n * s->C + g * G->Cg) * G->HW, k0, k1, 0, G->OHW);
            repro_status st = repro_gemm(&j->inner, k1 - k0, G->Og, G->OHW, colT, G->OHW, 1,
                                         j->dy + (n * s->O + g * G->Og) * G->OHW, 1, G->OHW, NULL, dwT, G->Og, 1,
                                         &j->errs[p]);
            if (st != REPRO_OK)
                return st; /* this group's dw rows keep their old value (the chains live in dwT) */
        }
        transpose(dwg + k0, G->Kc, dwT, G->Og, k1 - k0, G->Og);
    }
    return REPRO_OK;
}

/* The dw rows of part p: blocks of 8 (a micro-tile's rows) split evenly. */
static void dw_split(const conv_job *j, int64_t p, int64_t *q0, int64_t *q1)
{
    const int64_t R = j->G.s.groups * j->G.Kc, blocks = ceil_div(R, 8);
    *q0 = min64(R, blocks * p / j->parts * 8);
    *q1 = min64(R, blocks * (p + 1) / j->parts * 8);
}

static void params_part(void *ctx, int64_t begin, int64_t end)
{
    conv_job *j = ctx;
    for (int64_t p = begin; p < end; p++) {
        int64_t q0, q1;
        dw_split(j, p, &q0, &q1);
        if (j->dw && q0 < q1)
            j->st[p] = dw_rows(j, p, q0, q1);
        if (j->db)
            db_range(j, j->G.s.O * p / j->parts, j->G.s.O * (p + 1) / j->parts);
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
    j->slot = (slot + 15) / 16 * 16; /* each part on its own cache lines */
    size_t parts = (size_t)j->parts;
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
    j.by_image = G->s.N >= j.parts;
    return j;
}

/* Floats of one part's y or dx scratch: taps [K][rows] + result [rows][ch]. */
static size_t pixel_slot(const conv_job *j, int64_t K, int64_t pixels, int64_t channels)
{
    int64_t rows = j->by_image ? pixels : ceil_div(pixels, j->parts);
    return (size_t)((K + channels) * rows);
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
    st = alloc_scratch(&j, pixel_slot(&j, G.Kc, G.OHW, G.s.O), 0, op, err);
    if (st != REPRO_OK)
        return st;
    repro_pool_run(cpu->pool, j.parts, forward_part, &j);
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
    size_t slot = dx ? pixel_slot(&j, G.Kd, G.HW, G.s.C) : 0;
    int64_t dw_rows_max = ceil_div(ceil_div(G.s.groups * G.Kc, 8), j.parts) * 8;
    if (dw && (size_t)(dw_rows_max * (G.OHW + G.Og)) > slot)
        slot = (size_t)(dw_rows_max * (G.OHW + G.Og));
    size_t wr_floats = dx ? (size_t)(G.s.O * G.Kc) : 0;
    st = alloc_scratch(&j, slot, wr_floats, op, err);
    if (st != REPRO_OK)
        return st;
    if (dx) {
        float *wr = j.scratch + (size_t)j.parts * j.slot; /* wr[o][kk][ci] = w[o][ci][kk] */
        for (int64_t o = 0; o < G.s.O; o++)
            transpose(wr + o * G.Kc, G.Cg, w + o * G.Kc, G.KK, G.Cg, G.KK);
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
