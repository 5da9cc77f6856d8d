/* repro_expf (include/repro/math.h) on LANES float lanes, and the few
 * GCC-vector helpers the lane kernels around it use (private to the
 * translation units that include it: attention_lanes.h, xent_lanes.h).
 *
 * The exponential runs in double on two halves of LANES / 2 lanes (a
 * register each): repro_math_exp_d lane by lane (exp_lanes.h), rounded once
 * to float, as repro_expf does. Lanes outside [-104, 89], or NaN, take the
 * scalar function itself (its special cases). So every lane's bits are
 * repro_expf's; tests/test_attention.c sweeps 70 million inputs.
 *
 * The includer defines LANES (floats per vector). */
#ifndef LANES
#error "define LANES before including expf_lanes.h"
#endif

#include <stdint.h>
#include <string.h>

#include "repro/math.h"

typedef float gf __attribute__((vector_size(LANES * 4)));
typedef int32_t gi __attribute__((vector_size(LANES * 4)));
typedef float hf __attribute__((vector_size(LANES * 2)));
#define EXP_LANES (LANES / 2)
#include "ops/cpu/exp_lanes.h"
typedef exp_vd hd;

static inline gf loadf(const float *p)
{
    gf v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline gf splatf(float c)
{
    gf v = {0};
    return v + c;
}

static inline gf pickf(gi m, gf a, gf b) /* m ? a : b, lane by lane */
{
    return (gf)((m & (gi)a) | (~m & (gi)b));
}

/* (float)repro_math_exp_d((double)x) on each lane (|x| <= 104), in double
 * on half the lanes (exp_lanes.h), rounded once to float. */
static inline hf exp_half(hf x)
{
    return __builtin_convertvector(exp_d_lanes(__builtin_convertvector(x, hd)), hf);
}

/* repro_expf on each lane; lanes outside [-104, 89] (or NaN) take the
 * scalar function (its special cases). */
static inline gf expf_lanes(gf x)
{
    gi ok = (x >= -104.0f) & (x <= 89.0f);
    gf xs = pickf(ok, x, splatf(0.0f)), out;
    hf lo, up;
    memcpy(&lo, &xs, sizeof lo);
    memcpy(&up, (const char *)&xs + sizeof lo, sizeof up);
    lo = exp_half(lo);
    up = exp_half(up);
    memcpy(&out, &lo, sizeof lo);
    memcpy((char *)&out + sizeof lo, &up, sizeof up);
    for (int i = 0; i < LANES; i++)
        if (!ok[i])
            out[i] = repro_expf(x[i]);
    return out;
}
