/* Every non-GEMM kernel: the threaded version equals its _ref twin bit for
 * bit for 1..4 threads (and with no pool) on odd shapes and special inputs;
 * known answers pin the written orders; dropout masks depend on a sample's
 * coordinates only (micro-batches draw the same mask); bad arguments fail
 * with messages that name them.
 * ctest-labels: threads */
#include <math.h>

#include "ops/cpu/ops.h"
#include "ops/ops_math.h"
#include "repro/isa.h"
#include "repro/rng.h"
#include "testutil.h"

#define NPOOLS 5 /* index 0: no pool (inline); 1..4: that many threads */

static repro_cpu cpus[NPOOLS];

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint32_t rand_u32(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 32);
}

/* Uniform in [lo, hi). */
static float rand_range(float lo, float hi)
{
    return lo + (hi - lo) * ((float)(rand_u32() >> 8) * 0x1p-24f);
}

static const float specials[] = {0.0f, -0.0f, 0x1p-149f, -0x1p-140f, 0x1.fffffcp-127f, 1e-30f,
                                 3e38f, -3e38f, 1e20f, -1e20f, INFINITY, -INFINITY, NAN,
                                 1.0f, -1.0f, 20.0f, -20.0f, 88.0f, -104.0f};

/* x[n]: values in [-scale, scale), with a special value every 13th
 * element when with_specials. */
static void fill(float *x, int64_t n, float scale, int with_specials)
{
    int ns = (int)(sizeof specials / sizeof specials[0]);
    for (int64_t i = 0; i < n; i++)
        x[i] = (with_specials && i % 13 == 5) ? specials[rand_u32() % ns] : rand_range(-scale, scale);
}

static float *alloc(int64_t n)
{
    return malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
}

static int same_float(float a, float b)
{
    return memcmp(&a, &b, 4) == 0;
}

/* ---- activations and elementwise helpers ---- */

/* Every activation of src/ops/activations.h, with no row of its own: the
 * threaded kernel on every ISA path, pool and in place, bit for bit the
 * single-threaded _ref. */
static void check_activation(repro_act act)
{
    const char *name = repro_act_name(act);
    int bwd_uses_y = repro_act_reads_output(act);
    const int64_t sizes[] = {0, 1, 7, 255, 257, 1000, 4097, 40000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int64_t n = sizes[k];
        float *x = alloc(n), *dy = alloc(n), *y_ref = alloc(n), *dx_ref = alloc(n), *out = alloc(n);
        fill(x, n, 10.0f, 1);
        fill(dy, n, 2.0f, 1);
        repro_act_forward_ref(act, y_ref, x, n);
        repro_act_backward_ref(act, dx_ref, dy, bwd_uses_y ? y_ref : x, n);
        /* every ISA path the CPU runs (ReLU has SIMD twins) */
        const repro_isa isas[] = {REPRO_ISA_SCALAR, REPRO_ISA_AVX2, REPRO_ISA_AVX512, REPRO_ISA_NEON};
        for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
            if (!repro_isa_supported(isas[i]))
                continue;
            const char *isa = repro_isa_name(isas[i]);
            for (int p = 0; p < NPOOLS; p++) {
                repro_cpu cpu = {isas[i], cpus[p].pool};
                CHECK(repro_act_forward(&cpu, act, out, x, n, NULL) == REPRO_OK);
                CHECK_MSG(test_bits_equal(out, y_ref, (size_t)n, name), "%s forward n=%lld pool=%d isa=%s", name,
                          (long long)n, p, isa);
                CHECK(repro_act_backward(&cpu, act, out, dy, bwd_uses_y ? y_ref : x, n, NULL) == REPRO_OK);
                CHECK_MSG(test_bits_equal(out, dx_ref, (size_t)n, name), "%s backward n=%lld pool=%d isa=%s",
                          name, (long long)n, p, isa);
            }
            /* in place: y may be x, dx may be dy */
            repro_cpu cpu = {isas[i], cpus[3].pool};
            memcpy(out, x, (size_t)n * sizeof *out);
            CHECK(repro_act_forward(&cpu, act, out, out, n, NULL) == REPRO_OK);
            CHECK_MSG(test_bits_equal(out, y_ref, (size_t)n, name), "%s forward in place n=%lld isa=%s", name,
                      (long long)n, isa);
            memcpy(out, dy, (size_t)n * sizeof *out);
            CHECK(repro_act_backward(&cpu, act, out, out, bwd_uses_y ? y_ref : x, n, NULL) == REPRO_OK);
            CHECK_MSG(test_bits_equal(out, dx_ref, (size_t)n, name), "%s backward in place n=%lld isa=%s", name,
                      (long long)n, isa);
        }
        free(x), free(dy), free(y_ref), free(dx_ref), free(out);
    }
}

