/* ReLU on SIMD lanes (AVX2, AVX-512, NEON; private to activation*.c): ops_math.h's formulas lane
 * by lane, selections only (no arithmetic), so every bit is the scalar one:
 *   y  = isnan(x) ? x : (x > 0 ? x : +0)    keep x where !(x <= 0)
 *   dx = x > 0 ? dy : +0
 * Each does the whole vectors of [0, n) and returns how many elements that
 * is; the caller finishes the tail. y may equal x, dx may equal dy. */
#ifndef REPRO_OPS_CPU_ACTIVATION_SIMD_H
#define REPRO_OPS_CPU_ACTIVATION_SIMD_H

#include <stdint.h>

int64_t repro_relu_fwd_avx2(float *y, const float *x, int64_t n);
int64_t repro_relu_bwd_avx2(float *dx, const float *dy, const float *x, int64_t n);
int64_t repro_relu_fwd_avx512(float *y, const float *x, int64_t n);
int64_t repro_relu_bwd_avx512(float *dx, const float *dy, const float *x, int64_t n);
int64_t repro_relu_fwd_neon(float *y, const float *x, int64_t n);
int64_t repro_relu_bwd_neon(float *dx, const float *dy, const float *x, int64_t n);

#endif
