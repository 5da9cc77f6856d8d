/* The bf16 GEMM's AVX2 kernel: a tile of 2 rows x 32 columns at once (eight
 * groups of 8 outputs, independent chains side by side), each block of 16
 * products in two passes (the alignment exponent, then the aligned sum).
 * Each value and exponent of B a pass loads serves both rows. Two versions
 * of a block, as in gemm_bf16_avx512.c: block_in_range for operands whose
 * exponents keep every lane where the steps are exact (o->in_range), and
 * block, which checks each lane. See gemm_bf16_kernel.h for why each step
 * is exact; tests/test_gemm_bf16.c checks the bits against
 * repro_gemm_bf16_ref. */
#include <immintrin.h>
#include <string.h>

#include "ops/cpu/gemm_bf16_kernel.h"

enum { G = REPRO_BF16_PANEL / 8, R = 2, BLOCK = REPRO_BF16_BLOCK, RANGE = 100, LOW = -2000 };

/* 2^(25 - top) and 2^(top - 25) for |top| <= RANGE: the exponent in place. */
static inline __m256 scale_of(__m256i top)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_sub_epi32(_mm256_set1_epi32(127 + 25), top), 23));
}

static inline __m256 unscale_of(__m256i top)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(top, _mm256_set1_epi32(127 - 25)), 23));
}

/* The exponents of c's lanes as repro_bf16_block_exp gives them:
 * max(E, 1) - 127 (subnormals: -126), REPRO_BF16_ZERO_EXP for +-0. */
static inline __m256i exps_of(__m256 c)
{
    __m256i bits = _mm256_castps_si256(c);
    __m256i E = _mm256_and_si256(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(0xff));
    __m256i e = _mm256_sub_epi32(_mm256_max_epi32(E, _mm256_set1_epi32(1)), _mm256_set1_epi32(127));
    __m256i zero = _mm256_cmpeq_epi32(_mm256_slli_epi32(bits, 1), _mm256_setzero_si256());
    return _mm256_blendv_epi8(e, _mm256_set1_epi32(REPRO_BF16_ZERO_EXP), zero);
}

/* A block's second pass: sum[r][g] += trunc(a * b * scale[r][g]) for its
 * 16 k, in order. */
static inline __attribute__((always_inline)) void second_pass(const float *bf, const float *a, int64_t Kp, int rows,
                                                              int64_t k0, __m256 scale[R][G], __m256i sum[R][G])
{
#pragma GCC unroll 2
    for (int k = 0; k < BLOCK; k++) {
        const float *b = bf + (k0 + k) * REPRO_BF16_PANEL;
#pragma GCC unroll 4
        for (int g = 0; g < G; g++) {
            __m256 bv = _mm256_loadu_ps(b + 8 * g);
#pragma GCC unroll 2
            for (int r = 0; r < rows; r++) {
                __m256 p = _mm256_mul_ps(_mm256_set1_ps(a[r * Kp + k]), bv); /* exact */
                sum[r][g] = _mm256_add_epi32(sum[r][g], _mm256_cvttps_epi32(_mm256_mul_ps(p, scale[r][g])));
            }
        }
    }
}

/* Pass one on int16 exponents, 16 lanes at once: top16[r][h] = each lane's
 * largest product exponent plus `bias`, or `floor` where none is larger
 * (or there is none). */
static inline __attribute__((always_inline)) void pass_one_int16(const repro_bf16_operands *o, const int16_t *be,
                                                                 int64_t m, int rows, int64_t k0, short floor,
                                                                 short bias, __m256i top16[R][G / 2])
{
    const int64_t Kp = o->Kp;
    const int32_t *ae = o->Ae + m * Kp + k0;
#pragma GCC unroll 2
    for (int r = 0; r < rows; r++)
        for (int h = 0; h < G / 2; h++)
            top16[r][h] = _mm256_set1_epi16(floor);
#pragma GCC unroll 16
    for (int k = 0; k < BLOCK; k++) {
        const int16_t *eb = be + (k0 + k) * REPRO_BF16_PANEL;
#pragma GCC unroll 2
        for (int h = 0; h < G / 2; h++) {
            __m256i e = _mm256_add_epi16(_mm256_loadu_si256((const __m256i *)(eb + 16 * h)), _mm256_set1_epi16(bias));
#pragma GCC unroll 2
            for (int r = 0; r < rows; r++)
                top16[r][h] = _mm256_max_epi16(top16[r][h], _mm256_add_epi16(_mm256_set1_epi16((short)ae[r * Kp + k]), e));
        }
    }
}

