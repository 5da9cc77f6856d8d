/* Gradient checks of conv2d and pooling: every backward kernel against
 * central finite differences of a double-precision forward written here
 * from the definition (PyTorch's conv2d and pooling), tests/test_gradcheck.c's
 * method.
 *
 * For an op f and random weights wy (the incoming gradient dy), the float
 * kernels' dx (and dw, db) must match d/dx [sum wy . f(x)] computed in
 * double with a central difference, step h = 1e-6 * max(1, |x|), at the
 * same (float) inputs. Pass: |analytic - numeric| <= RTOL * |numeric| + ATOL
 * per element; the worst ratio of each op is printed (1.0 = at the
 * tolerance). Max pooling's inputs are a shuffled grid of distinct values
 * 0.01 apart, so no step moves a window's maximum. */
#include <math.h>

#include "ops/cpu/conv.h"
#include "repro/isa.h"
#include "ops/cpu/pool2d.h"
#include "gradcheck.h"
#include "testutil.h"


static uint64_t rng_state = 0xA0761D6478BD642Full;

static uint32_t rand_u32(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 32);
}

static float rand_range(float lo, float hi)
{
    return lo + (hi - lo) * ((float)(rand_u32() >> 8) * 0x1p-24f);
}

static void fill(float *x, int64_t n, float lo, float hi)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = rand_range(lo, hi);
}

/* ---- conv2d ---- */

typedef struct conv_inputs {
    const repro_conv2d_shape *s;
    double *x, *w, *b; /* the point of evaluation, in double */
    const float *wy;   /* [N][O][OH][OW] */
} conv_inputs;

/* sum wy . conv(x, w) + b, in double, from the definition. */
static double conv_loss(const conv_inputs *in)
{
    const repro_conv2d_shape *s = in->s;
    const int64_t Cg = s->C / s->groups, Og = s->O / s->groups;
    double L = 0.0;
    for (int64_t n = 0; n < s->N; n++)
        for (int64_t o = 0; o < s->O; o++)
            for (int64_t oh = 0; oh < s->OH; oh++)
                for (int64_t ow = 0; ow < s->OW; ow++) {
                    double acc = in->b[o];
                    for (int64_t ci = 0; ci < Cg; ci++)
                        for (int64_t kh = 0; kh < s->KH; kh++)
                            for (int64_t kw = 0; kw < s->KW; kw++) {
                                int64_t ih = oh * s->stride_h - s->pad_h + kh * s->dil_h;
                                int64_t iw = ow * s->stride_w - s->pad_w + kw * s->dil_w;
                                if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W)
                                    continue;
                                int64_t c = o / Og * Cg + ci;
                                acc += in->x[((n * s->C + c) * s->H + ih) * s->W + iw] *
                                       in->w[((o * Cg + ci) * s->KH + kh) * s->KW + kw];
                            }
                    L += (double)in->wy[((n * s->O + o) * s->OH + oh) * s->OW + ow] * acc;
                }
    return L;
}

/* d conv_loss / d v[i] for every i, central differences. */
static void numeric_grad(conv_inputs *in, double *v, int64_t n, double *out)
{
    for (int64_t i = 0; i < n; i++) {
        double keep = v[i], h = step_of(keep);
        v[i] = keep + h;
        double lp = conv_loss(in);
        v[i] = keep - h;
        double lm = conv_loss(in);
        v[i] = keep;
        out[i] = (lp - lm) / (2 * h);
    }
}

