/* The canonical sum's block on SIMD lanes (private to src/ops/cpu):
 * repro_canon_block (src/ops/reduce.h) with its 8 lane accumulators in one
 * AVX2 register, the same bits. repro_canon_sum_isa (reduce.c) is the
 * canonical sum with the blocks taken on the path of an ISA: AVX2 and
 * AVX-512 use this one, the others the scalar block. */
#ifndef REPRO_OPS_CPU_REDUCE_SIMD_H
#define REPRO_OPS_CPU_REDUCE_SIMD_H

#include <stdint.h>

#include "ops/reduce.h"
#include "repro/isa.h"

float repro_canon_block_avx2(const repro_canon_src *s, int64_t start, int64_t len);

/* repro_canon_sum, the blocks on isa's path. */
float repro_canon_sum_isa(repro_isa isa, const repro_canon_src *src, int64_t n);

#endif
