/* The bf16 GEMM's CPU side: the tensor-core model against answers measured
 * on the GPU, and the threaded GEMM and linear layer against the plain
 * reference, bit for bit.
 *
 * tests/data/tc_bf16_kat.txt holds dot products the H200's tensor cores
 * computed (tools/tc_probe.cu wrote it: random and adversarial inputs,
 * chains of blocks); the model must give every one of them. So a change to
 * src/ops/tc_model.h that the hardware would not follow fails here, on any
 * machine, without a GPU. ctest-labels: threads */
#include <math.h>
#include <stdio.h>

#include "core/pool.h"
#include "ops/cpu/gemm_bf16.h"
#include "ops/cpu/gemm_bf16_kernel.h"
#include "ops/tc_model.h"
#include "testutil.h"

static float f_of(uint32_t u) { return repro_tc_u2f(u); }

static void rounding_to_bf16(void)
{
    CHECK(repro_bf16_from_float(1.0f) == 0x3f80);
    CHECK(repro_bf16_from_float(f_of(0x3f808000u)) == 0x3f80); /* tie: to even */
    CHECK(repro_bf16_from_float(f_of(0x3f818000u)) == 0x3f82); /* tie: to even (up) */
    CHECK(repro_bf16_from_float(f_of(0x3f808001u)) == 0x3f81); /* above the tie */
    CHECK(repro_bf16_from_float(f_of(0x7f7fffffu)) == 0x7f80); /* FLT_MAX rounds to infinity */
    CHECK(repro_bf16_from_float(f_of(0x80000001u)) == 0x8000); /* the smallest subnormal to -0 */
    CHECK((repro_bf16_from_float(NAN) & 0x7fc0) == 0x7fc0);     /* NaN stays a quiet NaN */
    CHECK(repro_bf16_from_float(f_of(0x7f800001u)) != 0x7f80);  /* a signalling NaN is not infinity */
}

/* Rules of the block sum, one case each (each confirmed on the H200). */
static void block_rules(void)
{
    const repro_tc_params p = REPRO_TC_HOPPER_BF16;
    uint16_t a[16], b[16];
    /* 1 - 2^-30: the small term lies below the 25 kept bits: truncated away */
    a[0] = 0x3f80, b[0] = 0x3f80, a[1] = 0xb880, b[1] = 0x3880; /* -2^-14 * 2^-14 = -2^-28 */
    CHECK(repro_tc_f2u(repro_tc_block(a, b, 2, 0.0f, p)) == 0x3f800000u);
    /* 2^-25 is kept (the second extra bit), and the sum rounds toward zero */
    a[1] = 0x3300, b[1] = 0x3f80; /* 2^-25 */
    CHECK(repro_tc_f2u(repro_tc_block(a, b, 2, 0.0f, p)) == 0x3f800000u);
    a[1] = 0xb300; /* 1 - 2^-25 rounds toward zero: 1 - 2^-24 */
    CHECK(repro_tc_f2u(repro_tc_block(a, b, 2, 0.0f, p)) == 0x3f7fffffu);
    /* all-zero products and c = -0: +0 */
    a[0] = 0x8000, b[0] = 0x3f80;
    CHECK(repro_tc_f2u(repro_tc_block(a, b, 1, -0.0f, p)) == 0x00000000u);
    /* overflow: infinity, although the rounding is toward zero */
    a[0] = 0x7f7f, b[0] = 0x4000;
    CHECK(repro_tc_f2u(repro_tc_block(a, b, 1, 0.0f, p)) == 0x7f800000u);
    /* inf * 0 is NaN */
    a[0] = 0x7f80, b[0] = 0x0000;
    float r = repro_tc_block(a, b, 1, 1.0f, p);
    CHECK(r != r);
    /* zero padding changes nothing: a block of 3 == the same 3 in a block of 16 */
    for (int i = 0; i < 16; i++)
        a[i] = i < 3 ? (uint16_t)(0x3f81 + 3 * i) : 0, b[i] = i < 3 ? (uint16_t)(0xc011 - i) : 0;
    CHECK(repro_tc_f2u(repro_tc_block(a, b, 3, 0.3f, p)) == repro_tc_f2u(repro_tc_block(a, b, 16, 0.3f, p)));
}

