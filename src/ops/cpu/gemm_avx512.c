/* The AVX-512 micro-kernel: an 8 x 32 tile of C in 16 zmm accumulators.
 * Per k: two vector loads of packed B (columns j..j+15, j+16..j+31), then
 * for each row i a broadcast of A(i,k) and two fmas. Lane j of accumulator
 * (i, half) is C(i, 16*half + j)'s one fma chain, in ascending k: the order
 * of gemm_kernel.h. Edge tiles use masked loads and stores of C. */
#include <immintrin.h>

#include "ops/cpu/gemm_kernel.h"

enum { MR = REPRO_GEMM_AVX512_MR, NR = REPRO_GEMM_AVX512_NR };

static __mmask16 lanes(int n)
{
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

void repro_gemm_kernel_avx512(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs,
                              const float *b, float *c, int64_t ldc, int mr, int nr, int load_c,
                              const float *bias)
{
    /* rows past the edge read row 0 (in bounds; their lanes are never stored) */
    const float *row[MR];
    for (int i = 0; i < MR; i++)
        row[i] = a + (i < mr ? i : 0) * a_rs;
    const __mmask16 m0 = lanes(nr), m1 = lanes(nr - 16);
    __m512 acc[MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        if (load_c && i < mr) {
            acc[i][0] = _mm512_maskz_loadu_ps(m0, c + i * ldc);
            acc[i][1] = _mm512_maskz_loadu_ps(m1, c + i * ldc + 16);
        } else {
            acc[i][0] = _mm512_setzero_ps();
            acc[i][1] = _mm512_setzero_ps();
        }
    }
    for (int64_t k = 0, off = 0; k < kc; k++, off += a_cs) {
        const __m512 b0 = _mm512_load_ps(b + k * NR);
        const __m512 b1 = _mm512_load_ps(b + k * NR + 16);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            const __m512 ai = _mm512_set1_ps(row[i][off]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
    if (bias) {
        const __m512 bias0 = _mm512_maskz_loadu_ps(m0, bias);
        const __m512 bias1 = _mm512_maskz_loadu_ps(m1, bias + 16);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            acc[i][0] = _mm512_add_ps(acc[i][0], bias0);
            acc[i][1] = _mm512_add_ps(acc[i][1], bias1);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        if (i < mr) {
            _mm512_mask_storeu_ps(c + i * ldc, m0, acc[i][0]);
            _mm512_mask_storeu_ps(c + i * ldc + 16, m1, acc[i][1]);
        }
    }
}