/* |sum| < 16 * 2^27 = 2^31; c's term (< 2^26) on top must not overflow:
 * lanes with larger sums take the slow path. */
static inline __m256i too_large(__m256i sum)
{
    const __m256i lim = _mm256_set1_epi32((1 << 30) + (1 << 29) + (1 << 28) + (1 << 27));
    return _mm256_cmpgt_epi32(_mm256_abs_epi32(sum), lim);
}

/* One in-range block (o->in_range) for `rows` (1 or R) rows x 32 outputs:
 * c + the 16 products, with MXCSR rounding toward zero as in block. As in
 * gemm_bf16_avx512.c's block_in_range, no lane needs checking but for the
 * int32 sum's size: the alignment exponent starts at -RANGE and is taken as
 * a float's exponent field, (t + 127) << 23. Returns the rows with lanes
 * whose sum is too large. */
static inline __attribute__((always_inline)) unsigned block_in_range(const repro_bf16_operands *o, const float *bf,
                                                                      const int16_t *be, const int8_t *be8, int64_t m,
                                                                      int rows, int narrow, int64_t k0,
                                                                      __m256 c[R][G])
{
    const int64_t Kp = o->Kp;
    const float *a = o->Af + m * Kp + k0;
    __m256i top16[R][G / 2]; /* top + 127 */
    if (narrow) { /* int8 exponents, two k a step: 32 lanes = 16 columns' pairs (repro_bf16_narrow_avx2) */
        const int8_t *ae = o->Ae8 + m * Kp + k0;
#pragma GCC unroll 2
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < G / 2; h++)
                top16[r][h] = _mm256_set1_epi8(-128);
#pragma GCC unroll 8
        for (int k = 0; k < BLOCK; k += 2)
#pragma GCC unroll 2
            for (int h = 0; h < G / 2; h++) {
                __m256i e = _mm256_loadu_si256((const __m256i *)(be8 + (k0 + k) * REPRO_BF16_PANEL + 32 * h));
#pragma GCC unroll 2
                for (int r = 0; r < rows; r++) {
                    int16_t pair;
                    memcpy(&pair, ae + r * Kp + k, sizeof pair);
                    top16[r][h] = _mm256_max_epi8(top16[r][h], _mm256_adds_epi8(_mm256_set1_epi16(pair), e));
                }
            }
#pragma GCC unroll 2
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < G / 2; h++) {
                __m256i both = _mm256_max_epi8(top16[r][h], _mm256_srli_epi16(top16[r][h], 8)); /* even bytes */
                __m256i t16 = _mm256_srai_epi16(_mm256_slli_epi16(both, 8), 8);
                __m256i none = _mm256_cmpeq_epi16(t16, _mm256_set1_epi16(-128));
                top16[r][h] = _mm256_blendv_epi8(_mm256_add_epi16(t16, _mm256_set1_epi16((short)(o->exp_bias + 127))),
                                                 _mm256_set1_epi16(127 - RANGE), none);
            }
    } else {
        pass_one_int16(o, be, m, rows, k0, 127 - RANGE, 127, top16);
    }
    __m256i field[R][G], sum[R][G];
#pragma GCC unroll 2
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 2
        for (int h = 0; h < G / 2; h++) {
            __m256i t16 = _mm256_slli_epi16(top16[r][h], 7); /* (top + 127) << 7: 27..227 fit */
            field[r][2 * h] = _mm256_cvtepu16_epi32(_mm256_castsi256_si128(t16));
            field[r][2 * h + 1] = _mm256_cvtepu16_epi32(_mm256_extracti128_si256(t16, 1));
        }
    __m256 scale[R][G];
#pragma GCC unroll 2
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 4
        for (int g = 0; g < G; g++) {
            /* exponent fields: c's is 0 for +-0, below every top's */
            __m256i c_field = _mm256_and_si256(_mm256_castps_si256(c[r][g]), _mm256_set1_epi32(0x7f800000));
            __m256i t = _mm256_max_epi32(_mm256_slli_epi32(field[r][g], 16), c_field);
            field[r][g] = t;
            __m256i scale_field = _mm256_sub_epi32(_mm256_set1_epi32((int)((127u + 25 + 127) << 23)), t);
            scale[r][g] = _mm256_castsi256_ps(scale_field);
            sum[r][g] = _mm256_setzero_si256();
        }
    second_pass(bf, a, Kp, rows, k0, scale, sum);
    unsigned need = 0;
