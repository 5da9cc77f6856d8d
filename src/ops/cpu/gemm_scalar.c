/* The scalar micro-kernel (REPRO_ISA_SCALAR's path): plain C with fmaf, the
 * order of gemm_kernel.h. Slow but exercises the same packing and tiling as
 * the SIMD paths. */
#include <math.h>

#include "ops/cpu/gemm_kernel.h"

enum { MR = REPRO_GEMM_SCALAR_MR, NR = REPRO_GEMM_SCALAR_NR };

void repro_gemm_kernel_scalar(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs,
                              const float *b, int64_t ldb, float *c, int64_t ldc, int mr, int nr, int load_c,
                              const float *bias)
{
    /* rows past the edge read row 0 (in bounds; their lanes are never stored) */
    const float *row[MR];
    for (int i = 0; i < MR; i++)
        row[i] = a + (i < mr ? i : 0) * a_rs;
    float acc[MR][NR];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++)
            acc[i][j] = load_c && i < mr && j < nr ? c[i * ldc + j] : 0.0f;
    for (int64_t k = 0; k < kc; k++)
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                acc[i][j] = fmaf(row[i][k * a_cs], b[k * ldb + j], acc[i][j]);
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++)
            c[i * ldc + j] = bias ? acc[i][j] + bias[j] : acc[i][j];
}
