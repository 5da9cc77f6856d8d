/* Every non-GEMM CPU kernel of the training engine.
 *
 * Each op comes as a threaded kernel taking `const repro_cpu *cpu` (work
 * split over output elements with repro_pool_run: rows, features or
 * contiguous element ranges) and a `_ref` twin, a plain single-threaded loop
 * in the same order, which tests/test_ops.c holds the threaded one to bit
 * for bit. The arithmetic of each element is written once in
 * src/ops/ops_math.h (shared with the CUDA backend); the canonical long sum
 * in src/ops/reduce.h. cpu->isa is not consulted: these kernels are memory
 * bound and run the scalar path on every ISA.
 *
 * Conventions: arrays are row-major, shapes in brackets; B = rows (samples),
 * D = features, C = classes, T = regression targets. "overwrites" outputs
 * are written, "accumulates" outputs are added to (acc starts from the
 * current value, so micro-batches sum to the full batch bit for bit).
 * Unless a function says otherwise, outputs must not alias inputs. */
#ifndef REPRO_OPS_CPU_OPS_H
#define REPRO_OPS_CPU_OPS_H

#include <stdint.h>

#include "ops/activations.h"
#include "ops/cpu/cpu.h"
#include "ops/reduce.h"
#include "repro/status.h"

/* ---- canonical reduction (reduce.c; order in src/ops/reduce.h) ----
 * The threaded sums compute subtrees of the block tree in parallel; the tree
 * and the blocks are those of repro_sum_canonical, so the bits are too. */
repro_status repro_sum_canonical_mt(const repro_cpu *cpu, const float *x, int64_t n, float *out, repro_error *err);   /* x[n] */
repro_status repro_sumsq_canonical_mt(const repro_cpu *cpu, const float *x, int64_t n, float *out, repro_error *err); /* x[n] */
repro_status repro_canon_sum_mt(const repro_cpu *cpu, const repro_canon_src *src, int64_t n, float *out, repro_error *err);

/* ---- activations (activation.c), elementwise over n elements ----
 * act is any row of src/ops/activations.h (the ACTIVATION rows of
 * repro/layer_kinds.h); the formulas are in src/ops/ops_math.h.
 * forward: y[n] overwritten from x[n]; y may equal x (in place).
 * backward: dx[n] overwritten from dy[n] and `saved`, the forward's input
 * x[n] or its output y[n] as repro_act_reads_output(act) says; dx may
 * equal dy. */
repro_status repro_act_forward(const repro_cpu *cpu, repro_act act, float *y, const float *x, int64_t n,
                               repro_error *err);
void repro_act_forward_ref(repro_act act, float *y, const float *x, int64_t n);
repro_status repro_act_backward(const repro_cpu *cpu, repro_act act, float *dx, const float *dy,
                                const float *saved, int64_t n, repro_error *err);
void repro_act_backward_ref(repro_act act, float *dx, const float *dy, const float *saved, int64_t n);

/* ---- elementwise helpers (elementwise.c) ----
 * y[n] = y[n] + x[n] (one rounding each): sums the gradients that several
 * heads send back into a shared trunk, in a fixed head order. */
repro_status repro_add_inplace(const repro_cpu *cpu, float *y, const float *x, int64_t n, repro_error *err);
void repro_add_inplace_ref(float *y, const float *x, int64_t n);

/* ---- dropout (dropout.c), training only: at evaluation it is the identity
 * and the caller skips it ----
 * x, y [B][D]; mask [B][D] (1 = kept); sample_pos [B] = each row's position in
 * the epoch order. Element (b, d) is kept iff
 *     repro_rng_uniform(key, sample_pos[b], (uint32_t)step, (uint32_t)(step >> 32), d) >= p,
 *     key = repro_rng_derive(seed, REPRO_RNG_DROPOUT, layer_index, 0),
 * so the mask of a sample depends only on (seed, layer, step, sample_pos, d),
 * never on the batch or its split into micro-batches.
 * y = keep ? x * scale : +0, scale = 1.0f / (1.0f - p) in float.
 * p == 0: y = x bit for bit and mask = all ones.
 * Fails (REPRO_ERR_ARG, output untouched) unless 0 <= p < 1. y may equal x. */
repro_status repro_dropout_forward(const repro_cpu *cpu, float *y, uint8_t *mask, const float *x,
                                   int64_t B, int64_t D, float p, uint64_t seed, uint32_t layer_index,
                                   uint64_t step, const uint32_t *sample_pos, repro_error *err);
repro_status repro_dropout_forward_ref(float *y, uint8_t *mask, const float *x, int64_t B, int64_t D,
                                       float p, uint64_t seed, uint32_t layer_index, uint64_t step,
                                       const uint32_t *sample_pos, repro_error *err);
/* dx [B][D] overwritten: dx = mask ? dy * scale : +0 (p as in the forward,
 * p == 0: dx = dy). dx may equal dy. */
repro_status repro_dropout_backward(const repro_cpu *cpu, float *dx, const float *dy, const uint8_t *mask,
                            int64_t B, int64_t D, float p, repro_error *err);
void repro_dropout_backward_ref(float *dx, const float *dy, const uint8_t *mask, int64_t B, int64_t D,
                                float p);

