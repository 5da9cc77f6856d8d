/* GELU (erf form) on 4 double lanes (_avx2, the AVX2 path) and on 8
 * (_avx512, the AVX-512 path; private to gelu_erf*.c): the whole vectors
 * of [0, n), bit for bit the scalar src/ops/gelu_erf_math.h
 * (gelu_erf_lanes.h says how); each returns how many elements it did and
 * the caller finishes the tail. */
#ifndef REPRO_OPS_CPU_GELU_ERF_SIMD_H
#define REPRO_OPS_CPU_GELU_ERF_SIMD_H

#include <stdint.h>

/* phi: NULL, or where the forward keeps Phi(x) and the backward reads it */
int64_t repro_gelu_erf_fwd_avx2(float *y, double *phi, const float *x, int64_t n);
int64_t repro_gelu_erf_bwd_avx2(float *dx, const float *dy, const float *x, const double *phi, int64_t n);
/* For tests: Phi(x) and Phi(x) + x phi(x) in double, |x| <= 20 (the
 * scalar repro_gelu_phi_cdf_d and the backward's g, bit for bit). */
int64_t repro_gelu_erf_doubles_avx2(double *cdf, double *grad, const double *x, int64_t n);
int64_t repro_gelu_erf_fwd_avx512(float *y, double *phi, const float *x, int64_t n);
int64_t repro_gelu_erf_bwd_avx512(float *dx, const float *dy, const float *x, const double *phi, int64_t n);
int64_t repro_gelu_erf_doubles_avx512(double *cdf, double *grad, const double *x, int64_t n);

#endif