#pragma GCC unroll 2
    for (int r = 0; r < rows; r++) {
        __m256i large = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int g = 0; g < G; g++) {
            large = _mm256_or_si256(large, too_large(sum[r][g]));
            __m256i s = _mm256_add_epi32(sum[r][g], _mm256_cvttps_epi32(_mm256_mul_ps(c[r][g], scale[r][g])));
            /* 2^(t - 25): the exponent field of t less 25 */
            __m256 unscale = _mm256_castsi256_ps(_mm256_sub_epi32(field[r][g], _mm256_set1_epi32(25 << 23)));
            c[r][g] = _mm256_mul_ps(_mm256_cvtepi32_ps(s), unscale); /* rounds toward zero */
        }
        need |= (unsigned)!_mm256_testz_si256(large, large) << r;
    }
    return need;
}

/* One block for `rows` (1 or R) rows x 32 outputs: c + the 16 products.
 * Runs with MXCSR rounding toward zero (see tile_rows): the one conversion
 * that rounds, int32 -> float, is then the model's final rounding; every
 * other step is exact in any mode. Returns the lanes that need the model. */
static inline __attribute__((always_inline)) unsigned block(const repro_bf16_operands *o, const float *bf,
                                                             const int16_t *be, int64_t m, int rows, int64_t k0,
                                                             __m256 c[R][G])
{
    const int64_t Kp = o->Kp;
    const float *a = o->Af + m * Kp + k0;
    __m256i top16[R][G / 2], top[R][G]; /* pass one on int16: 16 lanes at once */
    pass_one_int16(o, be, m, rows, k0, LOW, 0, top16);
    for (int r = 0; r < rows; r++)
        for (int h = 0; h < G / 2; h++) {
            top[r][2 * h] = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(top16[r][h]));
            top[r][2 * h + 1] = _mm256_cvtepi16_epi32(_mm256_extracti128_si256(top16[r][h], 1));
        }
    __m256i slow[R], sum[R][G];
    __m256 scale[R][G];
    for (int r = 0; r < rows; r++) {
        slow[r] = _mm256_setzero_si256();
        for (int g = 0; g < G; g++) {
            __m256i t = _mm256_max_epi32(top[r][g], exps_of(c[r][g]));
            /* lanes with only zero terms: top stays very low, their sum is +0 */
            t = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(-500), t), t);
            __m256i out_of_range = _mm256_cmpgt_epi32(_mm256_abs_epi32(t), _mm256_set1_epi32(RANGE));
            slow[r] = _mm256_or_si256(slow[r], out_of_range);
            top[r][g] = _mm256_andnot_si256(out_of_range, t);
            scale[r][g] = scale_of(top[r][g]);
            sum[r][g] = _mm256_setzero_si256();
        }
    }
    second_pass(bf, a, Kp, rows, k0, scale, sum);
    unsigned need = 0;
    for (int r = 0; r < rows; r++) {
        __m256i slow_r = slow[r];
        for (int g = 0; g < G; g++) {
            slow_r = _mm256_or_si256(slow_r, too_large(sum[r][g]));
            __m256i s = _mm256_add_epi32(sum[r][g], _mm256_cvttps_epi32(_mm256_mul_ps(c[r][g], scale[r][g])));
            c[r][g] = _mm256_mul_ps(_mm256_cvtepi32_ps(s), unscale_of(top[r][g])); /* rounds toward zero */
        }
        need |= (unsigned)!_mm256_testz_si256(slow_r, slow_r) << r;
    }
    return need;
}

/* The rare lanes out of the kernel's range: this block again, through the
 * model, from the c each lane had before it. */
static void redo(const repro_bf16_operands *o, int64_t m, int64_t n0, int64_t k0, __m256 *c, const __m256 *c_before)
{
    for (int g = 0; g < G; g++) {
        float rv[8], cv[8];
        _mm256_storeu_ps(rv, c[g]);
        _mm256_storeu_ps(cv, c_before[g]);
        for (int j = 0; j < 8; j++)
            if (n0 + 8 * g + j < o->N)
                rv[j] = repro_bf16_block_slow(o, m, n0 + 8 * g + j, k0, cv[j]);
        c[g] = _mm256_loadu_ps(rv);
    }
}

