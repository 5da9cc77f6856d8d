/* Group norm on the GPU (order: src/ops/cpu/norm.h; work split:
 * src/ops/cuda/norm_kernels.cuh). Forward: the team kernel writes y, mean
 * and rstd of each (n, g). Backward: the per-channel dgamma/dbeta chains,
 * then dx by the team kernel. A group's values are contiguous (runs of HW,
 * HW apart), so its cursor's run is the channel within the group. */
#include "ops/cuda/cuda_norm.h"
#include "ops/cuda/cuda_util.cuh"
#include "ops/cuda/norm_kernels.cuh"
#include "ops/norm_args.h"

namespace {

/* The (n, g) pairs of x [N][C][HW] in `groups` groups of channels. */
repro_norm_shape gn_shape(int64_t N, int64_t C, int64_t HW, int64_t groups)
{
    repro_norm_shape s;
    s.pairs = N * groups;
    s.cnt = (C / groups) * HW;
    s.C = C;
    s.HW = HW;
    s.runs = C / groups;
    s.stride = HW;
    s.per = groups;
    s.bn = 0;
    return s;
}

} // namespace

extern "C" {

repro_status repro_cuda_groupnorm_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                                          const float *beta, int64_t N, int64_t C, int64_t HW, int64_t groups,
                                          float eps, repro_cuda_stream s, repro_error *err)
{
    repro_status st = repro_groupnorm_check(N, C, HW, groups, err);
    if (st != REPRO_OK)
        return st;
    repro_norm_launch_forward(gn_shape(N, C, HW, groups), y, mean, rstd, x, gamma, beta, eps, 0, repro_cuda_s(s));
    return repro_cuda_check("group-norm forward", err);
}

repro_status repro_cuda_groupnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                           const float *mean, const float *rstd, const float *gamma, int64_t N,
                                           int64_t C, int64_t HW, int64_t groups, repro_cuda_stream s,
                                           repro_error *err)
{
    repro_status st = repro_groupnorm_check(N, C, HW, groups, err);
    if (st != REPRO_OK)
        return st;
    if (dgamma && dbeta) {
        repro_norm_launch_param(dgamma, dbeta, dy, x, mean, rstd, N, C, HW, 1, groups, C / groups,
                                repro_cuda_s(s));
        st = repro_cuda_check("group-norm backward (dgamma, dbeta)", err);
        if (st != REPRO_OK)
            return st;
    }
    if (!dx)
        return REPRO_OK;
    repro_norm_launch_dx(gn_shape(N, C, HW, groups), dx, dy, x, mean, rstd, gamma, repro_cuda_s(s));
    return repro_cuda_check("group-norm backward (dx)", err);
}

} /* extern "C" */
