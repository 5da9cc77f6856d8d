/* The canonical reduction: the library's sums equal an independent
 * implementation of the written order (src/ops/reduce.h), hit known answers
 * that only that order gives, and the threaded sums equal the reference bit
 * for bit for 1..4 threads.
 * ctest-labels: threads */
#include <math.h>

#include "ops/cpu/ops.h"
#include "ops/cpu/reduce_simd.h"
#include "repro/isa.h"
#include "testutil.h"

/* The order again, from the comment, with an explicit block-sum array. */
/* The threaded canonical sums, the calls checked. */
static float sum_mt(const repro_cpu *cpu, const float *x, int64_t n)
{
    float s = NAN;
    CHECK(repro_sum_canonical_mt(cpu, x, n, &s, NULL) == REPRO_OK);
    return s;
}

static float sumsq_mt(const repro_cpu *cpu, const float *x, int64_t n)
{
    float s = NAN;
    CHECK(repro_sumsq_canonical_mt(cpu, x, n, &s, NULL) == REPRO_OK);
    return s;
}

static float spec_tree(const float *b, int64_t m)
{
    if (m == 1)
        return b[0];
    int64_t h = (m + 1) / 2;
    float left = spec_tree(b, h);
    float right = spec_tree(b + h, m - h);
    return left + right;
}

static float spec_sum(const float *x, int64_t n, int square)
{
    if (n == 0)
        return +0.0f;
    int64_t m = (n + 1023) / 1024;
    float *b = malloc((size_t)m * sizeof *b);
    for (int64_t k = 0; k < m; k++) {
        int64_t s = k * 1024, len = n - s < 1024 ? n - s : 1024;
        float l[8];
        for (int j = 0; j < 8; j++) {
            l[j] = +0.0f;
            for (int64_t i = j; i < len; i += 8) {
                float e = square ? x[s + i] * x[s + i] : x[s + i];
                l[j] = l[j] + e;
            }
        }
        b[k] = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
    }
    float r = spec_tree(b, m);
    free(b);
    return r;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static float rand_float(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t u = (uint32_t)(rng_state >> 40); /* 24 bits */
    float v = (float)u * 0x1p-24f - 0.5f;
    /* spread magnitudes so rounding really happens */
    int e = (int)((rng_state >> 20) % 40) - 20;
    return ldexpf(v, e);
}

static int same_bits(float a, float b)
{
    uint32_t ua, ub;
    memcpy(&ua, &a, 4);
    memcpy(&ub, &b, 4);
    return ua == ub;
}

/* The canonical sum with its blocks on the AVX2 and AVX-512 paths
 * (reduce_avx2.c) against the scalar one, bit for bit: every element
 * kind, contiguous and segmented layouts (runs shorter and longer than a
 * vector, runs crossing vector groups and blocks), tails of every length,
 * and values that round, cancel, overflow and are NaN. */
static void test_isa_blocks(void)
{
    const repro_isa isas[] = {REPRO_ISA_AVX2, REPRO_ISA_AVX512};
    const int64_t seg[][2] = {{0, 0}, {1, 3}, {3, 5}, {7, 7}, {8, 11}, {9, 20}, {49, 64}, {196, 6272}, {1030, 1100}};
    const int64_t sizes[] = {1, 5, 8, 13, 64, 1023, 1024, 1031, 3000};
    enum { SPAN = 3000 * 6272 / 196 + 8 }; /* the largest offset any layout below reaches */
    float *x = malloc(SPAN * sizeof *x), *y = malloc(SPAN * sizeof *y);
    for (int64_t i = 0; i < SPAN; i++) {
        x[i] = rand_float() * (i % 13 == 0 ? 1e6f : 1.0f);
        y[i] = rand_float();
    }
    x[37] = -0.0f;
    y[38] = 0x1p-140f;
    int ran = 0;
    for (size_t k = 0; k < sizeof isas / sizeof isas[0]; k++) {
        if (!repro_isa_supported(isas[k]))
            continue;
        for (int kind = REPRO_CANON_X; kind <= REPRO_CANON_Y_XHAT; kind++)
            for (size_t g = 0; g < sizeof seg / sizeof seg[0]; g++)
                for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
                    int64_t n = sizes[z];
                    if (seg[g][0] && (n / seg[g][0] + 1) * seg[g][1] + seg[g][0] > SPAN)
                        continue;
                    repro_canon_src src = {(repro_canon_kind)kind, x, y, 0.37f, 1.7f, seg[g][0], seg[g][1]};
                    float ref = repro_canon_sum(&src, n), got = repro_canon_sum_isa(isas[k], &src, n);
                    CHECK_MSG(same_bits(ref, got), "%s kind %d seg %lld/%lld n=%lld: %a, scalar %a",
                              repro_isa_name(isas[k]), kind, (long long)seg[g][0], (long long)seg[g][1],
                              (long long)n, (double)got, (double)ref);
                    ran++;
                }
        /* inf and NaN reach the sum in every layout */
        float keep = x[5];
        x[5] = INFINITY;
        repro_canon_src inf_src = {REPRO_CANON_X, x, NULL, 0.0f, 0.0f, 3, 5};
        CHECK(repro_canon_sum_isa(isas[k], &inf_src, 100) == INFINITY);
        x[5] = NAN;
        CHECK(isnan(repro_canon_sum_isa(isas[k], &inf_src, 100)));
        x[5] = keep;
    }
    CHECK(ran == 0 || ran >= 300);
    free(x);
    free(y);
}

