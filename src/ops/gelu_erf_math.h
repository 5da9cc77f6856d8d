/* GELU, exact (erf) form: y = x * Phi(x), Phi the standard normal CDF,
 * torch's F.gelu(x) (approximate='none'). One source text for the CPU and
 * CUDA kernels (REPRO_HD); the CPU's SIMD twin (src/ops/cpu/gelu_erf_lanes.h)
 * expands the same polynomial macros over vectors. Written order:
 * everything in double, plain multiplications and additions (no FMA), one
 * rounding to float at the end. With u = x*x (exact: x is a float) and
 * a = |x|:
 *
 *   a < 2.5:   Phi(x) = 0.5 + x * S(u - 3.125)
 *   a >= 2.5:  t = 1.0 / (1.0 + a * 0.25)
 *              Q = exp(-0.5 * u) * (t * L(t - 0.390625))     (Q = Phi(-a))
 *              Phi(x) = Q (x < 0) or 1.0 - Q
 *   y  = (float)(x * Phi(x))
 *   dy/dx = Phi(x) + x * phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi):
 *   dx = dy * (float)(Phi + x * (exp(-0.5 * u) * 0.3989422804014327))
 *
 * S (degree 16) and L (degree 14) below are evaluated by Horner from the
 * highest coefficient, p = c_n * s + c_{n-1}, p = p * s + c_{n-2}, ...;
 * tools/gelu_erf_fit.py regenerates them (Chebyshev-node interpolation at
 * 60 digits with mpmath, each rounded once to double): S interpolates
 * (Phi(x) - 1/2) / x as a function of u on [0, 6.25], L interpolates
 * e^(a^2/2) Phi(-a) / t as a function of t on [1/6, 8/13] (a in [2.5, 20]).
 * Fit error: Phi's relative error <= 1.3e-14 on |x| < 2.5 (the worst at
 * x = -2.5, where 0.5 + x*S cancels to 0.006; its absolute error stays
 * ~1e-16, which the derivative's zero at x = -0.7518 needs), L's <= 6e-16.
 * One division (t) and one exp per element above 2.5, none below in the
 * forward. exp is repro_math_exp_d; its argument -0.5 * u is exact.
 *
 * Specials: NaN -> NaN; |x| > 20 -> x * 0 (x < 0: -0, or NaN for -inf) or
 * x (x > 0), and the derivative 0 or 1; -0 -> -0 (0.5 + -0 * S = 0.5).
 * Accuracy (tests/test_attention.c checks it against long double libm,
 * tools/check_math gelu_erf gelu_erf_grad over all floats): y and
 * (float)dy/dx within 1 ulp; docs/model.md has the measured figures. */
#ifndef REPRO_OPS_GELU_ERF_MATH_H
#define REPRO_OPS_GELU_ERF_MATH_H

#include "repro/defs.h"
#include "repro/math.h"

/* S(s) and L(s) by Horner, written as one expression so that a double or a
 * GCC vector of doubles s runs the same operations in the same order. */
#define REPRO_GELU_ERF_S(s) \
    ((((((((((((((((2.0898060314003562e-21 * (s) + -7.185460981656639e-20) \
    * (s) + 2.2424279150599913e-18) \
    * (s) + -6.794431225412246e-17) \
    * (s) + 1.925817598705698e-15) \
    * (s) + -5.075471370681128e-14) \
    * (s) + 1.2377845571352828e-12) \
    * (s) + -2.776020062751317e-11) \
    * (s) + 5.684113516854655e-10) \
    * (s) + -1.0536284866640589e-08) \
    * (s) + 1.750534105700988e-07) \
    * (s) + -2.5764804902918193e-06) \
    * (s) + 3.314253781011955e-05) \
    * (s) + -0.0003672437207152138) \
    * (s) + 0.003467735072386192) \
    * (s) + -0.028386036932970222) \
    * (s) + 0.2610355756192304)
#define REPRO_GELU_ERF_L(s) \
    ((((((((((((((0.00957345158872799 * (s) + 0.003942479597083621) \
    * (s) + -0.013688062749363485) \
    * (s) + -0.00816921737617544) \
    * (s) + 0.017260144006195847) \
    * (s) + 0.019305281941285266) \
    * (s) + -0.01715661249887433) \
    * (s) + -0.04766043027029779) \
    * (s) + -0.015999933765055693) \
    * (s) + 0.08364401596709664) \
    * (s) + 0.20102541597509938) \
    * (s) + 0.27575818747197217) \
    * (s) + 0.28118143273764706) \
    * (s) + 0.23143341156918534) \
    * (s) + 0.15975365558912968)

/* Phi(x) in double, |x| <= 20 */
REPRO_HD static inline double repro_gelu_phi_cdf_d(double x)
{
    double u = x * x, a = x < 0.0 ? -x : x;
    if (a < 2.5)
        return 0.5 + x * REPRO_GELU_ERF_S(u - 3.125);
    double t = 1.0 / (1.0 + a * 0.25);
    double q = repro_math_exp_d(-0.5 * u) * (t * REPRO_GELU_ERF_L(t - 0.390625));
    return x < 0.0 ? q : 1.0 - q;
}

/* Phi(x) + x phi(x) in double given Phi(x), |x| <= 20 */
REPRO_HD static inline double repro_gelu_grad_d(double x, double phi_cdf)
{
    return phi_cdf + x * (repro_math_exp_d(-0.5 * (x * x)) * 0.3989422804014327);
}

REPRO_HD static inline float repro_gelu_erf_f(float x)
{
    if (x != x)
        return x;
    if (x > 20.0f)
        return x;
    if (x < -20.0f)
        return x * 0.0f;
    double xd = (double)x;
    return (float)(xd * repro_gelu_phi_cdf_d(xd));
}

REPRO_HD static inline float repro_gelu_erf_df(float dy, float x)
{
    if (x != x)
        return dy * x;
    if (x > 20.0f)
        return dy;
    if (x < -20.0f)
        return dy * 0.0f;
    double xd = (double)x;
    return dy * (float)repro_gelu_grad_d(xd, repro_gelu_phi_cdf_d(xd));
}

#endif
