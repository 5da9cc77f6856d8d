/* GELU (erf form) on 8 double lanes (zmm): gelu_erf_lanes.h, as the 4-lane
 * twin, bit for bit. Only the AVX-512 path calls it. */
#define LANES 8
#include "ops/cpu/gelu_erf_lanes.h"
#include "ops/cpu/gelu_erf_simd.h"

int64_t repro_gelu_erf_fwd_avx512(float *y, double *phi, const float *x, int64_t n)
{
    return gelu_erf_fwd_lanes(y, phi, x, n);
}

int64_t repro_gelu_erf_bwd_avx512(float *dx, const float *dy, const float *x, const double *phi, int64_t n)
{
    return gelu_erf_bwd_lanes(dx, dy, x, phi, n);
}

int64_t repro_gelu_erf_doubles_avx512(double *cdf, double *grad, const double *x, int64_t n)
{
    return gelu_erf_doubles_lanes(cdf, grad, x, n);
}