int main(void)
{
    test_isa_blocks();
    repro_pool *pools[4];
    for (int t = 0; t < 4; t++) {
        repro_error err;
        CHECK(repro_pool_create(t + 1, &pools[t], &err) == REPRO_OK);
    }

    const int64_t sizes[] = {0, 1, 7, 8, 9, 1023, 1024, 1025, 4097, 65 * 1024 + 3, 1000000};
    float *x = malloc(1000000 * sizeof *x);
    for (int64_t i = 0; i < 1000000; i++)
        x[i] = rand_float();
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int64_t n = sizes[k];
        float ref = repro_sum_canonical(x, n), ref_sq = repro_sumsq_canonical(x, n);
        CHECK_MSG(same_bits(ref, spec_sum(x, n, 0)), "sum n=%lld", (long long)n);
        CHECK_MSG(same_bits(ref_sq, spec_sum(x, n, 1)), "sumsq n=%lld", (long long)n);
        for (int t = 0; t < 4; t++) {
            repro_cpu cpu = {REPRO_ISA_SCALAR, pools[t]};
            CHECK_MSG(same_bits(ref, sum_mt(&cpu, x, n)), "n=%lld threads=%d",
                      (long long)n, t + 1);
            CHECK_MSG(same_bits(ref_sq, sumsq_mt(&cpu, x, n)), "sq n=%lld threads=%d",
                      (long long)n, t + 1);
        }
    }
    repro_cpu inline_cpu = {REPRO_ISA_SCALAR, NULL};
    CHECK(same_bits(sum_mt(&inline_cpu, x, 5000), repro_sum_canonical(x, 5000)));

    /* n == 0 is +0; a sum of -0s is +0 (each lane starts from +0). */
    float negz[3] = {-0.0f, -0.0f, -0.0f};
    CHECK(same_bits(repro_sum_canonical(negz, 0), +0.0f));
    CHECK(same_bits(repro_sum_canonical(negz, 3), +0.0f));

    /* Lane order: x[0] = 1, x[8] = x[16] = 2^-24 share lane 0 and are added
     * one at a time to 1 (each tie rounds back to 1); summing the two small
     * ones first would give 1 + 2^-23. */
    float lane[17] = {0};
    lane[0] = 1.0f;
    lane[8] = 0x1p-24f;
    lane[16] = 0x1p-24f;
    CHECK(repro_sum_canonical(lane, 17) == 1.0f);
    /* Lane combine: l0 = 1, l1 = 2^-24, l2 = 2^-24 -> (l0 + l1) + (l2 + l3) = 1 + 2^-24 -> 1. */
    float comb[3] = {1.0f, 0x1p-24f, 0x1p-24f};
    CHECK(repro_sum_canonical(comb, 3) == 1.0f);
    /* Tree: three blocks with sums 1, 2^-24, 2^-24 -> (b0 + b1) + b2 = 1. */
    float *tree = calloc(3 * 1024, sizeof *tree);
    tree[0] = 1.0f;
    tree[1024] = 0x1p-24f;
    tree[2048] = 0x1p-24f;
    CHECK(repro_sum_canonical(tree, 3 * 1024) == 1.0f);
    /* ... and blocks 1, 1, 2^-23 ... with m = 5: ((b0+b1)+b2) + (b3+b4). */
    float *tree5 = calloc(5 * 1024, sizeof *tree5);
    tree5[0] = 0x1p-24f;
    tree5[1024] = 0x1p-24f;
    tree5[2048] = 1.0f;
    tree5[3072] = 0x1p-25f;
    tree5[4096] = 0x1p-25f;
    /* (2^-24 + 2^-24) + 1 = 1 + 2^-23 exactly, 2^-25 + 2^-25 = 2^-24, and
     * (1 + 2^-23) + 2^-24 is a tie that rounds to even, 1 + 2^-22. Adding
     * left to right would give 1 + 2^-23. */
    CHECK(repro_sum_canonical(tree5, 5 * 1024) == 1.0f + 0x1p-22f);
    for (int t = 0; t < 4; t++) {
        repro_cpu cpu = {REPRO_ISA_SCALAR, pools[t]};
        CHECK(sum_mt(&cpu, tree5, 5 * 1024) == 1.0f + 0x1p-22f);
    }

    /* Exact small integers: the sum of n ones is n for n < 2^24. */
    for (int64_t i = 0; i < 1000000; i++)
        x[i] = 1.0f;
    CHECK(repro_sum_canonical(x, 1000000) == 1000000.0f);
    CHECK(repro_sumsq_canonical(x, 4097) == 4097.0f);

    /* Special values: inf and NaN propagate in every version. */
    for (int64_t i = 0; i < 5000; i++)
        x[i] = 0x1p-140f; /* subnormal */
    CHECK(same_bits(repro_sum_canonical(x, 5000), spec_sum(x, 5000, 0)));
    CHECK(repro_sum_canonical(x, 5000) == 5000.0f * 0x1p-140f);
    x[4000] = INFINITY;
    CHECK(repro_sum_canonical(x, 5000) == INFINITY);
    x[17] = -INFINITY;
    CHECK(isnan(repro_sum_canonical(x, 5000)));
    for (int t = 0; t < 4; t++) {
        repro_cpu cpu = {REPRO_ISA_SCALAR, pools[t]};
        CHECK(same_bits(sum_mt(&cpu, x, 5000), repro_sum_canonical(x, 5000)));
    }

    free(x);
    free(tree);
    free(tree5);
    for (int t = 0; t < 4; t++)
        repro_pool_destroy(pools[t]);
    return test_finish("test_reduce");
}
