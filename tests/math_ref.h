/* Accuracy checking of repro/math.h against double-precision libm, shared by
 * tests/test_math.c (a strided sweep) and tools/check_math.c (all 2^32).
 *
 * The reference for each function is glibc's double function (error < 1 ulp
 * of double, i.e. ~2^-29 ulp of float), so the measured float error is exact
 * to about 1e-8 ulp. The error of a result y against the reference v is
 * |y - v| / ulp(v), where ulp(v) is the float spacing in v's binade
 * (2^(e-23) for 2^e <= |v| < 2^(e+1), and 2^-149 below 2^-126). That is
 * never larger than the spacing at the correctly rounded result, so it is
 * the stricter measure. Where the reference rounds to +-inf the result must
 * be that infinity; where it is NaN the result must be NaN. */
#ifndef REPRO_MATH_REF_H
#define REPRO_MATH_REF_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "repro/math.h"

/* sin(pi x) with an exact reduction independent of repro's: r = fmod(x, 2)
 * (exact), folded into [-1, 1], then into [-1/2, 1/2] by sin(pi - t) =
 * sin(t) (exact subtractions), then double sin(M_PI * r). */
static double ref_sinpi(float xf)
{
    double x = xf;
    if (isinf(x))
        return NAN;
    double r = fmod(x, 2.0);
    if (r > 1.0)
        r -= 2.0;
    if (r < -1.0)
        r += 2.0;
    if (r > 0.5)
        r = 1.0 - r;
    if (r < -0.5)
        r = -1.0 - r;
    return sin(M_PI * r);
}

/* cos(pi x): r = |fmod(x, 2)| folded into [0, 1]; cos(pi r) directly for
 * r <= 1/4, sin(pi (1/2 - r)) for 1/4 < r <= 3/4 (1/2 - r exact), and
 * -cos(pi (1 - r)) above. */
static double ref_cospi(float xf)
{
    double x = xf;
    if (isinf(x))
        return NAN;
    double r = fabs(fmod(x, 2.0));
    if (r > 1.0)
        r = 2.0 - r;
    if (r <= 0.25)
        return cos(M_PI * r);
    if (r <= 0.75)
        return sin(M_PI * (0.5 - r));
    return -cos(M_PI * (1.0 - r));
}

static double ref_exp(float x) { return exp((double)x); }
static double ref_log(float x) { return log((double)x); }
static double ref_log1p(float x) { return log1p((double)x); }
static double ref_expm1(float x) { return expm1((double)x); }
static double ref_tanh(float x) { return tanh((double)x); }
static double ref_sigmoid(float x) { return 1.0 / (1.0 + exp(-(double)x)); }

static float ours_exp(float x) { return repro_expf(x); }
static float ours_log(float x) { return repro_logf(x); }
static float ours_log1p(float x) { return repro_log1pf(x); }
static float ours_expm1(float x) { return repro_expm1f(x); }
static float ours_tanh(float x) { return repro_tanhf(x); }
static float ours_sigmoid(float x) { return repro_sigmoidf(x); }
static float ours_sinpi(float x) { return repro_sinpif(x); }
static float ours_cospi(float x) { return repro_cospif(x); }

typedef struct {
    const char *name;
    float (*ours)(float);
    double (*ref)(float);
} math_fn;

static const math_fn math_fns[] __attribute__((unused)) = {
    {"expf", ours_exp, ref_exp},          {"logf", ours_log, ref_log},
    {"log1pf", ours_log1p, ref_log1p},    {"expm1f", ours_expm1, ref_expm1},
    {"tanhf", ours_tanh, ref_tanh},       {"sigmoidf", ours_sigmoid, ref_sigmoid},
    {"sinpif", ours_sinpi, ref_sinpi},    {"cospif", ours_cospi, ref_cospi},
};
#define MATH_NFNS ((int)(sizeof math_fns / sizeof math_fns[0]))

/* Error of y in ulps of the reference v (see the top); INFINITY for a
 * wrong NaN or infinity. */
static double ulp_error(float y, double v)
{
    if (isnan(v))
        return isnan(y) ? 0.0 : INFINITY;
    if (isnan(y))
        return INFINITY;
    float cr = (float)v;
    if (isinf(cr))
        return y == cr ? 0.0 : INFINITY;
    if (isinf(y))
        return INFINITY;
    double a = fabs(v);
    double ulp = ldexp(1.0, -149);
    if (a >= ldexp(1.0, -126)) {
        int e;
        frexp(a, &e); /* a = m * 2^e, m in [1/2, 1) */
        ulp = ldexp(1.0, e - 1 - 23);
    }
    return fabs((double)y - v) / ulp;
}

/* Result of checking one function over a set of inputs. */
typedef struct {
    uint64_t count;      /* inputs checked */
    uint64_t not_cr;     /* results != the reference rounded to float */
    double max_ulp;      /* largest error in ulps */
    uint32_t worst_bits; /* an input with that error */
    uint64_t hash;       /* math_hash_step over the result bits, in input order */
} math_stats;

/* A 64-bit FNV-1a-style hash over 32-bit words, to compare the results of
 * builds (C host, C++ host, CUDA device) without storing them all. */
static inline uint64_t math_hash_step(uint64_t h, uint32_t word)
{
    return (h ^ word) * 0x100000001b3ull;
}
#define MATH_HASH_INIT 0xcbf29ce484222325ull

/* Checks fn on the inputs with bit patterns start, start + stride, ... while
 * below end (64-bit so that end = 2^32 is possible). */
static void math_check_range(const math_fn *fn, uint64_t start, uint64_t end, uint64_t stride,
                             math_stats *st)
{
    memset(st, 0, sizeof *st);
    st->hash = MATH_HASH_INIT;
    for (uint64_t b = start; b < end; b += stride) {
        uint32_t u = (uint32_t)b;
        float x;
        memcpy(&x, &u, 4);
        float y = fn->ours(x);
        uint32_t yu;
        memcpy(&yu, &y, 4);
        st->hash = math_hash_step(st->hash, yu);
        double v = fn->ref(x);
        double e = ulp_error(y, v);
        float cr = (float)v;
        st->count++;
        if (!(y == cr || (isnan(y) && isnan(cr))))
            st->not_cr++;
        if (e > st->max_ulp || st->count == 1) {
            st->max_ulp = e;
            st->worst_bits = u;
        }
    }
}

#endif
