/* AVX2 twins of conv2d's copies (see conv2d_copy.h): rows in 8-float
 * vectors with a masked tail, transposes in 8 x 8 blocks. Pure data
 * movement, no arithmetic. */
#include <immintrin.h>

#include "ops/cpu/conv2d_copy.h"
#include "ops/cpu/transpose8_avx2.h"

/* Lane l is all ones where l < n. */
static __m256i lanes(int64_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

void repro_conv_copy2d_avx2(float *dst, int64_t dst_ld, const float *src, int64_t src_ld, int64_t rows, int64_t n)
{
    const int64_t n8 = n / 8 * 8;
    const __m256i tail = lanes(n - n8);
    int64_t r = 0;
    /* Rows packed back to back (dst_ld == n): a row but the last may be
     * copied in whole vectors. What it writes past its end lies in the next
     * row (n >= 8), which is copied after it; what it reads past its end
     * lies before the last source row's end (src_ld >= 8). So the masked
     * tail, slow on some cores, is needed once, not once a row. */
    if (dst_ld == n && n >= 8 && src_ld >= 8 && n8 < n)
        for (; r + 1 < rows; r++)
            for (int64_t i = 0; i < n; i += 8)
                _mm256_storeu_ps(dst + r * n + i, _mm256_loadu_ps(src + r * src_ld + i));
    for (; r < rows; r++) {
        float *d = dst + r * dst_ld;
        const float *s = src + r * src_ld;
        for (int64_t i = 0; i < n8; i += 8)
            _mm256_storeu_ps(d + i, _mm256_loadu_ps(s + i));
        if (n8 < n)
            _mm256_maskstore_ps(d + n8, tail, _mm256_maskload_ps(s + n8, tail));
    }
}

void repro_conv_transpose_avx2(float *dst, int64_t dst_ld, const float *src, int64_t src_ld, int64_t rows,
                               int64_t cols)
{
    const int64_t r8 = rows / 8 * 8, c8 = cols / 8 * 8;
    for (int64_t r0 = 0; r0 < r8; r0 += 8) {
        for (int64_t c0 = 0; c0 < c8; c0 += 8) {
            __m256 b[8]; /* in registers: the loops unrolled (at -O2 GCC kept them, and b, on the stack) */
#pragma GCC unroll 8
            for (int t = 0; t < 8; t++)
                b[t] = _mm256_loadu_ps(src + (r0 + t) * src_ld + c0);
            repro_transpose8_avx2(b);
#pragma GCC unroll 8
            for (int t = 0; t < 8; t++)
                _mm256_storeu_ps(dst + (c0 + t) * dst_ld + r0, b[t]);
        }
        for (int64_t c = c8; c < cols; c++)
            for (int64_t r = r0; r < r0 + 8; r++)
                dst[c * dst_ld + r] = src[r * src_ld + c];
    }
    for (int64_t c = 0; c < cols; c++)
        for (int64_t r = r8; r < rows; r++)
            dst[c * dst_ld + r] = src[r * src_ld + c];
}