static void test_activations(void)
{
    for (int a = 0; a < REPRO_ACT_COUNT; a++)
        check_activation((repro_act)a);
    float bad[1] = {0};
    repro_error err;
    CHECK(repro_act_forward(&cpus[0], REPRO_ACT_COUNT, bad, bad, 1, &err) == REPRO_ERR_ARG);
    CHECK(repro_act_backward(&cpus[0], (repro_act)-1, bad, bad, bad, 1, &err) == REPRO_ERR_ARG);

    /* ReLU: -0 -> +0, NaN stays NaN, the gradient at 0 is +0. */
    float x[5] = {-0.0f, NAN, -1.0f, 2.5f, 0.0f}, y[5], dy[5] = {1, 1, 1, 1, 1}, dx[5];
    repro_act_forward_ref(REPRO_ACT_RELU, y, x, 5);
    CHECK(same_float(y[0], +0.0f) && isnan(y[1]) && same_float(y[2], +0.0f) && y[3] == 2.5f);
    repro_act_backward_ref(REPRO_ACT_RELU, dx, dy, x, 5);
    CHECK(same_float(dx[0], +0.0f) && same_float(dx[1], +0.0f) && same_float(dx[4], +0.0f) && dx[3] == 1.0f);

    /* GELU: written order, and the saturated tails. */
    float g[4] = {1.0f, 1e30f, INFINITY, -1e30f}, gy[4], gd[4], ones[4] = {1, 1, 1, 1};
    repro_act_forward_ref(REPRO_ACT_GELU, gy, g, 4);
    float u = 0.7978845608f * (1.0f + 0.044715f * ((1.0f * 1.0f) * 1.0f));
    CHECK(same_float(gy[0], (0.5f * 1.0f) * (1.0f + repro_tanhf(u))));
    CHECK(fabsf(gy[0] - 0.8411920f) < 1e-6f);
    CHECK(gy[1] == 1e30f && gy[2] == INFINITY && gy[3] == 0.0f);
    repro_act_backward_ref(REPRO_ACT_GELU, gd, ones, g, 4);
    CHECK(gd[1] == 1.0f && gd[2] == 1.0f && gd[3] == 0.0f); /* no 0 * inf NaN */

    /* add_inplace */
    const int64_t sizes[] = {0, 1, 7, 4097, 100003};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int64_t n = sizes[k];
        float *a = alloc(n), *b = alloc(n), *r = alloc(n), *t = alloc(n);
        fill(a, n, 1e3f, 1);
        fill(b, n, 1e-3f, 1);
        memcpy(r, a, (size_t)n * 4);
        repro_add_inplace_ref(r, b, n);
        for (int p = 0; p < NPOOLS; p++) {
            memcpy(t, a, (size_t)n * 4);
            CHECK(repro_add_inplace(&cpus[p], t, b, n, NULL) == REPRO_OK);
            CHECK_MSG(test_bits_equal(t, r, (size_t)n, "add"), "add n=%lld pool=%d", (long long)n, p);
        }
        int ok = 1;
        for (int64_t i = 0; i < n; i++)
            ok &= same_float(r[i], a[i] + b[i]) || (isnan(r[i]) && isnan(a[i] + b[i]));
        CHECK_MSG(ok, "add n=%lld: y + x", (long long)n);
        free(a), free(b), free(r), free(t);
    }
}

/* ---- dropout ---- */

