/* Softmax cross-entropy on SIMD lanes (private to src/ops/cpu): the row
 * statistics and the gradient row of src/ops/ops_math.h, with every bit of
 * repro_xent_row_stats and repro_xent_dz. tests/test_token.c checks each
 * ISA path against the scalar reference.
 *
 * stats_rows: the statistics of rows [0, n) of z (row r at z + r * ld, C
 *   values each). The rows run in the lanes of a vector (8 on AVX2, 16 on
 *   AVX-512), each lane doing the scalar function's two loops over j
 *   ascending: the first maximum (strict >), then s = s + repro_expf(z[j] - m).
 *   A row's sum is one chain in its written order: the lanes only run
 *   several rows' chains at once.
 * dz_row: one row's gradient g[j] = repro_xent_dz(z[j], j == label, st,
 *   scale), the lanes along j: each element is its own value, no sum.
 *
 * repro_xent_stats_rows and repro_xent_dz_row (xent.c) take the lanes of
 * the ISA given, or the scalar functions where it has none; the losses
 * (loss.c, embedding.c) call them. */
#ifndef REPRO_OPS_CPU_XENT_SIMD_H
#define REPRO_OPS_CPU_XENT_SIMD_H

#include <stdint.h>

#include "ops/ops_math.h"
#include "repro/isa.h"

void repro_xent_stats_rows(repro_isa isa, const float *z, int64_t ld, int64_t C, int64_t n, repro_xent_stats *out);
void repro_xent_dz_row(repro_isa isa, float *g, const float *z, int64_t C, int64_t label, repro_xent_stats st,
                       float scale);

void repro_xent_stats_rows_avx2(const float *z, int64_t ld, int64_t C, int64_t n, repro_xent_stats *out);
void repro_xent_stats_rows_avx512(const float *z, int64_t ld, int64_t C, int64_t n, repro_xent_stats *out);
void repro_xent_dz_row_avx2(float *g, const float *z, int64_t C, int64_t label, repro_xent_stats st, float scale);
void repro_xent_dz_row_avx512(float *g, const float *z, int64_t C, int64_t label, repro_xent_stats st,
                              float scale);

#endif
