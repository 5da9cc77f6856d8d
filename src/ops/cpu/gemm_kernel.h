/* The micro-kernels behind repro_gemm (private to src/ops/cpu/gemm*.c).
 *
 * A micro-kernel owns an MR x NR tile of C and carries each element's one
 * accumulator through a k-block, in ascending k. A is read through its
 * strides (in place, or packed [kc][MR] by the driver: gemm.c); B comes packed, or in place
 * when it is contiguous along n and the tile is a full NR wide, or (a last
 * strip) a multiple of the path's B_VEC wide, the width of the vectors it
 * reads B in: then it reads nothing past the strip's columns:
 *
 *   a: A(m0, k0), a(i,k) = a[i*a_rs + k*a_cs] for i < mr (mr <= MR, or up
 *      to the path's MR_EDGE, where it has one, for A in place)
 *   b: b[k*ldb + j] = B(k0+k, n0+j); packed: ldb = NR, 64-byte aligned, and
 *      columns nr..NR-1 are padding; in place: ldb = B's row stride, nr = NR
 *      or a multiple of B_VEC
 *   c: the tile's C(m0, n0), row stride ldc; only i < mr, j < nr are touched
 *
 *   acc(i,j) = load_c ? c[i*ldc + j] : +0.0f
 *   for k < kc: acc(i,j) = fma(a(i,k), b[k*ldb+j], acc(i,j))
 *   c[i*ldc + j] = bias ? acc(i,j) + bias[j] : acc(i,j)
 *
 * The driver passes load_c for every k-block after the first (and for the
 * first when accumulating) and bias only with the last k-block, so the
 * blocks together are the contract of gemm.h.
 *
 * A block kernel (repro_gemm_block_fn) does a block of such tiles, the
 * same as one kernel call per tile: mr rows and nr columns (any), cut into
 * rows of MR (the last may have fewer) and columns of NR (the last may be
 * narrower). Row tile r reads A at a + r*a_next (in place: MR*a_rs; packed:
 * the panel stride) and writes C MR*r rows on; column tile t reads B at
 * b + t*b_next (packed: kc*NR; in place: NR), C and bias NR*t columns on.
 * It is for short k-blocks (9 or 10 k's: dX of the 10-wide layers,
 * conv1's forward), where a call's set-up costs about as much as a
 * tile's fmas, and on the AVX2 path for every k-block (gemm.c's
 * block_long_kc). */
#ifndef REPRO_OPS_GEMM_KERNEL_H
#define REPRO_OPS_GEMM_KERNEL_H

#include <stdint.h>

typedef void (*repro_gemm_kernel_fn)(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs,
                                     const float *b, int64_t ldb, float *c, int64_t ldc, int mr, int nr,
                                     int load_c, const float *bias);
typedef void (*repro_gemm_block_fn)(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs, int64_t a_next,
                                    const float *b, int64_t ldb, int64_t b_next, float *c, int64_t ldc, int mr,
                                    int nr, int load_c, const float *bias);

enum {
    REPRO_GEMM_SCALAR_MR = 4,
    REPRO_GEMM_SCALAR_NR = 8,
    REPRO_GEMM_SCALAR_B_VEC = 8, /* it reads B a whole NR at a time */
    REPRO_GEMM_AVX2_MR = 6, /* 6 x 2 ymm accumulators + 2 for b + 1 broadcast */
    REPRO_GEMM_AVX2_NR = 16,
    REPRO_GEMM_AVX2_B_VEC = 8, /* a strip of at most 8 columns takes the one-vector instance */
    REPRO_GEMM_AVX512_MR = 8, /* 8 x 2 zmm accumulators; 256 rows split evenly */
    REPRO_GEMM_AVX512_NR = 32,
    REPRO_GEMM_AVX512_B_VEC = 16,
    /* A region's last row tile goes whole up to this many rows (20 zmm
     * accumulators of 32): alone, the 1 or 2 rows left of M = 9, 10, 289
     * had 2 or 4 fma chains, too few to hide the fma's latency, and took
     * half the time of the 8 rows before them. */
    REPRO_GEMM_AVX512_MR_EDGE = 10,
    REPRO_GEMM_NEON_MR = 6, /* 6 x 4 q-register accumulators + 4 for b, of 32 */
    REPRO_GEMM_NEON_NR = 16,
    REPRO_GEMM_NEON_B_VEC = 16, /* it reads B a whole NR at a time */
    REPRO_GEMM_NARROW_N = 12 /* the narrow kernel's widest C: 12 accumulators + A + a broadcast of 16 ymm */
};