static int masks_equal(const uint8_t *a, const uint8_t *b, int64_t n)
{
    return memcmp(a, b, (size_t)n) == 0;
}

static void test_dropout(void)
{
    const int64_t shapes[][2] = {{1, 1}, {7, 7}, {1, 4097}, {255, 257}, {1000, 7}, {3, 1000}, {256, 256},
                                 {5, 63}, {5, 65}, {2, 31}, {2, 33}};
    const uint64_t seed = 1234, step = 0x100000007ull;
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int64_t B = shapes[k][0], D = shapes[k][1], n = B * D;
        float *x = alloc(n), *y_ref = alloc(n), *y = alloc(n), *dy = alloc(n), *dx_ref = alloc(n);
        uint8_t *m_ref = malloc((size_t)n), *m = malloc((size_t)n);
        uint32_t *pos = malloc((size_t)B * sizeof *pos);
        for (int64_t b = 0; b < B; b++)
            pos[b] = (uint32_t)(b * 7919 + 3);
        fill(x, n, 4.0f, 1);
        fill(dy, n, 4.0f, 1);
        CHECK(repro_dropout_forward_ref(y_ref, m_ref, x, B, D, 0.3f, seed, 2, step, pos, NULL) == REPRO_OK);
        repro_dropout_backward_ref(dx_ref, dy, m_ref, B, D, 0.3f);
        /* every ISA path the CPU runs: the SIMD twins draw and mask whole
         * vectors, the scalar loop the tails */
        const repro_isa isas[] = {REPRO_ISA_SCALAR, REPRO_ISA_AVX2, REPRO_ISA_AVX512, REPRO_ISA_NEON};
        for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
            if (!repro_isa_supported(isas[i]))
                continue;
            for (int p = 0; p < NPOOLS; p++) {
                repro_cpu cpu = {isas[i], cpus[p].pool};
                memset(m, 7, (size_t)n);
                CHECK(repro_dropout_forward(&cpu, y, m, x, B, D, 0.3f, seed, 2, step, pos, NULL) == REPRO_OK);
                CHECK_MSG(test_bits_equal(y, y_ref, (size_t)n, "dropout") && masks_equal(m, m_ref, n),
                          "dropout forward B=%lld D=%lld pool=%d isa=%s", (long long)B, (long long)D, p,
                          repro_isa_name(isas[i]));
                CHECK(repro_dropout_backward(&cpu, y, dy, m_ref, B, D, 0.3f, NULL) == REPRO_OK);
                CHECK_MSG(test_bits_equal(y, dx_ref, (size_t)n, "dropout bwd"), "dropout backward pool=%d isa=%s",
                          p, repro_isa_name(isas[i]));
                /* in place (y == x, dx == dy), as the header allows */
                memcpy(y, x, (size_t)n * sizeof *y);
                CHECK(repro_dropout_forward(&cpu, y, m, y, B, D, 0.3f, seed, 2, step, pos, NULL) == REPRO_OK);
                CHECK_MSG(test_bits_equal(y, y_ref, (size_t)n, "dropout in place"), "in place isa=%s",
                          repro_isa_name(isas[i]));
                memcpy(y, dy, (size_t)n * sizeof *y);
                CHECK(repro_dropout_backward(&cpu, y, y, m_ref, B, D, 0.3f, NULL) == REPRO_OK);
                CHECK(test_bits_equal(y, dx_ref, (size_t)n, "dropout bwd in place"));
            }
        }
        free(x), free(y_ref), free(y), free(dy), free(dx_ref), free(m_ref), free(m), free(pos);
    }

    /* The mask is the written draw; kept values are x * scale, dropped +0. */
    enum { B = 8, D = 333 };
    static float x[B * D], y[B * D], y2[B * D], dx[B * D];
    static uint8_t m[B * D], m2[B * D];
    uint32_t pos[B] = {40, 41, 7, 100000, 3, 99, 5, 6};
    fill(x, B * D, 3.0f, 0);
    const float p = 0.3f, scale = 1.0f / (1.0f - p);
    CHECK(repro_dropout_forward(&cpus[2], y, m, x, B, D, p, seed, 5, step, pos, NULL) == REPRO_OK);
    repro_rng_key key = repro_rng_derive(seed, REPRO_RNG_DROPOUT, 5, 0);
    int ok = 1;
    for (int64_t b = 0; b < B; b++)
        for (int64_t d = 0; d < D; d++) {
            int keep = repro_rng_uniform(key, pos[b], (uint32_t)step, (uint32_t)(step >> 32), (uint64_t)d) >= p;
            ok &= m[b * D + d] == keep;
            ok &= same_float(y[b * D + d], keep ? x[b * D + d] * scale : +0.0f);
        }
    CHECK(ok);

    /* Micro-batches: rows 0-3 and rows 4-7 on their own give the same bits. */
    CHECK(repro_dropout_forward(&cpus[3], y2, m2, x, 4, D, p, seed, 5, step, pos, NULL) == REPRO_OK);
    CHECK(repro_dropout_forward(&cpus[1], y2 + 4 * D, m2 + 4 * D, x + 4 * D, 4, D, p, seed, 5, step, pos + 4,
                                NULL) == REPRO_OK);
    CHECK(test_bits_equal(y2, y, B * D, "micro-batch") && masks_equal(m2, m, B * D));
    /* A row's mask follows its sample position, not its place in the batch. */
    uint32_t swapped[2] = {pos[1], pos[0]};
    CHECK(repro_dropout_forward_ref(y2, m2, x, 2, D, p, seed, 5, step, swapped, NULL) == REPRO_OK);
    CHECK(masks_equal(m2, m + D, D) && masks_equal(m2 + D, m, D));
    /* Other step (high word included), layer or seed: another mask. */
    CHECK(repro_dropout_forward_ref(y2, m2, x, B, D, p, seed, 5, step - 0x100000000ull, pos, NULL) == REPRO_OK);
    CHECK(!masks_equal(m2, m, B * D));
    CHECK(repro_dropout_forward_ref(y2, m2, x, B, D, p, seed, 6, step, pos, NULL) == REPRO_OK);
    CHECK(!masks_equal(m2, m, B * D));
    CHECK(repro_dropout_forward_ref(y2, m2, x, B, D, p, seed + 1, 5, step, pos, NULL) == REPRO_OK);
    CHECK(!masks_equal(m2, m, B * D));

    /* Backward: dx = mask ? dy * scale : +0. */
    CHECK(repro_dropout_backward(&cpus[4], dx, x, m, B, D, p, NULL) == REPRO_OK);
    ok = 1;
    for (int64_t i = 0; i < B * D; i++)
        ok &= same_float(dx[i], m[i] ? x[i] * scale : +0.0f);
    CHECK(ok);

    /* Keep rate ~ 1 - p over 1000 x 1000 draws (sd of the rate ~ 4.6e-4). */
    enum { RB = 1000, RD = 1000 };
    float *rx = alloc(RB * RD), *ry = alloc(RB * RD);
    uint8_t *rm = malloc(RB * RD);
    uint32_t *rpos = malloc(RB * sizeof *rpos);
    for (int64_t b = 0; b < RB; b++)
        rpos[b] = (uint32_t)b;
    fill(rx, RB * RD, 1.0f, 0);
    for (int i = 0; i < 2; i++) {
        float rp = i == 0 ? 0.3f : 0.5f;
        CHECK(repro_dropout_forward(&cpus[4], ry, rm, rx, RB, RD, rp, 77, 1, 12, rpos, NULL) == REPRO_OK);
        int64_t count = 0;
        for (int64_t j = 0; j < RB * RD; j++)
            count += rm[j];
        double rate = (double)count / (RB * RD);
        CHECK_MSG(fabs(rate - (1.0 - rp)) < 0.003, "keep rate %f for p=%f", rate, (double)rp);
    }

    /* p == 0: y = x bit for bit (NaN payloads too), mask all ones, dx = dy. */
    fill(rx, 4097, 1.0f, 1);
    CHECK(repro_dropout_forward(&cpus[3], ry, rm, rx, 1, 4097, 0.0f, 77, 1, 12, rpos, NULL) == REPRO_OK);
    CHECK(test_bits_equal(ry, rx, 4097, "p=0"));
    ok = 1;
    for (int64_t j = 0; j < 4097; j++)
        ok &= rm[j] == 1;
    CHECK(ok);
    CHECK(repro_dropout_backward(&cpus[3], ry, rx, rm, 1, 4097, 0.0f, NULL) == REPRO_OK);
    CHECK(test_bits_equal(ry, rx, 4097, "p=0 backward"));

    /* Invalid rates are refused, naming the value and the layer. */
    const float bad[] = {1.0f, -0.1f, NAN, 2.0f};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        repro_error err;
        CHECK(repro_dropout_forward(&cpus[1], ry, rm, rx, 1, 4, bad[i], 77, 9, 12, rpos, &err) == REPRO_ERR_ARG);
        CHECK_CONTAINS(err.message, "dropout: rate p must be in [0, 1)");
        CHECK_CONTAINS(err.message, "layer 9");
        CHECK(repro_dropout_forward_ref(ry, rm, rx, 1, 4, bad[i], 77, 9, 12, rpos, &err) == REPRO_ERR_ARG);
    }
    free(rx), free(ry), free(rm), free(rpos);
}

