/* repro/math.h: accuracy and special values.
 *
 * Sweep: for each function, every 41st float bit pattern (1.05e8 inputs,
 * all signs and binades, the start offset differing per function) against
 * double libm (tests/math_ref.h); asserts max error <= 1 ulp. With
 * REPRO_TEST_QUICK=1 (the sanitizer run) every 4099th (1.05e6 inputs).
 * tools/check_math.c does all 2^32 inputs. Special values: the glibc/C23
 * results for zeros, infinities, NaN, domain edges, over- and underflow,
 * and the sign of zero results, checked bit for bit. */
#include <math.h>
#include <stdlib.h>

#include "math_ref.h"
#include "testutil.h"

static uint32_t bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

/* Exact bitwise equality (so the sign of zero counts); NaN matches any NaN. */
#define CHECK_SAME(got, want)                                                    \
    do {                                                                         \
        float g_ = (got), w_ = (want);                                           \
        CHECK_MSG((isnan(g_) && isnan(w_)) || bits(g_) == bits(w_),             \
                  "%s = %a (0x%08x), want %a (0x%08x)", #got, (double)g_, bits(g_), \
                  (double)w_, bits(w_));                                         \
    } while (0)

static void test_sweep(void)
{
    const char *quick = getenv("REPRO_TEST_QUICK");
    uint64_t stride = (quick && strcmp(quick, "1") == 0) ? 4099 : 41;
    for (int f = 0; f < MATH_NFNS; f++) {
        math_stats st;
        math_check_range(&math_fns[f], (uint64_t)f, (uint64_t)1 << 32, stride, &st);
        float x;
        memcpy(&x, &st.worst_bits, 4);
        printf("%-9s %10" PRIu64 " inputs, max error %.9f ulp at %a (0x%08x), "
               "%" PRIu64 " differ from the rounded reference, result hash %016" PRIx64 "\n",
               math_fns[f].name, st.count, st.max_ulp, (double)x, st.worst_bits, st.not_cr,
               st.hash);
        CHECK_MSG(st.max_ulp <= 1.0, "%s: max error %g ulp", math_fns[f].name, st.max_ulp);
        CHECK(st.count * stride >= ((uint64_t)1 << 32) - stride);
    }
}

/* sinf, cosf on their domain |x| <= 2^20: every 41st float bit pattern of
 * each sign below 2^20 (0x49800000), against libm's double sin and cos. */
static double ref_sin(float x) { return sin((double)x); }
static double ref_cos(float x) { return cos((double)x); }
static float ours_sin(float x) { return repro_sinf(x); }
static float ours_cos(float x) { return repro_cosf(x); }

static void test_sincos(void)
{
    const char *quick = getenv("REPRO_TEST_QUICK");
    uint64_t stride = (quick && strcmp(quick, "1") == 0) ? 4099 : 41;
    const math_fn fns[] = {{"sinf", ours_sin, ref_sin}, {"cosf", ours_cos, ref_cos}};
    for (int f = 0; f < 2; f++)
        for (uint64_t sign = 0; sign < 2; sign++) {
            math_stats st;
            uint64_t lo = sign << 31;
            math_check_range(&fns[f], lo + (uint64_t)f, lo + 0x49800001u, stride, &st);
            float x;
            memcpy(&x, &st.worst_bits, 4);
            printf("%-9s %10" PRIu64 " inputs (%s, |x| <= 2^20), max error %.9f ulp at %a, %" PRIu64
                   " differ from the rounded reference\n", fns[f].name, st.count, sign ? "x < 0" : "x >= 0",
                   st.max_ulp, (double)x, st.not_cr);
            CHECK_MSG(st.max_ulp <= 1.0, "%s: max error %g ulp", fns[f].name, st.max_ulp);
        }
    CHECK_SAME(repro_sinf(0.0f), 0.0f);
    CHECK_SAME(repro_sinf(-0.0f), -0.0f);
    CHECK_SAME(repro_cosf(0.0f), 1.0f);
    CHECK(isnan(repro_sinf(INFINITY)) && isnan(repro_cosf(-INFINITY)) && isnan(repro_sinf(NAN)));
}

