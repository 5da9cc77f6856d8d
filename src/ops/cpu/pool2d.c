/* The threaded pooling kernels: pool2d.h's order, (n, c) planes split over
 * the pool. Within a plane, an output row's "interior" columns (windows
 * with no padding column) run tap by tap over up to 64 outputs at once, a
 * loop the compiler vectorises with each lane its own output's chain; the
 * edge columns take the plain per-window path. Backward passes scatter each
 * window's share into dx in (oh, ow) order: the same terms, in the same
 * order, as the references' gathers.
 *
 * 2x2 windows at stride 2 without padding (every conv net's pooling)
 * take their own path: those windows tile the plane, so the backward
 * writes each dx element once (its window's term where the argmax points,
 * else +0) instead of clearing the plane and scattering, and on the AVX2
 * and AVX-512 paths whole rows run 8 windows a step (pool2d_avx2.c). */
#include "ops/cpu/pool2d.h"

#include <stddef.h>

#include "ops/cpu/pool2d_rows.h"
#include "ops/reduce.h"

enum { CHUNK = 64 };

#if defined(__GNUC__)
#define REPRO_ALWAYS_INLINE __attribute__((always_inline))
#else
#define REPRO_ALWAYS_INLINE
#endif

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

typedef struct pool_job {
    repro_pool2d_shape s;
    float *out;            /* y or dx */
    int32_t *argmax_out;   /* max forward, may be NULL */
    const float *in;       /* x or dy */
    const int32_t *argmax; /* max backward */
    int64_t HW;            /* global pooling */
    int simd;              /* the AVX2 row functions of pool2d_rows.h may run */
} pool_job;

/* Real kernel rows [kh0, kh1) of output row oh. */
static void kh_range(const repro_pool2d_shape *s, int64_t oh, int64_t *kh0, int64_t *kh1)
{
    int64_t ih0 = oh * s->stride_h - s->pad_h;
    *kh0 = max64(0, -ih0);
    *kh1 = min64(s->KH, s->H - ih0);
}

/* Output columns [ow0, ow1) whose windows have no padding column. */
static void interior(const repro_pool2d_shape *s, int64_t *ow0, int64_t *ow1)
{
    int64_t last = s->W - s->KW + s->pad_w; /* ow*stride_w <= last */
    *ow0 = min64(s->OW, (s->pad_w + s->stride_w - 1) / s->stride_w);
    *ow1 = last < 0 ? 0 : min64(s->OW, last / s->stride_w + 1);
    if (*ow1 < *ow0)
        *ow1 = *ow0;
}

/* ---- max ---- */

/* One window, the written way. */
static void max_window(const repro_pool2d_shape *s, const float *plane, int64_t oh, int64_t ow, float *y,
                       int32_t *am)
{
    float m = 0.0f;
    int64_t idx = -1;
    for (int64_t kh = 0; kh < s->KH; kh++)
        for (int64_t kw = 0; kw < s->KW; kw++) {
            int64_t ih = oh * s->stride_h - s->pad_h + kh, iw = ow * s->stride_w - s->pad_w + kw;
            if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W)
                continue;
            float v = plane[ih * s->W + iw];
            if (idx < 0 || v > m || (v != v && m == m)) {
                m = v;
                idx = ih * s->W + iw;
            }
        }
    *y = m;
    if (am)
        *am = (int32_t)idx;
}

/* One tap of n interior outputs: v = src[j*sw] against the running
 * maximum m[j] and its index ix[j] (at + j*sw in the plane). Inlined with
 * sw a constant where the caller can (strides 1 and 2), so the loop
 * vectorises with each lane its own output. */
static inline REPRO_ALWAYS_INLINE void max_tap(const float *restrict src, int32_t at, int n, int sw,
                                               float *restrict m, int32_t *restrict ix, int first)
{
    if (first) {
        for (int j = 0; j < n; j++) {
            m[j] = src[j * sw];
            ix[j] = at + j * sw;
        }
        return;
    }
    for (int j = 0; j < n; j++) {
        float v = src[j * sw];
        int take = (v > m[j]) | ((v != v) & (m[j] == m[j]));
        m[j] = take ? v : m[j];
        ix[j] = take ? at + j * sw : ix[j];
    }
}

