/* conv2d and 2-D pooling: the threaded kernels equal their _ref twins bit
 * for bit on every ISA path this CPU supports and 1..4 threads (and no
 * pool), on odd shapes (channels 1, 3, 7, 33; images 5x5, 28x28, 31x17;
 * kernels 1x1, 3x3, 5x5, 3x1; strides 1, 2; padding 0-2; dilation 1, 2;
 * groups 1, 2, depthwise; batch 1 and 5) with signed zeros, subnormals,
 * +-1e30, infinities and NaNs mixed in; dw and db over two half-batches
 * equal one full batch bit for bit; known answers pin the written orders
 * (padding taps in the chain, first maximum, first NaN); every shape error
 * has its exact message.
 * ctest-labels: threads */
#include <math.h>

#include "ops/cpu/conv.h"
#include "repro/isa.h"
#include "ops/cpu/pool2d.h"
#include "testutil.h"

enum { MAX_THREADS = 4, N_ISAS = 4 };

static repro_pool *pools[MAX_THREADS + 1]; /* [0] = NULL: no pool, run inline */
static const repro_isa isas[N_ISAS] = {REPRO_ISA_SCALAR, REPRO_ISA_AVX2, REPRO_ISA_AVX512, REPRO_ISA_NEON};
static int isa_ok[N_ISAS];

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t next_u32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* What a test array holds. */
typedef enum fill_kind {
    PLAIN = 0, /* uniform in [-1, 1) */
    FINITE,    /* about 1 in 8: +-0, a subnormal, +-1e30 */
    NONFINITE, /* FINITE's specials, plus +-inf and NaN */
    TIES       /* small integers and signed zeros: many equal values */
} fill_kind;

static float draw(fill_kind kind)
{
    uint32_t r = next_u32();
    float u = (float)(r >> 8) * 0x1p-23f - 1.0f;
    float sign = u < 0 ? -1.0f : 1.0f;
    if (kind == TIES) {
        static const float v[] = {0.0f, -0.0f, 1.0f, -1.0f, 2.0f, 2.0f};
        return v[(r >> 4) % 6];
    }
    if (kind == PLAIN || (r & 7) != 0)
        return u;
    switch ((r >> 3) % (kind == NONFINITE ? 8 : 5)) {
    case 0: return 0.0f;
    case 1: return -0.0f;
    case 2: return 1e-40f * sign;   /* subnormal */
    case 3: return 0x1p-140f * u;   /* subnormal products */
    case 4: return 1e30f * sign;    /* overflows in products */
    case 5: return INFINITY * sign;
    case 6: return -INFINITY * sign;
    default: return NAN;
    }
}

static float *filled(int64_t n, fill_kind kind)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    for (int64_t i = 0; i < n; i++)
        p[i] = draw(kind);
    return p;
}

static float *copy_of(const float *src, int64_t n)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    memcpy(p, src, (size_t)n * sizeof *p);
    return p;
}

/* Bitwise equality, except that any NaN equals any NaN (which NaN a NaN
 * result is, is not part of the contract: see gemm.h). */
static int same(const float *a, const float *b, int64_t n, const char *what)
{
    for (int64_t i = 0; i < n; i++) {
        uint32_t ua, ub;
        memcpy(&ua, &a[i], 4);
        memcpy(&ub, &b[i], 4);
        if (ua != ub && !(isnan(a[i]) && isnan(b[i]))) {
            fprintf(stderr, "%s: first difference at %lld: %a (0x%08x) vs %a (0x%08x)\n", what, (long long)i,
                    (double)a[i], ua, (double)b[i], ub);
            return 0;
        }
    }
    return 1;
}

/* ---- conv2d: fast == reference ---- */

typedef struct conv_case {
    int64_t N, C, H, W, O, KH, KW, sh, sw, ph, pw, dh, dw, groups;
} conv_case;

static repro_conv2d_shape conv_shape_of(const conv_case *k)
{
    repro_conv2d_shape s = {.N = k->N, .C = k->C, .H = k->H, .W = k->W, .O = k->O, .KH = k->KH, .KW = k->KW,
                            .stride_h = k->sh, .stride_w = k->sw, .pad_h = k->ph, .pad_w = k->pw,
                            .dil_h = k->dh, .dil_w = k->dw, .groups = k->groups};
    repro_error err;
    repro_status st = repro_conv2d_shape_check(&s, &err);
    CHECK_MSG(st == REPRO_OK, "%s", err.message);
    return s;
}

static void describe(char *buf, size_t size, const repro_conv2d_shape *s, fill_kind kind)
{
    snprintf(buf, size,
             "N=%lld C=%lld %lldx%lld O=%lld k=%lldx%lld stride=%lldx%lld pad=%lldx%lld dil=%lldx%lld groups=%lld "
             "fill=%d",
             (long long)s->N, (long long)s->C, (long long)s->H, (long long)s->W, (long long)s->O, (long long)s->KH,
             (long long)s->KW, (long long)s->stride_h, (long long)s->stride_w, (long long)s->pad_h,
             (long long)s->pad_w, (long long)s->dil_h, (long long)s->dil_w, (long long)s->groups, (int)kind);
}

/* Two half-batches (images [0, h) then [h, N)) accumulate dw and db into
 * exactly the full batch's bits, and give the full batch's dx. */
static void check_half_batches(const repro_cpu *cpu, const repro_conv2d_shape *s, const float *x, const float *w,
                               const float *dy, const float *dw0, const float *db0, const float *dx_ref,
                               const float *dw_ref, const float *db_ref, const char *what)
{
    const int64_t h = s->N / 2, in_img = s->C * s->H * s->W, out_img = s->O * s->OH * s->OW;
    const int64_t nw = s->O * (s->C / s->groups) * s->KH * s->KW;
    repro_conv2d_shape a = *s, b = *s;
    a.N = h;
    b.N = s->N - h;
    float *dx = filled(s->N * in_img, PLAIN), *dw = copy_of(dw0, nw), *db = copy_of(db0, s->O);
    repro_error err;
    CHECK(repro_conv2d_backward(cpu, &a, dx, dw, db, dy, x, w, &err) == REPRO_OK);
    CHECK(repro_conv2d_backward(cpu, &b, dx + h * in_img, dw, db, dy + h * out_img, x + h * in_img, w, &err) ==
          REPRO_OK);
    CHECK_MSG(same(dx, dx_ref, s->N * in_img, what), "half batches dx: %s", what);
    CHECK_MSG(same(dw, dw_ref, nw, what), "half batches dw: %s", what);
    CHECK_MSG(same(db, db_ref, s->O, what), "half batches db: %s", what);
    /* the reference itself, half by half */
    memcpy(dw, dw0, (size_t)nw * sizeof *dw);
    memcpy(db, db0, (size_t)s->O * sizeof *db);
    repro_conv2d_backward_ref(&a, dx, dw, db, dy, x, w);
    repro_conv2d_backward_ref(&b, dx + h * in_img, dw, db, dy + h * out_img, x + h * in_img, w);
    CHECK_MSG(same(dw, dw_ref, nw, what) && same(db, db_ref, s->O, what), "reference half batches: %s", what);
    free(dx), free(dw), free(db);
}