static double *to_double(const float *x, int64_t n)
{
    double *d = malloc((size_t)n * sizeof *d);
    for (int64_t i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

static void check_conv(const char *name, const repro_cpu *cpu, repro_conv2d_shape s)
{
    repro_error err;
    CHECK_MSG(repro_conv2d_shape_check(&s, &err) == REPRO_OK, "%s", err.message);
    const int64_t nx = s.N * s.C * s.H * s.W, ny = s.N * s.O * s.OH * s.OW;
    const int64_t nw = s.O * (s.C / s.groups) * s.KH * s.KW;
    float *x = malloc((size_t)nx * 4), *w = malloc((size_t)nw * 4), *b = malloc((size_t)s.O * 4);
    float *wy = malloc((size_t)ny * 4), *dx = malloc((size_t)nx * 4), *dw = calloc((size_t)nw, 4);
    float *db = calloc((size_t)s.O, 4);
    fill(x, nx, -2, 2);
    fill(w, nw, -1, 1);
    fill(b, s.O, -1, 1);
    fill(wy, ny, -1, 1);
    CHECK(repro_conv2d_backward(cpu, &s, dx, dw, db, wy, x, w, &err) == REPRO_OK);
    conv_inputs in = {&s, to_double(x, nx), to_double(w, nw), to_double(b, s.O), wy};
    double *num = malloc((size_t)(nx > nw ? nx : nw) * sizeof *num);
    char label[96];
    numeric_grad(&in, in.x, nx, num);
    snprintf(label, sizeof label, "conv2d %s dx", name);
    compare(label, dx, num, nx);
    numeric_grad(&in, in.w, nw, num);
    snprintf(label, sizeof label, "conv2d %s dw", name);
    compare(label, dw, num, nw);
    numeric_grad(&in, in.b, s.O, num);
    snprintf(label, sizeof label, "conv2d %s db", name);
    compare(label, db, num, s.O);
    free(x), free(w), free(b), free(wy), free(dx), free(dw), free(db), free(in.x), free(in.w), free(in.b), free(num);
}

/* ---- pooling ---- */

typedef enum pool_kind { MAX, AVG } pool_kind;

/* sum wy . pool(x), in double, from the definition (padding: skipped by
 * max, counted as zeros by avg). */
static double pool_loss(const repro_pool2d_shape *s, pool_kind kind, const double *x, const float *wy)
{
    double L = 0.0;
    for (int64_t p = 0; p < s->N * s->C; p++)
        for (int64_t oh = 0; oh < s->OH; oh++)
            for (int64_t ow = 0; ow < s->OW; ow++) {
                double acc = kind == MAX ? -INFINITY : 0.0;
                for (int64_t kh = 0; kh < s->KH; kh++)
                    for (int64_t kw = 0; kw < s->KW; kw++) {
                        int64_t ih = oh * s->stride_h - s->pad_h + kh, iw = ow * s->stride_w - s->pad_w + kw;
                        if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W)
                            continue;
                        double v = x[(p * s->H + ih) * s->W + iw];
                        acc = kind == MAX ? (v > acc ? v : acc) : acc + v;
                    }
                if (kind == AVG)
                    acc /= (double)(s->KH * s->KW);
                L += (double)wy[(p * s->OH + oh) * s->OW + ow] * acc;
            }
    return L;
}

/* x[n]: 0.01 * a shuffle of 0 .. n-1, minus n/200: distinct, 0.01 apart. */
static void distinct(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(rand_u32() % (uint32_t)(i + 1));
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
    for (int64_t i = 0; i < n; i++)
        x[i] = x[i] * 0.01f - (float)n / 200.0f;
}

static void check_pool(const char *name, const repro_cpu *cpu, repro_pool2d_shape s)
{
    repro_error err;
    CHECK_MSG(repro_pool2d_shape_check(&s, &err) == REPRO_OK, "%s", err.message);
    const int64_t nx = s.N * s.C * s.H * s.W, ny = s.N * s.C * s.OH * s.OW;
    float *x = malloc((size_t)nx * 4), *y = malloc((size_t)ny * 4), *wy = malloc((size_t)ny * 4);
    float *dx = malloc((size_t)nx * 4);
    int32_t *am = malloc((size_t)ny * 4);
    double *num = malloc((size_t)nx * sizeof *num);
    distinct(x, nx);
    fill(wy, ny, -1, 1);
    double *xd = to_double(x, nx);
    char label[96];
    for (int k = 0; k < 2; k++) {
        pool_kind kind = k == 0 ? MAX : AVG;
        if (kind == MAX) {
            CHECK(repro_maxpool2d_forward(cpu, &s, y, am, x, &err) == REPRO_OK);
            CHECK(repro_maxpool2d_backward(cpu, &s, dx, wy, am, &err) == REPRO_OK);
        } else {
            CHECK(repro_avgpool2d_backward(cpu, &s, dx, wy, &err) == REPRO_OK);
        }
        for (int64_t i = 0; i < nx; i++) {
            double keep = xd[i], h = step_of(keep);
            xd[i] = keep + h;
            double lp = pool_loss(&s, kind, xd, wy);
            xd[i] = keep - h;
            double lm = pool_loss(&s, kind, xd, wy);
            xd[i] = keep;
            num[i] = (lp - lm) / (2 * h);
        }
        snprintf(label, sizeof label, "%s %s dx", kind == MAX ? "maxpool" : "avgpool", name);
        compare(label, dx, num, nx);
    }
    free(x), free(y), free(wy), free(dx), free(am), free(num), free(xd);
}

/* Global average pooling: L = sum wy[n][c] * mean of plane (n, c). */
static void check_global(const repro_cpu *cpu)
{
    enum { N = 3, C = 4, HW = 37 };
    static float x[N * C * HW], wy[N * C], dx[N * C * HW];
    static double num[N * C * HW];
    fill(x, N * C * HW, -3, 3);
    fill(wy, N * C, -1, 1);
    CHECK(repro_global_avgpool_backward(cpu, dx, wy, N, C, HW, NULL) == REPRO_OK);
    for (int i = 0; i < N * C * HW; i++) {
        /* the loss is linear: d/dx_i = wy[plane] / HW; still, by differences */
        double h = step_of(x[i]), mean_p = 0, mean_m = 0;
        int p = i / HW;
        for (int k = 0; k < HW; k++) {
            double v = x[p * HW + k];
            mean_p += k == i % HW ? v + h : v;
            mean_m += k == i % HW ? v - h : v;
        }
        num[i] = (double)wy[p] * (mean_p / HW - mean_m / HW) / (2 * h);
    }
    compare("global avgpool dx", dx, num, N * C * HW);
}

int main(void)
{
    repro_pool *pool;
    repro_error err;
    CHECK(repro_pool_create(2, &pool, &err) == REPRO_OK);
    repro_cpu cpu = {repro_isa_best(), pool};
    check_conv("plain 3x3 pad 1", &cpu,
               (repro_conv2d_shape){.N = 2, .C = 3, .H = 6, .W = 5, .O = 4, .KH = 3, .KW = 3, .stride_h = 1,
                                    .stride_w = 1, .pad_h = 1, .pad_w = 1, .dil_h = 1, .dil_w = 1, .groups = 1});
    check_conv("stride 2 pad 1 dil 2 groups 2", &cpu,
               (repro_conv2d_shape){.N = 2, .C = 4, .H = 7, .W = 6, .O = 6, .KH = 3, .KW = 3, .stride_h = 2,
                                    .stride_w = 2, .pad_h = 1, .pad_w = 1, .dil_h = 2, .dil_w = 2, .groups = 2});
    check_conv("3x2 stride 1x2 pad 2x1 dil 1x2", &cpu,
               (repro_conv2d_shape){.N = 3, .C = 3, .H = 6, .W = 7, .O = 4, .KH = 3, .KW = 2, .stride_h = 1,
                                    .stride_w = 2, .pad_h = 2, .pad_w = 1, .dil_h = 1, .dil_w = 2, .groups = 1});
    check_conv("depthwise x2 stride 2", &cpu,
               (repro_conv2d_shape){.N = 2, .C = 3, .H = 7, .W = 7, .O = 6, .KH = 3, .KW = 3, .stride_h = 2,
                                    .stride_w = 2, .pad_h = 1, .pad_w = 1, .dil_h = 1, .dil_w = 1, .groups = 3});
    check_pool("2x2 stride 2", &cpu,
               (repro_pool2d_shape){.N = 2, .C = 3, .H = 6, .W = 8, .KH = 2, .KW = 2, .stride_h = 2, .stride_w = 2});
    check_pool("3x3 stride 2 pad 1 (overlapping)", &cpu,
               (repro_pool2d_shape){.N = 2, .C = 2, .H = 7, .W = 6, .KH = 3, .KW = 3, .stride_h = 2, .stride_w = 2,
                                    .pad_h = 1, .pad_w = 1});
    check_pool("3x2 stride 1 pad 1x1", &cpu,
               (repro_pool2d_shape){.N = 1, .C = 3, .H = 5, .W = 6, .KH = 3, .KW = 2, .stride_h = 1, .stride_w = 1,
                                    .pad_h = 1, .pad_w = 1});
    check_global(&cpu);
    repro_pool_destroy(pool);
    return test_finish("test_gradcheck_conv");
}