/* ---- layer norm over the last dimension (layernorm.c) ----
 * x, y [B][D]; gamma, beta [D]; mean, rstd [B] saved for the backward.
 *   mean = repro_sum_canonical(x row, D) / (float)D
 *   var  = canonical sum of d * d, d = x - mean, / (float)D
 *   rstd = 1.0f / repro_sqrtf(var + eps)
 *   y    = ((x - mean) * rstd) * gamma + beta   (xhat * gamma, then + beta)
 * Threads split rows. y may equal x. */
repro_status repro_layernorm_forward(const repro_cpu *cpu, float *y, float *mean, float *rstd, const float *x,
                             const float *gamma, const float *beta, int64_t B, int64_t D, float eps, repro_error *err);
void repro_layernorm_forward_ref(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                                 const float *beta, int64_t B, int64_t D, float eps);
/* dy, x, dx [B][D]; mean, rstd [B] from the forward; gamma, dgamma, dbeta [D].
 * Per row, xhat = (x - mean) * rstd and:
 *   dxhat = dy * gamma                        (written to dx as scratch)
 *   m1    = repro_canon_sum(dxhat) / (float)D
 *   m2    = repro_canon_sum(dxhat * xhat) / (float)D
 *   dx    = rstd * ((dxhat - m1) - xhat * m2)            (overwrites dx)
 * and per feature d, for b ascending (accumulates, from the current value):
 *   dgamma[d] = fmaf(dy[b][d], xhat[b][d], dgamma[d])
 *   dbeta[d]  = dbeta[d] + dy[b][d]
 * Threads split rows for dx and features for dgamma/dbeta. */
repro_status repro_layernorm_backward(const repro_cpu *cpu, float *dx, float *dgamma, float *dbeta,
                              const float *dy, const float *x, const float *mean, const float *rstd,
                              const float *gamma, int64_t B, int64_t D, repro_error *err);
void repro_layernorm_backward_ref(float *dx, float *dgamma, float *dbeta, const float *dy,
                                  const float *x, const float *mean, const float *rstd,
                                  const float *gamma, int64_t B, int64_t D);

/* ---- losses (loss.c), per sample: loss[b] depends on row b alone, so the
 * caller reduces loss[] over the step's samples with repro_sum_canonical ----
 *
 * Softmax cross-entropy: z, dz [B][C] (C >= 1); labels [B] in [0, C);
 * loss [B]; pred [B] = argmax (first maximum), may be NULL. Order in
 * src/ops/ops_math.h (repro_xent_*). The backward overwrites
 *   dz[b][j] = (repro_expf(z[b][j] - m) / s - (j == label ? 1 : 0)) * scale,
 * scale = the caller's head weight / global batch size.
 * Both fail (REPRO_ERR_ARG, naming the row and value; outputs untouched)
 * on a label outside [0, C) or C < 1. */
repro_status repro_softmax_xent_forward(const repro_cpu *cpu, float *loss, int32_t *pred, const float *z,
                                        const int32_t *labels, int64_t B, int64_t C, repro_error *err);
repro_status repro_softmax_xent_forward_ref(float *loss, int32_t *pred, const float *z,
                                            const int32_t *labels, int64_t B, int64_t C, repro_error *err);
repro_status repro_softmax_xent_backward(const repro_cpu *cpu, float *dz, const float *z,
                                         const int32_t *labels, int64_t B, int64_t C, float scale,
                                         repro_error *err);
repro_status repro_softmax_xent_backward_ref(float *dz, const float *z, const int32_t *labels, int64_t B,
                                             int64_t C, float scale, repro_error *err);

/* Mean squared error over T >= 1 targets: pred, target, dpred [B][T]; loss [B].
 *   loss[b] = (sum over t ascending, from +0, of d * d) / (float)T,  d = p - y
 *   dpred   = ((2.0f * d) / (float)T) * scale   (overwrites) */
repro_status repro_mse_forward(const repro_cpu *cpu, float *loss, const float *pred, const float *target,
                       int64_t B, int64_t T, repro_error *err);
void repro_mse_forward_ref(float *loss, const float *pred, const float *target, int64_t B, int64_t T);
repro_status repro_mse_backward(const repro_cpu *cpu, float *dpred, const float *pred, const float *target,
                        int64_t B, int64_t T, float scale, repro_error *err);
void repro_mse_backward_ref(float *dpred, const float *pred, const float *target, int64_t B, int64_t T,
                            float scale);

/* Huber with threshold delta > 0, over T >= 1 targets; shapes as MSE.
 *   l = |d| <= delta ? (0.5f * d) * d : delta * (|d| - 0.5f * delta)
 *   loss[b] = (sum over t ascending, from +0, of l) / (float)T
 *   dpred   = (clamp(d, -delta, delta) / (float)T) * scale   (overwrites) */
repro_status repro_huber_forward(const repro_cpu *cpu, float *loss, const float *pred, const float *target,
                         int64_t B, int64_t T, float delta, repro_error *err);
void repro_huber_forward_ref(float *loss, const float *pred, const float *target, int64_t B, int64_t T,
                             float delta);
repro_status repro_huber_backward(const repro_cpu *cpu, float *dpred, const float *pred, const float *target,
                          int64_t B, int64_t T, float delta, float scale, repro_error *err);
void repro_huber_backward_ref(float *dpred, const float *pred, const float *target, int64_t B, int64_t T,
                              float delta, float scale);

#endif