static void check_conv(const conv_case *k, fill_kind kind)
{
    repro_conv2d_shape s = conv_shape_of(k);
    const int64_t nx = s.N * s.C * s.H * s.W, ny = s.N * s.O * s.OH * s.OW;
    const int64_t nw = s.O * (s.C / s.groups) * s.KH * s.KW;
    char what[256];
    describe(what, sizeof what, &s, kind);
    float *x = filled(nx, kind), *w = filled(nw, kind), *bias = filled(s.O, kind), *dy = filled(ny, kind);
    float *dw0 = filled(nw, kind == NONFINITE ? FINITE : kind), *db0 = filled(s.O, kind == NONFINITE ? FINITE : kind);
    float *y_ref = malloc((size_t)ny * sizeof *y_ref), *y_ref_nb = malloc((size_t)ny * sizeof *y_ref_nb);
    float *dx_ref = malloc((size_t)nx * sizeof *dx_ref), *dw_ref = copy_of(dw0, nw), *db_ref = copy_of(db0, s.O);
    repro_conv2d_forward_ref(&s, y_ref, x, w, bias);
    repro_conv2d_forward_ref(&s, y_ref_nb, x, w, NULL);
    repro_conv2d_backward_ref(&s, dx_ref, dw_ref, db_ref, dy, x, w);

    float *y = malloc((size_t)ny * sizeof *y), *dx = malloc((size_t)nx * sizeof *dx);
    float *dw = malloc((size_t)nw * sizeof *dw), *db = malloc((size_t)s.O * sizeof *db);
    /* the scalar GEMM is ~100x slower: on large cases only 1 and 4 threads */
    const int heavy = s.N * s.O * s.OH * s.OW * (s.C / s.groups) * s.KH * s.KW > 2000000;
    for (int i = 0; i < N_ISAS; i++) {
        if (!isa_ok[i])
            continue;
        for (int t = 0; t <= MAX_THREADS; t++) {
            if (heavy && isas[i] == REPRO_ISA_SCALAR && t != 1 && t != MAX_THREADS)
                continue;
            repro_cpu cpu = {isas[i], pools[t]};
            repro_error err = {0};
            const char *isa = repro_isa_name(isas[i]);
            CHECK_MSG(repro_conv2d_forward(&cpu, &s, y, x, w, bias, &err) == REPRO_OK, "%s", err.message);
            CHECK_MSG(same(y, y_ref, ny, what), "forward, %s, pool %d: %s", isa, t, what);
            CHECK_MSG(repro_conv2d_forward(&cpu, &s, y, x, w, NULL, &err) == REPRO_OK, "%s", err.message);
            CHECK_MSG(same(y, y_ref_nb, ny, what), "forward without bias, %s, pool %d: %s", isa, t, what);
            for (int64_t e = 0; e < nx; e++)
                dx[e] = 12345.0f; /* overwritten, whatever was there */
            memcpy(dw, dw0, (size_t)nw * sizeof *dw);
            memcpy(db, db0, (size_t)s.O * sizeof *db);
            CHECK_MSG(repro_conv2d_backward(&cpu, &s, dx, dw, db, dy, x, w, &err) == REPRO_OK, "%s", err.message);
            CHECK_MSG(same(dx, dx_ref, nx, what), "dx, %s, pool %d: %s", isa, t, what);
            CHECK_MSG(same(dw, dw_ref, nw, what), "dw, %s, pool %d: %s", isa, t, what);
            CHECK_MSG(same(db, db_ref, s.O, what), "db, %s, pool %d: %s", isa, t, what);
        }
    }
    /* each output of the backward on its own (the others NULL) */
    repro_cpu cpu = {repro_isa_best(), pools[3]};
    memcpy(dw, dw0, (size_t)nw * sizeof *dw);
    CHECK(repro_conv2d_backward(&cpu, &s, NULL, dw, NULL, dy, x, NULL, NULL) == REPRO_OK);
    CHECK_MSG(same(dw, dw_ref, nw, what), "dw alone: %s", what);
    memcpy(db, db0, (size_t)s.O * sizeof *db);
    CHECK(repro_conv2d_backward(&cpu, &s, NULL, NULL, db, dy, NULL, NULL, NULL) == REPRO_OK);
    CHECK_MSG(same(db, db_ref, s.O, what), "db alone: %s", what);
    CHECK(repro_conv2d_backward(&cpu, &s, dx, NULL, NULL, dy, NULL, w, NULL) == REPRO_OK);
    CHECK_MSG(same(dx, dx_ref, nx, what), "dx alone: %s", what);
    if (s.N > 1) {
        check_half_batches(&cpu, &s, x, w, dy, dw0, db0, dx_ref, dw_ref, db_ref, what);
        repro_cpu one = {repro_isa_best(), NULL};
        check_half_batches(&one, &s, x, w, dy, dw0, db0, dx_ref, dw_ref, db_ref, what);
    }
    free(x), free(w), free(bias), free(dy), free(dw0), free(db0), free(y_ref), free(y_ref_nb);
    free(dx_ref), free(dw_ref), free(db_ref), free(y), free(dx), free(dw), free(db);
}

