/* The AVX2 micro-kernel: a 6 x 16 tile of C in 12 ymm accumulators.
 * Per k: two vector loads of packed B (columns j..j+7, j+8..j+15), then for
 * each row i a broadcast of A(i,k) and two fmas. Lane j of accumulator
 * (i, half) is C(i, 8*half + j)'s one fma chain, in ascending k: the order
 * of gemm_kernel.h. Edge tiles (nr < 16) use masked loads and stores of C;
 * full tiles plain ones (masked stores are slow on some cores). */
#include <immintrin.h>

#include "ops/cpu/gemm_kernel.h"

enum { MR = REPRO_GEMM_AVX2_MR, NR = REPRO_GEMM_AVX2_NR };

/* Lane l is all ones where l < n. */
static __m256i lanes(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

void repro_gemm_kernel_avx2(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs,
                            const float *b, float *c, int64_t ldc, int mr, int nr, int load_c,
                            const float *bias)
{
    /* rows past the edge read row 0 (in bounds; their lanes are never stored) */
    const float *row[MR];
    for (int i = 0; i < MR; i++)
        row[i] = a + (i < mr ? i : 0) * a_rs;
    const int full = nr == NR;
    const __m256i m0 = lanes(nr), m1 = lanes(nr - 8);
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        if (load_c && i < mr && full) {
            acc[i][0] = _mm256_loadu_ps(c + i * ldc);
            acc[i][1] = _mm256_loadu_ps(c + i * ldc + 8);
        } else if (load_c && i < mr) {
            acc[i][0] = _mm256_maskload_ps(c + i * ldc, m0);
            acc[i][1] = _mm256_maskload_ps(c + i * ldc + 8, m1);
        } else {
            acc[i][0] = _mm256_setzero_ps();
            acc[i][1] = _mm256_setzero_ps();
        }
    }
    for (int64_t k = 0, off = 0; k < kc; k++, off += a_cs) {
        const __m256 b0 = _mm256_load_ps(b + k * NR);
        const __m256 b1 = _mm256_load_ps(b + k * NR + 8);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            const __m256 ai = _mm256_broadcast_ss(row[i] + off);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
    if (bias) {
        const __m256 bias0 = _mm256_maskload_ps(bias, m0);
        const __m256 bias1 = _mm256_maskload_ps(bias + 8, m1);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            acc[i][0] = _mm256_add_ps(acc[i][0], bias0);
            acc[i][1] = _mm256_add_ps(acc[i][1], bias1);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        if (i < mr && full) {
            _mm256_storeu_ps(c + i * ldc, acc[i][0]);
            _mm256_storeu_ps(c + i * ldc + 8, acc[i][1]);
        } else if (i < mr) {
            _mm256_maskstore_ps(c + i * ldc, m0, acc[i][0]);
            _mm256_maskstore_ps(c + i * ldc + 8, m1, acc[i][1]);
        }
    }
}

/* out[t][j] = in[j][t]: the classic three-stage 8 x 8 transpose. */
static void transpose8(__m256 r[8])
{
    __m256 t[8], s[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int h = 0; h < 2; h++) {
        s[4 * h + 0] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
        s[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xEE);
        s[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
        s[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
    }
}

void repro_gemm_pack_bt_avx2(float *dst, const float *src, int64_t cs, int64_t kc8, int w8, int nr)
{
    for (int j = 0; j < w8; j += 8)
        for (int64_t k = 0; k < kc8; k += 8) {
            __m256 r[8];
            for (int t = 0; t < 8; t++)
                r[t] = _mm256_loadu_ps(src + (j + t) * cs + k);
            transpose8(r);
            for (int t = 0; t < 8; t++)
                _mm256_storeu_ps(dst + (k + t) * nr + j, r[t]);
        }
}