/* Outputs [c0, c0 + len) of row oh, all interior, tap by tap: the
 * running maxima live in y and am themselves (am: a local array when the
 * caller wants no argmax). */
static void max_chunk(const repro_pool2d_shape *s, const float *plane, int64_t oh, int64_t c0, int64_t len,
                      int64_t kh0, int64_t kh1, float *m, int32_t *am)
{
    int32_t local[CHUNK];
    int32_t *ix = am ? am : local;
    const int n = (int)len, sw = (int)s->stride_w;
    const int64_t iw0 = c0 * sw - s->pad_w;
    for (int64_t kh = kh0; kh < kh1; kh++)
        for (int64_t kw = 0; kw < s->KW; kw++) {
            const int32_t at = (int32_t)((oh * s->stride_h - s->pad_h + kh) * s->W + iw0 + kw);
            const int first = kh == kh0 && kw == 0;
            if (sw == 1)
                max_tap(plane + at, at, n, 1, m, ix, first);
            else if (sw == 2)
                max_tap(plane + at, at, n, 2, m, ix, first);
            else
                max_tap(plane + at, at, n, sw, m, ix, first);
        }
}

/* ---- max, 2x2 windows at stride 2 without padding ---- */

int repro_pool2d_is_2x2_tiling(const repro_pool2d_shape *s)
{
    return s->KH == 2 && s->KW == 2 && s->stride_h == 2 && s->stride_w == 2 && s->pad_h == 0 && s->pad_w == 0;
}

#if defined(__x86_64__)
/* Whether output row oh of a tiling plane may spill (pool2d_rows.h): its
 * 16 floats from the start of each input row and its 8 outputs from the
 * start of the output row stay in the plane. Whatever they touch past the
 * row belongs to the rows below (written later, in order, by the same
 * thread) or to the odd column and row in no window (zeroed after them). */
static int may_spill(const repro_pool2d_shape *s, int64_t oh)
{
    return (2 * oh + 1) * s->W + 16 <= s->H * s->W && oh * s->OW + 8 <= s->OH * s->OW;
}
#endif

/* Output row oh of a tiling plane: the SIMD row where it may run, then
 * max_chunk's plain steps for the rest (every window is interior). */
static void max_tiles_forward_row(const pool_job *j, const float *plane, int64_t oh, float *y, int32_t *am)
{
    const repro_pool2d_shape *s = &j->s;
    int64_t done = 0;
#if defined(__x86_64__)
    if (j->simd)
        done = repro_maxpool2x2_forward_row_avx2(plane, s->W, (int32_t)(2 * oh * s->W), s->OW, y, am,
                                                 may_spill(s, oh));
#endif
    for (int64_t c = done; c < s->OW; c += CHUNK)
        max_chunk(s, plane, oh, c, min64(CHUNK, s->OW - c), 0, 2, y + c, am ? am + c : NULL);
}

/* dx rows 2*oh and 2*oh + 1 of a tiling plane: each element its window's
 * term where the argmax points at it, else +0 (the reference's gather
 * over the one window that holds it); a last odd column, in no window, +0. */
static void max_tiles_backward_row(const pool_job *j, float *dx, int64_t oh, const float *dy, const int32_t *am)
{
    const repro_pool2d_shape *s = &j->s;
    const int64_t W = s->W, at = 2 * oh * W;
    int64_t done = 0;
#if defined(__x86_64__)
    if (j->simd)
        done = repro_maxpool2x2_backward_row_avx2(dx, W, (int32_t)at, s->OW, dy, am, may_spill(s, oh));
#endif
    for (int64_t ow = done; ow < s->OW; ow++) {
        const int64_t a = at + 2 * ow;
        const float g = +0.0f + dy[ow];
        dx[a] = am[ow] == a ? g : +0.0f;
        dx[a + 1] = am[ow] == a + 1 ? g : +0.0f;
        dx[a + W] = am[ow] == a + W ? g : +0.0f;
        dx[a + W + 1] = am[ow] == a + W + 1 ? g : +0.0f;
    }
    for (int64_t iw = 2 * s->OW; iw < W; iw++)
        dx[at + iw] = dx[at + W + iw] = +0.0f;
}