static void conv_cases(void)
{
    static const conv_case cases[] = {
        /* N  C   H   W   O  KH KW sh sw ph pw dh dw groups */
        {1, 1, 5, 5, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1},
        {5, 3, 28, 28, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {1, 7, 31, 17, 3, 5, 5, 2, 2, 2, 2, 1, 1, 1},
        {5, 33, 5, 5, 33, 3, 3, 1, 1, 1, 1, 1, 1, 33},  /* depthwise */
        {5, 1, 28, 28, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1},  /* the Fashion CNN's first layer, narrower */
        {5, 7, 31, 17, 3, 3, 1, 2, 1, 1, 0, 2, 1, 1},   /* 3x1, uneven stride/padding/dilation */
        {1, 3, 28, 28, 7, 5, 5, 2, 2, 0, 0, 2, 2, 1},
        {5, 14, 31, 17, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2},  /* groups 2 */
        {1, 7, 28, 28, 7, 3, 3, 2, 2, 1, 1, 2, 2, 7},   /* depthwise, stride and dilation 2 */
        {5, 3, 31, 17, 6, 5, 5, 1, 1, 2, 2, 1, 1, 3},   /* depthwise, two filters per channel */
        {5, 33, 5, 5, 7, 5, 5, 1, 1, 2, 2, 2, 2, 1},    /* dilated kernel == padded input: 1x1 output */
        {5, 7, 5, 5, 33, 3, 1, 2, 1, 0, 2, 1, 2, 1},
        {1, 3, 5, 5, 3, 1, 1, 2, 2, 0, 0, 1, 1, 1},     /* 1x1 stride 2: dx taps with no output */
        {5, 7, 28, 28, 3, 1, 1, 1, 1, 2, 2, 1, 1, 1},   /* 1x1 with padding: outputs of padding only */
        {5, 3, 17, 31, 3, 3, 3, 2, 1, 0, 1, 1, 2, 1},
        {2, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1}, /* the Fashion CNN's second layer, batch 2 */
        {1, 33, 28, 28, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {5, 6, 28, 28, 2, 3, 1, 2, 2, 1, 0, 1, 1, 2},   /* groups 2, a single filter per group */
    };
    const int n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++) {
        check_conv(&cases[i], FINITE);
        check_conv(&cases[i], i % 3 == 0 ? PLAIN : NONFINITE);
    }
    printf("conv2d: %d shapes x 2 fills, fast == reference on every path\n", n);
}

/* ---- conv2d: known answers ---- */

static int same1(float a, float b)
{
    return memcmp(&a, &b, 4) == 0;
}

static void conv_known_answers(void)
{
    repro_cpu cpu = {repro_isa_best(), pools[2]};
    repro_error err;
    /* x 1..9 (3x3), w [[1,2],[3,4]], bias 0.5, no padding: y = [[37,47],[67,77]] + 0.5;
     * dy = ones: dx = [[1,3,2],[4,10,6],[3,7,4]], dw = [[12,16],[24,28]] (+ dw0 = 1), db = 4 (+1). */
    repro_conv2d_shape s = {.N = 1, .C = 1, .H = 3, .W = 3, .O = 1, .KH = 2, .KW = 2, .stride_h = 1, .stride_w = 1,
                            .dil_h = 1, .dil_w = 1, .groups = 1};
    CHECK(repro_conv2d_shape_check(&s, &err) == REPRO_OK && s.OH == 2 && s.OW == 2);
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 2, 3, 4}, bias[1] = {0.5f}, y[4], dy[4] = {1, 1, 1, 1};
    float dx[9], dw[4] = {1, 1, 1, 1}, db[1] = {1};
    CHECK(repro_conv2d_forward(&cpu, &s, y, x, w, bias, &err) == REPRO_OK);
    CHECK(y[0] == 37.5f && y[1] == 47.5f && y[2] == 67.5f && y[3] == 77.5f);
    CHECK(repro_conv2d_backward(&cpu, &s, dx, dw, db, dy, x, w, &err) == REPRO_OK);
    const float dx_want[9] = {1, 3, 2, 4, 10, 6, 3, 7, 4}, dw_want[4] = {13, 17, 25, 29};
    CHECK(memcmp(dx, dx_want, sizeof dx) == 0);
    CHECK(memcmp(dw, dw_want, sizeof dw) == 0);
    CHECK(db[0] == 5.0f);

    /* The chain starts at +0: an image of -0 through weights 1 gives +0, and
     * bias -0 keeps it +0 (+0 + -0 = +0). */
    float xz[9], wz[4] = {1, 1, 1, 1}, bz[1] = {-0.0f};
    for (int i = 0; i < 9; i++)
        xz[i] = -0.0f;
    CHECK(repro_conv2d_forward(&cpu, &s, y, xz, wz, bz, &err) == REPRO_OK);
    CHECK(same1(y[0], 0.0f) && same1(y[3], 0.0f));

    /* Padding taps are in the chain: fmaf(+0, inf, acc) is NaN, so an
     * infinite weight on a padding tap poisons the output (corner of a
     * 1-padded 3x3 conv with w[0][0] = inf), while the centre output, whose
     * taps are all real and finite, stays finite. */
    repro_conv2d_shape p = s;
    p.KH = p.KW = 3;
    p.pad_h = p.pad_w = 1;
    CHECK(repro_conv2d_shape_check(&p, &err) == REPRO_OK && p.OH == 3);
    float w9[9] = {0, 0, 0, 0, 1, 0, 0, 0, 0}, y9[9], ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    w9[0] = INFINITY; /* pairs with x[ih-1][iw-1] */
    CHECK(repro_conv2d_forward(&cpu, &p, y9, ones, w9, NULL, &err) == REPRO_OK);
    CHECK(isnan(y9[0]) && isnan(y9[1]) && isnan(y9[3])); /* top row / left column: a padding tap meets inf */
    CHECK(y9[4] == INFINITY);                             /* real tap: 1 * inf + 1 */
    float y9r[9];
    repro_conv2d_forward_ref(&p, y9r, ones, w9, NULL);
    CHECK(same(y9, y9r, 9, "padding taps"));

    /* dx: absent taps are in the chain too. 1x1 kernel, stride 2 on a 1x2
     * image: pixel 1 meets no output, so its chain is fmaf(+0, w, +0): +0
     * for a finite w, NaN for w = inf. */
    repro_conv2d_shape t = {.N = 1, .C = 1, .H = 1, .W = 2, .O = 1, .KH = 1, .KW = 1, .stride_h = 2, .stride_w = 2,
                            .dil_h = 1, .dil_w = 1, .groups = 1};
    CHECK(repro_conv2d_shape_check(&t, &err) == REPRO_OK && t.OW == 1);
    float dy1[1] = {-3.0f}, dx2[2], w1[1] = {2.0f};
    CHECK(repro_conv2d_backward(&cpu, &t, dx2, NULL, NULL, dy1, NULL, w1, &err) == REPRO_OK);
    CHECK(dx2[0] == -6.0f && same1(dx2[1], 0.0f));
    w1[0] = INFINITY;
    CHECK(repro_conv2d_backward(&cpu, &t, dx2, NULL, NULL, dy1, NULL, w1, &err) == REPRO_OK);
    CHECK(dx2[0] == -INFINITY && isnan(dx2[1]));

    /* Groups: two groups of one channel each, weights 2 and 3. */
    repro_conv2d_shape g = {.N = 1, .C = 2, .H = 1, .W = 2, .O = 2, .KH = 1, .KW = 2, .stride_h = 1, .stride_w = 1,
                            .dil_h = 1, .dil_w = 1, .groups = 2};
    CHECK(repro_conv2d_shape_check(&g, &err) == REPRO_OK);
    float xg[4] = {1, 2, 10, 20}, wg[4] = {1, 1, 2, 3}, yg[2];
    CHECK(repro_conv2d_forward(&cpu, &g, yg, xg, wg, NULL, &err) == REPRO_OK);
    CHECK(yg[0] == 3.0f && yg[1] == 80.0f);
}

