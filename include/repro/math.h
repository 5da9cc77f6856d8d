/* repro/math.h: portable elementary functions, the same bits on host and GPU.
 *
 * libm and CUDA's math library differ from each other and from one version
 * to the next, so repro uses its own. Every function here is header-only and
 * REPRO_HD: the one source text compiles as C11 (gcc/clang) and as CUDA C++
 * (nvcc), and gives the same bits on both, because it uses only operations
 * that IEEE-754 defines exactly:
 *   - double-precision +, -, *, / (always correctly rounded, on the GPU too),
 *   - conversions float <-> double <-> int, integer ops, bit casts (memcpy),
 *   - comparisons, and sqrt (correctly rounded: repro_sqrtf).
 * No fma, no tables, no libm call. Build requirements (the project's flags):
 * host -ffp-contract=off and SSE2 doubles (x86-64, AArch64: no x87 excess
 * precision); nvcc --fmad=false (otherwise nvcc may fuse a*b+c in double
 * too) -ftz=false -prec-div=true -prec-sqrt=true.
 *
 * Accuracy. Each float function is evaluated in double with a relative error
 * below about 2^-50 (polynomial truncation < 1e-16 plus a few double
 * roundings), and the double is rounded to float ONCE at the end. So the
 * float result is within 0.5 ulp + 2^-26 ulp of the exact value: always
 * within 1 ulp (and correctly rounded except within ~1e-8 ulp of a midpoint).
 * Subnormal float results come out of that same single rounding (every float,
 * subnormals included, is a normal double). tests/test_math.c checks 1e8
 * inputs per function against double libm; tools/check_math.c checks all
 * 2^32 inputs. docs/math.md has the measured figures.
 *
 * NaN: a NaN input comes back quieted (its payload kept, bit 22 set), as
 * x86 glibc does; a NaN created here (log(-1), sinpi(inf)) is 0x7fc00000.
 * Both are pure bit operations, so host and GPU agree on NaN bits too.
 *
 * Internal helpers are named repro_math_*; they are not part of the API. */
#ifndef REPRO_MATH_H
#define REPRO_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "repro/defs.h"

/* ---- bit casts and special values (internal) ---------------------------- */

REPRO_HD static inline uint32_t repro_math_fbits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