void repro_gemm_kernel_scalar(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs,
                              const float *b, int64_t ldb, float *c, int64_t ldc, int mr, int nr, int load_c,
                              const float *bias);
void repro_gemm_kernel_avx2(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs,
                              const float *b, int64_t ldb, float *c, int64_t ldc, int mr, int nr, int load_c,
                            const float *bias);
void repro_gemm_kernel_avx512(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs,
                              const float *b, int64_t ldb, float *c, int64_t ldc, int mr, int nr, int load_c,
                              const float *bias);
void repro_gemm_block_avx2(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs, int64_t a_next,
                           const float *b, int64_t ldb, int64_t b_next, float *c, int64_t ldc, int mr, int nr,
                           int load_c, const float *bias);
void repro_gemm_block_avx512(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs, int64_t a_next,
                             const float *b, int64_t ldb, int64_t b_next, float *c, int64_t ldc, int mr, int nr,
                             int load_c, const float *bias);
void repro_gemm_kernel_neon(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs,
                            const float *b, int64_t ldb, float *c, int64_t ldc, int mr, int nr, int load_c,
                            const float *bias);

/* The transposing part of packing B when B is contiguous along k (the
 * forward pass's W^T): dst[k*nr + j] = src[j*cs + k] for k < kc8, j < w8,
 * both multiples of 8. A copy, so it cannot change a bit. AVX2 (every
 * AVX-512 CPU repro uses has it too). */
void repro_gemm_pack_bt_avx2(float *dst, const float *src, int64_t cs, int64_t kc8, int w8, int nr);
/* The same, prefetching the next 8 columns' rows: for a B larger than L2. */
void repro_gemm_pack_bt_far_avx2(float *dst, const float *src, int64_t cs, int64_t kc8, int w8, int nr);
void repro_gemm_pack_bt_neon(float *dst, const float *src, int64_t cs, int64_t kc8, int w8, int nr);

/* The narrow kernel (gemm_narrow_avx2.c), for C of at most
 * REPRO_GEMM_NARROW_N columns: 8 rows of C in the lanes, one accumulator
 * per column, each element one fma chain over all K in ascending order.
 * pack_a: panel[k*8 + i] = A(i, k), A(i, k) = A[i*a_rs + k*a_cs], for
 * i < rows (+0 for the rest of the 8), k < K; panel 32-byte aligned.
 * narrow: C(i, n) at c[i*ldc + n] for i < rows, n < N, from
 * bp[k*N + n] = B(k, n) and A: the panel, or (panel NULL: 8 rows of A
 * along k, A(i, k) = a[i*a_rs + k]) A itself; from +0 or, accumulating,
 * from C; + bias[n] when bias is not NULL. */
void repro_gemm_narrow_pack_a_avx2(float *panel, const float *A, int64_t a_rs, int64_t a_cs, int64_t K, int rows);
void repro_gemm_narrow_avx2(const float *a, int64_t a_rs, const float *panel, const float *bp, int64_t K, int64_t N,
                            float *c, int64_t ldc, int rows, int accumulate, const float *bias);

/* Packing a kc x w block of B that is contiguous along n into strips of
 * nr columns: dst[(j/nr)*kc*nr + k*nr + j%nr] = src[k*rs + j] for j < w,
 * +0 for the padding of the last strip (nr a multiple of 8). A copy. */
void repro_gemm_pack_b_avx2(float *dst, const float *src, int64_t rs, int64_t kc, int64_t w, int nr);

#endif