/* ---- shape errors ---- */

static void conv_error(repro_conv2d_shape s, const char *want)
{
    repro_error err = {0};
    s.OH = s.OW = -7;
    repro_conv2d_shape before = s;
    repro_status st = repro_conv2d_shape_check(&s, &err);
    CHECK_MSG(st == REPRO_ERR_ARG, "no error for \"%s\"", want);
    CHECK_MSG(strcmp(err.message, want) == 0, "got \"%s\", want \"%s\"", err.message, want);
    CHECK(memcmp(&s, &before, sizeof s) == 0); /* untouched */
}

static void pool_error(repro_pool2d_shape s, const char *want)
{
    repro_error err = {0};
    s.OH = s.OW = -7;
    repro_status st = repro_pool2d_shape_check(&s, &err);
    CHECK_MSG(st == REPRO_ERR_ARG, "no error for \"%s\"", want);
    CHECK_MSG(strcmp(err.message, want) == 0, "got \"%s\", want \"%s\"", err.message, want);
    CHECK(s.OH == -7 && s.OW == -7);
}

static void shape_errors(void)
{
    const repro_conv2d_shape ok = {.N = 2, .C = 32, .H = 3, .W = 3, .O = 64, .KH = 3, .KW = 3, .stride_h = 1,
                                   .stride_w = 1, .dil_h = 1, .dil_w = 1, .groups = 1};
    repro_conv2d_shape s = ok;
    repro_error err;
    CHECK(repro_conv2d_shape_check(&s, &err) == REPRO_OK && s.OH == 1 && s.OW == 1);
    s = ok, s.N = 0;
    conv_error(s, "conv2d: batch size N must be at least 1, got 0");
    s = ok, s.C = -1;
    conv_error(s, "conv2d: input channels C must be at least 1, got -1");
    s = ok, s.W = 0;
    conv_error(s, "conv2d: input width W must be at least 1, got 0");
    s = ok, s.O = 0;
    conv_error(s, "conv2d: output channels O must be at least 1, got 0");
    s = ok, s.KW = 0;
    conv_error(s, "conv2d: kernel width KW must be at least 1, got 0");
    s = ok, s.groups = 0;
    conv_error(s, "conv2d: groups must be at least 1, got 0");
    s = ok, s.stride_w = 0;
    conv_error(s, "conv2d: stride_w must be at least 1, got 0");
    s = ok, s.dil_h = 0;
    conv_error(s, "conv2d: dil_h must be at least 1, got 0");
    s = ok, s.pad_h = -1;
    conv_error(s, "conv2d: pad_h must be at least 0, got -1");
    s = ok, s.groups = 3;
    conv_error(s, "conv2d: groups 3 does not divide 32 input channels");
    s = ok, s.C = 33, s.groups = 3;
    conv_error(s, "conv2d: groups 3 does not divide 64 output channels");
    s = ok, s.KH = s.KW = 5;
    conv_error(s, "conv2d: kernel 5x5 (dilation 1) is larger than the padded input 3x3 (padding 0)");
    s = ok, s.dil_h = 2, s.pad_w = 1;
    conv_error(s, "conv2d: kernel 3x3 (dilation 2x1) is larger than the padded input 3x5 (padding 0x1)");
    s = ok, s.N = (int64_t)1 << 40, s.C = (int64_t)1 << 30, s.O = 1;
    conv_error(s, "conv2d: input x [1099511627776][1073741824][3][3] has more than 2^60 elements");
    s = ok, s.C = s.O = 1, s.H = s.W = 1, s.KH = s.KW = 2, s.dil_h = s.dil_w = (int64_t)1 << 31;
    s.pad_h = s.pad_w = (int64_t)1 << 30;
    conv_error(s, "conv2d: one image's padded input [1][1][2147483649][2147483649] has more than 2^60 elements");
    s = ok, s.pad_h = INT64_MAX / 2;
    conv_error(s, "conv2d: padding or dilation too large to count (over 2^60)");

    /* the kernels refuse a shape that skipped the check, or a NULL array,
     * before writing anything */
    repro_cpu cpu = {REPRO_ISA_SCALAR, pools[2]};
    float x[2 * 32 * 9] = {0}, w[64 * 32 * 9] = {0}, y[2 * 64] = {0};
    s = ok; /* OH, OW still 0 */
    y[0] = 7.0f;
    CHECK(repro_conv2d_forward(&cpu, &s, y, x, w, NULL, &err) == REPRO_ERR_ARG);
    CHECK_MSG(strcmp(err.message, "conv2d forward: the shape says the output is 0x0 but its sizes give 1x1 "
                                  "(fill it with repro_conv2d_shape_check)") == 0,
              "%s", err.message);
    CHECK(y[0] == 7.0f);
    CHECK(repro_conv2d_shape_check(&s, &err) == REPRO_OK);
    CHECK(repro_conv2d_forward(&cpu, &s, y, NULL, w, NULL, &err) == REPRO_ERR_ARG);
    CHECK(strcmp(err.message, "conv2d forward: x is NULL") == 0);
    CHECK(repro_conv2d_backward(&cpu, &s, x, w, NULL, y, x, NULL, &err) == REPRO_ERR_ARG);
    CHECK(strcmp(err.message, "conv2d backward: w (needed for dx) is NULL") == 0);
    CHECK(repro_conv2d_backward(&cpu, &s, NULL, w, NULL, y, NULL, w, &err) == REPRO_ERR_ARG);
    CHECK(strcmp(err.message, "conv2d backward: x (needed for dw) is NULL") == 0);
    CHECK(repro_conv2d_backward(&cpu, NULL, NULL, w, NULL, y, x, w, &err) == REPRO_ERR_ARG);
    CHECK(strcmp(err.message, "conv2d backward: shape is NULL") == 0);
    CHECK(x[0] == 0.0f && w[0] == 0.0f);

    const repro_pool2d_shape pok = {.N = 1, .C = 3, .H = 3, .W = 3, .KH = 3, .KW = 3, .stride_h = 1, .stride_w = 1};
    repro_pool2d_shape p = pok;
    CHECK(repro_pool2d_shape_check(&p, &err) == REPRO_OK && p.OH == 1 && p.OW == 1);
    p = pok, p.pad_h = 2;
    pool_error(p, "pool2d: padding 2 is more than half the kernel 3");
    p = pok, p.KW = 2, p.pad_w = 2;
    pool_error(p, "pool2d: padding 2 is more than half the kernel 2");
    p = pok, p.KH = p.KW = 5;
    pool_error(p, "pool2d: kernel 5x5 is larger than the padded input 3x3 (padding 0)");
    p = pok, p.stride_h = 0;
    pool_error(p, "pool2d: stride_h must be at least 1, got 0");
    p = pok, p.C = 0;
    pool_error(p, "pool2d: channels C must be at least 1, got 0");
    p = pok, p.pad_w = -2;
    pool_error(p, "pool2d: pad_w must be at least 0, got -2");
    p = pok, p.H = p.W = (int64_t)1 << 16;
    pool_error(p, "pool2d: a plane of 65536x65536 elements is too large for an int32 argmax");
    p = pok, p.N = (int64_t)1 << 58;
    pool_error(p, "pool2d: input x [288230376151711744][3][3][3] has more than 2^60 elements");
    p = pok;
    CHECK(repro_maxpool2d_forward(&cpu, &p, y, NULL, x, &err) == REPRO_ERR_ARG);
    CHECK(strcmp(err.message, "maxpool2d forward: the shape says the output is 0x0 but its sizes give 1x1 "
                              "(fill it with repro_pool2d_shape_check)") == 0);
    CHECK(repro_pool2d_shape_check(&p, &err) == REPRO_OK);
    CHECK(repro_maxpool2d_backward(&cpu, &p, x, y, NULL, &err) == REPRO_ERR_ARG);
    CHECK(strcmp(err.message, "maxpool2d backward: argmax is NULL") == 0);
    CHECK(repro_global_avgpool_forward(&cpu, y, x, 2, 0, 5, &err) == REPRO_ERR_ARG);
    CHECK(strcmp(err.message, "global avgpool forward: N, C and HW must be at least 1, got N=2 C=0 HW=5") == 0);
}