static void max_tiles_forward_planes(void *ctx, int64_t begin, int64_t end)
{
    const pool_job *j = ctx;
    const repro_pool2d_shape *s = &j->s;
    for (int64_t p = begin; p < end; p++)
        for (int64_t oh = 0; oh < s->OH; oh++) {
            const int64_t o = (p * s->OH + oh) * s->OW;
            max_tiles_forward_row(j, j->in + p * s->H * s->W, oh, j->out + o, j->argmax_out ? j->argmax_out + o : NULL);
        }
}

static void max_tiles_backward_planes(void *ctx, int64_t begin, int64_t end)
{
    const pool_job *j = ctx;
    const repro_pool2d_shape *s = &j->s;
    const int64_t HW = s->H * s->W, OHW = s->OH * s->OW;
    for (int64_t p = begin; p < end; p++) {
        float *dx = j->out + p * HW;
        for (int64_t oh = 0; oh < s->OH; oh++)
            max_tiles_backward_row(j, dx, oh, j->in + p * OHW + oh * s->OW, j->argmax + p * OHW + oh * s->OW);
        for (int64_t i = 2 * s->OH * s->W; i < HW; i++) /* a last odd row, in no window */
            dx[i] = +0.0f;
    }
}

/* One image's tiling planes [c0, C) pixel-major (repro_maxpool2x2_backward_pixels):
 * each window's four taps as max_tiles_backward_row writes them, at
 * dxT[tap * ld + c]. */
static void max_tiles_backward_pixels(const repro_pool2d_shape *s, float *dxT, int64_t ld, const float *dy,
                                      const int32_t *am, int64_t c0)
{
    const int64_t W = s->W, OHW = s->OH * s->OW;
    for (int64_t c = c0; c < s->C; c++)
        for (int64_t oh = 0, q = 0; oh < s->OH; oh++)
            for (int64_t ow = 0; ow < s->OW; ow++, q++) {
                const int64_t a = 2 * oh * W + 2 * ow, m = am[c * OHW + q];
                const float g = +0.0f + dy[c * OHW + q];
                dxT[a * ld + c] = m == a ? g : +0.0f;
                dxT[(a + 1) * ld + c] = m == a + 1 ? g : +0.0f;
                dxT[(a + W) * ld + c] = m == a + W ? g : +0.0f;
                dxT[(a + W + 1) * ld + c] = m == a + W + 1 ? g : +0.0f;
            }
}

/* The pixels of an odd last column or row, in no window: +0 in every plane. */
static void zero_pixels_outside(const repro_pool2d_shape *s, float *dxT, int64_t ld)
{
    for (int64_t ih = 0; ih < s->H; ih++)
        for (int64_t iw = ih < 2 * s->OH ? 2 * s->OW : 0; iw < s->W; iw++)
            for (int64_t c = 0; c < s->C; c++)
                dxT[(ih * s->W + iw) * ld + c] = +0.0f;
}

static void max_forward_planes(void *ctx, int64_t begin, int64_t end)
{
    const pool_job *j = ctx;
    const repro_pool2d_shape *s = &j->s;
    int64_t ow0, ow1;
    interior(s, &ow0, &ow1);
    for (int64_t p = begin; p < end; p++) {
        const float *plane = j->in + p * s->H * s->W;
        for (int64_t oh = 0; oh < s->OH; oh++) {
            float *y = j->out + (p * s->OH + oh) * s->OW;
            int32_t *am = j->argmax_out ? j->argmax_out + (p * s->OH + oh) * s->OW : NULL;
            int64_t kh0, kh1;
            kh_range(s, oh, &kh0, &kh1);
            for (int64_t ow = 0; ow < ow0; ow++)
                max_window(s, plane, oh, ow, y + ow, am ? am + ow : NULL);
            for (int64_t c = ow0; c < ow1; c += CHUNK)
                max_chunk(s, plane, oh, c, min64(CHUNK, ow1 - c), kh0, kh1, y + c, am ? am + c : NULL);
            for (int64_t ow = ow1; ow < s->OW; ow++)
                max_window(s, plane, oh, ow, y + ow, am ? am + ow : NULL);
        }
    }
}

