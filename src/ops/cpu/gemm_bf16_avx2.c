/* The bf16 GEMM's AVX2 kernel: 32 outputs of a row at once, each block of 16
 * products in two passes (the alignment exponent, then the aligned sum).
 * See gemm_bf16_kernel.h for why each step is exact; tests/test_gemm_bf16.c
 * checks the bits against repro_gemm_bf16_ref. */
#include <immintrin.h>
#include <string.h>

#include "ops/cpu/gemm_bf16_kernel.h"

enum { GROUPS = REPRO_BF16_PANEL / 8, RANGE = 100 };

/* 2^e for |e| <= 127 - 2, as floats: e's biased exponent in place. */
static inline __m256 pow2(__m256i e)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23));
}

/* The exponents of c's lanes as repro_bf16_block_exp gives them. */
static inline __m256i exps_of(__m256 c)
{
    __m256i bits = _mm256_castps_si256(c);
    __m256i E = _mm256_and_si256(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(0xff));
    __m256i frac = _mm256_and_si256(bits, _mm256_set1_epi32(0x7fffff));
    __m256i e = _mm256_sub_epi32(E, _mm256_set1_epi32(127));
    __m256i sub = _mm256_blendv_epi8(_mm256_set1_epi32(REPRO_BF16_ZERO_EXP), _mm256_set1_epi32(-126),
                                     _mm256_cmpgt_epi32(frac, _mm256_setzero_si256()));
    return _mm256_blendv_epi8(e, sub, _mm256_cmpeq_epi32(E, _mm256_setzero_si256()));
}

/* int32 -> float rounded toward zero: round to nearest, then step back one
 * ulp where that went up in magnitude (|s| < 2^31 - 2^26, so the float
 * converts back exactly). */
static inline __m256 to_float_rz(__m256i s)
{
    __m256 f = _mm256_cvtepi32_ps(s);
    __m256i back = _mm256_cvttps_epi32(f);
    __m256i pos = _mm256_cmpgt_epi32(s, _mm256_set1_epi32(-1));
    __m256i up = _mm256_blendv_epi8(_mm256_cmpgt_epi32(s, back), _mm256_cmpgt_epi32(back, s), pos);
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(f), up)); /* up is -1 where it went up */
}

/* One block for 32 outputs (four groups of 8, independent chains side by
 * side): c + the 16 products of row m, columns n0.. */
