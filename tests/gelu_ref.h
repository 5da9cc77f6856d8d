/* Accuracy checking of GELU's erf form (src/ops/gelu_erf_math.h) against
 * long double libm, shared by tests/test_attention.c (a strided sweep and
 * every float near the derivative's zero) and tools/check_math.c
 * (`check_math gelu_erf gelu_erf_grad`, all 2^32 inputs).
 *
 * The references are x * Phi(x) and Phi(x) + x phi(x) in long double
 * (erfcl, expl: on x86-64 a 64-bit significand, relative error ~1e-19),
 * rounded to double. A double reference would not do for the derivative:
 * near its zero at x = -0.75179 the float result's ulp is 4e-16, the
 * absolute error a double erfc leaves. The error measure is math_ref.h's
 * ulp_error; the derivative is checked as repro_gelu_erf_df(1, x), which
 * is (float)(Phi + x phi). */
#ifndef REPRO_GELU_REF_H
#define REPRO_GELU_REF_H

#include "math_ref.h"
#include "ops/gelu_erf_math.h"

static long double ref_gelu_cdf(float x)
{
    return 0.5L * erfcl(-(long double)x / sqrtl(2.0L));
}

static double ref_gelu(float x)
{
    if (isinf(x)) /* +inf: inf; -inf: -inf * 0, NaN as ours */
        return x > 0 ? (double)x : NAN;
    return (double)((long double)x * ref_gelu_cdf(x));
}

static double ref_gelu_grad(float x)
{
    if (isinf(x)) /* the limits, 1 and 0 */
        return x > 0 ? 1.0 : 0.0;
    long double xl = x;
    return (double)(ref_gelu_cdf(x) + xl * (expl(-0.5L * xl * xl) / sqrtl(2.0L * 3.14159265358979323846264338327950288L)));
}

static float ours_gelu(float x) { return repro_gelu_erf_f(x); }
static float ours_gelu_grad(float x) { return repro_gelu_erf_df(1.0f, x); }

static const math_fn gelu_fns[] __attribute__((unused)) = {
    {"gelu_erf", ours_gelu, ref_gelu},
    {"gelu_erf_grad", ours_gelu_grad, ref_gelu_grad},
};
#define GELU_NFNS ((int)(sizeof gelu_fns / sizeof gelu_fns[0]))

#endif