static void test_special_exp(void)
{
    float inf = INFINITY;
    CHECK_SAME(repro_expf(0.0f), 1.0f);
    CHECK_SAME(repro_expf(-0.0f), 1.0f);
    CHECK_SAME(repro_expf(inf), inf);
    CHECK_SAME(repro_expf(-inf), 0.0f);
    CHECK_SAME(repro_expf(NAN), NAN);
    CHECK_SAME(repro_expf(88.72283172607421875f), 0x1.ffff08p+127f); /* last finite */
    CHECK_SAME(repro_expf(88.72283935546875f), inf);                /* next float */
    CHECK_SAME(repro_expf(1000.0f), inf);
    CHECK_SAME(repro_expf(-103.97207641601562f), 0x1p-149f); /* rounds up to min subnormal */
    CHECK_SAME(repro_expf(-104.0f), 0.0f);
    CHECK_SAME(repro_expf(-1000.0f), 0.0f);
    CHECK_SAME(repro_expf(1.0f), 2.71828182845904523536f);
    CHECK_SAME(repro_expf(0x1p-149f), 1.0f);

    CHECK_SAME(repro_expm1f(0.0f), 0.0f);
    CHECK_SAME(repro_expm1f(-0.0f), -0.0f);
    CHECK_SAME(repro_expm1f(inf), inf);
    CHECK_SAME(repro_expm1f(-inf), -1.0f);
    CHECK_SAME(repro_expm1f(NAN), NAN);
    CHECK_SAME(repro_expm1f(-20.0f), -1.0f);
    CHECK_SAME(repro_expm1f(100.0f), inf);
    CHECK_SAME(repro_expm1f(0x1p-149f), 0x1p-149f);
    CHECK_SAME(repro_expm1f(-0x1p-149f), -0x1p-149f);
    CHECK_SAME(repro_expm1f(0x1p-30f), 0x1p-30f);
}

static void test_special_log(void)
{
    float inf = INFINITY;
    CHECK_SAME(repro_logf(1.0f), 0.0f);
    CHECK_SAME(repro_logf(0.0f), -inf);
    CHECK_SAME(repro_logf(-0.0f), -inf);
    CHECK_SAME(repro_logf(inf), inf);
    CHECK_SAME(repro_logf(-inf), NAN);
    CHECK_SAME(repro_logf(-1.0f), NAN);
    CHECK_SAME(repro_logf(NAN), NAN);
    CHECK_SAME(repro_logf(0x1p-149f), -103.27892990343184f);
    CHECK_SAME(repro_logf(0x1.fffffep127f), 88.72283935546875f);
    CHECK_SAME(repro_logf(2.0f), 0.693147180559945309f);

    CHECK_SAME(repro_log1pf(0.0f), 0.0f);
    CHECK_SAME(repro_log1pf(-0.0f), -0.0f);
    CHECK_SAME(repro_log1pf(-1.0f), -inf);
    CHECK_SAME(repro_log1pf(-2.0f), NAN);
    CHECK_SAME(repro_log1pf(-inf), NAN);
    CHECK_SAME(repro_log1pf(inf), inf);
    CHECK_SAME(repro_log1pf(NAN), NAN);
    CHECK_SAME(repro_log1pf(0x1p-149f), 0x1p-149f);
    CHECK_SAME(repro_log1pf(-0x1p-149f), -0x1p-149f);
    CHECK_SAME(repro_log1pf(0x1.fffffep127f), 88.72283935546875f);
}