static void block32(const repro_bf16_operands *o, int64_t m, int64_t n0, int64_t k0, __m256 c[GROUPS])
{
    const float *a = o->Af + m * o->Kp + k0;
    const int32_t *ae = o->Ae + m * o->Kp + k0;
    __m256i top[GROUPS], sum[GROUPS];
    __m256 scale[GROUPS];
    for (int g = 0; g < GROUPS; g++)
        top[g] = exps_of(c[g]);
    for (int k = 0; k < REPRO_BF16_BLOCK; k++) {
        if (ae[k] == REPRO_BF16_ZERO_EXP)
            continue;
        const int32_t *eb = o->Be + (k0 + k) * o->Np + n0;
        __m256i ea = _mm256_set1_epi32(ae[k]);
        for (int g = 0; g < GROUPS; g++)
            top[g] = _mm256_max_epi32(top[g], _mm256_add_epi32(ea, _mm256_loadu_si256((const __m256i *)(eb + 8 * g))));
    }
    __m256i slow = _mm256_setzero_si256();
    for (int g = 0; g < GROUPS; g++) {
        /* lanes with only zero terms: top stays very low, their sum is +0 */
        top[g] = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(-500), top[g]), top[g]);
        __m256i out_of_range = _mm256_or_si256(_mm256_cmpgt_epi32(top[g], _mm256_set1_epi32(RANGE)),
                                               _mm256_cmpgt_epi32(_mm256_set1_epi32(-RANGE), top[g]));
        slow = _mm256_or_si256(slow, out_of_range);
        top[g] = _mm256_andnot_si256(out_of_range, top[g]);
        scale[g] = pow2(_mm256_sub_epi32(_mm256_set1_epi32(25), top[g]));
        sum[g] = _mm256_setzero_si256();
    }
    for (int k = 0; k < REPRO_BF16_BLOCK; k++) {
        if (ae[k] == REPRO_BF16_ZERO_EXP)
            continue;
        const float *b = o->Bf + (k0 + k) * o->Np + n0;
        __m256 av = _mm256_set1_ps(a[k]);
        for (int g = 0; g < GROUPS; g++) {
            __m256 p = _mm256_mul_ps(av, _mm256_loadu_ps(b + 8 * g)); /* exact */
            sum[g] = _mm256_add_epi32(sum[g], _mm256_cvttps_epi32(_mm256_mul_ps(p, scale[g])));
        }
    }
    /* |sum| < 16 * 2^27 = 2^31; c's term (< 2^26) on top must leave room for
     * to_float_rz (|s| < 2^31 - 2^26): larger sums take the slow path */
    const __m256i lim = _mm256_set1_epi32((1 << 30) + (1 << 29) + (1 << 28) + (1 << 27));
    const __m256i neg_lim = _mm256_sub_epi32(_mm256_setzero_si256(), lim);
    __m256 r[GROUPS];
    for (int g = 0; g < GROUPS; g++) {
        slow = _mm256_or_si256(slow, _mm256_or_si256(_mm256_cmpgt_epi32(sum[g], lim), _mm256_cmpgt_epi32(neg_lim, sum[g])));
        __m256i s = _mm256_add_epi32(sum[g], _mm256_cvttps_epi32(_mm256_mul_ps(c[g], scale[g])));
        r[g] = _mm256_mul_ps(to_float_rz(s), pow2(_mm256_sub_epi32(top[g], _mm256_set1_epi32(25))));
    }
    if (!_mm256_testz_si256(slow, slow)) { /* rare: redo this block's lanes that need it with the model */
        for (int g = 0; g < GROUPS; g++) {
            float rv[8], cv[8];
            _mm256_storeu_ps(rv, r[g]);
            _mm256_storeu_ps(cv, c[g]);
            for (int j = 0; j < 8; j++)
                if (n0 + 8 * g + j < o->N)
                    rv[j] = repro_bf16_block_slow(o, m, n0 + 8 * g + j, k0, cv[j]);
            r[g] = _mm256_loadu_ps(rv);
        }
    }
    for (int g = 0; g < GROUPS; g++)
        c[g] = r[g];
}

/* Panels of 32 columns outermost, so a panel of B (Kp x 32 values and
 * exponents) stays in cache while every row of A passes over it. */
void repro_gemm_bf16_rows_avx2(const repro_bf16_operands *o, int64_t m0, int64_t m1)
{
    float tmp[REPRO_BF16_PANEL];
    for (int64_t n0 = 0; n0 < o->Np; n0 += REPRO_BF16_PANEL)
        for (int64_t m = m0; m < m1; m++) {
            int w = o->N - n0 < REPRO_BF16_PANEL ? (int)(o->N - n0) : REPRO_BF16_PANEL;
            float *crow = o->C + m * o->ldc + n0;
            memset(tmp, 0, sizeof tmp);
            if (o->accumulate)
                memcpy(tmp, crow, sizeof(float) * (size_t)w);
            __m256 c[GROUPS];
            for (int g = 0; g < GROUPS; g++)
                c[g] = _mm256_loadu_ps(tmp + 8 * g);
            for (int64_t k0 = 0; k0 < o->Kp; k0 += REPRO_BF16_BLOCK)
                block32(o, m, n0, k0, c);
            for (int g = 0; g < GROUPS; g++)
                _mm256_storeu_ps(tmp + 8 * g, c[g]);
            for (int j = 0; j < w; j++)
                crow[j] = o->bias ? tmp[j] + o->bias[n0 + j] : tmp[j];
        }
}
