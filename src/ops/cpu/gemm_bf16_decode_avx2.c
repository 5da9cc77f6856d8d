/* The bf16 GEMM's operands decoded 8 values at a time (AVX2): the same
 * values as gemm_bf16_decode_avx512.c writes 16 at a time, and as decode1 in
 * gemm_bf16.c writes one at a time (tests/test_gemm_bf16.c checks all of
 * them). Operands whose values run across the source's rows pass through
 * 8 x 8 transposes in registers. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "ops/cpu/gemm_bf16_kernel.h"
#include "ops/cpu/transpose8_avx2.h"

/* What the decoded values say about the operand: lanes that were not
 * finite (all ones), and the range of the nonzero exponents. */
typedef struct seen {
    __m256i bad, lo, hi;
} seen;

static seen seen_nothing(void)
{
    return (seen){_mm256_setzero_si256(), _mm256_set1_epi32(INT32_MAX), _mm256_set1_epi32(INT32_MIN)};
}

/* 8 values: their bf16 values (rounded to nearest, ties to even) and block
 * exponents (*e): max(E, 1) - 127, REPRO_BF16_ZERO_EXP for +-0. */
static inline __m256 decode8(__m256 x, __m256i *e, seen *s)
{
    const __m256i magnitude = _mm256_set1_epi32(0x7fffffff), below_inf = _mm256_set1_epi32(0x7f7fffff);
    __m256i u = _mm256_castps_si256(x);
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_and_si256(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb),
                                 _mm256_set1_epi32((int)0xffff0000u));
    __m256i abs_r = _mm256_and_si256(r, magnitude);
    s->bad = _mm256_or_si256(s->bad, _mm256_cmpgt_epi32(_mm256_and_si256(u, magnitude), below_inf));
    s->bad = _mm256_or_si256(s->bad, _mm256_cmpgt_epi32(abs_r, below_inf));
    __m256i zero = _mm256_cmpeq_epi32(abs_r, _mm256_setzero_si256());
    __m256i ev = _mm256_sub_epi32(_mm256_max_epi32(_mm256_srli_epi32(abs_r, 23), _mm256_set1_epi32(1)),
                                  _mm256_set1_epi32(127));
    s->hi = _mm256_max_epi32(s->hi, _mm256_blendv_epi8(ev, _mm256_set1_epi32(INT32_MIN), zero));
    s->lo = _mm256_min_epi32(s->lo, _mm256_blendv_epi8(ev, _mm256_set1_epi32(INT32_MAX), zero));
    *e = _mm256_blendv_epi8(ev, _mm256_set1_epi32(REPRO_BF16_ZERO_EXP), zero);
    return _mm256_castsi256_ps(r);
}

/* Up to 8 values src[0], src[stride], ...: a whole vector where they lie
 * side by side, the rest through a copy (zeros past n). */
static inline __m256 load8(const float *src, int64_t stride, int64_t n)
{
    if (stride == 1 && n >= 8)
        return _mm256_loadu_ps(src);
    float v[8] = {0};
    for (int64_t i = 0; i < n && i < 8; i++)
        v[i] = src[i * stride];
    return _mm256_loadu_ps(v);
}

/* 8 int32 exponents as int16, in order. */
static inline void store_exps16(int16_t *dst, __m256i e)
{
    _mm_storeu_si128((__m128i *)dst, _mm_packs_epi32(_mm256_castsi256_si128(e), _mm256_extracti128_si256(e, 1)));
}

/* An 8 x 8 tile, row i = the up to n values at src + i * rs (stride cs);
 * rows from `rows` on are zero. Transposed, then decoded: f[j], e[j] hold
 * column j. */
static inline __attribute__((always_inline)) void tile8(__m256 f[8], __m256i e[8], const float *src, int64_t rs,
                                                        int64_t cs, int64_t rows, int64_t n, seen *s)
{
    for (int i = 0; i < 8; i++)
        f[i] = i < rows ? load8(src + i * rs, cs, n) : _mm256_setzero_ps();
    repro_transpose8_avx2(f);
    for (int j = 0; j < 8; j++)
        f[j] = decode8(f[j], &e[j], s);
}