/* ---- pooling: fast == reference ---- */

typedef struct pool_case {
    int64_t N, C, H, W, KH, KW, sh, sw, ph, pw;
} pool_case;

/* repro_maxpool2x2_backward_pixels, image by image, rows of C + 3 floats,
 * against the reference's dx (dx_ref) transposed: the columns past C keep
 * their poison. Other windows are refused. */
static void check_pool_pixels(const repro_pool2d_shape *s, const float *dx_ref, const float *dy, const int32_t *am,
                              const char *what, const char *note)
{
    repro_pool2d_shape one = *s;
    one.N = 1;
    repro_error err;
    const int64_t HW = s->H * s->W, OHW = s->OH * s->OW, ld = s->C + 3;
    float *dxT = malloc((size_t)(HW * ld) * sizeof *dxT);
    if (!repro_pool2d_is_2x2_tiling(s)) {
        repro_cpu cpu = {REPRO_ISA_SCALAR, NULL};
        CHECK(repro_maxpool2x2_backward_pixels(&cpu, &one, dxT, ld, dy, am, &err) == REPRO_ERR_ARG);
        CHECK_MSG(strstr(err.message, "takes one image (N=1) of 2x2 windows at stride 2 without padding") != NULL,
                  "%s", err.message);
        free(dxT);
        return;
    }
    float *planes = malloc((size_t)(s->C * HW) * sizeof *planes);
    for (int i = 0; i < N_ISAS; i++) {
        if (!isa_ok[i])
            continue;
        repro_cpu cpu = {isas[i], pools[2]};
        int good = 1, poison = 1;
        for (int64_t n = 0; n < s->N && good; n++) {
            for (int64_t e = 0; e < HW * ld; e++)
                dxT[e] = -7.0f;
            CHECK(repro_maxpool2x2_backward_pixels(&cpu, &one, dxT, ld, dy + n * s->C * OHW, am + n * s->C * OHW,
                                                   &err) == REPRO_OK);
            for (int64_t px = 0; px < HW; px++) {
                for (int64_t c = 0; c < s->C; c++)
                    planes[c * HW + px] = dxT[px * ld + c];
                for (int64_t c = s->C; c < ld; c++)
                    poison &= dxT[px * ld + c] == -7.0f;
            }
            good = same(planes, dx_ref + n * s->C * HW, s->C * HW, what);
        }
        CHECK_MSG(good && poison, "max backward pixel-major%s, %s: %s%s", note, repro_isa_name(isas[i]), what,
                  poison ? "" : " (wrote past C)");
    }
    free(planes), free(dxT);
}

