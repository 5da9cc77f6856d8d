/* GELU (erf form) on 4 double lanes: gelu_erf_lanes.h. */
#define LANES 4
#include "ops/cpu/gelu_erf_lanes.h"
#include "ops/cpu/gelu_erf_simd.h"

int64_t repro_gelu_erf_fwd_avx2(float *y, double *phi, const float *x, int64_t n)
{
    return gelu_erf_fwd_lanes(y, phi, x, n);
}

int64_t repro_gelu_erf_bwd_avx2(float *dx, const float *dy, const float *x, const double *phi, int64_t n)
{
    return gelu_erf_bwd_lanes(dx, dy, x, phi, n);
}

int64_t repro_gelu_erf_doubles_avx2(double *cdf, double *grad, const double *x, int64_t n)
{
    return gelu_erf_doubles_lanes(cdf, grad, x, n);
}
