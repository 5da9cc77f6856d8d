/* AVX2 twins of 2x2 stride-2 max pooling (pool2d_rows.h): 8 outputs a
 * step, each lane its own window. A step loads 16 floats of each of the
 * two input rows and splits them into the taps kw = 0 (even columns) and
 * kw = 1 (odd); the backward interleaves its results back the same way.
 * A row of n >= 8 windows ends with the step of its last 8 (overlapping
 * the one before, which writes the same values again); a shorter row takes
 * one whole step where the caller allows the spill, else one masked step
 * (masked loads and stores cost far more than plain ones on AMD cores: the
 * 7-window rows of a 14x14 plane ran at a third of the 14-window rows'
 * speed a window). */
#include <immintrin.h>

#include "ops/cpu/pool2d_rows.h"

/* Lane l is all ones where l < n. */
static __m256i lanes(int64_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* (e, o): e[j] = src[2j], o[j] = src[2j + 1], j < 8; only src[0, 2 * k)
 * is read (k <= 8 windows), the other lanes are +0. */
static void split_even_odd(const float *src, int64_t k, __m256 *e, __m256 *o)
{
    __m256 a, b;
    if (k == 8) {
        a = _mm256_loadu_ps(src);
        b = _mm256_loadu_ps(src + 8);
    } else {
        a = _mm256_maskload_ps(src, lanes(2 * k));
        b = _mm256_maskload_ps(src + 8, lanes(2 * k - 8));
    }
    /* [a0 a2 b0 b2 | a4 a6 b4 b6], then the middle 64-bit pairs swapped */
    *e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
    *o = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
}

/* dst[2j] = e[j], dst[2j + 1] = o[j], j < k (k <= 8): split_even_odd
 * undone; nothing past dst[2 * k) is written. */
static void store_interleaved(float *dst, int64_t k, __m256 e, __m256 o)
{
    __m256 lo = _mm256_unpacklo_ps(e, o), hi = _mm256_unpackhi_ps(e, o); /* [e0 o0 e1 o1 | e4 o4 e5 o5], ... */
    __m256 first = _mm256_permute2f128_ps(lo, hi, 0x20), second = _mm256_permute2f128_ps(lo, hi, 0x31);
    if (k == 8) {
        _mm256_storeu_ps(dst, first);
        _mm256_storeu_ps(dst + 8, second);
    } else {
        _mm256_maskstore_ps(dst, lanes(2 * k), first);
        _mm256_maskstore_ps(dst + 8, lanes(2 * k - 8), second);
    }
}

/* The written step "if (v > m || (v != v && m == m)) take v", lane by lane. */
static void take_if(__m256 v, __m256i iv, __m256 *m, __m256i *im)
{
    __m256 gt = _mm256_cmp_ps(v, *m, _CMP_GT_OQ);
    __m256 nan_over_num = _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), _mm256_cmp_ps(*m, *m, _CMP_ORD_Q));
    __m256 take = _mm256_or_ps(gt, nan_over_num);
    *m = _mm256_blendv_ps(*m, v, take);
    *im = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(*im), _mm256_castsi256_ps(iv), take));
}

/* The first window of the step that would start at j: j, or n - 8 for a
 * last step that would run past the row (a row shorter than 8: 0). */
static int64_t step_at(int64_t j, int64_t n)
{
    return j + 8 > n && n >= 8 ? n - 8 : j;
}

int64_t repro_maxpool2x2_forward_row_avx2(const float *plane, int64_t W, int32_t at, int64_t n, float *y,
                                          int32_t *am, int spill)
{
    const __m256i twice = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    const int32_t w = (int32_t)W;
    for (int64_t step = 0; step < n; step += 8) {
        const int64_t j = step_at(step, n);
        const int64_t k = n < 8 && !spill ? n : 8; /* windows this step */
        const int32_t a = at + 2 * (int32_t)j;
        __m256 t00, t01, t10, t11;
        split_even_odd(plane + a, k, &t00, &t01);
        split_even_odd(plane + a + W, k, &t10, &t11);
        const __m256i i00 = _mm256_add_epi32(_mm256_set1_epi32(a), twice);
        __m256 m = t00;
        __m256i im = i00;
        take_if(t01, _mm256_add_epi32(i00, _mm256_set1_epi32(1)), &m, &im);
        take_if(t10, _mm256_add_epi32(i00, _mm256_set1_epi32(w)), &m, &im);
        take_if(t11, _mm256_add_epi32(i00, _mm256_set1_epi32(w + 1)), &m, &im);
        if (k == 8) {
            _mm256_storeu_ps(y + j, m);
            if (am)
                _mm256_storeu_si256((__m256i *)(am + j), im);
        } else {
            _mm256_maskstore_ps(y + j, lanes(k), m);
            if (am)
                _mm256_maskstore_epi32(am + j, lanes(k), im);
        }
    }
    return n;
}

int64_t repro_maxpool2x2_backward_row_avx2(float *dx_plane, int64_t W, int32_t at, int64_t n, const float *dy,
                                           const int32_t *am, int spill)
{
    const __m256i twice = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    const int32_t w = (int32_t)W;
    for (int64_t step = 0; step < n; step += 8) {
        const int64_t j = step_at(step, n);
        const int64_t k = n < 8 && !spill ? n : 8; /* windows this step */
        const int32_t a = at + 2 * (int32_t)j;
        const __m256i i00 = _mm256_add_epi32(_mm256_set1_epi32(a), twice);
        __m256i amv;
        __m256 dyv;
        if (k == 8) {
            amv = _mm256_loadu_si256((const __m256i *)(am + j));
            dyv = _mm256_loadu_ps(dy + j);
        } else {
            amv = _mm256_maskload_epi32(am + j, lanes(k));
            dyv = _mm256_maskload_ps(dy + j, lanes(k));
        }
        const __m256 g = _mm256_add_ps(_mm256_setzero_ps(), dyv); /* +0.0f + dy */
        /* where the argmax is this tap: g, else +0 */
#define TAP(off) _mm256_and_ps(g, _mm256_castsi256_ps(_mm256_cmpeq_epi32(amv, _mm256_add_epi32(i00, _mm256_set1_epi32(off)))))
        store_interleaved(dx_plane + a, k, TAP(0), TAP(1));
        store_interleaved(dx_plane + a + W, k, TAP(w), TAP(w + 1));
#undef TAP
    }
    return n;
}