/* Every line of tests/data/tc_bf16_kat.txt: "category c a0b0 a1b1 ... d". */
static void hardware_answers(void)
{
    const repro_tc_params p = REPRO_TC_HOPPER_BF16;
    FILE *f = fopen(REPRO_SOURCE_DIR "/tests/data/tc_bf16_kat.txt", "r");
    CHECK_MSG(f != NULL, "tests/data/tc_bf16_kat.txt is missing");
    if (!f)
        return;
    char line[4096];
    int n = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        char cat[32];
        uint32_t words[80];
        int nw = 0, used = 0;
        char *s = line;
        if (sscanf(s, "%31s%n", cat, &used) != 1)
            continue;
        s += used;
        while (nw < 80 && sscanf(s, "%x%n", &words[nw], &used) == 1)
            nw++, s += used;
        CHECK_MSG(nw >= 3, "malformed line: %s", line);
        if (nw < 3)
            continue;
        int K = nw - 2;
        uint16_t a[64], b[64];
        for (int k = 0; k < K && k < 64; k++)
            a[k] = (uint16_t)(words[1 + k] >> 16), b[k] = (uint16_t)(words[1 + k] & 0xffff);
        float got = repro_tc_dot(a, 1, b, 1, K, f_of(words[0]), p);
        uint32_t want = words[nw - 1], g = repro_tc_f2u(got);
        int both_nan = (g & 0x7fffffffu) > 0x7f800000u && (want & 0x7fffffffu) > 0x7f800000u;
        if (g != want && !both_nan) {
            if (bad++ < 5)
                fprintf(stderr, "%s: model %08x, H200 %08x\n", cat, g, want);
        }
        n++;
    }
    fclose(f);
    CHECK_MSG(n >= 400, "only %d known answers read", n);
    CHECK_MSG(bad == 0, "%d of %d known answers differ", bad, n);
    printf("tensor-core model: %d answers measured on the H200, %d differ\n", n, bad);
}

static uint32_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

/* Values of 2^-7 .. 2^6 and zeros; wide: also exponents far enough apart
 * to send blocks to the SIMD kernels' slow lanes (beyond 2^+-100), and
 * subnormals; sparse: half the values zero, and whole zero stretches;
 * spread (a biased exponent): values of 2^(spread - 127) .. 2^6, so the
 * kernels for in-range operands run, at the edges of that range, without
 * their int8 exponents (test_range_modes). */
static int wide = 0, sparse = 0, spread = 0;
static void fill(float *v, size_t n, uint64_t *s)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t e = wide && lcg(s) % 7 == 0 ? lcg(s) % 254
                     : spread ? (uint32_t)spread + lcg(s) % (134u - (uint32_t)spread)
                              : 120 + lcg(s) % 14;
        v[i] = f_of((lcg(s) & 1u) << 31 | e << 23 | (lcg(s) & 0x7fffffu));
        if (lcg(s) % (sparse ? 2 : 29) == 0)
            v[i] = 0.0f;
    }
    if (sparse && n > 40)
        for (size_t i = lcg(s) % (n / 2), end = i + n / 3; i < end; i++)
            v[i] = 0.0f;
}

/* The kernel each path runs is the one named for it: the loop below tests
 * every SIMD kernel this CPU has, not a stand-in. */
static void kernels(void)
{
    static const char *const want[] = {"reference", "avx2", "avx512", "neon"};
    for (int isa = 0; isa < REPRO_ISA_COUNT; isa++)
        if (repro_isa_supported((repro_isa)isa)) {
            CHECK_MSG(strcmp(repro_gemm_bf16_kernel((repro_isa)isa), want[isa]) == 0, "%s path runs the %s kernel",
                      repro_isa_name((repro_isa)isa), repro_gemm_bf16_kernel((repro_isa)isa));
            printf("%s path: %s kernel\n", repro_isa_name((repro_isa)isa), repro_gemm_bf16_kernel((repro_isa)isa));
        }
}

/* The threaded GEMM and linear layer == the reference, at 1, 2 and 3
 * threads, every path (shapes with every remainder of rows per tile). */
