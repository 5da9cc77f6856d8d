/* The bf16 GEMM's operands decoded 16 values at a time (AVX-512): each
 * value rounded to bf16 and its block exponent, as decode1 in gemm_bf16.c
 * decodes one (tests/test_gemm_bf16.c checks the whole product against the
 * reference on every layout). Operands whose values run across the source's
 * rows (a transposed A, a k-contiguous B) pass through 16 x 16 transposes
 * in registers, so every load and store is a whole vector. */
#include <immintrin.h>
#include <stdint.h>

#include "ops/cpu/gemm_bf16_kernel.h"

enum { PANEL = REPRO_BF16_PANEL };

/* What the decoded values say about the operand: the lanes that were not
 * finite, and the range of the nonzero exponents. */
typedef struct seen {
    __mmask16 bad;
    __m512i lo, hi;
} seen;

static seen seen_nothing(void)
{
    return (seen){0, _mm512_set1_epi32(INT32_MAX), _mm512_set1_epi32(INT32_MIN)};
}

/* 16 values: their bf16 values (rounded to nearest, ties to even) and block
 * exponents (*e): max(E, 1) - 127, REPRO_BF16_ZERO_EXP for +-0. */
static inline __m512 decode16(__m512 x, __m512i *e, seen *s)
{
    const __m512i magnitude = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
    __m512i u = _mm512_castps_si512(x);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_and_si512(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb),
                                 _mm512_set1_epi32((int)0xffff0000u));
    __m512i abs_r = _mm512_and_si512(r, magnitude);
    s->bad |= _mm512_cmpge_epu32_mask(_mm512_and_si512(u, magnitude), inf) | _mm512_cmpge_epu32_mask(abs_r, inf);
    __mmask16 zero = _mm512_testn_epi32_mask(abs_r, abs_r);
    __m512i E = _mm512_srli_epi32(abs_r, 23);
    __m512i ev = _mm512_sub_epi32(_mm512_max_epi32(E, _mm512_set1_epi32(1)), _mm512_set1_epi32(127));
    ev = _mm512_mask_mov_epi32(ev, zero, _mm512_set1_epi32(REPRO_BF16_ZERO_EXP));
    s->hi = _mm512_mask_max_epi32(s->hi, (__mmask16)~zero, s->hi, ev);
    s->lo = _mm512_mask_min_epi32(s->lo, (__mmask16)~zero, s->lo, ev);
    *e = ev;
    return _mm512_castsi512_ps(r);
}

/* r[i][j] <- r[j][i] for 16 vectors of 16 lanes. */
static inline __attribute__((always_inline)) void transpose16(__m512i r[16])
{
    __m512i t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int g = 0; g < 16; g += 4) { /* u[g + c]: rows g..g+3 at column c of each 128-bit lane */
        u[g] = _mm512_unpacklo_epi64(t[g], t[g + 2]);
        u[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]);
        u[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
        u[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
    }
    for (int c = 0; c < 4; c++) {
        __m512i v = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x88), w = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xdd);
        __m512i v2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x88);
        __m512i w2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xdd);
        r[c] = _mm512_shuffle_i32x4(v, v2, 0x88);
        r[4 + c] = _mm512_shuffle_i32x4(w, w2, 0x88);
        r[8 + c] = _mm512_shuffle_i32x4(v, v2, 0xdd);
        r[12 + c] = _mm512_shuffle_i32x4(w, w2, 0xdd);
    }
}

