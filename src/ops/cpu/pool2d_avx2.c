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
#include "ops/cpu/transpose8_avx2.h"

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

int64_t repro_maxpool2x2_backward_pixels_avx2(float *dxT, int64_t ld, int64_t W, int64_t OH, int64_t OW, int64_t C,
                                              const float *dy, const int32_t *am)
{
    const int64_t Q = OH * OW, C8 = C / 8 * 8;
    if (Q < 8)
        return 0;
    /* the taps' offsets from a window's top-left one */
    const __m256i tap[4] = {_mm256_setzero_si256(), _mm256_set1_epi32(1), _mm256_set1_epi32((int32_t)W),
                            _mm256_set1_epi32((int32_t)W + 1)};
    /* 8 planes at a time, their windows in order: 16 streams of reads
     * (window by window across all planes, the prefetchers lost track) */
    const int64_t lines = (8 * Q * 4 + 63) / 64, steps = (Q + 7) / 8, per = (lines + steps - 1) / steps;
    for (int64_t c = 0; c < C8; c += 8) {
        const float *dyc = dy + c * Q;
        const int32_t *amc = am + c * Q;
        for (int64_t step = 0, oh = 0, ow = 0; step < Q; step += 8) {
            const int64_t q0 = step + 8 > Q ? Q - 8 : step;
            if (q0 != step)
                oh = q0 / OW, ow = q0 % OW;
            int32_t a[8]; /* each window's top-left tap */
            for (int w = 0; w < 8; w++) {
                a[w] = (int32_t)(2 * oh * W + 2 * ow);
                if (++ow == OW)
                    ow = 0, oh++;
            }
            /* the argmaxes less their window's top-left tap (lanes are
             * windows before the transpose), through a block on the stack,
             * the values in registers: both blocks in registers would take
             * all 16 and spill */
            const __m256i av = _mm256_loadu_si256((const __m256i *)a);
            /* the next 8 planes' dy and argmax (2 x 8 x Q words, contiguous), a
             * share of their lines each step */
            if (c + 8 < C8)
                for (int64_t l = step / 8 * per; l < (step / 8 + 1) * per && l < lines; l++) {
                    _mm_prefetch((const char *)(amc + 8 * Q) + 64 * l, _MM_HINT_T0);
                    _mm_prefetch((const char *)(dyc + 8 * Q) + 64 * l, _MM_HINT_T0);
                }
            __m256 g[8];
            float mt[8][8];
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                g[i] = _mm256_castsi256_ps(
                    _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(amc + i * Q + q0)), av));
            repro_transpose8_avx2(g);
#pragma GCC unroll 8
            for (int w = 0; w < 8; w++)
                _mm256_storeu_ps(mt[w], g[w]);
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                g[i] = _mm256_loadu_ps(dyc + i * Q + q0);
            repro_transpose8_avx2(g);
#pragma GCC unroll 8
            for (int w = 0; w < 8; w++) {
                const __m256 gw = _mm256_add_ps(_mm256_setzero_ps(), g[w]); /* +0.0f + dy */
                const __m256i mw = _mm256_loadu_si256((const __m256i *)mt[w]);
                float *d = dxT + a[w] * ld + c;
                _mm256_storeu_ps(d, _mm256_and_ps(gw, _mm256_castsi256_ps(_mm256_cmpeq_epi32(mw, tap[0]))));
                _mm256_storeu_ps(d + ld, _mm256_and_ps(gw, _mm256_castsi256_ps(_mm256_cmpeq_epi32(mw, tap[1]))));
                _mm256_storeu_ps(d + W * ld,
                                 _mm256_and_ps(gw, _mm256_castsi256_ps(_mm256_cmpeq_epi32(mw, tap[2]))));
                _mm256_storeu_ps(d + (W + 1) * ld,
                                 _mm256_and_ps(gw, _mm256_castsi256_ps(_mm256_cmpeq_epi32(mw, tap[3]))));
            }
        }
    }
    return C8;
}
