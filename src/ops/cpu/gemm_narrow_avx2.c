/* The exact GEMM's kernel for narrow products on AVX2: C is M x N with N at
 * most REPRO_GEMM_NARROW_N columns (a classifier's last layer forward,
 * y = x W^T with 10 classes). The tile kernels (gemm_avx2.c) put columns
 * in their lanes, so 10 columns fill 10 of 16 and 6 fmas in 16 do nothing;
 * this kernel puts 8 rows of C in the lanes instead, and N accumulators
 * hold one column each:
 *
 *   acc[n] = C(m0..m0+7, n):  for k ascending: acc[n] = fma(A(m0..m0+7, k), B(k, n), acc[n])
 *
 * Where A's rows run along k (the forward's x), its 8 rows are read in
 * place and transposed 4 k at a time in registers, beside the fmas (a
 * separate packing pass took nearly as long as the products); other
 * layouts, and a last panel of fewer rows, come packed k by k
 * (panel[k][8]). B comes packed as bp[k][N], so a k is one vector of A and
 * N broadcasts at fixed offsets. Columns 0..7 of C go back through the
 * 8 x 8 transpose of transpose8_avx2.h. Each C(m, n) is still
 * one fma chain over k in ascending order, from C (accumulate) or +0, with
 * the bias added at the end: gemm.h's order, so the bits are those of
 * repro_gemm_ref (tests/test_gemm.c, narrow_outputs). */
#include <immintrin.h>
#include <string.h>

#include "ops/cpu/gemm_kernel.h"
#include "ops/cpu/transpose8_avx2.h"

enum { ROWS = 8, NMAX = REPRO_GEMM_NARROW_N };

void repro_gemm_narrow_pack_a_avx2(float *panel, const float *A, int64_t a_rs, int64_t a_cs, int64_t K, int rows)
{
    int64_t k = 0;
    if (rows == ROWS && a_rs == 1) /* columns along m: a k is 8 floats in a row */
        for (; k < K; k++)
            _mm256_store_ps(panel + k * ROWS, _mm256_loadu_ps(A + k * a_cs));
    for (; k < K; k++)
        for (int i = 0; i < ROWS; i++)
            panel[k * ROWS + i] = i < rows ? A[i * a_rs + k * a_cs] : 0.0f;
}

/* Columns k..k+3 of 8 rows of A whose rows run along k (row i at
 * a + i*a_rs): each row's 4 floats, rows i and i+4 in one register, then
 * the in-lane 4 x 4 transpose; v[t] = A(0..7, k + t). */
