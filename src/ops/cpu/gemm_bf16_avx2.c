/* The bf16 GEMM's AVX2 kernel: 8 outputs of a row at once, each block of 16
 * products in two passes (the alignment exponent, then the aligned sum).
 * See gemm_bf16_kernel.h for why each step is exact; tests/test_gemm_bf16.c
 * checks the bits against repro_gemm_bf16_ref. */
#include <immintrin.h>
#include <string.h>

#include "ops/cpu/gemm_bf16_kernel.h"

enum { LANES = 8, RANGE = 100 };

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

/* One block for 8 outputs: c + the 16 products of row m, columns n0.. */
static __m256 block8(const repro_bf16_operands *o, int64_t m, int64_t n0, int64_t k0, __m256 c)
{
    const float *a = o->Af + m * o->Kp + k0;
    const int32_t *ae = o->Ae + m * o->Kp + k0;
    __m256i top = exps_of(c);
    for (int k = 0; k < REPRO_BF16_BLOCK; k++) {
        if (ae[k] == REPRO_BF16_ZERO_EXP)
            continue;
        __m256i eb = _mm256_loadu_si256((const __m256i *)(o->Be + (k0 + k) * o->Np + n0));
        top = _mm256_max_epi32(top, _mm256_add_epi32(_mm256_set1_epi32(ae[k]), eb));
    }
    /* lanes with only zero terms: top stays very low, their sum is +0 */
    __m256i all_zero = _mm256_cmpgt_epi32(_mm256_set1_epi32(-500), top);
    top = _mm256_andnot_si256(all_zero, top);
    __m256i out_of_range = _mm256_or_si256(_mm256_cmpgt_epi32(top, _mm256_set1_epi32(RANGE)),
                                           _mm256_cmpgt_epi32(_mm256_set1_epi32(-RANGE), top));
    __m256i safe_top = _mm256_andnot_si256(out_of_range, top);
    __m256 scale = pow2(_mm256_sub_epi32(_mm256_set1_epi32(25), safe_top));
    __m256i sum = _mm256_setzero_si256();
    for (int k = 0; k < REPRO_BF16_BLOCK; k++) {
        if (ae[k] == REPRO_BF16_ZERO_EXP)
            continue;
        __m256 b = _mm256_loadu_ps(o->Bf + (k0 + k) * o->Np + n0);
        __m256 p = _mm256_mul_ps(_mm256_set1_ps(a[k]), b); /* exact */
        sum = _mm256_add_epi32(sum, _mm256_cvttps_epi32(_mm256_mul_ps(p, scale)));
    }
    /* |sum| < 16 * 2^27 = 2^31; c's term (< 2^26) on top must leave room for
     * to_float_rz (|s| < 2^31 - 2^26): larger sums take the slow path */
    const __m256i lim = _mm256_set1_epi32((1 << 30) + (1 << 29) + (1 << 28) + (1 << 27));
    __m256i big = _mm256_or_si256(_mm256_cmpgt_epi32(sum, lim), _mm256_cmpgt_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), lim), sum));
    sum = _mm256_add_epi32(sum, _mm256_cvttps_epi32(_mm256_mul_ps(c, scale)));
    __m256 r = _mm256_mul_ps(to_float_rz(sum), pow2(_mm256_sub_epi32(safe_top, _mm256_set1_epi32(25))));
    __m256i slow = _mm256_or_si256(out_of_range, big);
    if (!_mm256_testz_si256(slow, slow)) { /* the rare lanes: the model itself */
        float rv[LANES], cv[LANES];
        int32_t sv[LANES];
        _mm256_storeu_ps(rv, r);
        _mm256_storeu_ps(cv, c);
        _mm256_storeu_si256((__m256i *)sv, slow);
        for (int j = 0; j < LANES; j++)
            if (sv[j] && n0 + j < o->N)
                rv[j] = repro_bf16_block_slow(o, m, n0 + j, k0, cv[j]);
        r = _mm256_loadu_ps(rv);
    }
    return r;
}

void repro_gemm_bf16_rows_avx2(const repro_bf16_operands *o, int64_t m0, int64_t m1)
{
    float tmp[LANES];
    for (int64_t m = m0; m < m1; m++)
        for (int64_t n0 = 0; n0 < o->Np; n0 += LANES) {
            int w = o->N - n0 < LANES ? (int)(o->N - n0) : LANES;
            float *crow = o->C + m * o->ldc + n0;
            memset(tmp, 0, sizeof tmp);
            if (o->accumulate)
                memcpy(tmp, crow, sizeof(float) * (size_t)w);
            __m256 c = _mm256_loadu_ps(tmp);
            for (int64_t k0 = 0; k0 < o->Kp; k0 += REPRO_BF16_BLOCK)
                c = block8(o, m, n0, k0, c);
            _mm256_storeu_ps(tmp, c);
            for (int j = 0; j < w; j++)
                crow[j] = o->bias ? tmp[j] + o->bias[n0 + j] : tmp[j];
        }
}
