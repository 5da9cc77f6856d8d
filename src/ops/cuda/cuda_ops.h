/* The exact CUDA backend: every CPU kernel of the training engine on the
 * GPU, each giving the bits of its CPU reference (tests/cuda/test_cuda_ops.cu
 * checks every one bit for bit).
 *
 * How the bits stay the same: each kernel includes the one text of its
 * arithmetic (src/ops/ops_math.h, src/ops/reduce.h, src/ops/adam_math.h,
 * src/ops/update_math.h, include/repro/math.h, include/repro/rng.h) and splits
 * work over output elements only, never over a sum; the device code is
 * built with --fmad=false -ftz=false -prec-div=true -prec-sqrt=true.
 * One thing is not promised, exactly as on the CPU: which NaN a NaN result
 * is (NVIDIA arithmetic returns the canonical NaN 0x7fffffff where x86
 * returns a quieted operand); a NaN is a NaN on both.
 *
 * Conventions: every pointer is a device pointer; shapes as in
 * src/ops/cpu/ops.h (B rows, D features, C classes, T targets), row-major.
 * `stream` is a cudaStream_t (NULL = the default stream); work is enqueued
 * on it and nothing synchronises. Errors: REPRO_ERR_ARG for invalid
 * arguments (nothing launched), REPRO_ERR_INTERNAL with CUDA's message when
 * a launch fails. */
#ifndef REPRO_OPS_CUDA_OPS_H
#define REPRO_OPS_CUDA_OPS_H

#include <stdint.h>

#include "ops/activations.h"
#include "ops/adam_math.h"
#include "ops/update_math.h"
#include "repro/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void *repro_cuda_stream; /* a cudaStream_t */

/* ---- exact GEMM (gemm.cu): src/ops/cpu/gemm.h's contract and arguments ----
 * C(m,n) = C[m*ldc + n], A(m,k) = A[m*a_rs + k*a_cs], B(k,n) = B[k*b_rs + n*b_cs];
 * acc = accumulate ? C(m,n) : +0; for k ascending acc = fmaf(A(m,k), B(k,n), acc);
 * C(m,n) = bias ? acc + bias[n] : acc. Bitwise equal to repro_gemm_ref. */
repro_status repro_cuda_gemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t a_rs, int64_t a_cs,
                             const float *B, int64_t b_rs, int64_t b_cs, const float *bias, float *C,
                             int64_t ldc, int accumulate, repro_cuda_stream stream, repro_error *err);

/* How the GEMM's outputs are split over blocks and threads. Every tiling
 * runs the same chains, so gives the same bits; repro_cuda_gemm picks one
 * by the output's size (AUTO). The others are for tests and benchmarks. */
typedef enum repro_cuda_gemm_tiling {
    REPRO_CUDA_GEMM_AUTO = 0,
    REPRO_CUDA_GEMM_128X128, /* 256 threads, 8x8 outputs each, k tiles of 8 (large outputs) */
    REPRO_CUDA_GEMM_32X32,   /* 256 threads, 2x2 outputs each, k tiles of 32 */
    REPRO_CUDA_GEMM_16X16,   /* 256 threads, one output each, k tiles of 64 */
    REPRO_CUDA_GEMM_64X64    /* 256 threads, 4x4 outputs each, k tiles of 16 */
} repro_cuda_gemm_tiling;
#define REPRO_CUDA_GEMM_TILINGS 5
/* The tiling AUTO picks for an M x N output. */
repro_cuda_gemm_tiling repro_cuda_gemm_auto_tiling(int64_t M, int64_t N);
/* repro_cuda_gemm with a chosen tiling. */
repro_status repro_cuda_gemm_tiled(repro_cuda_gemm_tiling tiling, int64_t M, int64_t N, int64_t K, const float *A,
                                   int64_t a_rs, int64_t a_cs, const float *B, int64_t b_rs, int64_t b_cs,
                                   const float *bias, float *C, int64_t ldc, int accumulate,
                                   repro_cuda_stream stream, repro_error *err);

/* ---- bf16 GEMM on tensor cores (gemm_bf16.cu): src/ops/cpu/gemm_bf16.h's
 * contract (A, B rounded to bf16; k blocks of 16 ascending, each the tensor
 * core's block sum; + bias in fp32), arguments as repro_cuda_gemm. Needs
 * sm_80 or later. Bitwise equal to repro_gemm_bf16_ref. */
repro_status repro_cuda_gemm_bf16(int64_t M, int64_t N, int64_t K, const float *A, int64_t a_rs, int64_t a_cs,
                                  const float *B, int64_t b_rs, int64_t b_cs, const float *bias, float *C,
                                  int64_t ldc, int accumulate, repro_cuda_stream stream, repro_error *err);