REPRO_HD static inline float repro_math_bitsf(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* 2^k as a double, for -1022 <= k <= 1023 (exact: just the exponent field). */
REPRO_HD static inline double repro_math_pow2(int k)
{
    uint64_t u = (uint64_t)(k + 1023) << 52;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* A NaN input, quieted (what x86 arithmetic would return for it). */
REPRO_HD static inline float repro_math_quiet(float x)
{
    return repro_math_bitsf(repro_math_fbits(x) | 0x00400000u);
}

/* The NaN produced for invalid operations (log(-1), sinpi(inf)). */
REPRO_HD static inline float repro_math_nanf(void)
{
    return repro_math_bitsf(0x7fc00000u);
}

REPRO_HD static inline float repro_math_inff(void)
{
    return repro_math_bitsf(0x7f800000u);
}

/* +0.0f or -0.0f with the sign of x. */
REPRO_HD static inline float repro_math_signed_zero(float x)
{
    return repro_math_bitsf(repro_math_fbits(x) & 0x80000000u);
}

/* ---- double-precision cores (internal) ---------------------------------- */

/* expm1(r) for |r| <= ln2/2 + 2^-30. Taylor series to r^14/14!: the first
 * omitted term is below r^15/15! < 1.2e-19 relative to r. Evaluation order:
 * q = c14; q = q*r + c_i for i = 13 down to 2 (Horner); return r + (r*r)*q. */
REPRO_HD static inline double repro_math_expm1_poly(double r)
{
    double q = 1.1470745597729725e-11;           /* 1/14! */
    q = q * r + 1.6059043836821613e-10;          /* 1/13! */
    q = q * r + 2.08767569878681e-09;            /* 1/12! */
    q = q * r + 2.505210838544172e-08;           /* 1/11! */
    q = q * r + 2.755731922398589e-07;           /* 1/10! */
    q = q * r + 2.7557319223985893e-06;          /* 1/9!  */
    q = q * r + 2.48015873015873e-05;            /* 1/8!  */
    q = q * r + 0.0001984126984126984;           /* 1/7!  */
    q = q * r + 0.001388888888888889;            /* 1/6!  */
    q = q * r + 0.008333333333333333;            /* 1/5!  */
    q = q * r + 0.041666666666666664;            /* 1/4!  */
    q = q * r + 0.16666666666666666;             /* 1/3!  */
    q = q * r + 0.5;                             /* 1/2!  */
    return r + (r * r) * q;
}

/* e^y in double for |y| <= 200 (callers guarantee it). Method (fdlibm's
 * reduction): k = round(y / ln2) (half away from zero, by truncating
 * y*(1/ln2) +- 0.5), r = (y - k*LN2_HI) - k*LN2_LO with LN2_HI having 32
 * significant bits so k*LN2_HI is exact, then e^y = 2^k * (1 + expm1(r)).
 * The product by 2^k is exact (the result is a normal double). */
REPRO_HD static inline double repro_math_exp_d(double y)
{
    const double inv_ln2 = 1.44269504088896338700e+00;
    const double ln2_hi = 6.93147180369123816490e-01; /* 0x3fe62e42fee00000 */
    const double ln2_lo = 1.90821492927058770002e-10; /* ln2 - ln2_hi */
    int k = (int)(y * inv_ln2 + (y < 0.0 ? -0.5 : 0.5));
    double r = (y - (double)k * ln2_hi) - (double)k * ln2_lo;
    return (1.0 + repro_math_expm1_poly(r)) * repro_math_pow2(k);
}

/* e^y - 1 in double for |y| <= 200: the Taylor polynomial directly when
 * |y| <= ln2/2 (no cancellation), else exp_d(y) - 1, where |e^y - 1| is at
 * least 0.29 e^y, so the subtraction magnifies exp_d's error at most 3.5x. */
REPRO_HD static inline double repro_math_expm1_d(double y)
{
    if (y <= 0.34657359027997264 && y >= -0.34657359027997264)
        return repro_math_expm1_poly(y);
    return repro_math_exp_d(y) - 1.0;
}

/* log(1 + f) for f in [sqrt(1/2) - 1, sqrt(2) - 1]. Method: s = f / (2 + f),
 * log(1+f) = 2 atanh(s) = 2s + 2s^3/3 + 2s^5/5 + ...; |s| <= 0.1716, so
 * z = s^2 <= 0.02944 and the series to s^23 leaves a relative error below
 * 1e-19. Evaluation order: s2 = s + s; z = s*s; q = 1/23; q = q*z + 1/(2i+1)
 * for i = 10 down to 1 (Horner); return s2 + (s2*z)*q. Keeps the sign of a
 * zero f (log1p(-0) = -0). */
REPRO_HD static inline double repro_math_log1p_core(double f)
{
    double s = f / (2.0 + f);
    double s2 = s + s;
    double z = s * s;
    double q = 0.043478260869565216;             /* 1/23 */
    q = q * z + 0.047619047619047616;            /* 1/21 */
    q = q * z + 0.05263157894736842;             /* 1/19 */
    q = q * z + 0.058823529411764705;            /* 1/17 */
    q = q * z + 0.06666666666666667;             /* 1/15 */
    q = q * z + 0.07692307692307693;             /* 1/13 */
    q = q * z + 0.09090909090909091;             /* 1/11 */
    q = q * z + 0.1111111111111111;              /* 1/9  */
    q = q * z + 0.14285714285714285;             /* 1/7  */
    q = q * z + 0.2;                             /* 1/5  */
    q = q * z + 0.3333333333333333;              /* 1/3  */
    return s2 + (s2 * z) * q;
}

/* log(y) for a positive, finite, normal double y. Method: y = 2^e * m with
 * m in [sqrt(1/2), sqrt(2)) (read off the bits, then halve m if m > sqrt 2),
 * f = m - 1 (exact, by Sterbenz), log(y) = log1p_core(f) + e*ln2. When e != 0
 * the sum is at least ln2/2 in size and the two terms cannot cancel. */
REPRO_HD static inline double repro_math_log_d(double y)
{
    uint64_t u;
    memcpy(&u, &y, sizeof u);
    int e = (int)((u >> 52) & 0x7ff) - 1023;
    u = (u & 0x000fffffffffffffull) | 0x3ff0000000000000ull; /* m in [1, 2) */
    double m;
    memcpy(&m, &u, sizeof m);
    if (m > 1.4142135623730951) {
        m = m * 0.5;
        e = e + 1;
    }
    return repro_math_log1p_core(m - 1.0) + (double)e * 0.6931471805599453;
}

/* sin(pi*r) for |r| <= 1/4: Taylor series of sin(pi r) to r^19 (first
 * omitted term < 2e-21 relative). Evaluation order: z = r*r; p = S19;
 * p = p*z + S_i for i = 17, 15, ..., 1 (Horner); return r*p. */
REPRO_HD static inline double repro_math_sinpi_poly(double r)
{
    double z = r * r;
    double p = -2.2948428997269873e-08;          /* -pi^19/19! */
    p = p * z + 7.952054001475513e-07;           /*  pi^17/17! */
    p = p * z + -2.1915353447830217e-05;         /* -pi^15/15! */
    p = p * z + 0.00046630280576761255;          /*  pi^13/13! */
    p = p * z + -0.0073704309457143504;          /* -pi^11/11! */
    p = p * z + 0.08214588661112823;             /*  pi^9/9!   */
    p = p * z + -0.5992645293207921;             /* -pi^7/7!   */
    p = p * z + 2.5501640398773455;              /*  pi^5/5!   */
    p = p * z + -5.16771278004997;               /* -pi^3/3!   */
    p = p * z + 3.141592653589793;               /*  pi        */
    return r * p;
}

/* cos(pi*r) for |r| <= 1/4: Taylor series to r^18 (first omitted term
 * < 4e-20). Evaluation order: z = r*r; p = C18; p = p*z + C_i for
 * i = 16, 14, ..., 2 (Horner); return 1 + z*p. */
REPRO_HD static inline double repro_math_cospi_poly(double r)
{
    double z = r * r;
    double p = -1.3878952462213771e-07;          /* -pi^18/18! */
    p = p * z + 4.303069587032947e-06;           /*  pi^16/16! */
    p = p * z + -0.0001046381049248457;          /* -pi^14/14! */
    p = p * z + 0.0019295743094039231;           /*  pi^12/12! */
    p = p * z + -0.02580689139001406;            /* -pi^10/10! */
    p = p * z + 0.2353306303588932;              /*  pi^8/8!   */
    p = p * z + -1.3352627688545895;             /* -pi^6/6!   */
    p = p * z + 4.0587121264167685;              /*  pi^4/4!   */
    p = p * z + -4.934802200544679;              /* -pi^2/2!   */
    return 1.0 + z * p;
}

/* sin(pi*x) (want_cos = 0) or cos(pi*x) (want_cos = 1) in double, for a
 * finite float x with |x| < 2^24. Exact reduction: j = round(2x) (half away
 * from zero; 2x + 0.5 is exact in double), r = x - j/2 (exact), |r| <= 1/4,
 * so pi*x = pi*r + j*pi/2 and the quadrant j mod 4 picks +-sin or +-cos of
 * pi*r. An exact zero (r = 0 in a sine quadrant) is returned as +0; the
 * callers give it its sign. */
REPRO_HD static inline double repro_math_sincospi_d(float x, int want_cos)
{
    double d = (double)x;
    int j = (int)(2.0 * d + (d < 0.0 ? -0.5 : 0.5));
    double r = d - 0.5 * (double)j;
    int q = (j + want_cos) & 3; /* cos(t) = sin(t + pi/2) */
    if (q == 0 || q == 2) {
        if (r == 0.0)
            return 0.0;
        double s = repro_math_sinpi_poly(r);
        return q == 0 ? s : -s;
    }
    double c = repro_math_cospi_poly(r);
    return q == 1 ? c : -c;
}

/* ---- the API ------------------------------------------------------------ */

/* e^x. Specials: NaN -> NaN, x > 89 (so +inf) -> +inf, x < -104 (so -inf)
 * -> +0 (e^-104 < 2^-150, half the smallest subnormal). Else the double
 * exp_d(x) rounded once to float, which also rounds 88.7228 < x <= 89 to
 * +inf and gives subnormals for -104 <= x < -87.34. */
REPRO_HD static inline float repro_expf(float x)
{
    if (x != x)
        return repro_math_quiet(x);
    if (x > 89.0f)
        return repro_math_inff();
    if (x < -104.0f)
        return 0.0f;
    return (float)repro_math_exp_d((double)x);
}

/* Natural log. Specials: NaN -> NaN, x < 0 -> NaN, +-0 -> -inf, +inf ->
 * +inf. Else log_d(x) rounded once (float subnormals are normal doubles). */
REPRO_HD static inline float repro_logf(float x)
{
    if (x != x)
        return repro_math_quiet(x);
    if (x < 0.0f)
        return repro_math_nanf();
    if (x == 0.0f)
        return -repro_math_inff();
    if (x == repro_math_inff())
        return x;
    return (float)repro_math_log_d((double)x);
}

/* log(1 + x). Specials: NaN -> NaN, x < -1 -> NaN, -1 -> -inf, +inf -> +inf,
 * +-0 -> +-0. For x in (sqrt(1/2) - 1, sqrt(2) - 1) the atanh series on x
 * itself (no rounding of 1 + x); else log_d(1 + x), where 1 + x in double
 * is exact unless x > 2^52, and then its error 2^-53 is harmless. */
REPRO_HD static inline float repro_log1pf(float x)
{
    if (x != x)
        return repro_math_quiet(x);
    if (x < -1.0f)
        return repro_math_nanf();
    if (x == -1.0f)
        return -repro_math_inff();
    if (x == repro_math_inff() || x == 0.0f)
        return x;
    if (x > -0.29289321f && x < 0.41421356f)
        return (float)repro_math_log1p_core((double)x);
    return (float)repro_math_log_d(1.0 + (double)x);
}

/* e^x - 1. Specials: NaN -> NaN, +-0 -> +-0, x > 89 -> +inf, x < -18 (so
 * -inf) -> -1 (e^-18 < 2^-25, so -1 is the rounded value). Else expm1_d(x)
 * rounded once. */
REPRO_HD static inline float repro_expm1f(float x)
{
    if (x != x)
        return repro_math_quiet(x);
    if (x > 89.0f)
        return repro_math_inff();
    if (x < -18.0f)
        return -1.0f;
    if (x == 0.0f)
        return x;
    return (float)repro_math_expm1_d((double)x);
}

/* tanh(x). Method: for a = |x|, t = expm1_d(2a), tanh(a) = t / (t + 2) in
 * double (no cancellation anywhere, accurate for tiny a too), rounded once,
 * then the sign of x applied (exact). Specials: NaN -> NaN, +-0 -> +-0,
 * |x| > 22 (so +-inf) -> +-1 (1 - tanh(22) < 2^-62). */
REPRO_HD static inline float repro_tanhf(float x)
{
    if (x != x)
        return repro_math_quiet(x);
    if (x == 0.0f)
        return x;
    float a = repro_math_bitsf(repro_math_fbits(x) & 0x7fffffffu);
    float r = 1.0f;
    if (!(a > 22.0f)) {
        double t = repro_math_expm1_d(2.0 * (double)a);
        r = (float)(t / (t + 2.0));
    }
    return x < 0.0f ? -r : r;
}

/* 1 / (1 + e^-x). Method: e = exp_d(-x), result 1 / (1 + e) in double,
 * rounded once: no overflow (|x| is bounded first) and full relative
 * accuracy for very negative x, where the result is ~e^x (subnormal below
 * x = -87.3). Specials: NaN -> NaN, x > 40 (so +inf) -> 1 (1 - sigmoid(40)
 * < 2^-57), x < -104 (so -inf) -> +0 (sigmoid < 2^-150). */
REPRO_HD static inline float repro_sigmoidf(float x)
{
    if (x != x)
        return repro_math_quiet(x);
    if (x > 40.0f)
        return 1.0f;
    if (x < -104.0f)
        return 0.0f;
    double e = repro_math_exp_d(-(double)x);
    return (float)(1.0 / (1.0 + e));
}

/* sin(pi x). Method: exact reduction of x mod 2 (see sincospi_d), then a
 * sin or cos polynomial in double on |r| <= 1/4, rounded once. Specials:
 * NaN -> NaN, +-inf -> NaN, integers (all |x| >= 2^23) -> +-0 with the sign
 * of x (C23 sinpi; sinpi(-0) = -0). */
REPRO_HD static inline float repro_sinpif(float x)
{
    if (x != x)
        return repro_math_quiet(x);
    float a = repro_math_bitsf(repro_math_fbits(x) & 0x7fffffffu);
    if (a == repro_math_inff())
        return repro_math_nanf();
    if (a >= 8388608.0f) /* 2^23: every such float is an integer */
        return repro_math_signed_zero(x);
    float s = (float)repro_math_sincospi_d(x, 0);
    return s == 0.0f ? repro_math_signed_zero(x) : s;
}

/* cos(pi x). Method as sinpif. Specials: NaN -> NaN, +-inf -> NaN,
 * half-integers -> +0 (C23 cospi), |x| >= 2^24 (even integers) -> 1. */
REPRO_HD static inline float repro_cospif(float x)
{
    if (x != x)
        return repro_math_quiet(x);
    float a = repro_math_bitsf(repro_math_fbits(x) & 0x7fffffffu);
    if (a == repro_math_inff())
        return repro_math_nanf();
    if (a >= 16777216.0f) /* 2^24: every such float is an even integer */
        return 1.0f;
    return (float)repro_math_sincospi_d(x, 1);
}

/* sin(x), cos(x) for float x, |x| <= 2^20 (positional encodings and
 * other angles made from positions). Method, in double, rounded once:
 *   k = round(x * 2/pi) (half away from zero), |k| < 2^20 + 1;
 *   r = ((x - k*P1) - k*P2) - k*P3, P1 + P2 + P3 = pi/2 (fdlibm's 33-bit
 *   pieces: k*P1 and k*P2 are exact products, x - k*P1 is exact), so
 *   |r| <= pi/4 + tiny with an absolute error below 2^-66;
 *   s = sin(r) or c = cos(r) by Taylor polynomials (to r^21 / r^20, first
 *   omitted term < 2e-22 relative), the quadrant k mod 4 picks +-s or +-c.
 * Error <= 1 ulp against libm's double sin/cos (tests/test_math.c sweeps
 * |x| <= 2^20). |x| > 2^20 is outside the domain: the same written steps
 * still give the same bits everywhere, but the reduction loses accuracy.
 * Specials: NaN -> NaN, +-inf -> NaN, sin(+-0) = +-0. */
REPRO_HD static inline double repro_math_sin_poly(double r)
{
    double z = r * r;
    double p = 1.9572941063391263e-20;           /* 1/21! */
    p = p * z + -8.2206352466243295e-18;         /* -1/19! */
    p = p * z + 2.8114572543455206e-15;          /* 1/17! */
    p = p * z + -7.6471637318198164e-13;         /* -1/15! */
    p = p * z + 1.6059043836821613e-10;          /* 1/13! */
    p = p * z + -2.5052108385441720e-08;         /* -1/11! */
    p = p * z + 2.7557319223985893e-06;          /* 1/9! */
    p = p * z + -1.9841269841269841e-04;         /* -1/7! */
    p = p * z + 8.3333333333333333e-03;          /* 1/5! */
    p = p * z + -1.6666666666666667e-01;         /* -1/3! */
    return r + r * (z * p);
}

REPRO_HD static inline double repro_math_cos_poly(double r)
{
    double z = r * r;
    double p = 4.1103176233121648e-19;           /* 1/20! */
    p = p * z + -1.5619206968586225e-16;         /* -1/18! */
    p = p * z + 4.7794773323873853e-14;          /* 1/16! */
    p = p * z + -1.1470745597729725e-11;         /* -1/14! */
    p = p * z + 2.0876756987868099e-09;          /* 1/12! */
    p = p * z + -2.7557319223985891e-07;         /* -1/10! */
    p = p * z + 2.4801587301587302e-05;          /* 1/8! */
    p = p * z + -1.3888888888888889e-03;         /* -1/6! */
    p = p * z + 4.1666666666666667e-02;          /* 1/4! */
    p = p * z + -0.5;                            /* -1/2! */
    return 1.0 + z * p;
}

REPRO_HD static inline double repro_math_sincos_d(float x, int want_cos)
{
    double d = (double)x;
    double t = d * 0.63661977236758134308;       /* 2/pi */
    double k = (double)(int64_t)(t + (t < 0.0 ? -0.5 : 0.5));
    double r = d - k * 1.57079632673412561417e+00; /* P1: pi/2's first 33 bits */
    r = r - k * 6.07710050630396597660e-11;        /* P2: the next 33 */
    r = r - k * 2.02226624871116645580e-21;        /* P3 */
    int q = ((int)((int64_t)k & 3) + want_cos) & 3; /* cos(t) = sin(t + pi/2) */
    if (q == 0 || q == 2) {
        double s = repro_math_sin_poly(r);
        return q == 0 ? s : -s;
    }
    double c = repro_math_cos_poly(r);
    return q == 1 ? c : -c;
}

REPRO_HD static inline float repro_sinf(float x)
{
    if (x != x)
        return repro_math_quiet(x);
    float a = repro_math_bitsf(repro_math_fbits(x) & 0x7fffffffu);
    if (a == repro_math_inff())
        return repro_math_nanf();
    if (a < 1e-30f) /* sin x = x in float (and keeps the sign of zero) */
        return x;
    return (float)repro_math_sincos_d(x, 0);
}

REPRO_HD static inline float repro_cosf(float x)
{
    if (x != x)
        return repro_math_quiet(x);
    float a = repro_math_bitsf(repro_math_fbits(x) & 0x7fffffffu);
    if (a == repro_math_inff())
        return repro_math_nanf();
    return (float)repro_math_sincos_d(x, 1);
}

/* The correctly rounded IEEE square root. On the GPU __fsqrt_rn is IEEE
 * whatever -prec-sqrt says; on the host sqrtf is IEEE (one instruction).
 * NaN results are made here, so that their bits agree too: NaN -> NaN
 * quieted, x < 0 -> 0x7fc00000 (sqrt(-0) = -0 as IEEE says). */
REPRO_HD static inline float repro_sqrtf(float x)
{
    if (x != x)
        return repro_math_quiet(x);
    if (x < 0.0f)
        return repro_math_nanf();
#ifdef __CUDA_ARCH__
    return __fsqrt_rn(x);
#else
    return sqrtf(x);
#endif
}

/* base^n for n >= 0 by binary exponentiation in float (not 1-ulp accurate:
 * each product rounds; the order is fixed, so the bits are deterministic).
 * Order: acc = 1, p = base; for each bit i of n from the least significant:
 * if bit i is set, acc = acc * p; then, if bits remain, p = p * p. So
 * base^5 = (1 * base) * ((base*base) * (base*base)). n = 0 gives 1 (even
 * for NaN base, as pow does); n < 0 is outside the contract and gives NaN.
 * Products of powers of one base never meet inf * 0, so a NaN comes only
 * from a NaN base, returned quieted (same bits on host and GPU). */
REPRO_HD static inline float repro_powif(float base, int64_t n)
{
    if (n < 0)
        return repro_math_nanf();
    if (n > 0 && base != base) /* the only way to a NaN: make its bits here */
        return repro_math_quiet(base);
    float acc = 1.0f;
    float p = base;
    uint64_t m = (uint64_t)n;
    while (m != 0) {
        if (m & 1u)
            acc = acc * p;
        m >>= 1;
        if (m != 0)
            p = p * p;
    }
    return acc;
}

#endif
