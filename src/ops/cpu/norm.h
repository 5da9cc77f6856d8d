/* Batch norm (with ghost-batch groups) and group norm over NCHW tensors.
 *
 * Layout: x, y, dy, dx [N][C][HW], HW = H * W (a 2-D [N][C] tensor is
 * HW = 1); gamma, beta, dgamma, dbeta, running_mean, running_var [C].
 * Each op comes as a threaded kernel taking `const repro_cpu *cpu` and a
 * `_ref` twin (plain single-threaded loops in the written order) that
 * tests/test_norm.c holds the threaded one to, bit for bit; the CUDA twins
 * (src/ops/cuda/cuda_norm.h) follow the same order. Arguments are checked
 * by src/ops/norm_args.h (REPRO_ERR_ARG, nothing written). Outputs must not
 * alias inputs.
 *
 * Every long sum is the canonical sum of src/ops/reduce.h, canon_sum(e),
 * over the group's values e in the order given (a batch-norm group's values
 * are not contiguous: they are summed through the segmented layout, so the
 * bits are those of the canonical sum of a gathered copy). Per-element
 * formulas are layer norm's (src/ops/ops_math.h):
 *   xhat = (x - mean) * rstd                      repro_layernorm_xhat
 *   y    = ((x - mean) * rstd) * gamma + beta     repro_layernorm_f
 *   rstd = 1.0f / repro_sqrtf(var + eps)          repro_layernorm_rstd
 *   dx   = rstd * ((dxhat - m1) - xhat * m2)      repro_layernorm_dx
 *
 * ---- batch norm, training ----
 * The N samples are cut into N/group consecutive groups of `group` samples
 * (group must divide N, group * HW >= 2). For each group g and channel c,
 * e = the group's values of channel c in order (sample ascending, then hw
 * ascending), cnt = group * HW:
 *   mean = canon_sum(e) / (float)cnt
 *   var  = canon_sum((e - mean)^2) / (float)cnt        (biased, for normalising;
 *                                                       d = e - mean; d * d)
 *   rstd = 1.0f / repro_sqrtf(var + eps)
 *   y    = ((x - mean) * rstd) * gamma[c] + beta[c]
 *   mean[g][c], rstd[g][c] saved for the backward ([N/group][C])
 * running statistics, for g ascending (so micro-batches in order give the
 * result of one batch):
 *   unbiased        = var * ((float)cnt / (float)(cnt - 1))
 *   running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean
 *   running_var[c]  = (1.0f - momentum) * running_var[c]  + momentum * unbiased
 *   (each product rounded, then the sum: no fmaf)
 * running_mean and running_var may both be NULL (not updated).
 * group_stats [N/group][2][C], when not NULL, receives what each group's
 * update consumes: row 2g the means, row 2g+1 the unbiased variances (a
 * data-parallel step replays them in global group order, train/bn_world.h).
 * Threads: (g, c) pairs for the statistics and y, channels for the running
 * statistics (rstd holds each pair's var in between: the running update
 * needs it, and rstd is its pure function).
 *
 * ---- batch norm, evaluation ----
 *   rstd = 1.0f / repro_sqrtf(running_var[c] + eps)
 *   y    = ((x - running_mean[c]) * rstd) * gamma[c] + beta[c]
 * Threads: (n, c) rows.
 *
 * ---- batch norm, backward ----
 * mean, rstd [N/group][C] from the forward; for each (g, c), with
 * xhat = (x - mean) * rstd and dxhat = dy * gamma[c] (written to dx as
 * scratch), cnt = group * HW, sums over the group's values in the forward's
 * order:
 *   m1 = canon_sum(dxhat) / (float)cnt
 *   m2 = canon_sum(dxhat * xhat) / (float)cnt
 *   dx = rstd * ((dxhat - m1) - xhat * m2)                 (overwrites dx)
 * and per channel c, from their current values (accumulates), over
 * (n ascending, hw ascending):
 *   dgamma[c] = fmaf(dy, xhat, dgamma[c]);  dbeta[c] = dbeta[c] + dy
 * So a batch cut into micro-batches of whole groups, run in order, gives
 * the same dgamma/dbeta bits as the one batch.
 * Threads: (g, c) pairs for dx, channels for dgamma/dbeta.
 *
 * ---- group norm ----
 * groups divides C; cg = C / groups. For each sample n and group g, e = the
 * contiguous run of cg * HW values x[n][g*cg .. g*cg+cg)[0 .. HW) (channels
 * of the group, then hw), cnt = cg * HW; the formulas of batch norm's
 * training forward and backward above, with gamma[c], beta[c] of each
 * value's own channel c; mean, rstd [N][groups]; no running statistics;
 * dgamma[c], dbeta[c] accumulate over (n ascending, hw ascending).
 * Threads: (n, g) pairs for the statistics, y and dx, channels for
 * dgamma/dbeta. */