static void max_backward_planes(void *ctx, int64_t begin, int64_t end)
{
    const pool_job *j = ctx;
    const repro_pool2d_shape *s = &j->s;
    const int64_t HW = s->H * s->W, OHW = s->OH * s->OW;
    for (int64_t p = begin; p < end; p++) {
        float *dx = j->out + p * HW;
        const float *dy = j->in + p * OHW;
        const int32_t *am = j->argmax + p * OHW;
        for (int64_t i = 0; i < HW; i++)
            dx[i] = +0.0f;
        for (int64_t oh = 0; oh < s->OH; oh++)
            for (int64_t ow = 0; ow < s->OW; ow++) {
                int64_t idx = am[oh * s->OW + ow];
                if (idx < 0 || idx >= HW)
                    continue;
                int64_t dh = idx / s->W - (oh * s->stride_h - s->pad_h);
                int64_t dw = idx % s->W - (ow * s->stride_w - s->pad_w);
                if (dh < 0 || dh >= s->KH || dw < 0 || dw >= s->KW)
                    continue; /* outside its window: the gather never sees it */
                dx[idx] = dx[idx] + dy[oh * s->OW + ow];
            }
    }
}

/* ---- average ---- */

static float avg_window(const repro_pool2d_shape *s, const float *plane, int64_t oh, int64_t ow, float div)
{
    float sum = +0.0f;
    for (int64_t kh = 0; kh < s->KH; kh++)
        for (int64_t kw = 0; kw < s->KW; kw++) {
            int64_t ih = oh * s->stride_h - s->pad_h + kh, iw = ow * s->stride_w - s->pad_w + kw;
            if (ih >= 0 && ih < s->H && iw >= 0 && iw < s->W)
                sum = sum + plane[ih * s->W + iw];
        }
    return sum / div;
}

static void avg_chunk(const repro_pool2d_shape *s, const float *plane, int64_t oh, int64_t c0, int64_t len,
                      int64_t kh0, int64_t kh1, float div, float *y)
{
    float sum[CHUNK];
    const int64_t sw = s->stride_w, iw0 = c0 * sw - s->pad_w;
    for (int64_t j = 0; j < len; j++)
        sum[j] = +0.0f;
    for (int64_t kh = kh0; kh < kh1; kh++)
        for (int64_t kw = 0; kw < s->KW; kw++) {
            const float *src = plane + (oh * s->stride_h - s->pad_h + kh) * s->W + iw0 + kw;
            for (int64_t j = 0; j < len; j++)
                sum[j] = sum[j] + src[j * sw];
        }
    for (int64_t j = 0; j < len; j++)
        y[j] = sum[j] / div;
}

static void avg_forward_planes(void *ctx, int64_t begin, int64_t end)
{
    const pool_job *j = ctx;
    const repro_pool2d_shape *s = &j->s;
    const float div = (float)(s->KH * s->KW);
    int64_t ow0, ow1;
    interior(s, &ow0, &ow1);
    for (int64_t p = begin; p < end; p++) {
        const float *plane = j->in + p * s->H * s->W;
        for (int64_t oh = 0; oh < s->OH; oh++) {
            float *y = j->out + (p * s->OH + oh) * s->OW;
            int64_t kh0, kh1;
            kh_range(s, oh, &kh0, &kh1);
            for (int64_t ow = 0; ow < ow0; ow++)
                y[ow] = avg_window(s, plane, oh, ow, div);
            for (int64_t c = ow0; c < ow1; c += CHUNK)
                avg_chunk(s, plane, oh, c, min64(CHUNK, ow1 - c), kh0, kh1, div, y + c);
            for (int64_t ow = ow1; ow < s->OW; ow++)
                y[ow] = avg_window(s, plane, oh, ow, div);
        }
    }
}

