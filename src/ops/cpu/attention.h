/* Multi-head scaled dot-product attention on the CPU: the shapes, the
 * written order and the dropout coordinates are src/ops/attention_math.h's.
 * Threads split rows (b, h, i) for o, dsum and dq, and keys (b, h, j) for
 * dk and dv: every output element is one thread's chain, so the bits do
 * not depend on the thread count. Shapes are checked first: REPRO_ERR_ARG
 * for hd outside [1, 256], T outside [1, 2^17], p outside [0, 1) or a
 * missing buffer. */
#ifndef REPRO_OPS_CPU_ATTENTION_H
#define REPRO_OPS_CPU_ATTENTION_H

#include "ops/attention_math.h"
#include "ops/cpu/cpu.h"
#include "repro/status.h"

/* REPRO_ERR_ARG for shapes the kernels refuse (the messages every backend
 * gives); forward != 0 also needs sample_pos when dropout draws a mask. */
repro_status repro_attention_check(const repro_attn_args *a, int forward, repro_error *err);

/* Forward: writes a->o, the m and l rows of a->stat, and a->keep when not NULL. */
repro_status repro_attention_forward(const repro_cpu *cpu, const repro_attn_args *a, repro_error *err);
void repro_attention_forward_ref(const repro_attn_args *a);

/* Backward: reads qkv, o, stat (m, l), keep, dout; writes the dsum rows of
 * stat, then a->dqkv (every element overwritten). */
repro_status repro_attention_backward(const repro_cpu *cpu, const repro_attn_args *a, repro_error *err);
void repro_attention_backward_ref(const repro_attn_args *a);

#endif