/* Which block a tile runs: any exponents, in range, in range as int8. */
enum { ANY, IN_RANGE, NARROW };

/* rows (1 or R) rows of a panel over all of K; c: in, then out. */
static inline __attribute__((always_inline)) void tile(const repro_bf16_operands *o, int64_t m, int rows,
                                                       int kind, int64_t n0, __m256 c[R][G])
{
    const int64_t at = repro_bf16_b_at(o, 0, n0);
    for (int64_t k0 = 0; k0 < o->Kp; k0 += BLOCK) {
        __m256 before[R][G];
        memcpy(before, c, sizeof before);
        unsigned need = kind == ANY ? block(o, o->Bf + at, o->Be + at, m, rows, k0, c)
                                    : block_in_range(o, o->Bf + at, o->Be + at, kind == NARROW ? o->Be8 + at : NULL,
                                                     m, rows, kind == NARROW, k0, c);
        if (need) /* rare */
            for (int r = 0; r < rows; r++)
                if (need >> r & 1)
                    redo(o, m + r, n0, k0, c[r], before[r]);
    }
}

/* Not inlined, so no floating-point step of the caller moves into the
 * stretch where MXCSR rounds toward zero. */
#define TILE(rows, kind, name)                                                                                    \
    static __attribute__((noinline)) void name(const repro_bf16_operands *o, int64_t m, int64_t n0, __m256 c[R][G])  \
    {                                                                                                                 \
        tile(o, m, rows, kind, n0, c);                                                                                \
    }
TILE(1, ANY, tile1)
TILE(2, ANY, tile2)
TILE(1, IN_RANGE, tile1_in_range)
TILE(2, IN_RANGE, tile2_in_range)
TILE(1, NARROW, tile1_narrow)
TILE(2, NARROW, tile2_narrow)

typedef void (*tile_fn)(const repro_bf16_operands *o, int64_t m, int64_t n0, __m256 c[R][G]);

/* Panels of 32 columns outermost, so a panel of B (Kp x 32 values and
 * exponents) stays in cache while every row of A passes over it. */
void repro_gemm_bf16_rows_avx2(const repro_bf16_operands *o, int64_t m0, int64_t m1)
{
    const unsigned csr = _mm_getcsr();
    /* round toward zero, no flush-to-zero or denormals-are-zero */
    const unsigned rz = (csr & ~0xe040u) | 0x6000u;
    const tile_fn tiles[R + 1] = {NULL, o->narrow ? tile1_narrow : o->in_range ? tile1_in_range : tile1,
                                  o->narrow ? tile2_narrow : o->in_range ? tile2_in_range : tile2};
    float tmp[R][REPRO_BF16_PANEL];
    for (int64_t n0 = 0; n0 < o->Np; n0 += REPRO_BF16_PANEL)
        for (int64_t m = m0; m < m1; m += R) {
            int rows = m1 - m < R ? (int)(m1 - m) : R;
            int w = o->N - n0 < REPRO_BF16_PANEL ? (int)(o->N - n0) : REPRO_BF16_PANEL;
            memset(tmp, 0, sizeof tmp);
            if (o->accumulate)
                for (int r = 0; r < rows; r++)
                    memcpy(tmp[r], o->C + (m + r) * o->ldc + n0, sizeof(float) * (size_t)w);
            __m256 c[R][G];
            for (int r = 0; r < R; r++)
                for (int g = 0; g < G; g++)
                    c[r][g] = _mm256_loadu_ps(tmp[r] + 8 * g);
            _mm_setcsr(rz);
            tiles[rows](o, m, n0, c);
            _mm_setcsr(csr);
            for (int r = 0; r < R; r++)
                for (int g = 0; g < G; g++)
                    _mm256_storeu_ps(tmp[r] + 8 * g, c[r][g]);
            for (int r = 0; r < rows; r++) {
                float *crow = o->C + (m + r) * o->ldc + n0;
                if (o->bias) /* a branch: no load from a NULL bias, however masked */
                    for (int j = 0; j < w; j++)
                        crow[j] = tmp[r][j] + o->bias[n0 + j];
                else
                    memcpy(crow, tmp[r], sizeof(float) * (size_t)w);
            }
        }
}
