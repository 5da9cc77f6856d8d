/* The exact matrix product: the hot path of training.
 *
 * Evaluation order (the contract every path keeps, bit for bit):
 *
 *   for every output element C(m,n), m < M, n < N, independently:
 *       acc = accumulate ? C(m,n) : +0.0f
 *       for k = 0, 1, ..., K-1 (ascending):
 *           acc = fmaf(A(m,k), B(k,n), acc)
 *       C(m,n) = bias ? acc + bias[n] : acc
 *
 * One accumulator per element, never split into partial sums over k. The
 * fast paths block and pack over k, but the same accumulator carries on in
 * order (stored in C between k-blocks, reloaded for the next one). Parallel
 * work is split over output tiles (m, n) only, and a SIMD lane is a
 * different output element with the other operand broadcast, so each lane
 * is still one scalar fma chain. Hence every ISA path and every thread count
 * gives exactly the bits of repro_gemm_ref, the plain triple loop.
 * (fmaf(a, b, c) == fmaf(b, a, c): the exact product is commutative.)
 * The one thing not pinned down is which NaN a NaN result is: it is a NaN on
 * every path, but x86 takes its sign and payload from an operand chosen by
 * position, and compilers order commutative operands as they like.
 *
 * Layout: C(m,n) = C[m*ldc + n]; A(m,k) = A[m*a_rs + k*a_cs];
 * B(k,n) = B[k*b_rs + n*b_cs]. The strides let a caller pass transposes
 * without copying (linear.c uses all of them). */
#ifndef REPRO_OPS_GEMM_H
#define REPRO_OPS_GEMM_H

#include <stdint.h>

#include "ops/cpu/cpu.h"
#include "repro/status.h"

/* C[M][ldc] (row m, columns < N) = A(M x K) B(K x N) under the contract.
 * accumulate: start from C's value instead of +0. bias: NULL or [N], added
 * after the contraction; only with accumulate == 0 (else REPRO_ERR_ARG).
 * M, N or K may be 0 (K == 0: C = +0 (+ bias), or unchanged when
 * accumulating). cpu->isa must come from repro_isa_choose (it is not
 * re-checked). Errors: REPRO_ERR_ARG (negative size, ldc < N, NULL array),
 * REPRO_ERR_NOMEM
 * (packing buffers). C is untouched on error. */
repro_status repro_gemm(const repro_cpu *cpu, int64_t M, int64_t N, int64_t K,
                        const float *A, int64_t a_rs, int64_t a_cs,
                        const float *B, int64_t b_rs, int64_t b_cs,
                        const float *bias, float *C, int64_t ldc, int accumulate,
                        repro_error *err);

/* The oracle: the contract written as the plain triple loop, single-threaded.
 * Same arguments as repro_gemm, assumed valid. */
void repro_gemm_ref(int64_t M, int64_t N, int64_t K,
                    const float *A, int64_t a_rs, int64_t a_cs,
                    const float *B, int64_t b_rs, int64_t b_cs,
                    const float *bias, float *C, int64_t ldc, int accumulate);

#endif