static inline __mmask16 first(int64_t n)
{
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* Up to 16 values src[0], src[stride], ...: whole vectors where they lie
 * side by side, masked at an end (AMD cores run masked loads slowly). */
static inline __m512 load16(const float *src, int64_t stride, int64_t n)
{
    if (stride == 1)
        return n >= 16 ? _mm512_loadu_ps(src) : _mm512_maskz_loadu_ps(first(n), src);
    float v[16] = {0};
    for (int64_t i = 0; i < n && i < 16; i++)
        v[i] = src[i * stride];
    return _mm512_loadu_ps(v);
}

/* A 16 x 16 tile, row i = the up to n values at src + i * rs (stride cs);
 * rows from `rows` on are zero. Transposed, then decoded: f[j], e[j] hold
 * column j. */
static inline __attribute__((always_inline)) void tile16(__m512i f[16], __m512i e[16], const float *src, int64_t rs,
                                                         int64_t cs, int64_t rows, int64_t n, seen *s)
{
    for (int i = 0; i < 16; i++)
        f[i] = _mm512_castps_si512(i < rows ? load16(src + i * rs, cs, n) : _mm512_setzero_ps());
    transpose16(f);
    for (int j = 0; j < 16; j++)
        f[j] = _mm512_castps_si512(decode16(_mm512_castsi512_ps(f[j]), &e[j], s));
}

/* A's rows [m0, m1) into Af/Ae [M][Kp]. */
static void decode_a(const repro_bf16_operands *o, const repro_bf16_sources *src, int64_t m0, int64_t m1, seen *s)
{
    const int64_t Kp = o->Kp, K = src->K, rs = src->a_rs, cs = src->a_cs;
    float *Af = src->Af;
    int32_t *Ae = src->Ae;
    if (cs == 1 || rs != 1) { /* along the rows */
        for (int64_t m = m0; m < m1; m++)
            for (int64_t k0 = 0; k0 < Kp; k0 += 16) {
                __m512i e = _mm512_set1_epi32(REPRO_BF16_ZERO_EXP);
                __m512 f = k0 < K ? decode16(load16(src->A + m * rs + k0 * cs, cs, K - k0), &e, s)
                                  : _mm512_setzero_ps();
                _mm512_storeu_ps(Af + m * Kp + k0, f);
                _mm512_storeu_si512(Ae + m * Kp + k0, e);
            }
        return;
    }
    for (int64_t m = m0; m < m1; m += 16) /* transposed: 16 rows of A are a run of the source */
        for (int64_t k0 = 0; k0 < Kp; k0 += 16) {
            __m512i f[16], e[16];
            tile16(f, e, src->A + m + k0 * cs, cs, 1, K - k0, m1 - m, s);
            for (int j = 0; j < 16 && m + j < m1; j++) {
                _mm512_storeu_si512(Af + (m + j) * Kp + k0, f[j]);
                _mm512_storeu_si512(Ae + (m + j) * Kp + k0, e[j]);
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
        for (int64_t n = n0; n < n1; n += 16)
            for (int64_t k = 0; k < Kp; k++) {
                __m512i e = _mm512_set1_epi32(REPRO_BF16_ZERO_EXP);
                __m512 f = k < K && n < N ? decode16(load16(src->B + k * rs + n * cs, cs, N - n), &e, s)
                                          : _mm512_setzero_ps();
                int64_t at = repro_bf16_b_at(o, k, n);
                _mm512_storeu_ps(Bf + at, f);
                _mm256_storeu_si256((__m256i *)(Be + at), _mm512_cvtepi32_epi16(e));
            }
        return;
    }
    for (int64_t n = n0; n < n1; n += 16) /* k contiguous: 16 columns of B are runs of the source */
        for (int64_t k0 = 0; k0 < Kp; k0 += 16) {
            __m512i f[16], e[16];
            tile16(f, e, src->B + n * cs + k0, cs, 1, N - n, K - k0, s);
            for (int j = 0; j < 16; j++) {
                int64_t at = repro_bf16_b_at(o, k0 + j, n);
                _mm512_storeu_si512(Bf + at, f[j]);
                _mm256_storeu_si256((__m256i *)(Be + at), _mm512_cvtepi32_epi16(e[j]));
            }
        }
}

static void range_of(const seen *s, int32_t *lo, int32_t *hi)
{
    *lo = _mm512_reduce_min_epi32(s->lo);
    *hi = _mm512_reduce_max_epi32(s->hi);
}

int repro_bf16_decode_avx512(const repro_bf16_operands *o, const repro_bf16_sources *s, int64_t m0, int64_t m1,
                             int64_t n0, int64_t n1, repro_bf16_ranges *r)
{
    seen sa = seen_nothing(), sb = seen_nothing();
    decode_a(o, s, m0, m1, &sa);
    decode_b(o, s, n0, n1, &sb);
    range_of(&sa, &r->a_lo, &r->a_hi);
    range_of(&sb, &r->b_lo, &r->b_hi);
    return !(sa.bad | sb.bad);
}

int repro_bf16_c_range_avx512(const float *C, int64_t M, int64_t N, int64_t ldc, int32_t *lo, int32_t *hi)
{
    const __m512i inf = _mm512_set1_epi32(0x7f800000);
    __mmask16 bad = 0;
    __m512i e_lo = inf, e_hi = _mm512_setzero_si512(); /* exponent fields of nonzero values */
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n += 16) {
            __m512i u = _mm512_castps_si512(load16(C + m * ldc + n, 1, N - n)), E = _mm512_and_si512(u, inf);
            bad |= _mm512_cmpeq_epi32_mask(E, inf);
            __mmask16 nonzero = _mm512_test_epi32_mask(u, _mm512_set1_epi32(0x7fffffff));
            e_lo = _mm512_mask_min_epi32(e_lo, nonzero, e_lo, E);
            e_hi = _mm512_mask_max_epi32(e_hi, nonzero, e_hi, E);
        }
    int32_t elo = _mm512_reduce_min_epi32(e_lo) >> 23, ehi = _mm512_reduce_max_epi32(e_hi) >> 23;
    if (bad || elo > ehi) /* no nonzero value (or some not finite) */
        *lo = INT32_MAX, *hi = INT32_MIN;
    else /* subnormals (field 0) at -126 */
        *lo = (elo ? elo : 1) - 127, *hi = (ehi ? ehi : 1) - 127;
    return !bad;
}

void repro_bf16_narrow_avx512(const repro_bf16_operands *o, int8_t *Ae8, int8_t *Be8, int32_t a_bias,
                              int32_t b_bias, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const int64_t Kp = o->Kp;
    const __m512i ab = _mm512_set1_epi32(a_bias), bb = _mm512_set1_epi16((short)b_bias);
    int16_t order[32]; /* word w holds column 16h + 4L + q, w = 8L + 4h + q (repro_bf16_b8_at) */
    for (int w = 0; w < 32; w++)
        order[w] = (int16_t)(16 * (w / 4 % 2) + 4 * (w / 8) + w % 4);
    const __m512i columns = _mm512_loadu_si512(order);
    for (int64_t i = m0 * Kp; i < m1 * Kp; i += 16) /* saturating: zeros' -1000 - bias land on -128 */
        _mm_storeu_si128((__m128i *)(Ae8 + i),
                         _mm512_cvtsepi32_epi8(_mm512_sub_epi32(_mm512_loadu_si512(o->Ae + i), ab)));
    for (int64_t n = n0; n < n1; n += PANEL)
        for (int64_t k = 0; k < Kp; k += 2) {
            const int16_t *even = o->Be + repro_bf16_b_at(o, k, n), *odd = o->Be + repro_bf16_b_at(o, k + 1, n);
            __m512i lo = _mm512_subs_epi16(_mm512_loadu_si512(even), bb);
            __m512i hi = _mm512_subs_epi16(_mm512_loadu_si512(odd), bb);
            lo = _mm512_max_epi16(_mm512_min_epi16(lo, _mm512_set1_epi16(127)), _mm512_set1_epi16(-128));
            hi = _mm512_max_epi16(_mm512_min_epi16(hi, _mm512_set1_epi16(127)), _mm512_set1_epi16(-128));
            __m512i pair = _mm512_or_si512(_mm512_and_si512(lo, _mm512_set1_epi16(0xff)), _mm512_slli_epi16(hi, 8));
            _mm512_storeu_si512(Be8 + repro_bf16_b8_at(o, k, n), _mm512_permutexvar_epi16(columns, pair));
        }
}
