/* Philox4x32-10 on 8 lanes: see philox_simd.h and philox_avx512.c. */
#include <immintrin.h>

#include "rng/philox_simd.h"

static inline void mulhilo(__m256i a, __m256i m, __m256i *lo, __m256i *hi)
{
    __m256i even = _mm256_mul_epu32(a, m);
    __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

void repro_philox_blocks_avx2(repro_rng_key key, uint32_t b0, uint32_t c0, uint32_t c1, uint32_t c2,
                              uint32_t words[32])
{
    const __m256i m0 = _mm256_set1_epi32((int)0xD2511F53u), m1 = _mm256_set1_epi32((int)0xCD9E8D57u);
    __m256i x0 = _mm256_add_epi32(_mm256_set1_epi32((int)b0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i x1 = _mm256_set1_epi32((int)c0), x2 = _mm256_set1_epi32((int)c1), x3 = _mm256_set1_epi32((int)c2);
    uint32_t k0 = key.k[0], k1 = key.k[1];
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        __m256i lo0, hi0, lo1, hi1;
        mulhilo(x0, m0, &lo0, &hi0);
        mulhilo(x2, m1, &lo1, &hi1);
        __m256i y0 = _mm256_xor_si256(_mm256_xor_si256(hi1, x1), _mm256_set1_epi32((int)k0));
        __m256i y2 = _mm256_xor_si256(_mm256_xor_si256(hi0, x3), _mm256_set1_epi32((int)k1));
        x0 = y0;
        x1 = lo1;
        x2 = y2;
        x3 = lo0;
    }
    /* words[4q + j] = word j of lane q: unpacks make each 128-bit lane one
     * block's four words, then the halves are put in block order */
    __m256i t0 = _mm256_unpacklo_epi32(x0, x1), t1 = _mm256_unpackhi_epi32(x0, x1);
    __m256i t2 = _mm256_unpacklo_epi32(x2, x3), t3 = _mm256_unpackhi_epi32(x2, x3);
    __m256i q0 = _mm256_unpacklo_epi64(t0, t2); /* blocks 0, 4 */
    __m256i q1 = _mm256_unpackhi_epi64(t0, t2); /* blocks 1, 5 */
    __m256i q2 = _mm256_unpacklo_epi64(t1, t3); /* blocks 2, 6 */
    __m256i q3 = _mm256_unpackhi_epi64(t1, t3); /* blocks 3, 7 */
    _mm256_storeu_si256((__m256i *)words, _mm256_permute2x128_si256(q0, q1, 0x20));
    _mm256_storeu_si256((__m256i *)(words + 8), _mm256_permute2x128_si256(q2, q3, 0x20));
    _mm256_storeu_si256((__m256i *)(words + 16), _mm256_permute2x128_si256(q0, q1, 0x31));
    _mm256_storeu_si256((__m256i *)(words + 24), _mm256_permute2x128_si256(q2, q3, 0x31));
}