/* The same on operands already packed: Ap[M][Kp], Bp[N][Kp] bf16 bit
 * patterns, k contiguous, Kp a multiple of 32, zero beyond the real k. */
repro_status repro_cuda_gemm_bf16_packed(int64_t M, int64_t N, int64_t Kp, const uint16_t *Ap, const uint16_t *Bp,
                                         const float *bias, float *C, int64_t ldc, int accumulate,
                                         repro_cuda_stream stream, repro_error *err);
/* dst[r][k] = bf16(src[r*rs + k*cs]) for k < K, 0 for K <= k < Kp. */
repro_status repro_cuda_pack_bf16(uint16_t *dst, const float *src, int64_t rows, int64_t K, int64_t Kp, int64_t rs,
                                  int64_t cs, repro_cuda_stream stream, repro_error *err);
/* The linear layer (as repro_cuda_linear_*) with its three products in bf16. */
repro_status repro_cuda_linear_forward_bf16(float *y, const float *x, const float *w, const float *bias, int64_t B,
                                            int64_t I, int64_t O, repro_cuda_stream stream, repro_error *err);
repro_status repro_cuda_linear_backward_bf16(float *dx, float *dw, float *db, const float *dy, const float *x,
                                             const float *w, int64_t B, int64_t I, int64_t O,
                                             repro_cuda_stream stream, repro_error *err);

/* ---- linear layer (linear.cu): src/ops/cpu/linear.h on the GPU ----
 * y[B][O] = x[B][I] W[O][I]^T + bias[O] (bias may be NULL). */
repro_status repro_cuda_linear_forward(float *y, const float *x, const float *w, const float *bias, int64_t B,
                                       int64_t I, int64_t O, repro_cuda_stream stream, repro_error *err);
/* dx[B][I] = dy W (overwritten; NULL = skip), dW[O][I] += dy^T x (continuing
 * from its value, b ascending; NULL = skip), db[O] += dy summed over b
 * ascending (acc = acc + dy[b][o], one chain per column; NULL = skip). */
repro_status repro_cuda_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                        const float *w, int64_t B, int64_t I, int64_t O,
                                        repro_cuda_stream stream, repro_error *err);

/* ---- activations (activation.cu): any row of src/ops/activations.h;
 * y/dx [n], in place allowed, `saved` the forward's x or y as on the CPU ---- */
repro_status repro_cuda_act_forward(repro_act act, float *y, const float *x, int64_t n, repro_cuda_stream stream,
                                    repro_error *err);
repro_status repro_cuda_act_backward(repro_act act, float *dx, const float *dy, const float *saved, int64_t n,
                                     repro_cuda_stream stream, repro_error *err);
/* y[n] = y[n] + x[n] */
repro_status repro_cuda_add_inplace(float *y, const float *x, int64_t n, repro_cuda_stream stream,
                                    repro_error *err);

/* ---- dropout (dropout.cu): repro_dropout_forward's coordinates and key ----
 * x, y, mask [B][D]; sample_pos [B] (device). One thread per Philox block
 * (4 elements). Fails (REPRO_ERR_ARG, nothing launched) unless 0 <= p < 1. */
repro_status repro_cuda_dropout_forward(float *y, uint8_t *mask, const float *x, int64_t B, int64_t D, float p,
                                        uint64_t seed, uint32_t layer_index, uint64_t step,
                                        const uint32_t *sample_pos, repro_cuda_stream stream, repro_error *err);
repro_status repro_cuda_dropout_backward(float *dx, const float *dy, const uint8_t *mask, int64_t B, int64_t D,
                                         float p, repro_cuda_stream stream, repro_error *err);

/* ---- layer norm (layernorm.cu): repro_layernorm_forward/backward ----
 * A row's statistics and dx by 8 threads (its canonical sums' 8 lanes, as
 * on the CPU; one thread for rows over 1024 values); one chain per feature
 * for dgamma/dbeta (b ascending from their current values, column_chain.cuh).
 * Backward leaves out dx, or dgamma and dbeta (both), when NULL. */
repro_status repro_cuda_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                                          const float *beta, int64_t B, int64_t D, float eps,
                                          repro_cuda_stream stream, repro_error *err);
repro_status repro_cuda_layernorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                                           const float *x, const float *mean, const float *rstd,
                                           const float *gamma, int64_t B, int64_t D, repro_cuda_stream stream,
                                           repro_error *err);

/* ---- losses (loss.cu), one thread per row ----
 * Labels live on the device, so they are not checked here: the caller
 * validates them when the data is loaded (a label outside [0, C) must never
 * reach these kernels; the CPU kernels refuse it). C >= 1 and T >= 1 are
 * checked (REPRO_ERR_ARG). pred may be NULL. */