/* A's rows [m0, m1) into Af/Ae [M][Kp]. */
static void decode_a(const repro_bf16_operands *o, const repro_bf16_sources *src, int64_t m0, int64_t m1, seen *s)
{
    const int64_t Kp = o->Kp, K = src->K, rs = src->a_rs, cs = src->a_cs;
    float *Af = src->Af;
    int32_t *Ae = src->Ae;
    if (cs == 1 || rs != 1) { /* along the rows */
        for (int64_t m = m0; m < m1; m++)
            for (int64_t k0 = 0; k0 < Kp; k0 += 8) {
                __m256i e = _mm256_set1_epi32(REPRO_BF16_ZERO_EXP);
                __m256 f = k0 < K ? decode8(load8(src->A + m * rs + k0 * cs, cs, K - k0), &e, s) : _mm256_setzero_ps();
                _mm256_storeu_ps(Af + m * Kp + k0, f);
                _mm256_storeu_si256((__m256i *)(Ae + m * Kp + k0), e);
            }
        return;
    }
    for (int64_t m = m0; m < m1; m += 8) /* transposed: 8 rows of A are a run of the source */
        for (int64_t k0 = 0; k0 < Kp; k0 += 8) {
            __m256 f[8];
            __m256i e[8];
            tile8(f, e, src->A + m + k0 * cs, cs, 1, K - k0, m1 - m, s);
            for (int j = 0; j < 8 && m + j < m1; j++) {
                _mm256_storeu_ps(Af + (m + j) * Kp + k0, f[j]);
                _mm256_storeu_si256((__m256i *)(Ae + (m + j) * Kp + k0), e[j]);
            }
        }
}

/* B's columns [n0, n1) into its panels (repro_bf16_b_at). */
static void decode_b(const repro_bf16_operands *o, const repro_bf16_sources *src, int64_t n0, int64_t n1, seen *s)
{
    const int64_t N = o->N, Kp = o->Kp, K = src->K, rs = src->b_rs, cs = src->b_cs;
    float *Bf = src->Bf;
    int16_t *Be = src->Be;
    if (rs != 1 || cs == 1) { /* along the rows of a panel */
        for (int64_t n = n0; n < n1; n += 8)
            for (int64_t k = 0; k < Kp; k++) {
                __m256i e = _mm256_set1_epi32(REPRO_BF16_ZERO_EXP);
                __m256 f = k < K && n < N ? decode8(load8(src->B + k * rs + n * cs, cs, N - n), &e, s)
                                          : _mm256_setzero_ps();
                int64_t at = repro_bf16_b_at(o, k, n);
                _mm256_storeu_ps(Bf + at, f);
                store_exps16(Be + at, e);
            }
        return;
    }
    for (int64_t n = n0; n < n1; n += 8) /* k contiguous: 8 columns of B are runs of the source */
        for (int64_t k0 = 0; k0 < Kp; k0 += 8) {
            __m256 f[8];
            __m256i e[8];
            tile8(f, e, src->B + n * cs + k0, cs, 1, N - n, K - k0, s);
            for (int j = 0; j < 8; j++) {
                int64_t at = repro_bf16_b_at(o, k0 + j, n);
                _mm256_storeu_ps(Bf + at, f[j]);
                store_exps16(Be + at, e[j]);
            }
        }
}

static int32_t reduce(__m256i v, int max)
{
    int32_t x[8], r;
    _mm256_storeu_si256((__m256i *)x, v);
    r = x[0];
    for (int i = 1; i < 8; i++)
        r = max ? (x[i] > r ? x[i] : r) : (x[i] < r ? x[i] : r);
    return r;
}