static void test_special_tanh_sigmoid(void)
{
    float inf = INFINITY;
    CHECK_SAME(repro_tanhf(0.0f), 0.0f);
    CHECK_SAME(repro_tanhf(-0.0f), -0.0f);
    CHECK_SAME(repro_tanhf(inf), 1.0f);
    CHECK_SAME(repro_tanhf(-inf), -1.0f);
    CHECK_SAME(repro_tanhf(NAN), NAN);
    CHECK_SAME(repro_tanhf(10.0f), 1.0f);
    CHECK_SAME(repro_tanhf(-10.0f), -1.0f);
    CHECK_SAME(repro_tanhf(0x1p-149f), 0x1p-149f);
    CHECK_SAME(repro_tanhf(-0x1p-149f), -0x1p-149f);
    CHECK_SAME(repro_tanhf(-0x1p-20f), -0x1p-20f);

    CHECK_SAME(repro_sigmoidf(0.0f), 0.5f);
    CHECK_SAME(repro_sigmoidf(-0.0f), 0.5f);
    CHECK_SAME(repro_sigmoidf(inf), 1.0f);
    CHECK_SAME(repro_sigmoidf(-inf), 0.0f);
    CHECK_SAME(repro_sigmoidf(NAN), NAN);
    CHECK_SAME(repro_sigmoidf(100.0f), 1.0f);
    CHECK_SAME(repro_sigmoidf(-200.0f), 0.0f);
    CHECK_SAME(repro_sigmoidf(-3.0e38f), 0.0f);
    CHECK_SAME(repro_sigmoidf(3.0e38f), 1.0f);
    CHECK_SAME(repro_sigmoidf(-100.0f), (float)(1.0 / (1.0 + exp(100.0)))); /* subnormal */
    CHECK(fpclassify(repro_sigmoidf(-100.0f)) == FP_SUBNORMAL);
}

static void test_special_sincospi(void)
{
    float inf = INFINITY;
    CHECK_SAME(repro_sinpif(0.0f), 0.0f);
    CHECK_SAME(repro_sinpif(-0.0f), -0.0f);
    CHECK_SAME(repro_sinpif(1.0f), 0.0f);
    CHECK_SAME(repro_sinpif(-1.0f), -0.0f);
    CHECK_SAME(repro_sinpif(2.0f), 0.0f);
    CHECK_SAME(repro_sinpif(-7.0f), -0.0f);
    CHECK_SAME(repro_sinpif(0.5f), 1.0f);
    CHECK_SAME(repro_sinpif(-0.5f), -1.0f);
    CHECK_SAME(repro_sinpif(1.5f), -1.0f);
    CHECK_SAME(repro_sinpif(0.25f), 0.707106781186547524f);
    CHECK_SAME(repro_sinpif(1.0f / 6.0f), 0.5f);
    CHECK_SAME(repro_sinpif(0x1p23f), 0.0f);
    CHECK_SAME(repro_sinpif(-0x1p23f - 1.0f), -0.0f);
    CHECK_SAME(repro_sinpif(3.0e38f), 0.0f);
    CHECK_SAME(repro_sinpif(0x1p-149f), 0x1.8p-148f); /* pi * 2^-149 rounds to 3 * 2^-149 */
    CHECK_SAME(repro_sinpif(inf), NAN);
    CHECK_SAME(repro_sinpif(-inf), NAN);
    CHECK_SAME(repro_sinpif(NAN), NAN);

    CHECK_SAME(repro_cospif(0.0f), 1.0f);
    CHECK_SAME(repro_cospif(-0.0f), 1.0f);
    CHECK_SAME(repro_cospif(0.5f), 0.0f);
    CHECK_SAME(repro_cospif(-0.5f), 0.0f);
    CHECK_SAME(repro_cospif(1.5f), 0.0f);
    CHECK_SAME(repro_cospif(1.0f), -1.0f);
    CHECK_SAME(repro_cospif(-3.0f), -1.0f);
    CHECK_SAME(repro_cospif(2.0f), 1.0f);
    CHECK_SAME(repro_cospif(0.25f), 0.707106781186547524f);
    CHECK_SAME(repro_cospif(-0.75f), -0.707106781186547524f);
    CHECK_SAME(repro_cospif(0x1p23f + 1.0f), -1.0f);
    CHECK_SAME(repro_cospif(0x1p24f), 1.0f);
    CHECK_SAME(repro_cospif(-3.0e38f), 1.0f);
    CHECK_SAME(repro_cospif(0x1p-149f), 1.0f);
    CHECK_SAME(repro_cospif(inf), NAN);
    CHECK_SAME(repro_cospif(NAN), NAN);
}

