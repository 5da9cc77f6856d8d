/* Philox4x32-10 on 16 lanes: see philox_simd.h. The 32x32->64 products come
 * from _mm512_mul_epu32 on the even lanes and on the odd lanes shifted down;
 * lo/hi halves are put back in lane order by blends. */
#include <immintrin.h>

#include "rng/philox_simd.h"

static inline void mulhilo(__m512i a, __m512i m, __m512i *lo, __m512i *hi)
{
    __m512i even = _mm512_mul_epu32(a, m);
    __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    *lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
    *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
}

void repro_philox_blocks_avx512(repro_rng_key key, uint32_t b0, uint32_t c0, uint32_t c1, uint32_t c2,
                                uint32_t words[64])
{
    const __m512i m0 = _mm512_set1_epi32((int)0xD2511F53u), m1 = _mm512_set1_epi32((int)0xCD9E8D57u);
    __m512i x0 = _mm512_add_epi32(_mm512_set1_epi32((int)b0),
                                  _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    __m512i x1 = _mm512_set1_epi32((int)c0), x2 = _mm512_set1_epi32((int)c1), x3 = _mm512_set1_epi32((int)c2);
    uint32_t k0 = key.k[0], k1 = key.k[1];
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        __m512i lo0, hi0, lo1, hi1;
        mulhilo(x0, m0, &lo0, &hi0);
        mulhilo(x2, m1, &lo1, &hi1);
        __m512i y0 = _mm512_xor_si512(_mm512_xor_si512(hi1, x1), _mm512_set1_epi32((int)k0));
        __m512i y2 = _mm512_xor_si512(_mm512_xor_si512(hi0, x3), _mm512_set1_epi32((int)k1));
        x0 = y0;
        x1 = lo1;
        x2 = y2;
        x3 = lo0;
    }
    /* words[4q + j] = word j of lane q: a 4 x 16 transpose, in registers
     * (unpacks make each 128-bit lane one block's four words, then two
     * rounds of 128-bit shuffles put the blocks in order) */
    __m512i t0 = _mm512_unpacklo_epi32(x0, x1), t1 = _mm512_unpackhi_epi32(x0, x1);
    __m512i t2 = _mm512_unpacklo_epi32(x2, x3), t3 = _mm512_unpackhi_epi32(x2, x3);
    __m512i q0 = _mm512_unpacklo_epi64(t0, t2); /* blocks 0, 4, 8, 12 */
    __m512i q1 = _mm512_unpackhi_epi64(t0, t2); /* blocks 1, 5, 9, 13 */
    __m512i q2 = _mm512_unpacklo_epi64(t1, t3); /* blocks 2, 6, 10, 14 */
    __m512i q3 = _mm512_unpackhi_epi64(t1, t3); /* blocks 3, 7, 11, 15 */
    __m512i p0 = _mm512_shuffle_i32x4(q0, q1, _MM_SHUFFLE(1, 0, 1, 0)); /* 0 4 1 5 */
    __m512i p1 = _mm512_shuffle_i32x4(q2, q3, _MM_SHUFFLE(1, 0, 1, 0)); /* 2 6 3 7 */
    __m512i p2 = _mm512_shuffle_i32x4(q0, q1, _MM_SHUFFLE(3, 2, 3, 2)); /* 8 12 9 13 */
    __m512i p3 = _mm512_shuffle_i32x4(q2, q3, _MM_SHUFFLE(3, 2, 3, 2)); /* 10 14 11 15 */
    _mm512_storeu_si512(words, _mm512_shuffle_i32x4(p0, p1, _MM_SHUFFLE(2, 0, 2, 0)));
    _mm512_storeu_si512(words + 16, _mm512_shuffle_i32x4(p0, p1, _MM_SHUFFLE(3, 1, 3, 1)));
    _mm512_storeu_si512(words + 32, _mm512_shuffle_i32x4(p2, p3, _MM_SHUFFLE(2, 0, 2, 0)));
    _mm512_storeu_si512(words + 48, _mm512_shuffle_i32x4(p2, p3, _MM_SHUFFLE(3, 1, 3, 1)));
}