static void threaded_equals_reference(void)
{
    static const int64_t shapes[][3] = {{1, 1, 1},    {3, 5, 7},    {17, 33, 15}, {64, 10, 128},
                                        {33, 65, 100}, {5, 3, 300}, {6, 40, 48},  {7, 31, 33}};
    repro_error err;
    uint64_t s = 7;
    static const repro_isa isas[] = {REPRO_ISA_SCALAR, REPRO_ISA_AVX2, REPRO_ISA_AVX512, REPRO_ISA_NEON};
    /* threads x paths, then wide, sparse, spread */
    enum { NISA = sizeof isas / sizeof isas[0], RUNS = 3 * NISA, MODES = 4 };
    for (int run = 0; run < RUNS * MODES; run++) {
        int threads = 1 + run % 3;
        repro_isa isa = isas[run / 3 % NISA];
        wide = run / RUNS == 1, sparse = run / RUNS == 2;
        int spread_mode = run / RUNS == 3;
        if (!repro_isa_supported(isa)) {
            if (threads == 1 && run < RUNS)
                printf("NOTE: %s path not supported by this CPU: not tested\n", repro_isa_name(isa));
            continue;
        }
        repro_pool *pool = NULL;
        CHECK(repro_pool_create(threads, &pool, &err) == REPRO_OK);
        repro_cpu cpu = {isa, pool};
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            int64_t M = shapes[i][0], N = shapes[i][1], K = shapes[i][2];
            float *A = malloc(sizeof(float) * (size_t)(M * K)), *B = malloc(sizeof(float) * (size_t)(K * N));
            float *C1 = malloc(sizeof(float) * (size_t)(M * N)), *C2 = malloc(sizeof(float) * (size_t)(M * N));
            float *bias = malloc(sizeof(float) * (size_t)N);
            spread = spread_mode ? 127 - 62 : 0; /* A from 2^-62, B from 2^-38: products from 2^-100 */
            fill(A, (size_t)(M * K), &s);
            spread = spread_mode ? 127 - 38 : 0;
            fill(B, (size_t)(K * N), &s);
            spread = 0;
            fill(bias, (size_t)N, &s);
            for (int layout = 0; layout < 4; layout++)
                for (int acc = 0; acc <= 1; acc++) {
                    int64_t a_rs = layout & 1 ? 1 : K, a_cs = layout & 1 ? M : 1;
                    int64_t b_rs = layout & 2 ? 1 : N, b_cs = layout & 2 ? K : 1;
                    spread = spread_mode ? 127 - 100 : 0; /* c from 2^-100 */
                    fill(C1, (size_t)(M * N), &s);
                    spread = 0;
                    memcpy(C2, C1, sizeof(float) * (size_t)(M * N));
                    CHECK(repro_gemm_bf16(&cpu, M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, acc ? NULL : bias, C1, N, acc,
                                          &err) == REPRO_OK);
                    repro_gemm_bf16_ref(M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, acc ? NULL : bias, C2, N, acc);
                    CHECK_MSG(test_bits_equal(C1, C2, (size_t)(M * N), "bf16 gemm"),
                              "%lldx%lldx%lld layout %d acc %d, %s, %d threads%s", (long long)M, (long long)N,
                              (long long)K, layout, acc, repro_isa_name(isa), threads,
                              wide ? ", wide" : sparse ? ", sparse" : spread_mode ? ", spread" : "");
                }
            free(A), free(B), free(C1), free(C2), free(bias);
        }
        repro_pool_destroy(pool);
    }
    wide = sparse = 0;
}

/* Cases the random ones hardly reach, on every path: a block whose 16
 * largest products and c overflow the kernels' int32 sum (both signs);
 * subnormal and zero c; NaN, infinity and a value that rounds to infinity
 * (the whole product then goes to the model). */
