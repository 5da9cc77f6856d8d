/* The linear layer equals its plain-loop definition (linear.h) bitwise on
 * every ISA path and thread count, and four micro-batches of 64 accumulate
 * exactly one batch of 256's dW and db.
 * ctest-labels: threads */
#include <math.h>
#include <stdint.h>

#include "repro/isa.h"
#include "ops/cpu/linear.h"
#include "testutil.h"

static uint64_t rng = 0x243f6a8885a308d3ull;
static float draw(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((uint32_t)(rng >> 40)) * 0x1p-23f - 1.0f;
}

static float *filled(int64_t n)
{
    float *p = malloc((size_t)n * sizeof *p);
    for (int64_t i = 0; i < n; i++)
        p[i] = draw();
    return p;
}

static float *copy(const float *src, int64_t n)
{
    float *p = malloc((size_t)n * sizeof *p);
    memcpy(p, src, (size_t)n * sizeof *p);
    return p;
}

static const repro_isa isas[] = {REPRO_ISA_SCALAR, REPRO_ISA_AVX2, REPRO_ISA_AVX512, REPRO_ISA_NEON};

/* Every path and thread count against the definition, written as loops. */
static void against_definition(repro_pool **pools, int64_t B, int64_t I, int64_t O)
{
    float *x = filled(B * I), *w = filled(O * I), *bias = filled(O), *dy = filled(B * O);
    float *dw0 = filled(O * I), *db0 = filled(O);
    float *y_want = malloc((size_t)(B * O) * sizeof(float));
    float *dx_want = malloc((size_t)(B * I) * sizeof(float));
    float *dw_want = copy(dw0, O * I), *db_want = copy(db0, O);
    for (int64_t b = 0; b < B; b++)
        for (int64_t o = 0; o < O; o++) {
            float acc = 0.0f;
            for (int64_t i = 0; i < I; i++)
                acc = fmaf(x[b * I + i], w[o * I + i], acc);
            y_want[b * O + o] = acc + bias[o];
        }
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < I; i++) {
            float acc = 0.0f;
            for (int64_t o = 0; o < O; o++)
                acc = fmaf(dy[b * O + o], w[o * I + i], acc);
            dx_want[b * I + i] = acc;
        }
    for (int64_t o = 0; o < O; o++) {
        for (int64_t i = 0; i < I; i++) {
            float acc = dw_want[o * I + i];
            for (int64_t b = 0; b < B; b++)
                acc = fmaf(dy[b * O + o], x[b * I + i], acc);
            dw_want[o * I + i] = acc;
        }
        float acc = db_want[o];
        for (int64_t b = 0; b < B; b++)
            acc = acc + dy[b * O + o];
        db_want[o] = acc;
    }
    float *y = malloc((size_t)(B * O) * sizeof(float)), *dx = malloc((size_t)(B * I) * sizeof(float));
    for (int k = 0; k < 3; k++) {
        if (!repro_isa_supported(isas[k]))
            continue;
        for (int t = 1; t <= 3; t++) {
            repro_cpu cpu = {isas[k], pools[t]};
            repro_error err;
            float *dw = copy(dw0, O * I), *db = copy(db0, O);
            CHECK(repro_linear_forward(&cpu, y, x, w, bias, B, I, O, &err) == REPRO_OK);
            CHECK(repro_linear_backward(&cpu, dx, dw, db, dy, x, w, B, I, O, &err) == REPRO_OK);
            CHECK_MSG(test_bits_equal(y, y_want, (size_t)(B * O), "y"), "%s/%d", repro_isa_name(isas[k]), t);
            CHECK_MSG(test_bits_equal(dx, dx_want, (size_t)(B * I), "dx"), "%s/%d", repro_isa_name(isas[k]), t);
            CHECK_MSG(test_bits_equal(dw, dw_want, (size_t)(O * I), "dw"), "%s/%d", repro_isa_name(isas[k]), t);
            CHECK_MSG(test_bits_equal(db, db_want, (size_t)O, "db"), "%s/%d", repro_isa_name(isas[k]), t);
            free(dw), free(db);
        }
    }
    free(x), free(w), free(bias), free(dy), free(dw0), free(db0);
    free(y_want), free(dx_want), free(dw_want), free(db_want), free(y), free(dx);
}

/* dW and db of one batch of 256 == four micro-batches of 64 in order. */
static void micro_batches(repro_pool **pools)
{
    const int64_t B = 256, I = 784, O = 256, mb = 64;
    float *x = filled(B * I), *w = filled(O * I), *dy = filled(B * O);
    float *dw_one = calloc((size_t)(O * I), sizeof(float)), *db_one = calloc((size_t)O, sizeof(float));
    repro_cpu cpu = {repro_isa_best(), pools[2]};
    repro_error err;
    CHECK(repro_linear_backward(&cpu, NULL, dw_one, db_one, dy, x, w, B, I, O, &err) == REPRO_OK);
    for (int k = 0; k < 3; k++) {
        if (!repro_isa_supported(isas[k]))
            continue;
        repro_cpu c = {isas[k], pools[1 + k % 3]};
        float *dw = calloc((size_t)(O * I), sizeof(float)), *db = calloc((size_t)O, sizeof(float));
        for (int64_t q = 0; q < B / mb; q++)
            CHECK(repro_linear_backward(&c, NULL, dw, db, dy + q * mb * O, x + q * mb * I, w, mb, I, O,
                                        &err) == REPRO_OK);
        CHECK_MSG(test_bits_equal(dw, dw_one, (size_t)(O * I), "dw micro-batches"), "%s", repro_isa_name(isas[k]));
        CHECK_MSG(test_bits_equal(db, db_one, (size_t)O, "db micro-batches"), "%s", repro_isa_name(isas[k]));
        free(dw), free(db);
    }
    free(x), free(w), free(dy), free(dw_one), free(db_one);
}

int main(void)
{
    repro_pool *pools[4] = {NULL};
    for (int t = 1; t <= 3; t++) {
        repro_error err;
        if (repro_pool_create(t, &pools[t], &err) != REPRO_OK)
            TEST_SKIP("cannot create a pool: %s", err.message);
    }
    against_definition(pools, 67, 100, 33);
    against_definition(pools, 256, 33, 10);
    against_definition(pools, 1, 7, 1);
    micro_batches(pools);
    repro_cpu cpu = {REPRO_ISA_SCALAR, NULL};
    repro_error err;
    float v[4] = {0};
    CHECK(repro_linear_forward(&cpu, v, v, v, NULL, -1, 2, 2, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "linear forward (-1x2 -> 2): gemm: negative size");
    for (int t = 1; t <= 3; t++)
        repro_pool_destroy(pools[t]);
    return test_finish("test_linear");
}