static void check_pool(const pool_case *k, fill_kind kind)
{
    repro_pool2d_shape s = {.N = k->N, .C = k->C, .H = k->H, .W = k->W, .KH = k->KH, .KW = k->KW,
                            .stride_h = k->sh, .stride_w = k->sw, .pad_h = k->ph, .pad_w = k->pw};
    repro_error err;
    CHECK_MSG(repro_pool2d_shape_check(&s, &err) == REPRO_OK, "%s", err.message);
    const int64_t nx = s.N * s.C * s.H * s.W, ny = s.N * s.C * s.OH * s.OW;
    char what[200];
    snprintf(what, sizeof what, "pool N=%lld C=%lld %lldx%lld k=%lldx%lld stride=%lldx%lld pad=%lldx%lld fill=%d",
             (long long)s.N, (long long)s.C, (long long)s.H, (long long)s.W, (long long)s.KH, (long long)s.KW,
             (long long)s.stride_h, (long long)s.stride_w, (long long)s.pad_h, (long long)s.pad_w, (int)kind);
    float *x = filled(nx, kind), *dy = filled(ny, kind == TIES ? PLAIN : kind);
    float *y_ref = malloc((size_t)ny * 4), *y = malloc((size_t)ny * 4), *ya_ref = malloc((size_t)ny * 4);
    float *dx_ref = malloc((size_t)nx * 4), *dxa_ref = malloc((size_t)nx * 4), *dx = malloc((size_t)nx * 4);
    int32_t *am_ref = malloc((size_t)ny * 4), *am = malloc((size_t)ny * 4);
    repro_maxpool2d_forward_ref(&s, y_ref, am_ref, x);
    repro_maxpool2d_backward_ref(&s, dx_ref, dy, am_ref);
    repro_avgpool2d_forward_ref(&s, ya_ref, x);
    repro_avgpool2d_backward_ref(&s, dxa_ref, dy);
    for (int i = 0; i < N_ISAS; i++) {
        if (!isa_ok[i])
            continue;
        for (int t = 0; t <= MAX_THREADS; t++) {
            repro_cpu cpu = {isas[i], pools[t]};
            for (int64_t e = 0; e < ny; e++)
                am[e] = -5;
            CHECK(repro_maxpool2d_forward(&cpu, &s, y, am, x, &err) == REPRO_OK);
            CHECK_MSG(same(y, y_ref, ny, what) && memcmp(am, am_ref, (size_t)ny * 4) == 0, "max forward, pool %d: %s",
                      t, what);
            CHECK(repro_maxpool2d_forward(&cpu, &s, y, NULL, x, &err) == REPRO_OK);
            CHECK_MSG(same(y, y_ref, ny, what), "max forward without argmax, pool %d: %s", t, what);
            CHECK(repro_maxpool2d_backward(&cpu, &s, dx, dy, am_ref, &err) == REPRO_OK);
            CHECK_MSG(same(dx, dx_ref, nx, what), "max backward, pool %d: %s", t, what);
            CHECK(repro_avgpool2d_forward(&cpu, &s, y, x, &err) == REPRO_OK);
            CHECK_MSG(same(y, ya_ref, ny, what), "avg forward, pool %d: %s", t, what);
            CHECK(repro_avgpool2d_backward(&cpu, &s, dx, dy, &err) == REPRO_OK);
            CHECK_MSG(same(dx, dxa_ref, nx, what), "avg backward, pool %d: %s", t, what);
        }
    }
    check_pool_pixels(&s, dx_ref, dy, am_ref, what, "");
    /* an argmax that points outside its window or the plane matches nothing */
    for (int64_t e = 0; e < ny; e += 3)
        am[e] = (int32_t)((e * 7919) % (s.H * s.W + 9)) - 4;
    repro_maxpool2d_backward_ref(&s, dx_ref, dy, am);
    for (int i = 0; i < N_ISAS; i++) {
        if (!isa_ok[i])
            continue;
        repro_cpu cpu = {isas[i], pools[3]};
        CHECK(repro_maxpool2d_backward(&cpu, &s, dx, dy, am, &err) == REPRO_OK);
        CHECK_MSG(same(dx, dx_ref, nx, what), "max backward, stray argmax, %s: %s", repro_isa_name(isas[i]), what);
    }
    check_pool_pixels(&s, dx_ref, dy, am, what, ", stray argmax");
    free(x), free(dy), free(y_ref), free(y), free(ya_ref), free(dx_ref), free(dxa_ref), free(dx), free(am_ref),
        free(am);
}

static void pool_cases(void)
{
    static const pool_case cases[] = {
        /* N  C   H   W KH KW sh sw ph pw */
        {5, 3, 28, 28, 2, 2, 2, 2, 0, 0},
        {1, 7, 31, 17, 3, 3, 2, 2, 1, 1},
        {5, 33, 5, 5, 3, 3, 1, 1, 1, 1},
        {1, 1, 28, 28, 5, 5, 3, 3, 2, 2},
        {5, 3, 31, 17, 3, 1, 1, 2, 1, 0},
        {1, 7, 5, 5, 1, 1, 2, 2, 0, 0},
        {5, 1, 31, 17, 2, 2, 1, 1, 1, 1},
        {5, 7, 28, 28, 3, 3, 3, 1, 0, 1},
        {5, 33, 14, 14, 2, 2, 2, 2, 0, 0},
        {1, 3, 5, 5, 5, 5, 1, 1, 2, 2},
        {1, 3, 200, 300, 3, 3, 1, 1, 1, 1}, /* rows wider than one 64-column chunk */
        /* 2x2 stride 2 (a path of its own): odd sizes leave a last row or
         * column in no window; rows of 8 SIMD windows and a rest, or none */
        {5, 7, 7, 7, 2, 2, 2, 2, 0, 0},
        {2, 3, 31, 17, 2, 2, 2, 2, 0, 0},
        {2, 3, 37, 40, 2, 2, 2, 2, 0, 0},
        {1, 2, 6, 301, 2, 2, 2, 2, 0, 0},
        /* pixel-major: 8 planes a step, a last step of windows overlapping
         * (28 windows), odd sizes; fewer than 8 windows */
        {2, 17, 9, 15, 2, 2, 2, 2, 0, 0},
        {1, 9, 5, 5, 2, 2, 2, 2, 0, 0},
    };
    const int n = (int)(sizeof cases / sizeof cases[0]);
    const fill_kind kinds[] = {PLAIN, FINITE, NONFINITE, TIES};
    for (int i = 0; i < n; i++)
        for (int f = 0; f < 4; f++)
            check_pool(&cases[i], kinds[f]);
    printf("pool2d: %d shapes x 4 fills, fast == reference\n", n);
}

static void global_cases(void)
{
    static const int64_t hws[] = {1, 25, 527, 784, 3000};
    for (size_t h = 0; h < sizeof hws / sizeof hws[0]; h++)
        for (int f = 0; f < 3; f++) {
            const int64_t N = 5, C = 7, HW = hws[h];
            float *x = filled(N * C * HW, (fill_kind)f), *dy = filled(N * C, (fill_kind)f);
            float *y_ref = malloc((size_t)(N * C) * 4), *y = malloc((size_t)(N * C) * 4);
            float *dx_ref = malloc((size_t)(N * C * HW) * 4), *dx = malloc((size_t)(N * C * HW) * 4);
            repro_global_avgpool_forward_ref(y_ref, x, N, C, HW);
            repro_global_avgpool_backward_ref(dx_ref, dy, N, C, HW);
            for (int i = 0; i < N_ISAS; i++)
                for (int t = 0; isa_ok[i] && t <= MAX_THREADS; t++) {
                    repro_cpu cpu = {isas[i], pools[t]};
                    CHECK(repro_global_avgpool_forward(&cpu, y, x, N, C, HW, NULL) == REPRO_OK);
                    CHECK_MSG(same(y, y_ref, N * C, "gap forward"), "global avg forward HW=%lld pool %d",
                              (long long)HW, t);
                    CHECK(repro_global_avgpool_backward(&cpu, dx, dy, N, C, HW, NULL) == REPRO_OK);
                    CHECK_MSG(same(dx, dx_ref, N * C * HW, "gap backward"), "global avg backward HW=%lld pool %d",
                              (long long)HW, t);
                }
            free(x), free(dy), free(y_ref), free(y), free(dx_ref), free(dx);
        }
}

