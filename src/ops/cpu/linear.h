/* The linear (fully connected) layer on repro_gemm, PyTorch's layout:
 * W is [O][I], y = x W^T + b. Every product follows gemm.h's contract (one
 * fma chain per element, ascending over the contracted index), so the
 * results are the same bits on every ISA path and thread count. */
#ifndef REPRO_OPS_LINEAR_H
#define REPRO_OPS_LINEAR_H

#include <stdint.h>

#include "ops/cpu/cpu.h"
#include "repro/status.h"

/* y[B][O] = x[B][I] W[O][I]^T + bias[O]:
 *   y[b][o] = (fma over i ascending of x[b][i] * W[o][i], from +0) + bias[o]
 * bias may be NULL (no addition). */
repro_status repro_linear_forward(const repro_cpu *cpu, float *y, const float *x, const float *w,
                                  const float *bias, int64_t B, int64_t I, int64_t O,
                                  repro_error *err);

/* Given dy[B][O], x[B][I], W[O][I]:
 *   dx[B][I]  = dy W:     dx[b][i] = fma over o ascending of dy[b][o] * W[o][i], from +0
 *               (overwritten; dx NULL = skip);
 *   dW[O][I] += dy^T x:   dW[o][i] = fma over b ascending of dy[b][o] * x[b][i], continuing
 *               from dW's current value, so micro-batches processed in order give
 *               exactly one big batch's bits;
 *   db[O]    += sum over b ascending of dy[b][o] (acc = acc + dy[b][o], from db's
 *               current value; db NULL = skip). */
repro_status repro_linear_backward(const repro_cpu *cpu, float *dx, float *dw, float *db,
                                   const float *dy, const float *x, const float *w,
                                   int64_t B, int64_t I, int64_t O, repro_error *err);

/* The same layer through OpenBLAS sgemm, what mode: fast runs (the model
 * chooses, repro_model_use_blas). NOT bit-exact: the summation order is
 * OpenBLAS's and changes with its thread count and the CPU. Forward adds
 * the bias after the product; dx may be NULL, db may be NULL. */
void repro_linear_forward_blas(float *y, const float *x, const float *w, const float *bias, int64_t B, int64_t I,
                               int64_t O);
void repro_linear_backward_blas(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                                int64_t B, int64_t I, int64_t O);

/* OpenBLAS's own thread count (a process-wide setting of OpenBLAS). */
void repro_blas_set_threads(int threads);

#endif
