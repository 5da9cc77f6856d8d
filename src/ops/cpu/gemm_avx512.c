/* The AVX-512 micro-kernel: up to an 8 x 32 tile of C in 16 zmm accumulators.
 * Per k: W vector loads of packed B (columns j..j+15, j+16..j+31), then for
 * each row i a broadcast of A(i,k) and W fmas. Lane j of accumulator
 * (i, half) is C(i, 16*half + j)'s one fma chain, in ascending k: the order
 * of gemm_kernel.h. Edge tiles use masked loads and stores of C.
 *
 * The body is instantiated for every row count R <= 8 and width W (1 or 2
 * vectors), so an edge tile (the 10 columns of N = 10) costs its own size,
 * not a full tile's; and for R = 9 and 10, a region's last rows with the
 * tile before them (MR_EDGE, gemm_kernel.h: the 2 rows left of M = 10 were
 * a tile of their own, latency-bound). Each instance does the same fmas in
 * the same order for the elements it owns.
 *
 * Edge tiles (nr < 16 W) load and store C masked, full tiles plainly (as
 * gemm_avx2.c): Zen 4 runs a masked store slowly even when its mask is
 * whole. The 10-k dX products, whose time goes mostly to storing C, read
 * 0.87-0.89x OpenBLAS with every store masked and 0.92-1.01x with plain
 * ones there (bench_gemm 60 "fc3 dX", alternating builds). */
#include <immintrin.h>

#include "ops/cpu/gemm_kernel.h"

enum { MR = REPRO_GEMM_AVX512_MR, NR = REPRO_GEMM_AVX512_NR, MR_EDGE = REPRO_GEMM_AVX512_MR_EDGE };

