/* The SIMD twins of attention's row functions (attention_avx2.c, attention_neon.c): the
 * bits of src/ops/attention_math.h's scalar rows. Internal to src/ops/cpu. */
#ifndef REPRO_OPS_CPU_ATTENTION_SIMD_H
#define REPRO_OPS_CPU_ATTENTION_SIMD_H

#include "ops/attention_math.h"

void repro_attn_forward_row_avx2(const repro_attn_args *a, int64_t r);
void repro_attn_dq_row_avx2(const repro_attn_args *a, int64_t r);
void repro_attn_dkv_row_avx2(const repro_attn_args *a, int64_t r);
/* The same on 4 NEON lanes (attention_neon.c, aarch64 only). */
void repro_attn_forward_row_neon(const repro_attn_args *a, int64_t r);
void repro_attn_dq_row_neon(const repro_attn_args *a, int64_t r);
void repro_attn_dkv_row_neon(const repro_attn_args *a, int64_t r);

#endif
