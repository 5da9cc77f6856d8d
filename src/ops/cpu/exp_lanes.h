/* repro_math_exp_d (include/repro/math.h) on SIMD lanes of doubles, for the
 * lane kernels that need an exponential: gelu_erf_lanes.h (Phi's tail and
 * its derivative, EXP_LANES = LANES) and attention_lanes.h (repro_expf's
 * double steps, EXP_LANES = LANES / 2, a register each half).
 *
 * Written over GCC vector types: lane by lane the same IEEE double
 * operations in the same order as the scalar function (-ffp-contract=off
 * keeps them unfused), so every lane's bits are repro_math_exp_d's. The
 * reduction's k is truncated as the scalar (int) cast truncates, and the
 * polynomial is repro_math_expm1_poly's Horner chain. The caller keeps the
 * input in the scalar function's domain (|y| <= 200, not NaN).
 * tests/test_attention.c sweeps the attention use against repro_expf on 70
 * million inputs and checks the GELU lanes against their scalar twin.
 *
 * The includer defines EXP_LANES (doubles per vector); the header is
 * private to one translation unit, so it has no include guard to clash
 * with another width. */
#ifndef EXP_LANES
#error "define EXP_LANES before including exp_lanes.h"
#endif

#include <stdint.h>

typedef double exp_vd __attribute__((vector_size(EXP_LANES * 8)));
typedef int64_t exp_vl __attribute__((vector_size(EXP_LANES * 8)));
typedef int32_t exp_vi __attribute__((vector_size(EXP_LANES * 4)));

/* repro_math_expm1_poly: r + r^2 * q(r), q in Horner form. */
static inline exp_vd expm1_poly_lanes(exp_vd r)
{
    exp_vd q = (exp_vd){0} + 1.1470745597729725e-11;
    q = q * r + 1.6059043836821613e-10;
    q = q * r + 2.08767569878681e-09;
    q = q * r + 2.505210838544172e-08;
    q = q * r + 2.755731922398589e-07;
    q = q * r + 2.7557319223985893e-06;
    q = q * r + 2.48015873015873e-05;
    q = q * r + 0.0001984126984126984;
    q = q * r + 0.001388888888888889;
    q = q * r + 0.008333333333333333;
    q = q * r + 0.041666666666666664;
    q = q * r + 0.16666666666666666;
    q = q * r + 0.5;
    return r + (r * r) * q;
}

/* repro_math_exp_d: y = k ln2 + r (k the nearest integer, ties away from
 * zero, as y * log2(e) +- 0.5 truncated), then (1 + expm1(r)) * 2^k. */
static inline exp_vd exp_d_lanes(exp_vd y)
{
    exp_vl neg = y < 0.0;
    exp_vd half = (exp_vd)((neg & (exp_vl)((exp_vd){0} - 0.5)) | (~neg & (exp_vl)((exp_vd){0} + 0.5)));
    exp_vi k = __builtin_convertvector(y * 1.44269504088896338700e+00 + half, exp_vi);
    exp_vd kd = __builtin_convertvector(k, exp_vd);
    exp_vd r = (y - kd * 6.93147180369123816490e-01) - kd * 1.90821492927058770002e-10;
    exp_vl e = (__builtin_convertvector(k, exp_vl) + 1023) << 52;
    return (1.0 + expm1_poly_lanes(r)) * (exp_vd)e;
}