/* ---- layer norm ---- */

static void test_layernorm(void)
{
    const int64_t shapes[][2] = {{1, 1}, {7, 7}, {1, 4097}, {255, 257}, {1000, 7}, {3, 1000}, {8, 2049}, {300, 128}};
    /* dgamma and dbeta run on the lanes of each ISA path (layernorm_simd.h) */
    const repro_isa isas[] = {REPRO_ISA_SCALAR, REPRO_ISA_AVX2, REPRO_ISA_AVX512, REPRO_ISA_NEON};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int64_t B = shapes[k][0], D = shapes[k][1], n = B * D;
        float *x = alloc(n), *dy = alloc(n), *gamma = alloc(D), *beta = alloc(D);
        float *y_ref = alloc(n), *mean_ref = alloc(B), *rstd_ref = alloc(B), *dx_ref = alloc(n);
        float *dg_ref = alloc(D), *db_ref = alloc(D);
        float *y = alloc(n), *mean = alloc(B), *rstd = alloc(B), *dx = alloc(n), *dg = alloc(D), *db = alloc(D);
        float *dg0 = alloc(D), *db0 = alloc(D);
        fill(x, n, 5.0f, 0);
        for (int64_t i = 0; i < n; i += 97) /* a few huge, tiny and signed-zero entries */
            x[i] = (i / 97) % 3 == 0 ? 1e15f : ((i / 97) % 3 == 1 ? 0x1p-140f : -0.0f);
        fill(dy, n, 1.0f, 0);
        fill(gamma, D, 2.0f, 0);
        fill(beta, D, 1.0f, 0);
        fill(dg0, D, 1.0f, 0);
        fill(db0, D, 1.0f, 0);
        repro_layernorm_forward_ref(y_ref, mean_ref, rstd_ref, x, gamma, beta, B, D, 1e-5f);
        memcpy(dg_ref, dg0, (size_t)D * 4);
        memcpy(db_ref, db0, (size_t)D * 4);
        repro_layernorm_backward_ref(dx_ref, dg_ref, db_ref, dy, x, mean_ref, rstd_ref, gamma, B, D);
        for (int p = 0; p < NPOOLS; p++) {
            CHECK(repro_layernorm_forward(&cpus[p], y, mean, rstd, x, gamma, beta, B, D, 1e-5f, NULL) == REPRO_OK);
            CHECK_MSG(test_bits_equal(y, y_ref, (size_t)n, "ln y") &&
                          test_bits_equal(mean, mean_ref, (size_t)B, "ln mean") &&
                          test_bits_equal(rstd, rstd_ref, (size_t)B, "ln rstd"),
                      "layernorm forward B=%lld D=%lld pool=%d", (long long)B, (long long)D, p);
            for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
                if (!repro_isa_supported(isas[i]))
                    continue;
                repro_cpu cpu = {isas[i], cpus[p].pool};
                memcpy(dg, dg0, (size_t)D * 4);
                memcpy(db, db0, (size_t)D * 4);
                CHECK(repro_layernorm_backward(&cpu, dx, dg, db, dy, x, mean_ref, rstd_ref, gamma, B, D, NULL) ==
                      REPRO_OK);
                CHECK_MSG(test_bits_equal(dx, dx_ref, (size_t)n, "ln dx") &&
                              test_bits_equal(dg, dg_ref, (size_t)D, "ln dgamma") &&
                              test_bits_equal(db, db_ref, (size_t)D, "ln dbeta"),
                          "layernorm backward B=%lld D=%lld pool=%d isa=%s", (long long)B, (long long)D, p,
                          repro_isa_name(isas[i]));
            }
        }
        /* Micro-batches: dgamma/dbeta accumulated over rows [0, h) then
         * [h, B) equal one pass over all rows, bit for bit. */
        int64_t h = B / 2;
        for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
            if (!repro_isa_supported(isas[i]))
                continue;
            repro_cpu cpu = {isas[i], cpus[2].pool};
            memcpy(dg, dg0, (size_t)D * 4);
            memcpy(db, db0, (size_t)D * 4);
            CHECK(repro_layernorm_backward(&cpu, dx, dg, db, dy, x, mean_ref, rstd_ref, gamma, h, D, NULL) == REPRO_OK);
            CHECK(repro_layernorm_backward(&cpu, dx + h * D, dg, db, dy + h * D, x + h * D, mean_ref + h,
                                           rstd_ref + h, gamma, B - h, D, NULL) == REPRO_OK);
            CHECK_MSG(test_bits_equal(dg, dg_ref, (size_t)D, "ln dgamma split") &&
                          test_bits_equal(db, db_ref, (size_t)D, "ln dbeta split") &&
                          test_bits_equal(dx, dx_ref, (size_t)n, "ln dx split"),
                      "layernorm micro-batches B=%lld D=%lld isa=%s", (long long)B, (long long)D,
                      repro_isa_name(isas[i]));
        }
        free(x), free(dy), free(gamma), free(beta), free(y_ref), free(mean_ref), free(rstd_ref), free(dx_ref);
        free(dg_ref), free(db_ref), free(y), free(mean), free(rstd), free(dx), free(dg), free(db);
        free(dg0), free(db0);
    }

    /* Known answers: a constant row normalises to beta exactly; the row
     * [1, 2, 3, 4] has mean 2.5 and variance 1.25. */
    float c[4] = {3.0f, 3.0f, 3.0f, 3.0f}, g[4] = {2, 2, 2, 2}, bt[4] = {0.5f, -1, 0, 7};
    float y[4], mean, rstd;
    repro_layernorm_forward_ref(y, &mean, &rstd, c, g, bt, 1, 4, 1e-5f);
    CHECK(mean == 3.0f && test_bits_equal(y, bt, 4, "constant row"));
    CHECK(same_float(rstd, 1.0f / sqrtf(0.0f + 1e-5f)));
    float r[4] = {1, 2, 3, 4};
    repro_layernorm_forward_ref(y, &mean, &rstd, r, g, bt, 1, 4, 0.0f);
    CHECK(mean == 2.5f && same_float(rstd, 1.0f / sqrtf(1.25f)));
    CHECK(same_float(y[0], ((1.0f - 2.5f) * rstd) * 2.0f + 0.5f));
}

