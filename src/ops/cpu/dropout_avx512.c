/* Dropout on 16 lanes: dropout_simd.h's formulas, lane by lane. */
#include <immintrin.h>

#include "ops/cpu/dropout_simd.h"

void repro_dropout_keep64_avx512(const uint32_t *w, const float *x, float *y, uint8_t *mask, float p,
                                 float scale)
{
    const __m512 vp = _mm512_set1_ps(p), vs = _mm512_set1_ps(scale), unit = _mm512_set1_ps(0x1p-24f);
    for (int q = 0; q < 4; q++) {
        /* exact: a 24-bit integer to float, then a power of two */
        __m512i u = _mm512_srli_epi32(_mm512_loadu_si512(w + 16 * q), 8);
        __mmask16 keep = _mm512_cmp_ps_mask(_mm512_mul_ps(_mm512_cvtepi32_ps(u), unit), vp, _CMP_GE_OQ);
        /* keep ? x * scale : +0 (the zero-masked lanes are +0) */
        _mm512_storeu_ps(y + 16 * q, _mm512_maskz_mul_ps(keep, _mm512_loadu_ps(x + 16 * q), vs));
        _mm_storeu_si128((__m128i *)(mask + 16 * q), _mm_maskz_mov_epi8(keep, _mm_set1_epi8(1)));
    }
}

int64_t repro_dropout_back_avx512(float *dx, const float *dy, const uint8_t *mask, int64_t n, float scale)
{
    const __m512 vs = _mm512_set1_ps(scale);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __mmask16 keep = _mm_test_epi8_mask(_mm_loadu_si128((const __m128i *)(mask + i)), _mm_set1_epi8(-1));
        _mm512_storeu_ps(dx + i, _mm512_maskz_mul_ps(keep, _mm512_loadu_ps(dy + i), vs));
    }
    return i;
}