static inline __attribute__((always_inline)) void columns4(const float *a, int64_t a_rs, int64_t k, __m256 v[4])
{
    __m256 x[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
        x[i] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(a + i * a_rs + k)),
                                    _mm_loadu_ps(a + (i + 4) * a_rs + k), 1);
    __m256 t0 = _mm256_unpacklo_ps(x[0], x[1]), t1 = _mm256_unpackhi_ps(x[0], x[1]);
    __m256 t2 = _mm256_unpacklo_ps(x[2], x[3]), t3 = _mm256_unpackhi_ps(x[2], x[3]);
    v[0] = _mm256_shuffle_ps(t0, t2, 0x44);
    v[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
    v[2] = _mm256_shuffle_ps(t1, t3, 0x44);
    v[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
}

/* acc[n] = fma(a, B(k, n), acc[n]) for the N columns. */
static inline __attribute__((always_inline)) void step(const int N, __m256 a, const float *b, __m256 acc[NMAX])
{
#pragma GCC unroll 12
    for (int n = 0; n < N; n++)
        acc[n] = _mm256_fmadd_ps(a, _mm256_broadcast_ss(b + n), acc[n]);
}

/* rows (1..8) rows of C at c, N columns, from bp and A: 8 rows along k
 * (a, a_rs; panel NULL), transposed here 4 k at a time, or the panel. */
static inline __attribute__((always_inline)) void narrow_rows(const int N, const float *a, int64_t a_rs,
                                                              const float *panel, const float *bp, int64_t K,
                                                              float *c, int64_t ldc, int rows, int accumulate,
                                                              const float *bias)
{
    __m256 acc[NMAX];
    float t[NMAX][ROWS]; /* column n, rows i: for the edges */
    if (accumulate) {
        for (int n = 0; n < N; n++)
            for (int i = 0; i < ROWS; i++)
                t[n][i] = i < rows ? c[i * ldc + n] : 0.0f;
#pragma GCC unroll 12
        for (int n = 0; n < N; n++)
            acc[n] = _mm256_loadu_ps(t[n]);
    } else {
#pragma GCC unroll 12
        for (int n = 0; n < N; n++)
            acc[n] = _mm256_setzero_ps();
    }
    int64_t k = 0;
    if (!panel) {
        for (; k + 4 <= K; k += 4) {
            __m256 v[4];
            columns4(a, a_rs, k, v);
#pragma GCC unroll 4
            for (int u = 0; u < 4; u++)
                step(N, v[u], bp + (k + u) * N, acc);
        }
        for (; k < K; k++)
            step(N,
                 _mm256_setr_ps(a[k], a[a_rs + k], a[2 * a_rs + k], a[3 * a_rs + k], a[4 * a_rs + k],
                                a[5 * a_rs + k], a[6 * a_rs + k], a[7 * a_rs + k]),
                 bp + k * N, acc);
    } else {
#pragma GCC unroll 2
        for (; k < K; k++)
            step(N, _mm256_load_ps(panel + k * ROWS), bp + k * N, acc);
    }
    if (bias) {
#pragma GCC unroll 12
        for (int n = 0; n < N; n++)
            acc[n] = _mm256_add_ps(acc[n], _mm256_broadcast_ss(bias + n));
    }
    if (N >= 8 && rows == ROWS) { /* columns 0..7 of the 8 rows: one transpose, 8 row stores */
        __m256 r[8];
#pragma GCC unroll 8
        for (int n = 0; n < 8; n++)
            r[n] = acc[n];
        repro_transpose8_avx2(r);
#pragma GCC unroll 8
        for (int i = 0; i < ROWS; i++)
            _mm256_storeu_ps(c + i * ldc, r[i]);
#pragma GCC unroll 4
        for (int n = 8; n < N; n++) /* constant bounds: acc stays in registers */
            _mm256_storeu_ps(t[n], acc[n]);
        for (int i = 0; i < ROWS; i++)
            for (int n = 8; n < N; n++)
                c[i * ldc + n] = t[n][i];
        return;
    }
#pragma GCC unroll 12
    for (int n = 0; n < N; n++)
        _mm256_storeu_ps(t[n], acc[n]);
    for (int i = 0; i < rows; i++)
        for (int n = 0; n < N; n++)
            c[i * ldc + n] = t[n][i];
}

#define NARROW_CASE(N)                                                                                                \
    case N:                                                                                                           \
        narrow_rows(N, a, a_rs, panel, bp, K, c, ldc, rows, accumulate, bias);                                        \
        return;

void repro_gemm_narrow_avx2(const float *a, int64_t a_rs, const float *panel, const float *bp, int64_t K, int64_t N,
                            float *c, int64_t ldc, int rows, int accumulate, const float *bias)
{
    _Static_assert(NMAX == 12, "one instance per N up to REPRO_GEMM_NARROW_N");
    switch (N) {
        NARROW_CASE(1)
        NARROW_CASE(2)
        NARROW_CASE(3)
        NARROW_CASE(4)
        NARROW_CASE(5)
        NARROW_CASE(6)
        NARROW_CASE(7)
        NARROW_CASE(8)
        NARROW_CASE(9)
        NARROW_CASE(10)
        NARROW_CASE(11)
        NARROW_CASE(12)
    }
}