static void adversarial(void)
{
    enum { M = 5, N = 37, K = 40 };
    static const uint32_t specials[] = {0, 0x7fc00000u, 0x7f800000u, 0xff800000u, 0x7f7fffffu};
    static float A[M * K], B[K * N], C1[M * N], C2[M * N];
    repro_error err;
    for (int isa = 0; isa < REPRO_ISA_COUNT; isa++) {
        if (!repro_isa_supported((repro_isa)isa))
            continue;
        repro_cpu cpu = {(repro_isa)isa, NULL};
        for (int sp = 0; sp < 5; sp++)
            for (int sign = 0; sign < 2; sign++) {
                for (int i = 0; i < M * K; i++)
                    A[i] = f_of(0x3fff0000u | (uint32_t)(sign && i % K < 16) << 31); /* 1.9921875 */
                for (int i = 0; i < K * N; i++)
                    B[i] = f_of(0x3fff0000u);
                for (int i = 0; i < M * N; i++) /* c near 2, subnormal, zero */
                    C1[i] = f_of(i % 3 == 0 ? 0x3fffffffu | (uint32_t)sign << 31 : i % 3 == 1 ? 0x00012345u : 0);
                if (sp)
                    (sp & 1 ? A : B)[7 * (sp + 1)] = f_of(specials[sp]);
                memcpy(C2, C1, sizeof C1);
                CHECK(repro_gemm_bf16(&cpu, M, N, K, A, K, 1, B, N, 1, NULL, C1, N, 1, &err) == REPRO_OK);
                repro_gemm_bf16_ref(M, N, K, A, K, 1, B, N, 1, NULL, C2, N, 1);
                CHECK_MSG(test_bits_equal(C1, C2, M * N, "bf16 gemm, adversarial"), "%s, special %08x, sign %d",
                          repro_isa_name((repro_isa)isa), specials[sp], sign);
            }
    }
}

/* When the kernels may skip their per-lane checks (repro_bf16_in_range)
 * and read int8 exponents (repro_bf16_narrow): each bound, on both sides. */
static void range_rules(void)
{
    const int32_t none_lo = INT32_MAX, none_hi = INT32_MIN;
    repro_bf16_ranges r = {-50, 10, -50, 10, none_lo, none_hi};
    CHECK(repro_bf16_in_range(&r, 784));
    r.a_lo = -51; /* a product may lie at 2^-101 */
    CHECK(!repro_bf16_in_range(&r, 784));
    r.a_lo = -50, r.a_hi = 40, r.b_hi = 47; /* 2^(87 + 2) per product, 2^10 >= Kp of them: 2^99 */
    CHECK(repro_bf16_in_range(&r, 1024));
    CHECK(!repro_bf16_in_range(&r, 1025)); /* 2^100 */
    r.a_hi = 10, r.b_hi = 10;
    r.c_lo = -100, r.c_hi = 98;
    CHECK(repro_bf16_in_range(&r, 784));
    r.c_lo = -101; /* a lone c below 2^-100 may hold bits under the kernels' finest alignment */
    CHECK(!repro_bf16_in_range(&r, 784));
    r.c_lo = -100, r.c_hi = 99; /* c may reach 2^100 */
    CHECK(!repro_bf16_in_range(&r, 784));
    r = (repro_bf16_ranges){none_lo, none_hi, -300, 300, -20, 3}; /* A all zero: no products */
    CHECK(repro_bf16_in_range(&r, 16));
    r = (repro_bf16_ranges){-63, 0, 5, 68, none_lo, none_hi};
    CHECK(repro_bf16_narrow(&r));
    r.a_lo = -64;
    CHECK(!repro_bf16_narrow(&r));
    r = (repro_bf16_ranges){-63, 0, none_lo, none_hi, none_lo, none_hi};
    CHECK(repro_bf16_narrow(&r));
    r.b_lo = 1, r.b_hi = 65;
    CHECK(!repro_bf16_narrow(&r));
}

/* The block exponent of x's bf16 value, as the kernels' operands hold it. */
static int32_t exp_of(float x)
{
    return repro_bf16_block_exp(repro_tc_f2u(repro_bf16_to_float(repro_bf16_from_float(x))));
}

/* The range of n values' nonzero exponents. */
static void range_of(const float *v, size_t n, int32_t *lo, int32_t *hi, int bf16)
{
    *lo = INT32_MAX, *hi = INT32_MIN;
    for (size_t i = 0; i < n; i++) {
        int32_t e = bf16 ? exp_of(v[i]) : repro_bf16_block_exp(repro_tc_f2u(v[i]));
        if (e != REPRO_BF16_ZERO_EXP)
            *lo = e < *lo ? e : *lo, *hi = e > *hi ? e : *hi;
    }
}

/* The fills above reach the kernels they are for: the usual values and
 * sparse ones the int8 kernels, spread ones the in-range kernels with int16
 * exponents (at the range's edges), wide ones the checking kernels. */
