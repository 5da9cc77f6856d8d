/* The AVX2 micro-kernel: up to a 6 x 16 tile of C in 12 ymm accumulators.
 * Per k: W vector loads of packed B (columns j..j+7, j+8..j+15), then for
 * each row i a broadcast of A(i,k) and W fmas. Lane j of accumulator
 * (i, half) is C(i, 8*half + j)'s one fma chain, in ascending k: the order
 * of gemm_kernel.h. Edge tiles (nr < 8 W) use masked loads and stores of C;
 * full tiles plain ones (masked stores are slow on some cores).
 *
 * The body is instantiated for every row count R <= 6 and width W (1 or 2
 * vectors), so an edge tile (the 4 rows left of M = 256, the 10 columns
 * of N = 10) costs its own size, not a full tile's. Each instance does the
 * same fmas in the same order for the elements it owns. */
#include <immintrin.h>

#include "ops/cpu/gemm_kernel.h"
#include "ops/cpu/transpose8_avx2.h"

enum { MR = REPRO_GEMM_AVX2_MR, NR = REPRO_GEMM_AVX2_NR };

/* Lane l is all ones where l < n. */
static __m256i lanes(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* R rows (all stored), W vectors of 8 columns; nr <= 8 * W. */
static inline __attribute__((always_inline)) void tile(const int R, const int W, int64_t kc, const float *a,
                                                       int64_t a_rs, int64_t a_cs, const float *b, int64_t ldb, float *c,
                                                       int64_t ldc, int nr, int load_c, const float *bias)
{
    const int full = nr == 8 * W;
    const __m256i m[2] = {lanes(nr), lanes(nr - 8)};
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < R; i++)
#pragma GCC unroll 2
        for (int h = 0; h < W; h++)
            acc[i][h] = !load_c ? _mm256_setzero_ps()
                        : full  ? _mm256_loadu_ps(c + i * ldc + 8 * h)
                                : _mm256_maskload_ps(c + i * ldc + 8 * h, m[h]);
    const float *row[MR];
#pragma GCC unroll 6
    for (int i = 0; i < R; i++)
        row[i] = a + i * a_rs;
#pragma GCC unroll 4
    for (int64_t k = 0, off = 0; k < kc; k++, off += a_cs) {
        __m256 bv[2];
#pragma GCC unroll 2
        for (int h = 0; h < W; h++)
            bv[h] = _mm256_loadu_ps(b + k * ldb + 8 * h);
#pragma GCC unroll 6
        for (int i = 0; i < R; i++) {
            const __m256 ai = _mm256_broadcast_ss(row[i] + off);
#pragma GCC unroll 2
            for (int h = 0; h < W; h++)
                acc[i][h] = _mm256_fmadd_ps(ai, bv[h], acc[i][h]);
        }
    }
    if (bias) {
#pragma GCC unroll 2
        for (int h = 0; h < W; h++) {
            const __m256 bh = _mm256_maskload_ps(bias + 8 * h, m[h]);
#pragma GCC unroll 6
            for (int i = 0; i < R; i++)
                acc[i][h] = _mm256_add_ps(acc[i][h], bh);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < R; i++)
#pragma GCC unroll 2
        for (int h = 0; h < W; h++) {
            if (full)
                _mm256_storeu_ps(c + i * ldc + 8 * h, acc[i][h]);
            else
                _mm256_maskstore_ps(c + i * ldc + 8 * h, m[h], acc[i][h]);
        }
}

/* Packed B (ldb NR) under packed A (a_rs 1, a_cs MR), A in place along k
 * (a_cs 1: x of a forward) or A in place along m (a_rs 1: the conv's
 * im2col) get their own instances with those strides as constants: the
 * loads then address off fixed offsets, with less stride arithmetic per k
 * (kernel with B from L2: 110 -> 117 GFLOP/s packed, 96% of the FMA peak). */
#define TILE_CASE(R)                                                                       \
    case R:                                                                                \
        if (packed && nr > 8)                                                              \
            tile(R, 2, kc, a, 1, MR, b, NR, c, ldc, nr, load_c, bias);                     \
        else if (packed)                                                                   \
            tile(R, 1, kc, a, 1, MR, b, NR, c, ldc, nr, load_c, bias);                     \
        else if (rows_k && nr > 8)                                                         \
            tile(R, 2, kc, a, a_rs, 1, b, NR, c, ldc, nr, load_c, bias);                   \
        else if (rows_k)                                                                   \
            tile(R, 1, kc, a, a_rs, 1, b, NR, c, ldc, nr, load_c, bias);                   \
        else if (cols_k && nr > 8)                                                         \
            tile(R, 2, kc, a, 1, a_cs, b, NR, c, ldc, nr, load_c, bias);                   \
        else if (cols_k)                                                                   \
            tile(R, 1, kc, a, 1, a_cs, b, NR, c, ldc, nr, load_c, bias);                   \
        else if (nr > 8)                                                                   \
            tile(R, 2, kc, a, a_rs, a_cs, b, ldb, c, ldc, nr, load_c, bias);               \
        else                                                                               \
            tile(R, 1, kc, a, a_rs, a_cs, b, ldb, c, ldc, nr, load_c, bias);               \
        return;

void repro_gemm_kernel_avx2(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs,
                            const float *b, int64_t ldb, float *c, int64_t ldc, int mr, int nr, int load_c,
                            const float *bias)
{
    const int packed = a_rs == 1 && a_cs == MR && ldb == NR;
    const int rows_k = a_cs == 1 && ldb == NR; /* A in place, its rows along k */
    const int cols_k = a_rs == 1 && ldb == NR; /* A in place, its columns along m (the conv's) */
    switch (mr) {
        TILE_CASE(6)
        TILE_CASE(5)
        TILE_CASE(4)
        TILE_CASE(3)
        TILE_CASE(2)
        TILE_CASE(1)
    }
}

/* The block kernel (gemm_kernel.h's repro_gemm_block_fn), a row of tiles
 * at a time: the full NR-wide ones (constant width: plain loads and
 * stores), then the last, NR wide or narrower; tile t's B at b + t * b_next. */
static inline __attribute__((always_inline)) void tile_row(const int R, int64_t kc, const float *a, int64_t a_rs,
                                                           int64_t a_cs, const float *b, int64_t ldb, int64_t b_next,
                                                           float *c, int64_t ldc, int nr, int load_c,
                                                           const float *bias)
{
    for (; nr > NR; nr -= NR, b += b_next, c += NR, bias = bias ? bias + NR : NULL)
        tile(R, 2, kc, a, a_rs, a_cs, b, ldb, c, ldc, NR, load_c, bias);
    if (nr > 8)
        tile(R, 2, kc, a, a_rs, a_cs, b, ldb, c, ldc, nr, load_c, bias);
    else
        tile(R, 1, kc, a, a_rs, a_cs, b, ldb, c, ldc, nr, load_c, bias);
}

#define REPRO_GEMM_BLOCK_NAME repro_gemm_block_avx2
#define REPRO_GEMM_BLOCK_MR 6
#include "ops/cpu/gemm_block.h"

/* far: B is larger than the caches keep between calls (cnn fc1's 128 x 3136
 * W), so the next 8 columns' rows are prefetched a block ahead: their
 * segments (kc floats, under a KB) are too short for the hardware
 * prefetchers to catch on. Where B stays in L2 the hints only cost. */
static inline __attribute__((always_inline)) void pack_bt(float *dst, const float *src, int64_t cs, int64_t kc8,
                                                          int w8, int nr, const int far)
{
    for (int j = 0; j < w8; j += 8)
        for (int64_t k = 0; k < kc8; k += 8) {
            __m256 r[8];
            if (far && (k & 15) == 0) { /* once per 64-byte line */
#pragma GCC unroll 8
                for (int t = 0; t < 8; t++)
                    __builtin_prefetch(src + (j + 8 + t) * cs + k);
            }
#pragma GCC unroll 8
            for (int t = 0; t < 8; t++)
                r[t] = _mm256_loadu_ps(src + (j + t) * cs + k);
            repro_transpose8_avx2(r);
#pragma GCC unroll 8
            for (int t = 0; t < 8; t++)
                _mm256_storeu_ps(dst + (k + t) * nr + j, r[t]);
        }
}

void repro_gemm_pack_bt_avx2(float *dst, const float *src, int64_t cs, int64_t kc8, int w8, int nr)
{
    pack_bt(dst, src, cs, kc8, w8, nr, 0);
}

void repro_gemm_pack_bt_far_avx2(float *dst, const float *src, int64_t cs, int64_t kc8, int w8, int nr)
{
    pack_bt(dst, src, cs, kc8, w8, nr, 1);
}

/* Packing B contiguous along n: rows k of the block, ROWS at a time,
 * across all its strips. B's rows are read along their length (one page
 * after another, which the hardware prefetcher follows), where strip by
 * strip each k would be a new row, a page apart when B is wide (1024 or
 * 3136 columns). Eight rows a step (four before) read eight rows' streams
 * at once and write each strip 8 x 64 bytes in a run: packing cnn fc1's
 * 1.6 MB B from L3 took 465-557 profile samples against 693-712 (OpenBLAS's
 * copy: 504-673), and the product rose from 0.91-0.95x OpenBLAS to
 * 0.94-0.98x on a Zen 4's AVX2 path (bench_gemm, two runs a build). */
enum { ROWS = 8 };

/* `rows` rows of the strip of columns [j0, j0 + nr), any width and rows:
 * the ragged last strip (its columns past w zero) and the last rows. */
static void pack_strip_rows(float *d, const float *s, int64_t rs, int64_t rows, int64_t j0, int64_t w, int64_t w8,
                            int nr, __m256i tail)
{
    for (int64_t k = 0; k < rows; k++, s += rs, d += nr) {
        int64_t j = j0, end = j0 + nr;
        for (; j < end && j < w8; j += 8)
            _mm256_storeu_ps(d + j - j0, _mm256_loadu_ps(s + j));
        if (j < end && j < w) { /* the masked load reads only the w % 8 floats there are */
            _mm256_storeu_ps(d + j - j0, _mm256_maskload_ps(s + j, tail));
            j += 8;
        }
        for (; j < end; j += 8)
            _mm256_storeu_ps(d + j - j0, _mm256_setzero_ps());
    }
}

/* ROWS rows of a whole strip of NRV vectors, with no tests, row by row.
 * (All ROWS rows' loads before the stores needed 32 ymm registers for the
 * AVX-512 path's 32-wide strips, of 16, and spilled; row by row packed as
 * fast or faster: 105-132 samples a 1000 of the kernel's against 113-161,
 * three profiles a path.) */
static inline __attribute__((always_inline)) void pack_strip_full(float *d, const float *s, int64_t rs, const int NRV)
{
#pragma GCC unroll 8
    for (int k = 0; k < ROWS; k++) {
        __m256 v[4];
#pragma GCC unroll 4
        for (int h = 0; h < NRV; h++)
            v[h] = _mm256_loadu_ps(s + k * rs + 8 * h);
#pragma GCC unroll 4
        for (int h = 0; h < NRV; h++)
            _mm256_storeu_ps(d + k * 8 * NRV + 8 * h, v[h]);
    }
}

void repro_gemm_pack_b_avx2(float *dst, const float *src, int64_t rs, int64_t kc, int64_t w, int nr)
{
    const __m256i tail = lanes((int)(w % 8));
    const int64_t w8 = w / 8 * 8, width = (w + nr - 1) / nr * nr, whole = w / nr * nr;
    /* one or two strips (B 32 or 64 floats wide: the conv's products) are
     * short rows that the plain strip order reads well, with less looping */
    const int64_t step = width <= 2 * nr ? kc : ROWS;
    for (int64_t k0 = 0; k0 < kc; k0 += step) {
        const int64_t rows = k0 + step < kc ? step : kc - k0;
        const float *s = src + k0 * rs;
        float *d = dst + k0 * nr;
        int64_t j0 = 0;
        if (rows == ROWS && nr == 16)
            for (; j0 < whole; j0 += nr)
                pack_strip_full(d + j0 * kc, s + j0, rs, 2);
        else if (rows == ROWS && nr == 32)
            for (; j0 < whole; j0 += nr)
                pack_strip_full(d + j0 * kc, s + j0, rs, 4);
        for (; j0 < width; j0 += nr)
            pack_strip_rows(d + j0 * kc, s, rs, rows, j0, w, w8, nr, tail);
    }
}