/* NaN bits: an input NaN comes back quieted with its payload; a NaN made
 * here is 0x7fc00000, so host and device agree bit for bit. */
static void test_nan_bits(void)
{
    float snan, qnan_neg;
    uint32_t u = 0x7f800001u, v = 0xffc01234u;
    memcpy(&snan, &u, 4);
    memcpy(&qnan_neg, &v, 4);
    CHECK_EQ_U64(bits(repro_expf(snan)), 0x7fc00001u);
    CHECK_EQ_U64(bits(repro_tanhf(qnan_neg)), 0xffc01234u);
    CHECK_EQ_U64(bits(repro_logf(-1.0f)), 0x7fc00000u);
    CHECK_EQ_U64(bits(repro_log1pf(-2.0f)), 0x7fc00000u);
    CHECK_EQ_U64(bits(repro_sinpif(INFINITY)), 0x7fc00000u);
}

static void test_sqrt_powi(void)
{
    CHECK_SAME(repro_sqrtf(2.0f), 1.41421356237309505f);
    CHECK_SAME(repro_sqrtf(-0.0f), -0.0f);
    CHECK_SAME(repro_sqrtf(INFINITY), INFINITY);
    CHECK_SAME(repro_sqrtf(-1.0f), NAN);
    CHECK_SAME(repro_sqrtf(0x1p-148f), 0x1p-74f);

    CHECK_SAME(repro_powif(0.9f, 0), 1.0f);
    CHECK_SAME(repro_powif(NAN, 0), 1.0f);
    CHECK_SAME(repro_powif(0.9f, 1), 0.9f);
    CHECK_SAME(repro_powif(2.0f, 10), 1024.0f);
    CHECK_SAME(repro_powif(-2.0f, 3), -8.0f);
    CHECK_SAME(repro_powif(2.0f, 128), INFINITY);
    CHECK_SAME(repro_powif(0.5f, 149), 0x1p-149f);
    CHECK_SAME(repro_powif(0.5f, 150), 0.0f);
    CHECK_SAME(repro_powif(1.0f, INT64_MAX), 1.0f);
    CHECK_SAME(repro_powif(0.999f, INT64_MAX), 0.0f);
    CHECK_SAME(repro_powif(2.0f, -1), NAN);
    /* The written order: base^5 = (1 * b) * ((b*b) * (b*b)). */
    float b = 0.9f, b2 = b * b, b4 = b2 * b2;
    CHECK_SAME(repro_powif(b, 5), (1.0f * b) * b4);
    /* base^7 = ((1 * b) * b^2) * b^4 */
    CHECK_SAME(repro_powif(b, 7), ((1.0f * b) * b2) * b4);
    /* Adam's beta2^t: each squaring doubles the relative error, so after the
     * 13 squarings of n = 10000 it stays below n * 2^-24 = 6e-4. */
    double w = pow((double)0.999f, 10000.0); /* libm as a reference only */
    CHECK(fabs((double)repro_powif(0.999f, 10000) - w) <= 6e-4 * w);
}

int main(void)
{
    test_special_exp();
    test_special_log();
    test_special_tanh_sigmoid();
    test_special_sincospi();
    test_nan_bits();
    test_sqrt_powi();
    test_sweep();
    test_sincos();
    return test_finish("test_math");
}