/* ---- pooling: known answers ---- */

static void pool_known_answers(void)
{
    repro_cpu cpu = {repro_isa_best(), pools[2]};
    repro_error err;
    /* 2x2 windows, stride 2, on a 2x8 image: ties give the first maximum,
     * -0 vs +0 is a tie, and the first NaN wins and stays. */
    repro_pool2d_shape s = {.N = 1, .C = 1, .H = 2, .W = 8, .KH = 2, .KW = 2, .stride_h = 2, .stride_w = 2};
    CHECK(repro_pool2d_shape_check(&s, &err) == REPRO_OK && s.OH == 1 && s.OW == 4);
    const float q = NAN;
    float x[16] = {1, 3, -0.0f, 0.0f, 5, q, 1, q, /* row 0 */
                   3, 2, 0.0f, -0.0f, q, 9, 2, 7 /* row 1 */};
    float y[4], dy[4] = {10, 20, 30, 40}, dx[16];
    int32_t am[4];
    CHECK(repro_maxpool2d_forward(&cpu, &s, y, am, x, &err) == REPRO_OK);
    CHECK(y[0] == 3.0f && am[0] == 1);              /* 3 at (0,1) before 3 at (1,0) */
    CHECK(same1(y[1], -0.0f) && am[1] == 2);        /* -0 first, +0 is not greater */
    CHECK(isnan(y[2]) && am[2] == 5);               /* the NaN beats 5 and then 9 */
    CHECK(isnan(y[3]) && am[3] == 7);               /* the NaN after 1 */
    CHECK(repro_maxpool2d_backward(&cpu, &s, dx, dy, am, &err) == REPRO_OK);
    const float dx_want[16] = {0, 10, 20, 0, 0, 30, 0, 40, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK(memcmp(dx, dx_want, sizeof dx) == 0);

    /* overlapping windows (3x3, stride 1, pad 1) on a 1x3 image [1, 5, 2]:
     * every window's maximum is the 5, so dx = [0, dy0 + dy1 + dy2, 0] in that order */
    repro_pool2d_shape o = {.N = 1, .C = 1, .H = 1, .W = 3, .KH = 3, .KW = 3, .stride_h = 1, .stride_w = 1,
                            .pad_h = 1, .pad_w = 1};
    CHECK(repro_pool2d_shape_check(&o, &err) == REPRO_OK && o.OH == 1 && o.OW == 3);
    float xo[3] = {1, 5, 2}, yo[3], dyo[3] = {1e8f, 1.0f, -1e8f}, dxo[3];
    int32_t amo[3];
    CHECK(repro_maxpool2d_forward(&cpu, &o, yo, amo, xo, &err) == REPRO_OK);
    CHECK(amo[0] == 1 && amo[1] == 1 && amo[2] == 1);
    CHECK(repro_maxpool2d_backward(&cpu, &o, dxo, dyo, amo, &err) == REPRO_OK);
    CHECK(same1(dxo[0], 0.0f) && dxo[1] == (1e8f + 1.0f) + -1e8f && dxo[1] == 0.0f && same1(dxo[2], 0.0f));

    /* average with padding counted: 3x3 windows, pad 1, on a 2x2 image of ones:
     * every window holds 4 real taps, so y = 4/9; backward with dy = 1:
     * each pixel is in all 4 windows, dx = 4 * (1/9) added one by one */
    repro_pool2d_shape a = {.N = 1, .C = 1, .H = 2, .W = 2, .KH = 3, .KW = 3, .stride_h = 1, .stride_w = 1,
                            .pad_h = 1, .pad_w = 1};
    CHECK(repro_pool2d_shape_check(&a, &err) == REPRO_OK && a.OH == 2 && a.OW == 2);
    float xa[4] = {1, 1, 1, 1}, ya[4], dya[4] = {1, 1, 1, 1}, dxa[4];
    CHECK(repro_avgpool2d_forward(&cpu, &a, ya, xa, &err) == REPRO_OK);
    CHECK(ya[0] == 4.0f / 9.0f && ya[3] == 4.0f / 9.0f);
    CHECK(repro_avgpool2d_backward(&cpu, &a, dxa, dya, &err) == REPRO_OK);
    const float ninth = 1.0f / 9.0f;
    CHECK(dxa[0] == ((ninth + ninth) + ninth) + ninth && dxa[3] == dxa[0]);

    /* global average: the canonical sum over the plane, then / HW */
    float xg[3] = {1, 2, 4}, yg[1], dyg[1] = {3}, dxg[3];
    CHECK(repro_global_avgpool_forward(&cpu, yg, xg, 1, 1, 3, &err) == REPRO_OK);
    CHECK(yg[0] == 7.0f / 3.0f);
    CHECK(repro_global_avgpool_backward(&cpu, dxg, dyg, 1, 1, 3, &err) == REPRO_OK);
    CHECK(dxg[0] == 1.0f && dxg[1] == 1.0f && dxg[2] == 1.0f);
}

/* ---- conv2d then max pool, fused: the two calls' bits ---- */

/* repro_conv2d_forward_maxpool against repro_conv2d_forward then
 * repro_maxpool2d_forward, every path and thread count (1 image: fewer
 * images than threads, the unfused fallback), its y workspace poisoned. */
static void check_conv_pool(const conv_case *k, int64_t pk, int64_t pstride, int64_t ppad, fill_kind kind)
{
    repro_conv2d_shape s = conv_shape_of(k);
    repro_pool2d_shape ps = {.N = s.N, .C = s.O, .H = s.OH, .W = s.OW, .KH = pk, .KW = pk, .stride_h = pstride,
                             .stride_w = pstride, .pad_h = ppad, .pad_w = ppad};
    repro_error err;
    CHECK_MSG(repro_pool2d_shape_check(&ps, &err) == REPRO_OK, "%s", err.message);
    const int64_t nx = s.N * s.C * s.H * s.W, ny = s.N * s.O * s.OH * s.OW, np = ps.N * ps.C * ps.OH * ps.OW;
    const int64_t nw = s.O * (s.C / s.groups) * s.KH * s.KW;
    char what[256];
    describe(what, sizeof what, &s, kind);
    float *x = filled(nx, kind), *w = filled(nw, kind), *bias = filled(s.O, kind);
    float *y = malloc((size_t)ny * sizeof *y), *p_ref = malloc((size_t)np * sizeof *p_ref);
    float *p = malloc((size_t)np * sizeof *p);
    int32_t *am_ref = malloc((size_t)np * sizeof *am_ref), *am = malloc((size_t)np * sizeof *am);
    repro_cpu one = {repro_isa_best(), NULL};
    CHECK(repro_conv2d_forward(&one, &s, y, x, w, bias, &err) == REPRO_OK);
    CHECK(repro_maxpool2d_forward(&one, &ps, p_ref, am_ref, y, &err) == REPRO_OK);
    for (int i = 0; i < N_ISAS; i++) {
        if (!isa_ok[i])
            continue;
        for (int t = 0; t <= MAX_THREADS; t++) {
            repro_cpu cpu = {isas[i], pools[t]};
            for (int64_t e = 0; e < ny; e++)
                y[e] = NAN;
            memset(am, 0x55, (size_t)np * sizeof *am);
            CHECK_MSG(repro_conv2d_forward_maxpool(&cpu, &s, &ps, p, am, y, x, w, bias, &err) == REPRO_OK, "%s",
                      err.message);
            CHECK_MSG(same(p, p_ref, np, what) && memcmp(am, am_ref, (size_t)np * sizeof *am) == 0,
                      "conv + max pool %lldx%lld/%lld pad %lld, %s, pool %d: %s", (long long)pk, (long long)pk,
                      (long long)pstride, (long long)ppad, repro_isa_name(isas[i]), t, what);
            CHECK(repro_conv2d_forward_maxpool(&cpu, &s, &ps, p, NULL, y, x, w, bias, &err) == REPRO_OK);
            CHECK_MSG(same(p, p_ref, np, what), "conv + max pool without argmax, pool %d: %s", t, what);
        }
    }
    /* backward: dw and db from the pool's dy and argmax, against the pool's
     * backward into dy, then the conv's */
    float *pdy = filled(np, kind), *dy = malloc((size_t)ny * sizeof *dy);
    float *dw0 = filled(nw, FINITE), *db0 = filled(s.O, FINITE), *dw_ref = copy_of(dw0, nw), *db_ref = copy_of(db0, s.O);
    float *dw = malloc((size_t)nw * sizeof *dw), *db = malloc((size_t)s.O * sizeof *db);
    CHECK(repro_maxpool2d_backward(&one, &ps, dy, pdy, am_ref, &err) == REPRO_OK);
    CHECK(repro_conv2d_backward(&one, &s, NULL, dw_ref, db_ref, dy, x, NULL, &err) == REPRO_OK);
    for (int i = 0; i < N_ISAS; i++) {
        if (!isa_ok[i])
            continue;
        for (int t = 0; t <= MAX_THREADS; t++) {
            repro_cpu cpu = {isas[i], pools[t]};
            memcpy(dw, dw0, (size_t)nw * sizeof *dw);
            memcpy(db, db0, (size_t)s.O * sizeof *db);
            CHECK_MSG(repro_conv2d_backward_maxpool(&cpu, &s, &ps, dw, db, pdy, am_ref, x, &err) == REPRO_OK, "%s",
                      err.message);
            CHECK_MSG(same(dw, dw_ref, nw, what) && same(db, db_ref, s.O, what),
                      "max pool + conv backward %lldx%lld/%lld pad %lld, %s, pool %d: %s", (long long)pk,
                      (long long)pk, (long long)pstride, (long long)ppad, repro_isa_name(isas[i]), t, what);
        }
    }
    memcpy(db, db0, (size_t)s.O * sizeof *db);
    CHECK(repro_conv2d_backward_maxpool(&one, &s, &ps, NULL, db, pdy, am_ref, NULL, &err) == REPRO_OK);
    CHECK_MSG(same(db, db_ref, s.O, what), "max pool + conv backward, db alone: %s", what);
    free(pdy), free(dy), free(dw0), free(db0), free(dw_ref), free(db_ref), free(dw), free(db);
    /* a pool that does not read this conv's output is refused */
    repro_pool2d_shape other = ps;
    other.C = s.O + 1;
    CHECK(repro_conv2d_forward_maxpool(&one, &s, &other, p, am, y, x, w, bias, &err) == REPRO_ERR_ARG);
    CHECK_MSG(strstr(err.message, "is not the conv's output") != NULL, "%s", err.message);
    CHECK(repro_conv2d_backward_maxpool(&one, &s, &other, NULL, NULL, NULL, NULL, NULL, &err) == REPRO_OK);
    CHECK(repro_conv2d_backward_maxpool(&one, &s, &other, p, NULL, p, am, x, &err) == REPRO_ERR_ARG);
    CHECK_MSG(strstr(err.message, "is not the conv's output") != NULL, "%s", err.message);
    free(x), free(w), free(bias), free(y), free(p_ref), free(p), free(am_ref), free(am);
}

static void conv_pool_cases(void)
{
    static const conv_case cases[] = {
        /* N  C   H   W   O  KH KW sh sw ph pw dh dw groups */
        {5, 1, 28, 28, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1},  /* the Fashion CNN's first layer, narrower */
        {5, 32, 14, 14, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {1, 7, 31, 17, 3, 5, 5, 2, 2, 2, 2, 1, 1, 1},   /* one image: fewer than the threads */
        {5, 14, 31, 17, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2},  /* groups 2 */
    };
    const int n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++) {
        check_conv_pool(&cases[i], 2, 2, 0, i % 2 ? NONFINITE : FINITE);
        check_conv_pool(&cases[i], 3, 2, 1, TIES);
    }
    printf("conv2d + max pool: %d shapes x 2 pools, fused == the two calls, forward and backward\n", n);
}

int main(void)
{
    for (int t = 1; t <= MAX_THREADS; t++) {
        repro_error err;
        if (repro_pool_create(t, &pools[t], &err) != REPRO_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
    }
    for (int i = 0; i < N_ISAS; i++) {
        isa_ok[i] = repro_isa_supported(isas[i]);
        printf("isa %s: %s\n", repro_isa_name(isas[i]), isa_ok[i] ? "tested" : "not supported here, skipped");
    }
    conv_known_answers();
    pool_known_answers();
    shape_errors();
    global_cases();
    pool_cases();
    conv_cases();
    conv_pool_cases();
    for (int t = 1; t <= MAX_THREADS; t++)
        repro_pool_destroy(pools[t]);
    return test_finish("test_conv");
}
