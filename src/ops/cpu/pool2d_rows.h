/* Max pooling over 2x2 windows at stride 2 without padding (every conv
 * net's pooling), one output row at a time: AVX2 twins of pool2d.c's
 * plain loops for that shape (private to src/ops/cpu/pool2d*.c). Such
 * windows tile the plane, so the backward writes each dx element once
 * instead of clearing the plane and scattering into it.
 *
 * A row's outputs j < n read the taps at + 2j + {0, 1, W, W + 1} of the
 * plane (at: the first output's top-left tap), in that order: pool2d.h's
 * (kh, kw) ascending. Each function does all n outputs (in steps of 8, the
 * last one overlapping the one before, which rewrites the same values) and
 * returns n; a twin that does fewer returns how many, and the caller does
 * the rest its plain way.
 *
 * spill: a row of fewer than 8 windows may then read and write as if it had
 * 8: up to 16 floats from each of its two input rows' starts, 8 outputs
 * (and argmaxes) from y, am and dy. The caller allows it where that stays in
 * the plane and everything it touches past the row is written later (the
 * rows below, in order; the odd column and row in no window, zeroed after
 * them). Otherwise the row reads and writes nothing past its windows.
 *
 * forward: y[j] = the first maximum of the four taps (the first NaN wins
 *   and stays), am[j] its index in the plane (am may be NULL).
 * backward: each of the four taps t of output j gets
 *   dx = am[j] == its index ? +0.0f + dy[j] : +0.0f
 *   (the reference's gather: +0, plus the one window's term if it points
 *   there; an argmax outside the window matches no tap). */
#ifndef REPRO_OPS_CPU_POOL2D_ROWS_H
#define REPRO_OPS_CPU_POOL2D_ROWS_H

#include <stdint.h>

int64_t repro_maxpool2x2_forward_row_avx2(const float *plane, int64_t W, int32_t at, int64_t n, float *y,
                                          int32_t *am, int spill);
int64_t repro_maxpool2x2_backward_row_avx2(float *dx_plane, int64_t W, int32_t at, int64_t n, const float *dy,
                                           const int32_t *am, int spill);

/* The backward of one image's C planes, pixel-major (pool2d.h's
 * repro_maxpool2x2_backward_pixels): for the windows q < OH*OW of every
 * plane c < C, the four taps' dxT[t * ld + c] as above, from dy[c * OH*OW + q]
 * and am[c * OH*OW + q]. 8 planes and 8 windows a step (transposed in
 * registers); a last step of windows overlaps the one before. Does the
 * planes [0, returned) (a multiple of 8; 0 for fewer than 8 windows) and
 * writes no tap of the others, nor the pixels in no window. */
int64_t repro_maxpool2x2_backward_pixels_avx2(float *dxT, int64_t ld, int64_t W, int64_t OH, int64_t OW, int64_t C,
                                              const float *dy, const int32_t *am);

#endif
