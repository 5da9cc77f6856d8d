/* The softmax cross-entropy's rows on the lanes of an ISA, or the scalar
 * functions: xent_simd.h. */
#include "ops/cpu/xent_simd.h"

void repro_xent_stats_rows(repro_isa isa, const float *z, int64_t ld, int64_t C, int64_t n, repro_xent_stats *out)
{
#if defined(__x86_64__)
    if (isa == REPRO_ISA_AVX512) {
        repro_xent_stats_rows_avx512(z, ld, C, n, out);
        return;
    }
    if (isa == REPRO_ISA_AVX2) {
        repro_xent_stats_rows_avx2(z, ld, C, n, out);
        return;
    }
#endif
    (void)isa;
    for (int64_t r = 0; r < n; r++)
        out[r] = repro_xent_row_stats(z + r * ld, C);
}

void repro_xent_dz_row(repro_isa isa, float *g, const float *z, int64_t C, int64_t label, repro_xent_stats st,
                       float scale)
{
#if defined(__x86_64__)
    if (isa == REPRO_ISA_AVX512) {
        repro_xent_dz_row_avx512(g, z, C, label, st, scale);
        return;
    }
    if (isa == REPRO_ISA_AVX2) {
        repro_xent_dz_row_avx2(g, z, C, label, st, scale);
        return;
    }
#endif
    (void)isa;
    for (int64_t j = 0; j < C; j++)
        g[j] = repro_xent_dz(z[j], j == label, st, scale);
}