static void test_range_modes(void)
{
    enum { NA = 5000, NC = 3000 };
    static float A[NA], B[NA], C[NC];
    uint64_t s = 3;
    for (int mode = 0; mode < 4; mode++) {
        wide = mode == 1, sparse = mode == 2;
        spread = mode == 3 ? 127 - 62 : 0;
        fill(A, NA, &s);
        spread = mode == 3 ? 127 - 38 : 0;
        fill(B, NA, &s);
        spread = mode == 3 ? 127 - 100 : 0;
        fill(C, NC, &s);
        spread = 0;
        repro_bf16_ranges r;
        range_of(A, NA, &r.a_lo, &r.a_hi, 1), range_of(B, NA, &r.b_lo, &r.b_hi, 1);
        range_of(C, NC, &r.c_lo, &r.c_hi, 0);
        int in_range = repro_bf16_in_range(&r, 784), narrow = repro_bf16_narrow(&r);
        CHECK_MSG(in_range == (mode != 1) && narrow == (mode == 0 || mode == 2), "mode %d: in range %d, narrow %d",
                  mode, in_range, narrow);
        if (mode == 3)
            CHECK_MSG(r.a_lo + r.b_lo == -100 && r.c_lo == -100, "spread reaches %d, c %d", (int)(r.a_lo + r.b_lo),
                      (int)r.c_lo);
    }
    wide = sparse = 0;
}

#if defined(__x86_64__)
static void widen_range(int32_t *lo, int32_t *hi, int32_t e)
{
    if (e == REPRO_BF16_ZERO_EXP)
        return;
    *lo = e < *lo ? e : *lo;
    *hi = e > *hi ? e : *hi;
}

typedef int (*decoder)(const repro_bf16_operands *o, const repro_bf16_sources *s, int64_t m0, int64_t m1,
                       int64_t n0, int64_t n1, repro_bf16_ranges *r);
typedef int (*c_ranger)(const float *C, int64_t M, int64_t N, int64_t ldc, int32_t *lo, int32_t *hi);

/* A SIMD decoder writes each value's bf16 value and exponent where the
 * kernels read it, zeros beyond K and N, and the exact ranges (every layout
 * of both operands, shapes with every remainder of 16); C's range; a value
 * that is not finite is reported. */