/* ---- losses ---- */

static void test_losses(void)
{
    const int64_t shapes[][2] = {{1, 1}, {7, 7}, {1, 4097}, {255, 10}, {257, 3}, {1000, 7}, {4097, 2}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int64_t B = shapes[k][0], W = shapes[k][1], n = B * W;
        float *z = alloc(n), *t = alloc(n), *l_ref = alloc(B), *l = alloc(B), *g_ref = alloc(n), *g = alloc(n);
        int32_t *labels = malloc((size_t)B * 4), *pred_ref = malloc((size_t)B * 4), *pred = malloc((size_t)B * 4);
        fill(z, n, 30.0f, 1);
        fill(t, n, 30.0f, 1);
        for (int64_t b = 0; b < B; b++)
            labels[b] = (int32_t)(rand_u32() % (uint32_t)W);
        /* the cross-entropy's rows run on SIMD lanes (xent_simd.h): rows
         * of ties (the first maximum: +0 before -0 and the reverse), of
         * logits far apart (exponentials that underflow) and one of NaN */
        for (int64_t b = 1; b < B; b += 5)
            for (int64_t j = 0; j < W; j++) {
                float *v = &z[b * W + j];
                switch ((b / 5 + j) % 4) {
                case 0: *v = b % 2 ? 0.0f : -0.0f; break;
                case 1: *v = b % 2 ? -0.0f : 0.0f; break;
                case 2: *v = (b / 5) % 3 == 0 ? 200.0f : *v; break;
                default: break;
                }
            }
        if (B > 3)
            z[3 * W + W / 2] = NAN;
        CHECK(repro_softmax_xent_forward_ref(l_ref, pred_ref, z, labels, B, W, NULL) == REPRO_OK);
        CHECK(repro_softmax_xent_backward_ref(g_ref, z, labels, B, W, 0.125f, NULL) == REPRO_OK);
        const repro_isa isas[] = {REPRO_ISA_SCALAR, REPRO_ISA_AVX2, REPRO_ISA_AVX512, REPRO_ISA_NEON};
        for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
            if (!repro_isa_supported(isas[i]))
                continue;
            for (int p = 0; p < NPOOLS; p++) {
                repro_cpu cpu = {isas[i], cpus[p].pool};
                CHECK(repro_softmax_xent_forward(&cpu, l, pred, z, labels, B, W, NULL) == REPRO_OK);
                /* a NaN's sign and payload follow the compiler's operand order
                 * (x86 keeps the first operand's), promised by neither path */
                CHECK_MSG(test_bits_equal_nan(l, l_ref, (size_t)B, "xent") &&
                              memcmp(pred, pred_ref, (size_t)B * 4) == 0,
                          "xent forward B=%lld C=%lld pool=%d isa=%s", (long long)B, (long long)W, p,
                          repro_isa_name(isas[i]));
                CHECK(repro_softmax_xent_backward(&cpu, g, z, labels, B, W, 0.125f, NULL) == REPRO_OK);
                CHECK_MSG(test_bits_equal_nan(g, g_ref, (size_t)n, "xent bwd"), "xent backward B=%lld C=%lld pool=%d isa=%s",
                          (long long)B, (long long)W, p, repro_isa_name(isas[i]));
            }
        }
        repro_mse_forward_ref(l_ref, z, t, B, W);
        repro_mse_backward_ref(g_ref, z, t, B, W, 0.3f);
        for (int p = 0; p < NPOOLS; p++) {
            CHECK(repro_mse_forward(&cpus[p], l, z, t, B, W, NULL) == REPRO_OK);
            CHECK_MSG(test_bits_equal(l, l_ref, (size_t)B, "mse"), "mse forward pool=%d", p);
            CHECK(repro_mse_backward(&cpus[p], g, z, t, B, W, 0.3f, NULL) == REPRO_OK);
            CHECK_MSG(test_bits_equal(g, g_ref, (size_t)n, "mse bwd"), "mse backward pool=%d", p);
        }
        repro_huber_forward_ref(l_ref, z, t, B, W, 1.5f);
        repro_huber_backward_ref(g_ref, z, t, B, W, 1.5f, 0.3f);
        for (int p = 0; p < NPOOLS; p++) {
            CHECK(repro_huber_forward(&cpus[p], l, z, t, B, W, 1.5f, NULL) == REPRO_OK);
            CHECK_MSG(test_bits_equal(l, l_ref, (size_t)B, "huber"), "huber forward pool=%d", p);
            CHECK(repro_huber_backward(&cpus[p], g, z, t, B, W, 1.5f, 0.3f, NULL) == REPRO_OK);
            CHECK_MSG(test_bits_equal(g, g_ref, (size_t)n, "huber bwd"), "huber backward pool=%d", p);
        }
        free(z), free(t), free(l_ref), free(l), free(g_ref), free(g), free(labels), free(pred_ref), free(pred);
    }

    /* Cross-entropy known answers. */
    float z0[5] = {0, 0, 0, 0, 0}, loss[2], dz[10];
    int32_t lab[2] = {3, 1}, pred[2];
    CHECK(repro_softmax_xent_forward_ref(loss, pred, z0, lab, 1, 5, NULL) == REPRO_OK);
    CHECK(same_float(loss[0], (0.0f + repro_logf(5.0f)) - 0.0f) && pred[0] == 0); /* ties: first */
    float zt[10] = {1, 7, 7, -INFINITY, 2, /* row 2: */ 1e30f, -1e30f, 0, 0, 0};
    CHECK(repro_softmax_xent_forward_ref(loss, pred, zt, lab, 2, 5, NULL) == REPRO_OK);
    CHECK(pred[0] == 1 && pred[1] == 0);
    CHECK(loss[0] == INFINITY); /* the label's logit is -inf */
    CHECK(loss[1] == 1e30f + 1e30f); /* lse = 1e30 (s = 1), minus z[1] = -1e30 */
    CHECK(repro_softmax_xent_backward_ref(dz, zt, lab, 2, 5, 0.5f, NULL) == REPRO_OK);
    CHECK(dz[3] == -0.5f);
    CHECK(dz[5] == 0.5f && dz[6] == -0.5f && same_float(dz[7], +0.0f));
    float zn[3] = {1, NAN, 2};
    int32_t l0 = 0;
    CHECK(repro_softmax_xent_forward_ref(loss, pred, zn, &l0, 1, 3, NULL) == REPRO_OK);
    CHECK(isnan(loss[0])); /* divergence shows */

    /* Bad labels and class counts are refused, naming the row and value. */
    repro_error err;
    int32_t badl[3] = {0, 5, -1};
    CHECK(repro_softmax_xent_forward(&cpus[2], loss, NULL, z0, badl, 3, 5, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "label 5 of row 1 is outside [0, 5)");
    CHECK(repro_softmax_xent_backward_ref(dz, z0, badl + 2, 1, 5, 1.0f, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "label -1 of row 0 is outside [0, 5)");
    CHECK(repro_softmax_xent_forward_ref(loss, NULL, z0, badl, 1, 0, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "need at least 1 class, got 0");

    /* MSE and Huber known answers: d = [1, -2] and [0.5, 3]. */
    float pr[4] = {1, -2, 0.5f, 3}, tg[4] = {0, 0, 0, 0}, g[4];
    repro_mse_forward_ref(loss, pr, tg, 2, 2);
    CHECK(loss[0] == 2.5f && loss[1] == 4.625f);
    repro_mse_backward_ref(g, pr, tg, 2, 2, 1.0f);
    CHECK(g[0] == 1.0f && g[1] == -2.0f && g[2] == 0.5f && g[3] == 3.0f);
    repro_huber_forward_ref(loss, pr, tg, 2, 2, 1.0f);
    CHECK(loss[0] == (0.5f + 1.5f) / 2.0f && loss[1] == (0.125f + 2.5f) / 2.0f);
    repro_huber_backward_ref(g, pr, tg, 2, 2, 1.0f, 2.0f);
    CHECK(g[0] == 1.0f && g[1] == -1.0f && g[2] == 0.5f && g[3] == 1.0f);
}

int main(void)
{
    repro_pool *pools[NPOOLS] = {NULL};
    cpus[0].isa = REPRO_ISA_SCALAR;
    cpus[0].pool = NULL;
    for (int t = 1; t < NPOOLS; t++) {
        repro_error err;
        CHECK(repro_pool_create(t, &pools[t], &err) == REPRO_OK);
        cpus[t].isa = REPRO_ISA_SCALAR;
        cpus[t].pool = pools[t];
    }
    test_activations();
    test_dropout();
    test_layernorm();
    test_losses();
    for (int t = 1; t < NPOOLS; t++)
        repro_pool_destroy(pools[t]);
    return test_finish("test_ops");
}
