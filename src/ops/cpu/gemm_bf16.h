/* The bf16 matrix product, as the GPU's tensor cores compute it.
 *
 * Contract (src/ops/cuda/gemm_bf16.cu gives the same bits):
 *   A and B are rounded once to bf16 (round to nearest even);
 *   for every C(m,n): c = accumulate ? C(m,n) : +0;
 *       for each block of 16 k, ascending (the last one zero-padded):
 *           c = repro_tc_block(the block's A(m,k), B(k,n), c)  (src/ops/tc_model.h)
 *       C(m,n) = bias ? c + bias[n] : c
 * Layout and strides as repro_gemm (gemm.h). */
#ifndef REPRO_OPS_CPU_GEMM_BF16_H
#define REPRO_OPS_CPU_GEMM_BF16_H

#include <stdint.h>

#include "ops/cpu/cpu.h"

/* Threaded over rows of C; any thread count gives the bits of the reference. */
repro_status repro_gemm_bf16(const repro_cpu *cpu, int64_t M, int64_t N, int64_t K, const float *A, int64_t a_rs,
                             int64_t a_cs, const float *B, int64_t b_rs, int64_t b_cs, const float *bias, float *C,
                             int64_t ldc, int accumulate, repro_error *err);

/* Which kernel a path runs: "avx512", "avx2", "neon" or "reference" (the
 * packed loop over repro_tc_block); for tests and benchmarks. */
const char *repro_gemm_bf16_kernel(repro_isa isa);

/* The oracle: the contract as a plain loop over repro_tc_dot, single-threaded. */
void repro_gemm_bf16_ref(int64_t M, int64_t N, int64_t K, const float *A, int64_t a_rs, int64_t a_cs,
                         const float *B, int64_t b_rs, int64_t b_cs, const float *bias, float *C, int64_t ldc,
                         int accumulate);

/* The linear layer of linear.h with its three products in bf16 (the bias
 * and its gradient stay fp32 sums; implemented in linear.c beside the fp32 layer). */
repro_status repro_linear_forward_bf16(const repro_cpu *cpu, float *y, const float *x, const float *w,
                                       const float *bias, int64_t B, int64_t I, int64_t O, repro_error *err);
repro_status repro_linear_backward_bf16(const repro_cpu *cpu, float *dx, float *dw, float *db, const float *dy,
                                        const float *x, const float *w, int64_t B, int64_t I, int64_t O,
                                        repro_error *err);

#endif
