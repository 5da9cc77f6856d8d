/* Dropout on 8 lanes: dropout_simd.h's formulas, lane by lane. */
#include <immintrin.h>

#include "ops/cpu/dropout_simd.h"

/* Lanes where (float)(w >> 8) * 2^-24 >= p: all ones, else zero. The
 * shifted word is below 2^24, so the int -> float conversion is exact, and
 * the scaling by a power of two is exact: the scalar code's value. */
static __m256 keep_of(const uint32_t *w, __m256 p)
{
    __m256i u = _mm256_srli_epi32(_mm256_loadu_si256((const __m256i *)w), 8);
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(u), _mm256_set1_ps(0x1p-24f));
    return _mm256_cmp_ps(f, p, _CMP_GE_OQ);
}

void repro_dropout_keep32_avx2(const uint32_t *w, const float *x, float *y, uint8_t *mask, float p, float scale)
{
    const __m256 vp = _mm256_set1_ps(p), vs = _mm256_set1_ps(scale);
    __m256i bits[4];
    for (int q = 0; q < 4; q++) {
        __m256 keep = keep_of(w + 8 * q, vp);
        /* keep ? x * scale : +0 (and-ing with zero gives +0) */
        __m256 v = _mm256_and_ps(keep, _mm256_mul_ps(_mm256_loadu_ps(x + 8 * q), vs));
        _mm256_storeu_ps(y + 8 * q, v);
        bits[q] = _mm256_srli_epi32(_mm256_castps_si256(keep), 31); /* 0 or 1 */
    }
    /* 4 x 8 dwords of 0/1 -> 32 bytes in element order: the packs work per
     * 128-bit half, leaving dword groups in the order 0,2,4,6,1,3,5,7 of
     * the wanted 4-byte runs; the permute puts them back. */
    __m256i w16a = _mm256_packs_epi32(bits[0], bits[1]);
    __m256i w16b = _mm256_packs_epi32(bits[2], bits[3]);
    __m256i b8 = _mm256_packus_epi16(w16a, w16b);
    b8 = _mm256_permutevar8x32_epi32(b8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)mask, b8);
}

int64_t repro_dropout_back_avx2(float *dx, const float *dy, const uint8_t *mask, int64_t n, float scale)
{
    const __m256 vs = _mm256_set1_ps(scale);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i m8 = _mm_loadl_epi64((const __m128i *)(mask + i));
        __m256i zero = _mm256_cmpeq_epi32(_mm256_cvtepu8_epi32(m8), _mm256_setzero_si256());
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(dy + i), vs);
        _mm256_storeu_ps(dx + i, _mm256_andnot_ps(_mm256_castsi256_ps(zero), v));
    }
    return i;
}