static void avg_backward_planes(void *ctx, int64_t begin, int64_t end)
{
    const pool_job *j = ctx;
    const repro_pool2d_shape *s = &j->s;
    const int64_t HW = s->H * s->W, OHW = s->OH * s->OW;
    const float div = (float)(s->KH * s->KW);
    for (int64_t p = begin; p < end; p++) {
        float *dx = j->out + p * HW;
        const float *dy = j->in + p * OHW;
        for (int64_t i = 0; i < HW; i++)
            dx[i] = +0.0f;
        for (int64_t oh = 0; oh < s->OH; oh++) {
            int64_t kh0, kh1, ih0 = oh * s->stride_h - s->pad_h;
            kh_range(s, oh, &kh0, &kh1);
            for (int64_t ow = 0; ow < s->OW; ow++) {
                const int64_t iw0 = ow * s->stride_w - s->pad_w;
                const int64_t kw0 = max64(0, -iw0), kw1 = min64(s->KW, s->W - iw0);
                const float t = dy[oh * s->OW + ow] / div;
                for (int64_t kh = kh0; kh < kh1; kh++)
                    for (int64_t kw = kw0; kw < kw1; kw++) {
                        float *d = dx + (ih0 + kh) * s->W + iw0 + kw;
                        *d = *d + t;
                    }
            }
        }
    }
}

/* ---- global average ---- */

static void gap_forward_planes(void *ctx, int64_t begin, int64_t end)
{
    const pool_job *j = ctx;
    for (int64_t p = begin; p < end; p++)
        j->out[p] = repro_sum_canonical(j->in + p * j->HW, j->HW) / (float)j->HW;
}

static void gap_backward_planes(void *ctx, int64_t begin, int64_t end)
{
    const pool_job *j = ctx;
    for (int64_t p = begin; p < end; p++) {
        const float v = j->in[p] / (float)j->HW;
        float *dx = j->out + p * j->HW;
        for (int64_t i = 0; i < j->HW; i++)
            dx[i] = v;
    }
}

/* ---- entry points ---- */

static repro_status check(const repro_pool2d_shape *s, const char *op, const void *out, const void *in,
                          const void *argmax, int need_argmax, pool_job *j, repro_error *err)
{
    if (!s)
        return repro_fail(err, REPRO_ERR_ARG, "%s: shape is NULL", op);
    repro_pool2d_shape c = *s;
    repro_status st = repro_pool2d_shape_check(&c, err);
    if (st != REPRO_OK)
        return st;
    if (c.OH != s->OH || c.OW != s->OW)
        return repro_fail(err, REPRO_ERR_ARG,
                          "%s: the shape says the output is %lldx%lld but its sizes give %lldx%lld "
                          "(fill it with repro_pool2d_shape_check)",
                          op, (long long)s->OH, (long long)s->OW, (long long)c.OH, (long long)c.OW);
    if (!out || !in || (need_argmax && !argmax))
        return repro_fail(err, REPRO_ERR_ARG, "%s: %s is NULL", op, !out ? "the output" : !in ? "the input" : "argmax");
    *j = (pool_job){.s = c};
    return REPRO_OK;
}

repro_status repro_maxpool2d_forward(const repro_cpu *cpu, const repro_pool2d_shape *s, float *y, int32_t *argmax,
                                     const float *x, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    pool_job j;
    repro_status st = check(s, "maxpool2d forward", y, x, NULL, 0, &j, err);
    if (st != REPRO_OK)
        return st;
    j.out = y, j.argmax_out = argmax, j.in = x;
    j.simd = cpu->isa == REPRO_ISA_AVX2 || cpu->isa == REPRO_ISA_AVX512;
    repro_pool_run(cpu->pool, j.s.N * j.s.C,
                   repro_pool2d_is_2x2_tiling(&j.s) ? max_tiles_forward_planes : max_forward_planes, &j);
    return REPRO_OK;
}

repro_status repro_maxpool2d_backward(const repro_cpu *cpu, const repro_pool2d_shape *s, float *dx, const float *dy,
                                      const int32_t *argmax, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    pool_job j;
    repro_status st = check(s, "maxpool2d backward", dx, dy, argmax, 1, &j, err);
    if (st != REPRO_OK)
        return st;
    j.out = dx, j.in = dy, j.argmax = argmax;
    j.simd = cpu->isa == REPRO_ISA_AVX2 || cpu->isa == REPRO_ISA_AVX512;
    repro_pool_run(cpu->pool, j.s.N * j.s.C,
                   repro_pool2d_is_2x2_tiling(&j.s) ? max_tiles_backward_planes : max_backward_planes, &j);
    return REPRO_OK;
}

