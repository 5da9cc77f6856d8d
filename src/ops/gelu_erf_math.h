/* GELU, exact (erf) form: y = x * Phi(x), Phi the standard normal CDF,
 * torch's F.gelu(x) (approximate='none'). One source text for the CPU and
 * CUDA kernels (REPRO_HD). Written order: everything in double, one
 * rounding to float at the end:
 *
 *   Phi(x) = 0.5 * erfc(-x / sqrt 2), with erfc(-z) for z = x / sqrt 2:
 *     |z| < 2.5:  erf(|z|) = 2/sqrt(pi) * sum_{n=0}^{39} (-1)^n |z|^(2n+1) / (n! (2n+1))
 *                 (terms t_n = t_{n-1} * (-z^2) / n, summed n ascending);
 *                 erfc(-z) = 1 + erf(z) (z >= 0) or 1 - erf(|z|)
 *     |z| >= 2.5: erfc(|z|) = exp(-z^2) / sqrt(pi) / K, the continued fraction
 *                 K = |z| + (1/2) / (|z| + (2/2) / (|z| + (3/2) / ...)) of 50
 *                 terms evaluated from the bottom (k = 50 .. 1);
 *                 erfc(-z) = erfc(|z|) (z < 0) or 2 - erfc(|z|)
 *   y  = (float)(x * Phi(x))
 *   dy/dx = Phi(x) + x * phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi):
 *   dx = dy * (float)(Phi + x * phi)
 * exp is repro_math_exp_d. Specials: NaN -> NaN; |x| > 20 -> x * 0 (x < 0:
 * -0, or NaN for -inf) or x (x > 0), and the derivative 0 or 1. Accuracy:
 * within an ulp of the float result (tests/test_attention.c measures it
 * against libm's erfc in double). */
#ifndef REPRO_OPS_GELU_ERF_MATH_H
#define REPRO_OPS_GELU_ERF_MATH_H

#include "repro/defs.h"
#include "repro/math.h"

/* erfc(-z) in double, |z| <= 14.2 (|x| <= 20). */
REPRO_HD static inline double repro_erfc_neg_d(double z)
{
    double a = z < 0.0 ? -z : z;
    if (a < 2.5) {
        double t = a, sum = a, z2 = a * a;
        for (int n = 1; n < 40; n++) {
            t = t * -z2 / (double)n;
            sum = sum + t / (double)(2 * n + 1);
        }
        double erf = 1.1283791670955126 * sum;
        return z >= 0.0 ? 1.0 + erf : 1.0 - erf;
    }
    double K = a;
    for (int k = 50; k >= 1; k--)
        K = a + ((double)k * 0.5) / K;
    double erfc = repro_math_exp_d(-(a * a)) * 0.5641895835477563 / K;
    return z < 0.0 ? erfc : 2.0 - erfc;
}

REPRO_HD static inline double repro_gelu_phi_cdf_d(double x)
{
    return 0.5 * repro_erfc_neg_d(x * 0.7071067811865476);
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
    double g = repro_gelu_phi_cdf_d(xd) + xd * (repro_math_exp_d(-0.5 * (xd * xd)) * 0.3989422804014327);
    return dy * (float)g;
}

#endif
