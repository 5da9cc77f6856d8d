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
 * LM cross-entropy, z [B][T][V] logits, target [B][T] token ids, loss [B],
 * `ignore` the ignored target id (the head's ignore_index; < 0: none).
 * A position counts when its target is not `ignore` (every position when
 * there is none); n[b] = the counted positions of sample b:
 *   loss[b] = n[b] == 0 ? +0
 *           : (acc = +0; for t ascending, counted: acc = acc + xent(z[b][t], target[b][t])) / (float)n[b]
 *   dz[b][t][j] = counted ? repro_xent_dz(z[b][t][j], j == target[b][t], stats(z[b][t]), scale / (float)n[b])
 *               : +0
 *   (xent, stats: src/ops/ops_math.h; scale = head weight / batch size,
 *   so the step's loss is the mean over the batch of each sample's mean
 *   over its counted positions). Without `ignore`, n[b] = T: the mean over
 *   every position, the bits from before ignore_index existed. An ignored
 *   target need not be an id in [0, V).
 *
 * Pad mask, ids [N] -> y [N]: y[p] = repro_pad_mask(ids[p], pad) (1 where
 * the id is the pad id, else 0; src/ops/token_math.h). No gradient.
 *
 * Every CPU entry point checks every id first and fails with REPRO_ERR_ARG
 * naming the first bad position (outputs untouched). The threaded twins
 * split over output elements: forward over positions, the embedding
 * backward over columns d (each column walks p ascending), the loss over
 * samples (forward) and positions (backward; a sample's n[b] is counted
 * once per run of its rows a thread takes). */
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
                                       int64_t V, int64_t ignore, repro_error *err);
repro_status repro_lm_xent_forward(const repro_cpu *cpu, float *loss, const float *z, const float *target,
                                   int64_t B, int64_t T, int64_t V, int64_t ignore, repro_error *err);
repro_status repro_lm_xent_backward_ref(float *dz, const float *z, const float *target, int64_t B, int64_t T,
                                        int64_t V, int64_t ignore, float scale, repro_error *err);
repro_status repro_lm_xent_backward(const repro_cpu *cpu, float *dz, const float *z, const float *target,
                                    int64_t B, int64_t T, int64_t V, int64_t ignore, float scale, repro_error *err);

void repro_pad_mask_forward_ref(float *y, const float *ids, int64_t N, float pad);
repro_status repro_pad_mask_forward(const repro_cpu *cpu, float *y, const float *ids, int64_t N, float pad,
                                    repro_error *err);

/* Sinusoidal positions: y[b][t][d] = x[b][t][d] + repro_sinusoidal_pe(t, d, D)
 * (src/ops/token_math.h), x, y [B][T][D], T <= 2^20. The backward is dx = dy. */
void repro_sinusoidal_forward_ref(float *y, const float *x, int64_t B, int64_t T, int64_t D);
repro_status repro_sinusoidal_forward(const repro_cpu *cpu, float *y, const float *x, int64_t B, int64_t T, int64_t D,
                                      repro_error *err);

#endif
