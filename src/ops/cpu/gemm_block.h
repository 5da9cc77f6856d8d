/* The block kernel's loops (gemm_kernel.h's repro_gemm_block_fn), written
 * once for the SIMD paths that have one (private to src/ops/cpu/gemm*.c).
 *
 * A path's file includes this after its MR, NR and
 *
 *   tile_row(R, kc, a, a_rs, a_cs, b, ldb, b_next, c, ldc, nr, load_c, bias)
 *
 * (R rows, the row's tiles side by side: an always-inline function, so
 * each constant R and stride below is an instance of its own), with
 * REPRO_GEMM_BLOCK_NAME the function to define and REPRO_GEMM_BLOCK_MR its
 * MR as a number. The rows go MR at a time, the last with fewer; each row
 * takes the instance for its strides, as the path's single-tile kernel
 * does: A packed (a_rs 1, a_cs MR), A in place along k (a_cs 1) or along m
 * (a_rs 1) under packed B (ldb NR), or any strides. */
#if !defined(REPRO_GEMM_BLOCK_NAME) || !defined(REPRO_GEMM_BLOCK_MR)
#error "define REPRO_GEMM_BLOCK_NAME and REPRO_GEMM_BLOCK_MR before including gemm_block.h"
#endif

#define REPRO_GEMM_BLOCK_ROW(R)                                                            \
    case R:                                                                                \
        if (packed)                                                                        \
            tile_row(R, kc, a, 1, MR, b, NR, b_next, c, ldc, nr, load_c, bias);            \
        else if (rows_k)                                                                   \
            tile_row(R, kc, a, a_rs, 1, b, NR, b_next, c, ldc, nr, load_c, bias);          \
        else if (cols_k)                                                                   \
            tile_row(R, kc, a, 1, a_cs, b, NR, b_next, c, ldc, nr, load_c, bias);          \
        else                                                                               \
            tile_row(R, kc, a, a_rs, a_cs, b, ldb, b_next, c, ldc, nr, load_c, bias);      \
        break;

void REPRO_GEMM_BLOCK_NAME(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs, int64_t a_next, const float *b,
                           int64_t ldb, int64_t b_next, float *c, int64_t ldc, int mr, int nr, int load_c,
                           const float *bias)
{
    _Static_assert(REPRO_GEMM_BLOCK_MR == MR, "REPRO_GEMM_BLOCK_MR is the path's MR");
    const int packed = a_rs == 1 && a_cs == MR && ldb == NR;
    const int rows_k = a_cs == 1 && ldb == NR;
    const int cols_k = a_rs == 1 && ldb == NR;
    for (; mr > 0; mr -= MR, a += a_next, c += MR * ldc) {
        switch (mr < MR ? mr : MR) {
#if REPRO_GEMM_BLOCK_MR >= 8
            REPRO_GEMM_BLOCK_ROW(8)
#endif
#if REPRO_GEMM_BLOCK_MR >= 7
            REPRO_GEMM_BLOCK_ROW(7)
#endif
            REPRO_GEMM_BLOCK_ROW(6)
            REPRO_GEMM_BLOCK_ROW(5)
            REPRO_GEMM_BLOCK_ROW(4)
            REPRO_GEMM_BLOCK_ROW(3)
            REPRO_GEMM_BLOCK_ROW(2)
            REPRO_GEMM_BLOCK_ROW(1)
        }
    }
}

#undef REPRO_GEMM_BLOCK_ROW