static __mmask16 lanes(int n)
{
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* R rows (all stored), W vectors of 16 columns; nr <= 16 * W. */
static inline __attribute__((always_inline)) void tile(const int R, const int W, int64_t kc, const float *a,
                                                       int64_t a_rs, int64_t a_cs, const float *b, int64_t ldb, float *c,
                                                       int64_t ldc, int nr, int load_c, const float *bias)
{
    const int full = nr == 16 * W;
    const __mmask16 m[2] = {lanes(nr), lanes(nr - 16)};
    __m512 acc[MR_EDGE][2];
#pragma GCC unroll 10
    for (int i = 0; i < R; i++)
#pragma GCC unroll 2
        for (int h = 0; h < W; h++)
            acc[i][h] = !load_c ? _mm512_setzero_ps()
                        : full  ? _mm512_loadu_ps(c + i * ldc + 16 * h)
                                : _mm512_maskz_loadu_ps(m[h], c + i * ldc + 16 * h);
    const float *row[MR_EDGE];
#pragma GCC unroll 10
    for (int i = 0; i < R; i++)
        row[i] = a + i * a_rs;
#pragma GCC unroll 4
    for (int64_t k = 0, off = 0; k < kc; k++, off += a_cs) {
        __m512 bv[2];
#pragma GCC unroll 2
        for (int h = 0; h < W; h++)
            bv[h] = _mm512_loadu_ps(b + k * ldb + 16 * h);
#pragma GCC unroll 10
        for (int i = 0; i < R; i++) {
            const __m512 ai = _mm512_set1_ps(row[i][off]);
#pragma GCC unroll 2
            for (int h = 0; h < W; h++)
                acc[i][h] = _mm512_fmadd_ps(ai, bv[h], acc[i][h]);
        }
    }
    if (bias) {
#pragma GCC unroll 2
        for (int h = 0; h < W; h++) {
            const __m512 bh = _mm512_maskz_loadu_ps(m[h], bias + 16 * h);
#pragma GCC unroll 10
            for (int i = 0; i < R; i++)
                acc[i][h] = _mm512_add_ps(acc[i][h], bh);
        }
    }
#pragma GCC unroll 10
    for (int i = 0; i < R; i++)
#pragma GCC unroll 2
        for (int h = 0; h < W; h++) {
            if (full)
                _mm512_storeu_ps(c + i * ldc + 16 * h, acc[i][h]);
            else
                _mm512_mask_storeu_ps(c + i * ldc + 16 * h, m[h], acc[i][h]);
        }
}

/* Packed B (ldb NR) under packed A (a_rs 1, a_cs MR), A in place along k
 * (a_cs 1) or A in place along m (a_rs 1) get their own instances with
 * those strides as constants: the loads then address off fixed offsets,
 * with less stride arithmetic per k (as in gemm_avx2.c). */
#define TILE_CASE(R)                                                                       \
    case R:                                                                                \
        if (packed && nr > 16)                                                             \
            tile(R, 2, kc, a, 1, MR, b, NR, c, ldc, nr, load_c, bias);                     \
        else if (packed)                                                                   \
            tile(R, 1, kc, a, 1, MR, b, NR, c, ldc, nr, load_c, bias);                     \
        else if (rows_k && nr > 16)                                                        \
            tile(R, 2, kc, a, a_rs, 1, b, NR, c, ldc, nr, load_c, bias);                   \
        else if (rows_k)                                                                   \
            tile(R, 1, kc, a, a_rs, 1, b, NR, c, ldc, nr, load_c, bias);                   \
        else if (cols_k && nr > 16)                                                        \
            tile(R, 2, kc, a, 1, a_cs, b, NR, c, ldc, nr, load_c, bias);                   \
        else if (cols_k)                                                                   \
            tile(R, 1, kc, a, 1, a_cs, b, NR, c, ldc, nr, load_c, bias);                   \
        else if (nr > 16)                                                                  \
            tile(R, 2, kc, a, a_rs, a_cs, b, ldb, c, ldc, nr, load_c, bias);               \
        else                                                                               \
            tile(R, 1, kc, a, a_rs, a_cs, b, ldb, c, ldc, nr, load_c, bias);               \
        return;

_Static_assert(MR_EDGE == 10, "the kernel's switch has instances for R up to 10");

void repro_gemm_kernel_avx512(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs,
                              const float *b, int64_t ldb, float *c, int64_t ldc, int mr, int nr, int load_c,
                              const float *bias)
{
    const int packed = a_rs == 1 && a_cs == MR && ldb == NR;
    const int rows_k = a_cs == 1 && ldb == NR; /* A in place, its rows along k */
    const int cols_k = a_rs == 1 && ldb == NR; /* A in place, its columns along m (the conv's) */
    switch (mr) {
        TILE_CASE(10)
        TILE_CASE(9)
        TILE_CASE(8)
        TILE_CASE(7)
        TILE_CASE(6)
        TILE_CASE(5)
        TILE_CASE(4)
        TILE_CASE(3)
        TILE_CASE(2)
        TILE_CASE(1)
    }
}

/* The block kernel (gemm_kernel.h's repro_gemm_block_fn): tiles of
 * BLOCK_ROWS rows (the last of a row of MR may have fewer) and NR columns
 * (the last may be narrower), tile t of a row with its B at b + t * b_next.
 * 4 x 32 tiles, 8 accumulators, read 0.96-1.04x OpenBLAS on the conv net's
 * dX of its 10-wide layer (128x128x10) where the single-tile kernel's
 * 8 x 32 read 0.88-0.95x, and 2 x 32 0.85-0.95x (bench_gemm 9, three runs
 * alternating the builds, 1 thread; the MLP's 256x256x10 1.02-1.14x from
 * 0.92-0.93x, conv1's forward 784x32x9 1.22-1.29x from 1.02-1.09x): over
 * 9 or 10 k's a tile is over before 16 chains pay for their set-up and
 * their stores. Masked loads and stores cost a full tile nothing, so the
 * full tiles and the last share one instance. Apart from the single-tile
 * kernel above: inside it, the loops took registers from the one-tile
 * instances. */
enum { BLOCK_ROWS = 4 };

static inline __attribute__((always_inline)) void tile_row_of(const int R, int64_t kc, const float *a, int64_t a_rs,
                                                              int64_t a_cs, const float *b, int64_t ldb,
                                                              int64_t b_next, float *c, int64_t ldc, int nr,
                                                              int load_c, const float *bias)
{
    for (;; nr -= NR, b += b_next, c += NR, bias = bias ? bias + NR : NULL) {
        if (nr > 16)
            tile(R, 2, kc, a, a_rs, a_cs, b, ldb, c, ldc, nr < NR ? nr : NR, load_c, bias);
        else
            tile(R, 1, kc, a, a_rs, a_cs, b, ldb, c, ldc, nr, load_c, bias);
        if (nr <= NR)
            return;
    }
}

/* gemm_block.h's row of R <= MR rows, BLOCK_ROWS at a time (A's row i is
 * at a + i * a_rs, in place and packed alike). */
static inline __attribute__((always_inline)) void tile_row(const int R, int64_t kc, const float *a, int64_t a_rs,
                                                           int64_t a_cs, const float *b, int64_t ldb, int64_t b_next,
                                                           float *c, int64_t ldc, int nr, int load_c,
                                                           const float *bias)
{
    _Static_assert(MR == 2 * BLOCK_ROWS, "a row of MR rows is at most two of BLOCK_ROWS");
    if (R <= BLOCK_ROWS) {
        tile_row_of(R, kc, a, a_rs, a_cs, b, ldb, b_next, c, ldc, nr, load_c, bias);
        return;
    }
    tile_row_of(BLOCK_ROWS, kc, a, a_rs, a_cs, b, ldb, b_next, c, ldc, nr, load_c, bias);
    tile_row_of(R - BLOCK_ROWS, kc, a + BLOCK_ROWS * a_rs, a_rs, a_cs, b, ldb, b_next, c + BLOCK_ROWS * ldc, ldc, nr,
                load_c, bias);
}

#define REPRO_GEMM_BLOCK_NAME repro_gemm_block_avx512
#define REPRO_GEMM_BLOCK_MR 8
#include "ops/cpu/gemm_block.h"
