/* Batch norm (ghost-batch groups) and group norm on the GPU: the contract,
 * shapes and evaluation order of src/ops/cpu/norm.h, each kernel bitwise
 * equal to its CPU _ref (tests/cuda/test_cuda_norm.cu), NaNs excepted as in
 * src/ops/cuda/cuda_ops.h (a NaN is a NaN, which NaN is not promised).
 *
 * Conventions as src/ops/cuda/cuda_ops.h: every pointer is a device
 * pointer; work is enqueued on `stream` (a cudaStream_t, NULL = the
 * default stream) and nothing synchronises, allocates or copies, so every
 * call can be captured in a CUDA graph. Shapes are checked by
 * src/ops/norm_args.h (REPRO_ERR_ARG, the CPU's messages, nothing
 * launched); a failed launch is REPRO_ERR_INTERNAL with CUDA's message.
 *
 * How the work is split (never inside a sum; src/ops/cuda/norm_kernels.cuh):
 *   statistics, y, dx: a team of 32..256 threads per (mean, rstd) group,
 *     computing the group's canonical sums cooperatively with the
 *     reference's blocks, lanes and tree, then its outputs elementwise;
 *   running statistics (batch norm): one thread per channel, g ascending;
 *   dgamma, dbeta: one block per channel runs the channel's one chain over
 *     (n, hw), the next tile staged by a second warp. */
#ifndef REPRO_OPS_CUDA_NORM_H
#define REPRO_OPS_CUDA_NORM_H

#include <stdint.h>

#include "ops/cuda/cuda_ops.h"
#include "repro/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- batch norm (batchnorm.cu) ----
 * Training: y, x [N][C][HW]; mean, rstd [N/group][C]; running_mean,
 * running_var [C] updated for g ascending (or both NULL); group_stats
 * [N/group][2][C], when not NULL, receives each group's mean and unbiased
 * variance, what the update consumes (src/ops/cpu/norm.h); gamma, beta [C].
 * Between its two kernels rstd holds each group's variance. */
repro_status repro_cuda_batchnorm_forward_train(float *y, float *mean, float *rstd, float *running_mean,
                                                float *running_var, float *group_stats, const float *x, const float *gamma,
                                                const float *beta, int64_t N, int64_t C, int64_t HW, int64_t group,
                                                float eps, float momentum, repro_cuda_stream stream,
                                                repro_error *err);
/* Evaluation: y = ((x - running_mean) * rstd) * gamma + beta,
 * rstd = 1.0f / repro_sqrtf(running_var + eps); one thread per value. */
repro_status repro_cuda_batchnorm_forward_eval(float *y, const float *x, const float *gamma, const float *beta,
                                               const float *running_mean, const float *running_var, int64_t N,
                                               int64_t C, int64_t HW, float eps, repro_cuda_stream stream,
                                               repro_error *err);
/* dx (overwritten), dy, x [N][C][HW]; dgamma, dbeta [C] (accumulated);
 * mean, rstd [N/group][C] from the forward. dx NULL, or dgamma and dbeta
 * both NULL, leaves that part out (so each can go on its own stream). */
repro_status repro_cuda_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                           const float *mean, const float *rstd, const float *gamma, int64_t N,
                                           int64_t C, int64_t HW, int64_t group, repro_cuda_stream stream,
                                           repro_error *err);

/* ---- group norm (groupnorm.cu) ----
 * y, x, dy, dx [N][C][HW]; mean, rstd [N][groups]; gamma, beta, dgamma,
 * dbeta [C] (dgamma, dbeta accumulated; backward leaves out dx, or both,
 * when NULL, as batch norm's). */
repro_status repro_cuda_groupnorm_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                                          const float *beta, int64_t N, int64_t C, int64_t HW, int64_t groups,
                                          float eps, repro_cuda_stream stream, repro_error *err);
repro_status repro_cuda_groupnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                           const float *mean, const float *rstd, const float *gamma, int64_t N,
                                           int64_t C, int64_t HW, int64_t groups, repro_cuda_stream stream,
                                           repro_error *err);

#ifdef __cplusplus
}
#endif

#endif