#ifndef REPRO_OPS_CPU_NORM_H
#define REPRO_OPS_CPU_NORM_H

#include <stdint.h>

#include "ops/cpu/cpu.h"
#include "repro/status.h"

/* y, x [N][C][HW]; mean, rstd [N/group][C] (written); running_mean,
 * running_var [C] (updated, or both NULL); group_stats [N/group][2][C]
 * (written, or NULL); gamma, beta [C]. */
repro_status repro_batchnorm_forward_train(const repro_cpu *cpu, float *y, float *mean, float *rstd,
                                           float *running_mean, float *running_var, float *group_stats, const float *x,
                                           const float *gamma, const float *beta, int64_t N, int64_t C,
                                           int64_t HW, int64_t group, float eps, float momentum, repro_error *err);
repro_status repro_batchnorm_forward_train_ref(float *y, float *mean, float *rstd, float *running_mean,
                                               float *running_var, float *group_stats, const float *x,
                                               const float *gamma, const float *beta, int64_t N, int64_t C, int64_t HW,
                                               int64_t group, float eps, float momentum, repro_error *err);

/* y, x [N][C][HW]; gamma, beta, running_mean, running_var [C]. */
repro_status repro_batchnorm_forward_eval(const repro_cpu *cpu, float *y, const float *x, const float *gamma,
                                          const float *beta, const float *running_mean, const float *running_var,
                                          int64_t N, int64_t C, int64_t HW, float eps, repro_error *err);
repro_status repro_batchnorm_forward_eval_ref(float *y, const float *x, const float *gamma, const float *beta,
                                              const float *running_mean, const float *running_var, int64_t N,
                                              int64_t C, int64_t HW, float eps, repro_error *err);

/* dx (overwritten), dy, x [N][C][HW]; dgamma, dbeta [C] (accumulated);
 * mean, rstd [N/group][C] from the forward; gamma [C]. */
repro_status repro_batchnorm_backward(const repro_cpu *cpu, float *dx, float *dgamma, float *dbeta, const float *dy,
                                      const float *x, const float *mean, const float *rstd, const float *gamma,
                                      int64_t N, int64_t C, int64_t HW, int64_t group, repro_error *err);
repro_status repro_batchnorm_backward_ref(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                          const float *mean, const float *rstd, const float *gamma, int64_t N,
                                          int64_t C, int64_t HW, int64_t group, repro_error *err);

/* y, x [N][C][HW]; mean, rstd [N][groups] (written); gamma, beta [C]. */
repro_status repro_groupnorm_forward(const repro_cpu *cpu, float *y, float *mean, float *rstd, const float *x,
                                     const float *gamma, const float *beta, int64_t N, int64_t C, int64_t HW,
                                     int64_t groups, float eps, repro_error *err);
repro_status repro_groupnorm_forward_ref(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                                         const float *beta, int64_t N, int64_t C, int64_t HW, int64_t groups,
                                         float eps, repro_error *err);

/* dx (overwritten), dy, x [N][C][HW]; dgamma, dbeta [C] (accumulated);
 * mean, rstd [N][groups] from the forward; gamma [C]. */
repro_status repro_groupnorm_backward(const repro_cpu *cpu, float *dx, float *dgamma, float *dbeta, const float *dy,
                                      const float *x, const float *mean, const float *rstd, const float *gamma,
                                      int64_t N, int64_t C, int64_t HW, int64_t groups, repro_error *err);
repro_status repro_groupnorm_backward_ref(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                          const float *mean, const float *rstd, const float *gamma, int64_t N,
                                          int64_t C, int64_t HW, int64_t groups, repro_error *err);

#endif
