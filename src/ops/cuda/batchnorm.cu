/* Batch norm with ghost-batch groups on the GPU (order: src/ops/cpu/norm.h;
 * work split: src/ops/cuda/norm_kernels.cuh). Training forward: the team
 * kernel writes y, mean and (in rstd) the variance of each (g, c); then one
 * thread per channel updates the running statistics for g ascending and
 * turns each variance into rstd. Backward: the per-channel dgamma/dbeta
 * chains, then dx by the team kernel. */
#include "ops/cuda/cuda_norm.h"
#include "ops/cuda/cuda_util.cuh"
#include "ops/cuda/norm_kernels.cuh"
#include "ops/norm_args.h"

namespace {

/* The (g, c) pairs of x [N][C][HW] cut into groups of `group` samples. */
repro_norm_shape bn_shape(int64_t N, int64_t C, int64_t HW, int64_t group)
{
    repro_norm_shape s;
    s.pairs = (N / group) * C;
    s.cnt = group * HW;
    s.C = C;
    s.HW = HW;
    s.runs = group;
    s.stride = C * HW;
    s.per = C;
    s.bn = 1;
    return s;
}

/* Channel c, g ascending: running statistics from (mean, var = rstd's
 * scratch), or what their update would consume into group_stats [G][2][C]
 * (a data-parallel step: train/bn_world.h); then rstd =
 * repro_layernorm_rstd(var, eps). */
__global__ void finish_kernel(float *mean, float *rstd, float *running_mean, float *running_var, float *group_stats,
                              int64_t G, int64_t C, int64_t cnt, float eps, float momentum)
{
    REPRO_CUDA_FOR(c, C)
    {
        for (int64_t g = 0; g < G; g++) {
            float var = rstd[g * C + c];
            if (group_stats) {
                group_stats[2 * g * C + c] = mean[g * C + c];
                group_stats[(2 * g + 1) * C + c] = repro_batchnorm_unbiased(var, cnt);
            }
            if (running_mean) {
                running_mean[c] = repro_batchnorm_running(running_mean[c], mean[g * C + c], momentum);
                running_var[c] = repro_batchnorm_running(running_var[c], repro_batchnorm_unbiased(var, cnt), momentum);
            }
            rstd[g * C + c] = repro_layernorm_rstd(var, eps);
        }
    }
}

/* y = repro_layernorm_f(x, running_mean[c], rstd, gamma[c], beta[c]),
 * c = (i / HW) % C; index type I (32-bit when the tensor allows: the
 * division is the kernel's main cost). */
template <typename I>
__global__ void eval_kernel(float *y, const float *x, const float *gamma, const float *beta, const float *rmean,
                            const float *rvar, I n, I C, I HW, float eps)
{
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
        I c = (i / HW) % C;
        float rs = repro_layernorm_rstd(rvar[c], eps);
        y[i] = repro_layernorm_f(x[i], rmean[c], rs, gamma[c], beta[c]);
    }
}

repro_status check_train(int64_t N, int64_t C, int64_t HW, int64_t group, const float *running_mean,
                         const float *running_var, repro_error *err)
{
    repro_status st = repro_batchnorm_check(N, C, HW, group, err);
    return st != REPRO_OK ? st : repro_batchnorm_check_running(running_mean, running_var, err);
}

} // namespace

extern "C" {

repro_status repro_cuda_batchnorm_forward_train(float *y, float *mean, float *rstd, float *running_mean,
                                                float *running_var, float *group_stats, const float *x, const float *gamma,
                                                const float *beta, int64_t N, int64_t C, int64_t HW, int64_t group,
                                                float eps, float momentum, repro_cuda_stream s, repro_error *err)
{
    repro_status st = check_train(N, C, HW, group, running_mean, running_var, err);
    if (st != REPRO_OK)
        return st;
    repro_norm_shape sh = bn_shape(N, C, HW, group);
    repro_norm_launch_forward(sh, y, mean, rstd, x, gamma, beta, eps, 1, repro_cuda_s(s));
    st = repro_cuda_check("batch-norm forward (statistics, y)", err);
    if (st != REPRO_OK)
        return st;
    finish_kernel<<<repro_cuda_blocks(C), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(
        mean, rstd, running_mean, running_var, group_stats, N / group, C, sh.cnt, eps, momentum);
    return repro_cuda_check("batch-norm forward (running statistics)", err);
}

repro_status repro_cuda_batchnorm_forward_eval(float *y, const float *x, const float *gamma, const float *beta,
                                               const float *running_mean, const float *running_var, int64_t N,
                                               int64_t C, int64_t HW, float eps, repro_cuda_stream s,
                                               repro_error *err)
{
    repro_status st = repro_norm_check_shape("batch-norm", N, C, HW, err);
    if (st != REPRO_OK)
        return st;
    int64_t n = N * C * HW;
    if (n < ((int64_t)1 << 31))
        eval_kernel<uint32_t><<<repro_cuda_blocks(n), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(
            y, x, gamma, beta, running_mean, running_var, (uint32_t)n, (uint32_t)C, (uint32_t)HW, eps);
    else
        eval_kernel<int64_t><<<repro_cuda_blocks(n), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(
            y, x, gamma, beta, running_mean, running_var, n, C, HW, eps);
    return repro_cuda_check("batch-norm forward (evaluation)", err);
}

repro_status repro_cuda_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                           const float *mean, const float *rstd, const float *gamma, int64_t N,
                                           int64_t C, int64_t HW, int64_t group, repro_cuda_stream s,
                                           repro_error *err)
{
    repro_status st = repro_batchnorm_check(N, C, HW, group, err);
    if (st != REPRO_OK)
        return st;
    if (dgamma && dbeta) {
        repro_norm_launch_param(dgamma, dbeta, dy, x, mean, rstd, N, C, HW, group, C, 1, repro_cuda_s(s));
        st = repro_cuda_check("batch-norm backward (dgamma, dbeta)", err);
        if (st != REPRO_OK)
            return st;
    }
    if (!dx)
        return REPRO_OK;
    repro_norm_launch_dx(bn_shape(N, C, HW, group), dx, dy, x, mean, rstd, gamma, repro_cuda_s(s));
    return repro_cuda_check("batch-norm backward (dx)", err);
}

} /* extern "C" */