static void simd_decoder(repro_isa isa, decoder decode, c_ranger c_range)
{
    if (!repro_isa_supported(isa)) {
        printf("NOTE: %s path not supported by this CPU: its decoder not tested\n", repro_isa_name(isa));
        return;
    }
    static const int64_t shapes[][3] = {{1, 1, 1}, {17, 33, 15}, {40, 70, 100}, {3, 16, 32}};
    uint64_t s = 5;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int layout = 0; layout < 4; layout++) {
            int64_t M = shapes[i][0], N = shapes[i][1], K = shapes[i][2];
            int64_t Kp = (K + 15) / 16 * 16, Np = (N + 31) / 32 * 32;
            int64_t a_rs = layout & 1 ? 1 : K, a_cs = layout & 1 ? M : 1;
            int64_t b_rs = layout & 2 ? 1 : N, b_cs = layout & 2 ? K : 1;
            float *A = malloc(sizeof(float) * (size_t)(M * K)), *B = malloc(sizeof(float) * (size_t)(K * N));
            float *Af = malloc(sizeof(float) * (size_t)(M * Kp)), *Bf = malloc(sizeof(float) * (size_t)(Kp * Np));
            int32_t *Ae = malloc(sizeof(int32_t) * (size_t)(M * Kp));
            int16_t *Be = malloc(sizeof(int16_t) * (size_t)(Kp * Np));
            wide = layout == 3, sparse = layout == 1;
            fill(A, (size_t)(M * K), &s), fill(B, (size_t)(K * N), &s);
            repro_bf16_operands o = {M, N, Kp, Np, N, Af, Ae, Bf, Be, NULL, NULL, 0, 0, 0, NULL, NULL, 0};
            repro_bf16_ranges r;
            repro_bf16_sources src = {A, B, a_rs, a_cs, b_rs, b_cs, K, Af, Bf, Ae, Be};
            CHECK(decode(&o, &src, 0, M, 0, Np, &r));
            int32_t lo = INT32_MAX, hi = INT32_MIN, bad = 0;
            for (int64_t m = 0; m < M; m++)
                for (int64_t k = 0; k < Kp; k++) {
                    float x = k < K ? A[m * a_rs + k * a_cs] : 0.0f;
                    int32_t e = exp_of(x);
                    widen_range(&lo, &hi, e);
                    bad += repro_tc_f2u(Af[m * Kp + k]) != ((uint32_t)repro_bf16_from_float(x) << 16) ||
                           Ae[m * Kp + k] != e;
                }
            CHECK_MSG(bad == 0 && r.a_lo == lo && r.a_hi == hi, "%s: A: %d values differ, range %d..%d (want %d..%d)",
                      repro_isa_name(isa), (int)bad, (int)r.a_lo, (int)r.a_hi, (int)lo, (int)hi);
            lo = INT32_MAX, hi = INT32_MIN, bad = 0;
            for (int64_t k = 0; k < Kp; k++)
                for (int64_t n = 0; n < Np; n++) {
                    float x = k < K && n < N ? B[k * b_rs + n * b_cs] : 0.0f;
                    int32_t e = exp_of(x);
                    widen_range(&lo, &hi, e);
                    int64_t at = repro_bf16_b_at(&o, k, n);
                    bad += repro_tc_f2u(Bf[at]) != ((uint32_t)repro_bf16_from_float(x) << 16) || Be[at] != e;
                }
            CHECK_MSG(bad == 0 && r.b_lo == lo && r.b_hi == hi, "%s: B: %d values differ, range %d..%d (want %d..%d)",
                      repro_isa_name(isa), (int)bad, (int)r.b_lo, (int)r.b_hi, (int)lo, (int)hi);
            /* C: its own range, every value read */
            int32_t clo, chi;
            lo = INT32_MAX, hi = INT32_MIN;
            for (int64_t k = 0; k < K * N; k++)
                widen_range(&lo, &hi, repro_bf16_block_exp(repro_tc_f2u(B[k])));
            CHECK(c_range(B, K, N, N, &clo, &chi));
            CHECK_MSG(clo == lo && chi == hi, "%s: C's range %d..%d (want %d..%d)", repro_isa_name(isa), (int)clo,
                      (int)chi, (int)lo, (int)hi);
            B[K * N - 1] = INFINITY;
            CHECK(!c_range(B, K, N, N, &clo, &chi));
            A[M * K - 1] = NAN;
            CHECK(!decode(&o, &src, 0, M, 0, Np, &r));
            free(A), free(B), free(Af), free(Bf), free(Ae), free(Be);
        }
    wide = sparse = 0;
}
#endif

/* The in-range kernels at the bottom of their range: products of 2^-100
 * .. 2^-96 chained over blocks (the alignment is the products' own, and c
 * carries bits down to 2^-125), a row of zeros (c alone, from 2^-100), on
 * every path: the kernels' floor for the alignment (-RANGE) is the lowest
 * that keeps these bits. */
static void in_range_floor(void)
{
    enum { M = 6, N = 40, K = 64 };
    static float A[M * K], B[K * N], C1[M * N], C2[M * N];
    uint64_t s = 17;
    for (int i = 0; i < M * K; i++) /* 2^-62 .. 2^-61 */
        A[i] = i / K == 2 ? 0.0f : f_of((lcg(&s) & 1u) << 31 | (65u + lcg(&s) % 2) << 23 | (lcg(&s) & 0x7f0000u));
    for (int i = 0; i < K * N; i++) /* 2^-38 .. 2^-37 */
        B[i] = f_of((lcg(&s) & 1u) << 31 | (89u + lcg(&s) % 2) << 23 | (lcg(&s) & 0x7f0000u));
    for (int i = 0; i < M * N; i++) /* c: 0 or from 2^-100 */
        C1[i] = lcg(&s) % 3 ? 0.0f : f_of((lcg(&s) & 1u) << 31 | (27u + lcg(&s) % 3) << 23 | (lcg(&s) & 0x7fffffu));
    repro_bf16_ranges r = {-62, -61, -38, -37, -100, -98};
    CHECK(repro_bf16_in_range(&r, K) && repro_bf16_narrow(&r));
    r.a_hi = 2; /* with A[1] = 4 (below): in range, A's exponents 64 apart (int16) */
    CHECK(repro_bf16_in_range(&r, K) && !repro_bf16_narrow(&r));
    repro_error err;
    for (int run = 0; run < 2 * REPRO_ISA_COUNT; run++) {
        int isa = run % REPRO_ISA_COUNT;
        if (run == REPRO_ISA_COUNT)
            A[1] = 4.0f;
        if (!repro_isa_supported((repro_isa)isa))
            continue;
        repro_cpu cpu = {(repro_isa)isa, NULL};
        for (int acc = 0; acc <= 1; acc++) {
            float C0[M * N];
            memcpy(C0, C1, sizeof C0);
            memcpy(C2, C1, sizeof C1);
            CHECK(repro_gemm_bf16(&cpu, M, N, K, A, K, 1, B, N, 1, NULL, C2, N, acc, &err) == REPRO_OK);
            float C3[M * N];
            memcpy(C3, C0, sizeof C3);
            repro_gemm_bf16_ref(M, N, K, A, K, 1, B, N, 1, NULL, C3, N, acc);
            CHECK_MSG(test_bits_equal(C2, C3, M * N, "bf16 gemm, in-range floor"), "%s, acc %d, A[1] %g",
                      repro_isa_name((repro_isa)isa), acc, (double)A[1]);
        }
    }
}

