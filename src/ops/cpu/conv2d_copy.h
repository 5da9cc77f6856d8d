/* The copies behind conv2d's im2col and layout changes (private to
 * src/ops/cpu/conv2d*.c): plain C, and AVX2 twins that conv2d.c takes on
 * the AVX2 and AVX-512 paths. They only move floats, so the path can never
 * change a bit; they exist because with 14-float image rows the copying
 * otherwise costs as much as the GEMM. */
#ifndef REPRO_OPS_CONV2D_COPY_H
#define REPRO_OPS_CONV2D_COPY_H

#include <stdint.h>

/* dst[r*dst_ld + i] = src[r*src_ld + i] for r < rows, i < n. */
typedef void (*repro_conv_copy2d_fn)(float *dst, int64_t dst_ld, const float *src, int64_t src_ld, int64_t rows,
                                     int64_t n);
/* dst[c*dst_ld + r] = src[r*src_ld + c] for r < rows, c < cols. */
typedef void (*repro_conv_transpose_fn)(float *dst, int64_t dst_ld, const float *src, int64_t src_ld,
                                        int64_t rows, int64_t cols);

void repro_conv_copy2d_avx2(float *dst, int64_t dst_ld, const float *src, int64_t src_ld, int64_t rows, int64_t n);
void repro_conv_transpose_avx2(float *dst, int64_t dst_ld, const float *src, int64_t src_ld, int64_t rows,
                               int64_t cols);
/* aarch64 only: the same copies in 4-float q registers */
void repro_conv_copy2d_neon(float *dst, int64_t dst_ld, const float *src, int64_t src_ld, int64_t rows, int64_t n);
void repro_conv_transpose_neon(float *dst, int64_t dst_ld, const float *src, int64_t src_ld, int64_t rows,
                               int64_t cols);

#endif
