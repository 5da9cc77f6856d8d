/* Token embedding and the causal language model's loss: the CPU kernels.
 * Token ids are float-coded integers (src/ops/token_math.h). The CUDA twins
 * (src/ops/cuda/cuda_token.h) follow these orders bit for bit.
 *
 * Embedding, ids [N] (N = B*T positions, p = b*T + t), W [V][D], y [N][D]:
 *   forward:  y[p][d] = W[id(p)][d]                       (a copy)
 *   backward: dW[v][d] accumulates, continuing from its current value:
 *               acc = dW[v][d]; for p ascending with id(p) == v: acc = acc + dy[p][d]
 *             one rounding each, never atomics. Positions run (b, t)
 *             ascending, so micro-batches processed in order give exactly
 *             one big batch's bits (as linear's dW: src/ops/cpu/linear.h).
 *   There is no gradient for the ids.
 *
 * LM cross-entropy, z [B][T][V] logits, target [B][T] token ids, loss [B]:
 *   loss[b] = (acc = +0; for t ascending: acc = acc + xent(z[b][t], target[b][t])) / (float)T
 *   dz[b][t][j] = repro_xent_dz(z[b][t][j], j == target[b][t], stats(z[b][t]), scale)
 *   (xent, stats: src/ops/ops_math.h; scale = head weight / batch size / T,
 *   so the step's loss is the mean over every position of the batch).
 *
 * Every CPU entry point checks every id first and fails with REPRO_ERR_ARG
 * naming the first bad position (outputs untouched). The threaded twins
 * split over output elements: forward over positions, the embedding
 * backward over columns d (each column walks p ascending), the loss over
 * samples (forward) and positions (backward). */
#ifndef REPRO_OPS_CPU_EMBEDDING_H
#define REPRO_OPS_CPU_EMBEDDING_H

#include <stdint.h>

#include "ops/cpu/cpu.h"
#include "repro/status.h"

repro_status repro_embedding_forward_ref(float *y, const float *ids, const float *w, int64_t N, int64_t V,
                                         int64_t D, repro_error *err);
repro_status repro_embedding_forward(const repro_cpu *cpu, float *y, const float *ids, const float *w, int64_t N,
                                     int64_t V, int64_t D, repro_error *err);
repro_status repro_embedding_backward_ref(float *dw, const float *ids, const float *dy, int64_t N, int64_t V,
                                          int64_t D, repro_error *err);
repro_status repro_embedding_backward(const repro_cpu *cpu, float *dw, const float *ids, const float *dy,
                                      int64_t N, int64_t V, int64_t D, repro_error *err);

repro_status repro_lm_xent_forward_ref(float *loss, const float *z, const float *target, int64_t B, int64_t T,
                                       int64_t V, repro_error *err);
repro_status repro_lm_xent_forward(const repro_cpu *cpu, float *loss, const float *z, const float *target,
                                   int64_t B, int64_t T, int64_t V, repro_error *err);
repro_status repro_lm_xent_backward_ref(float *dz, const float *z, const float *target, int64_t B, int64_t T,
                                        int64_t V, float scale, repro_error *err);
repro_status repro_lm_xent_backward(const repro_cpu *cpu, float *dz, const float *z, const float *target,
                                    int64_t B, int64_t T, int64_t V, float scale, repro_error *err);

/* Sinusoidal positions: y[b][t][d] = x[b][t][d] + repro_sinusoidal_pe(t, d, D)
 * (src/ops/token_math.h), x, y [B][T][D], T <= 2^20. The backward is dx = dy. */
void repro_sinusoidal_forward_ref(float *y, const float *x, int64_t B, int64_t T, int64_t D);
repro_status repro_sinusoidal_forward(const repro_cpu *cpu, float *y, const float *x, int64_t B, int64_t T, int64_t D,
                                      repro_error *err);

#endif
