/* GELU (erf form) on SIMD lanes of doubles (private to gelu_erf_avx2.c,
 * LANES 4, and gelu_erf_avx512.c, LANES 8; a NEON twin would be LANES 2):
 * src/ops/gelu_erf_math.h's formulas written once more over GCC vector
 * types, lane by lane the same
 * double operations in the same order (IEEE-754 division, multiplication
 * and addition are correctly rounded, and -ffp-contract=off keeps them
 * unfused), so every bit is the scalar one; tests/test_attention.c checks
 * it. The polynomials are the header's own macros (REPRO_GELU_ERF_S, _L),
 * expanded over vectors.
 *   - both pieces of Phi (the polynomial below |x| = 2.5, exp times the
 *     polynomial in t above) run where a lane needs them, and each lane
 *     keeps its own piece's result;
 *   - exp is repro_math_exp_d on lanes (exp_lanes.h);
 *   - a vector holding a NaN or |x| > 20 stops the lanes: the scalar code
 *     does it and the rest of the range (such inputs are rare).
 * Each function does whole vectors from the start of [0, n) and returns
 * how many elements that is; the caller finishes the rest. The forward
 * keeps Phi(x) in phi when given; the backward reads it from there when
 * given, else computes it (the same double). */
#ifndef LANES
#error "define LANES before including gelu_erf_lanes.h"
#endif

#include <stdint.h>
#include <string.h>

#include "ops/gelu_erf_math.h"

#define EXP_LANES LANES
#include "ops/cpu/exp_lanes.h"

typedef double vd __attribute__((vector_size(LANES * 8)));
typedef int64_t vl __attribute__((vector_size(LANES * 8)));
typedef int32_t vi __attribute__((vector_size(LANES * 4)));
typedef float vf __attribute__((vector_size(LANES * 4)));

static inline vd pick(vl m, vd a, vd b) /* m ? a : b, lane by lane */
{
    return (vd)((m & (vl)a) | (~m & (vl)b));
}

static inline int any(vl m)
{
    int64_t r = 0;
    for (int i = 0; i < LANES; i++)
        r |= m[i];
    return r != 0;
}

/* repro_gelu_phi_cdf_d */
static inline vd phi_cdf(vd x)
{
    vd u = x * x, a = pick(x < 0.0, -x, x), small = {0}, large = {0};
    vl below = a < 2.5;
    if (any(below))
        small = 0.5 + x * REPRO_GELU_ERF_S(u - 3.125);
    if (any(~below)) {
        vd t = 1.0 / (1.0 + a * 0.25);
        vd q = exp_d_lanes(-0.5 * u) * (t * REPRO_GELU_ERF_L(t - 0.390625));
        large = pick(x < 0.0, q, 1.0 - q);
    }
    return pick(below, small, large);
}

/* repro_gelu_grad_d */
static inline vd grad_of(vd x, vd c)
{
    return c + x * (exp_d_lanes(-0.5 * (x * x)) * 0.3989422804014327);
}

/* Lanes a vector computes here: no NaN, |x| <= 20. */
static inline int regular(vf x)
{
    vi in = (x >= -20.0f) & (x <= 20.0f);
    int32_t all = -1;
    for (int i = 0; i < LANES; i++)
        all &= in[i];
    return all != 0;
}

static int64_t gelu_erf_fwd_lanes(float *y, double *phi, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        vf xf;
        memcpy(&xf, x + i, sizeof xf);
        if (!regular(xf))
            break; /* the scalar loop goes on from here */
        vd xd = __builtin_convertvector(xf, vd), c = phi_cdf(xd);
        vf yf = __builtin_convertvector(xd * c, vf);
        memcpy(y + i, &yf, sizeof yf);
        if (phi)
            memcpy(phi + i, &c, sizeof c);
    }
    return i;
}

static int64_t gelu_erf_bwd_lanes(float *dx, const float *dy, const float *x, const double *phi, int64_t n)
{
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        vf xf, dyf;
        memcpy(&xf, x + i, sizeof xf);
        memcpy(&dyf, dy + i, sizeof dyf);
        if (!regular(xf))
            break;
        vd xd = __builtin_convertvector(xf, vd), c;
        if (phi)
            memcpy(&c, phi + i, sizeof c);
        else
            c = phi_cdf(xd);
        vf r = dyf * __builtin_convertvector(grad_of(xd, c), vf);
        memcpy(dx + i, &r, sizeof r);
    }
    return i;
}

/* For tests: Phi(x) and GELU'(x) in double for x of whole vectors (|x| <=
 * 20, no NaN), before the rounding to float that could hide a difference. */
static int64_t gelu_erf_doubles_lanes(double *cdf, double *grad, const double *x, int64_t n)
{
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        vd xd;
        memcpy(&xd, x + i, sizeof xd);
        vd c = phi_cdf(xd), g = grad_of(xd, c);
        memcpy(cdf + i, &c, sizeof c);
        memcpy(grad + i, &g, sizeof g);
    }
    return i;
}