repro_status repro_maxpool2x2_backward_pixels(const repro_cpu *cpu, const repro_pool2d_shape *s, float *dxT,
                                              int64_t ld, const float *dy, const int32_t *argmax, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    const char *op = "maxpool2d backward, pixel-major";
    pool_job j;
    repro_status st = check(s, op, dxT, dy, argmax, 1, &j, err);
    if (st != REPRO_OK)
        return st;
    if (!repro_pool2d_is_2x2_tiling(&j.s) || j.s.N != 1 || ld < j.s.C)
        return repro_fail(err, REPRO_ERR_ARG,
                          "%s: takes one image (N=%lld) of 2x2 windows at stride 2 without padding "
                          "(%lldx%lld, stride %lldx%lld, padding %lldx%lld) into rows of at least C=%lld floats "
                          "(ld=%lld)",
                          op, (long long)j.s.N, (long long)j.s.KH, (long long)j.s.KW, (long long)j.s.stride_h,
                          (long long)j.s.stride_w, (long long)j.s.pad_h, (long long)j.s.pad_w, (long long)j.s.C,
                          (long long)ld);
    int64_t done = 0;
#if defined(__x86_64__)
    if (cpu->isa == REPRO_ISA_AVX2 || cpu->isa == REPRO_ISA_AVX512)
        done = repro_maxpool2x2_backward_pixels_avx2(dxT, ld, j.s.W, j.s.OH, j.s.OW, j.s.C, dy, argmax);
#endif
    max_tiles_backward_pixels(&j.s, dxT, ld, dy, argmax, done);
    zero_pixels_outside(&j.s, dxT, ld);
    return REPRO_OK;
}

repro_status repro_avgpool2d_forward(const repro_cpu *cpu, const repro_pool2d_shape *s, float *y, const float *x,
                                     repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    pool_job j;
    repro_status st = check(s, "avgpool2d forward", y, x, NULL, 0, &j, err);
    if (st != REPRO_OK)
        return st;
    j.out = y, j.in = x;
    repro_pool_run(cpu->pool, j.s.N * j.s.C, avg_forward_planes, &j);
    return REPRO_OK;
}

repro_status repro_avgpool2d_backward(const repro_cpu *cpu, const repro_pool2d_shape *s, float *dx, const float *dy,
                                      repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    pool_job j;
    repro_status st = check(s, "avgpool2d backward", dx, dy, NULL, 0, &j, err);
    if (st != REPRO_OK)
        return st;
    j.out = dx, j.in = dy;
    repro_pool_run(cpu->pool, j.s.N * j.s.C, avg_backward_planes, &j);
    return REPRO_OK;
}

static repro_status check_global(const char *op, const void *out, const void *in, int64_t N, int64_t C, int64_t HW,
                                 repro_error *err)
{
    if (N < 1 || C < 1 || HW < 1)
        return repro_fail(err, REPRO_ERR_ARG, "%s: N, C and HW must be at least 1, got N=%lld C=%lld HW=%lld", op,
                          (long long)N, (long long)C, (long long)HW);
    const int64_t limit = (int64_t)1 << 60;
    if (N > limit / C || N * C > limit / HW)
        return repro_fail(err, REPRO_ERR_ARG, "%s: x [%lld][%lld][%lld] has more than 2^60 elements", op,
                          (long long)N, (long long)C, (long long)HW);
    if (!out || !in)
        return repro_fail(err, REPRO_ERR_ARG, "%s: %s is NULL", op, !out ? "the output" : "the input");
    return REPRO_OK;
}

repro_status repro_global_avgpool_forward(const repro_cpu *cpu, float *y, const float *x, int64_t N, int64_t C,
                                          int64_t HW, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = check_global("global avgpool forward", y, x, N, C, HW, err);
    if (st != REPRO_OK)
        return st;
    pool_job j = {.out = y, .in = x, .HW = HW};
    repro_pool_run(cpu->pool, N * C, gap_forward_planes, &j);
    return REPRO_OK;
}

repro_status repro_global_avgpool_backward(const repro_cpu *cpu, float *dx, const float *dy, int64_t N, int64_t C,
                                           int64_t HW, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = check_global("global avgpool backward", dx, dy, N, C, HW, err);
    if (st != REPRO_OK)
        return st;
    pool_job j = {.out = dx, .in = dy, .HW = HW};
    repro_pool_run(cpu->pool, N * C, gap_backward_planes, &j);
    return REPRO_OK;
}