repro_status repro_cuda_softmax_xent_forward(float *loss, int32_t *pred, const float *z, const int32_t *labels,
                                             int64_t B, int64_t C, repro_cuda_stream stream, repro_error *err);
repro_status repro_cuda_softmax_xent_backward(float *dz, const float *z, const int32_t *labels, int64_t B,
                                              int64_t C, float scale, repro_cuda_stream stream, repro_error *err);
repro_status repro_cuda_mse_forward(float *loss, const float *pred, const float *target, int64_t B, int64_t T,
                                    repro_cuda_stream stream, repro_error *err);
repro_status repro_cuda_mse_backward(float *dpred, const float *pred, const float *target, int64_t B, int64_t T,
                                     float scale, repro_cuda_stream stream, repro_error *err);
repro_status repro_cuda_huber_forward(float *loss, const float *pred, const float *target, int64_t B, int64_t T,
                                      float delta, repro_cuda_stream stream, repro_error *err);
repro_status repro_cuda_huber_backward(float *dpred, const float *pred, const float *target, int64_t B,
                                       int64_t T, float delta, float scale, repro_cuda_stream stream,
                                       repro_error *err);

/* ---- batches from a device-resident data set (gather.cu) ----
 * dst row i = src row rows[i] (rows of row_bytes, a multiple of 4; rows in
 * device memory); positions: dst[i] = first + i. */
repro_status repro_cuda_gather_rows(void *dst, const void *src, size_t row_bytes, const uint32_t *rows, int64_t n,
                                    repro_cuda_stream stream, repro_error *err);
repro_status repro_cuda_fill_positions(uint32_t *dst, uint32_t first, int64_t n, repro_cuda_stream stream,
                                       repro_error *err);

/* ---- mode: fast only (fast.cu): NOT exact ----
 * y[b][o] = bias[o] (before a cuBLAS GEMM with beta = 1); db[o] += the
 * column sums of dy[B][O], added in blocks of rows with atomicAdd. */
repro_status repro_cuda_fast_bias_broadcast(float *y, const float *bias, int64_t B, int64_t O,
                                            repro_cuda_stream stream, repro_error *err);
repro_status repro_cuda_fast_bias_grad(float *db, const float *dy, int64_t B, int64_t O, repro_cuda_stream stream,
                                       repro_error *err);

/* ---- the canonical sum (reduce.cu): src/ops/reduce.h's order ----
 * *out (device, one float) = repro_sum_canonical(x, n) / repro_sumsq_canonical(x, n).
 * The 1024-element blocks are summed in parallel (one thread each, the
 * header's repro_canon_block), then one thread combines the block sums by
 * the same pairwise tree. scratch: repro_cuda_canon_scratch(n) floats of
 * device memory. */
int64_t repro_cuda_canon_scratch(int64_t n);
repro_status repro_cuda_sum_canonical(float *out, const float *x, int64_t n, float *scratch,
                                      repro_cuda_stream stream, repro_error *err);
repro_status repro_cuda_sumsq_canonical(float *out, const float *x, int64_t n, float *scratch,
                                        repro_cuda_stream stream, repro_error *err);

/* ---- optimisers (optim.cu), elementwise over the parameter buffer ----
 * Adam/AdamW: repro_adam_elem with the coefficients the host computes once
 * per step (as repro_optim_step does). SGD: repro_sgd_elem (buf may be NULL
 * without momentum). EMA: repro_ema_elem with one_minus_decay = 1 - decay. */
repro_status repro_cuda_adam_step(const repro_adam_coef *coef, float *p, float *m, float *v, const float *g,
                                  int64_t n, repro_cuda_stream stream, repro_error *err);
repro_status repro_cuda_sgd_step(const repro_sgd_coef *coef, float *p, float *buf, const float *g, int64_t n,
                                 repro_cuda_stream stream, repro_error *err);
repro_status repro_cuda_ema_update(float *ema, const float *params, int64_t n, float decay,
                                   repro_cuda_stream stream, repro_error *err);
/* Global-norm clipping, as repro_clip_grad_norm, all on the device:
 * *norm_out = repro_sqrtf(canonical sum of g*g); when norm > max_norm every
 * g = g * (max_norm / (norm + 1e-6f)). scratch: repro_cuda_canon_scratch(n) + 1
 * floats of device memory. */
repro_status repro_cuda_clip_grad_norm(float *grads, int64_t n, float max_norm, float *norm_out, float *scratch,
                                       repro_cuda_stream stream, repro_error *err);

#ifdef __cplusplus
}
#endif

#endif