/* The bf16 linear layer is its three products as written in gemm_bf16.h. */
static void linear_layer(void)
{
    enum { B = 40, I = 37, O = 19 };
    static float x[B * I], w[O * I], bias[O], dy[B * O], y1[B * O], y2[B * O];
    static float dx1[B * I], dx2[B * I], dw1[O * I], dw2[O * I], db1[O], db2[O];
    uint64_t s = 11;
    fill(x, B * I, &s), fill(w, O * I, &s), fill(bias, O, &s), fill(dy, B * O, &s), fill(dw1, O * I, &s);
    fill(db1, O, &s);
    memcpy(dw2, dw1, sizeof dw1), memcpy(db2, db1, sizeof db1);
    repro_cpu cpu = {REPRO_ISA_SCALAR, NULL};
    repro_error err;
    CHECK(repro_linear_forward_bf16(&cpu, y1, x, w, bias, B, I, O, &err) == REPRO_OK);
    repro_gemm_bf16_ref(B, O, I, x, I, 1, w, 1, I, bias, y2, O, 0);
    CHECK(test_bits_equal(y1, y2, B * O, "bf16 linear forward"));
    CHECK(repro_linear_backward_bf16(&cpu, dx1, dw1, db1, dy, x, w, B, I, O, &err) == REPRO_OK);
    repro_gemm_bf16_ref(B, I, O, dy, O, 1, w, I, 1, NULL, dx2, I, 0);
    repro_gemm_bf16_ref(O, I, B, dy, 1, O, x, I, 1, NULL, dw2, I, 1);
    for (int b = 0; b < B; b++)
        for (int o = 0; o < O; o++)
            db2[o] = db2[o] + dy[b * O + o];
    CHECK(test_bits_equal(dx1, dx2, B * I, "bf16 linear dx"));
    CHECK(test_bits_equal(dw1, dw2, O * I, "bf16 linear dW"));
    CHECK(test_bits_equal(db1, db2, O, "bf16 linear db"));
    /* and it is not the fp32 layer: bf16 inputs lose bits */
    repro_gemm_bf16_ref(B, O, I, x, I, 1, w, 1, I, bias, y2, O, 0);
    int differ = 0;
    for (int i = 0; i < B * O; i++) {
        float acc = 0.0f;
        for (int k = 0; k < I; k++)
            acc = fmaf(x[i / O * I + k], w[i % O * I + k], acc);
        differ += acc + bias[i % O] != y2[i];
    }
    CHECK_MSG(differ > B * O / 2, "only %d of %d outputs differ from fp32", differ, B * O);
}

int main(void)
{
    rounding_to_bf16();
    block_rules();
    hardware_answers();
    kernels();
    threaded_equals_reference();
    adversarial();
    range_rules();
    test_range_modes();
    in_range_floor();
#if defined(__x86_64__)
    simd_decoder(REPRO_ISA_AVX2, repro_bf16_decode_avx2, repro_bf16_c_range_avx2);
    simd_decoder(REPRO_ISA_AVX512, repro_bf16_decode_avx512, repro_bf16_c_range_avx512);
#endif
    linear_layer();
    return test_finish("test_gemm_bf16");
}
