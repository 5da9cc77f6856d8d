/* The 8 x 8 transpose in AVX2 registers that the AVX2 files share (private
 * to src/ops/cpu/ *_avx2.c, compiled with -mavx2): r[t] is row t of the
 * block on entry and column t on return, r[t][j] <- r[j][t]. The classic
 * three stages: unpack pairs of rows, shuffle pairs of pairs, swap 128-bit
 * halves. It moves 32-bit words and does no arithmetic, so it carries any
 * bits, int32 or float, NaN payloads included. */
#ifndef REPRO_OPS_CPU_TRANSPOSE8_AVX2_H
#define REPRO_OPS_CPU_TRANSPOSE8_AVX2_H

#include <immintrin.h>

static inline __attribute__((always_inline)) void repro_transpose8_avx2(__m256 r[8])
{
    __m256 t[8], u[8];
#pragma GCC unroll 4
    for (int i = 0; i < 8; i += 2) { /* [r_i0 r_i+1,0 r_i1 r_i+1,1 | the same for columns 4, 5], then 2, 3 | 6, 7 */
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 2
    for (int g = 0; g < 8; g += 4) { /* u[g + c]: rows g..g+3 at column c of each 128-bit half */
        u[g] = _mm256_shuffle_ps(t[g], t[g + 2], 0x44);
        u[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], 0xEE);
        u[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0x44);
        u[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
    }
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
}

#endif
