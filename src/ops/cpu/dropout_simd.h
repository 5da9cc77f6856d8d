/* Dropout's elementwise work on SIMD lanes (private to dropout*.c). Each lane
 * does exactly the scalar formula of ops.h for its own element, so the bits
 * are those of repro_dropout_forward_ref / _backward_ref:
 *
 *   keep    = (float)(w >> 8) * 0x1p-24f >= p    (both steps exact)
 *   mask    = keep ? 1 : 0
 *   y       = keep ? x * scale : +0              (one rounding, as written)
 *   dx      = mask != 0 ? dy * scale : +0
 *
 * y may equal x and dx may equal dy (each vector is loaded before its store). */
#ifndef REPRO_OPS_CPU_DROPOUT_SIMD_H
#define REPRO_OPS_CPU_DROPOUT_SIMD_H

#include <stdint.h>

/* Elements [0, 32) from the random words w[0..32). */
void repro_dropout_keep32_avx2(const uint32_t *w, const float *x, float *y, uint8_t *mask, float p, float scale);
/* Elements [0, 64) from w[0..64). */
void repro_dropout_keep64_avx512(const uint32_t *w, const float *x, float *y, uint8_t *mask, float p,
                                 float scale);
/* Elements [0, 32) from w[0..32) (aarch64: the NEON Philox twin draws 32). */
void repro_dropout_keep32_neon(const uint32_t *w, const float *x, float *y, uint8_t *mask, float p, float scale);

/* dx[i] for i < n rounded down to whole vectors; returns how many it did
 * (the caller finishes the tail with the scalar formula). */
int64_t repro_dropout_back_avx2(float *dx, const float *dy, const uint8_t *mask, int64_t n, float scale);
int64_t repro_dropout_back_avx512(float *dx, const float *dy, const uint8_t *mask, int64_t n, float scale);
int64_t repro_dropout_back_neon(float *dx, const float *dy, const uint8_t *mask, int64_t n, float scale);

#endif
