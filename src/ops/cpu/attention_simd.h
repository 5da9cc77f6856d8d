/* The SIMD twins of attention's row functions: the bits of
 * src/ops/attention_math.h's scalar rows. Internal to src/ops/cpu.
 *
 * x86-64 (attention_lanes.h, compiled as attention_avx2.c, 8 lanes, and
 * attention_avx512.c, 16 lanes): a unit u is 64 (REPRO_ATTN_BLOCK) rows of
 * one (b, h), u = (b * H + h) * ceil(T / 64) + block: the forward and dq of
 * query rows [64 block, 64 block + 64), or dk and dv of those keys. scratch
 * holds repro_attn_scratch_floats(hd) floats, reused from unit to unit. */
#ifndef REPRO_OPS_CPU_ATTENTION_SIMD_H
#define REPRO_OPS_CPU_ATTENTION_SIMD_H

#include <stddef.h>

#include "ops/attention_math.h"

static inline size_t repro_attn_scratch_floats(int64_t hd)
{
    return (size_t)(4 * REPRO_ATTN_BLOCK * hd); /* two packed blocks [hd][64], two accumulators [64][hd] */
}

void repro_attn_forward_block_avx2(const repro_attn_args *a, int64_t u, float *scratch);
void repro_attn_dq_block_avx2(const repro_attn_args *a, int64_t u, float *scratch);
void repro_attn_dkv_block_avx2(const repro_attn_args *a, int64_t u, float *scratch);
void repro_attn_forward_block_avx512(const repro_attn_args *a, int64_t u, float *scratch);
void repro_attn_dq_block_avx512(const repro_attn_args *a, int64_t u, float *scratch);
void repro_attn_dkv_block_avx512(const repro_attn_args *a, int64_t u, float *scratch);
/* repro_expf through the twins' lanes (n a multiple of 8 or 16), for the tests. */
void repro_attn_expf_lanes_avx2(const float *x, float *y, int64_t n);
void repro_attn_expf_lanes_avx512(const float *x, float *y, int64_t n);
/* aarch64 (attention_neon.c): rows r = (b * H + h) * T + i (or key j) one
 * at a time on 4 lanes. */
void repro_attn_forward_row_neon(const repro_attn_args *a, int64_t r);
void repro_attn_dq_row_neon(const repro_attn_args *a, int64_t r);
void repro_attn_dkv_row_neon(const repro_attn_args *a, int64_t r);

#endif