int repro_bf16_decode_avx2(const repro_bf16_operands *o, const repro_bf16_sources *s, int64_t m0, int64_t m1,
                           int64_t n0, int64_t n1, repro_bf16_ranges *r)
{
    seen sa = seen_nothing(), sb = seen_nothing();
    decode_a(o, s, m0, m1, &sa);
    decode_b(o, s, n0, n1, &sb);
    r->a_lo = reduce(sa.lo, 0), r->a_hi = reduce(sa.hi, 1);
    r->b_lo = reduce(sb.lo, 0), r->b_hi = reduce(sb.hi, 1);
    return _mm256_testz_si256(sa.bad, sa.bad) && _mm256_testz_si256(sb.bad, sb.bad);
}

int repro_bf16_c_range_avx2(const float *C, int64_t M, int64_t N, int64_t ldc, int32_t *lo, int32_t *hi)
{
    const __m256i inf = _mm256_set1_epi32(0x7f800000);
    __m256i bad = _mm256_setzero_si256();
    __m256i e_lo = inf, e_hi = _mm256_setzero_si256(); /* exponent fields of nonzero values */
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n += 8) {
            __m256i u = _mm256_castps_si256(load8(C + m * ldc + n, 1, N - n)), E = _mm256_and_si256(u, inf);
            bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(E, inf));
            __m256i zero = _mm256_cmpeq_epi32(_mm256_slli_epi32(u, 1), _mm256_setzero_si256());
            e_lo = _mm256_min_epi32(e_lo, _mm256_blendv_epi8(E, inf, zero));
            e_hi = _mm256_max_epi32(e_hi, _mm256_andnot_si256(zero, E));
        }
    int32_t elo = reduce(e_lo, 0) >> 23, ehi = reduce(e_hi, 1) >> 23;
    int any_bad = !_mm256_testz_si256(bad, bad);
    /* no nonzero value (or some not finite): e_lo stayed at infinity's field */
    if (any_bad || elo == 0xff)
        *lo = INT32_MAX, *hi = INT32_MIN;
    else /* subnormals (field 0) at -126 */
        *lo = (elo ? elo : 1) - 127, *hi = (ehi ? ehi : 1) - 127;
    return !any_bad;
}

void repro_bf16_narrow_avx2(const repro_bf16_operands *o, int8_t *Ae8, int8_t *Be8, int32_t a_bias, int32_t b_bias,
                            int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const int64_t Kp = o->Kp;
    const __m256i ab = _mm256_set1_epi32(a_bias), bb = _mm256_set1_epi16((short)b_bias);
    for (int64_t i = m0 * Kp; i < m1 * Kp; i += 16) { /* saturating: zeros' -1000 - bias land on -128 */
        __m256i lo = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(o->Ae + i)), ab);
        __m256i hi = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(o->Ae + i + 8)), ab);
        __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(lo), _mm256_extracti128_si256(lo, 1));
        __m128i x = _mm_packs_epi32(_mm256_castsi256_si128(hi), _mm256_extracti128_si256(hi, 1));
        _mm_storeu_si128((__m128i *)(Ae8 + i), _mm_packs_epi16(w, x));
    }
    for (int64_t n = n0; n < n1; n += REPRO_BF16_PANEL) /* a pair's columns in order */
        for (int64_t k = 0; k < Kp; k += 2)
            for (int h = 0; h < 2; h++) {
                const int16_t *even = o->Be + repro_bf16_b_at(o, k, n) + 16 * h;
                const int16_t *odd = o->Be + repro_bf16_b_at(o, k + 1, n) + 16 * h;
                __m256i lo = _mm256_subs_epi16(_mm256_loadu_si256((const __m256i *)even), bb);
                __m256i hi = _mm256_subs_epi16(_mm256_loadu_si256((const __m256i *)odd), bb);
                lo = _mm256_max_epi16(_mm256_min_epi16(lo, _mm256_set1_epi16(127)), _mm256_set1_epi16(-128));
                hi = _mm256_max_epi16(_mm256_min_epi16(hi, _mm256_set1_epi16(127)), _mm256_set1_epi16(-128));
                __m256i pair = _mm256_or_si256(_mm256_and_si256(lo, _mm256_set1_epi16(0xff)), _mm256_slli_epi16(hi, 8));
                _mm256_storeu_si256((__m256i *)(Be8 + repro_bf16_b_at(o, k, n) + 32 * h), pair);
            }
}
