/* The argument checks of batch norm and group norm, written once for the
 * CPU kernels (src/ops/cpu/norm.h) and the CUDA kernels
 * (src/ops/cuda/cuda_norm.h), so both refuse the same shapes with the same
 * messages. Host code only. Each returns REPRO_OK or REPRO_ERR_ARG with a
 * message naming the values at fault. */
#ifndef REPRO_OPS_NORM_ARGS_H
#define REPRO_OPS_NORM_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "repro/defs.h"
#include "repro/status.h"

/* x [N][C][HW]: every dimension at least 1. */
REPRO_INLINE repro_status repro_norm_check_shape(const char *op, int64_t N, int64_t C, int64_t HW, repro_error *err)
{
    if (N < 1 || C < 1 || HW < 1)
        return repro_fail(err, REPRO_ERR_ARG, "%s shape N=%lld C=%lld HW=%lld: every dimension must be at least 1",
                          op, (long long)N, (long long)C, (long long)HW);
    return REPRO_OK;
}

/* Batch norm in training: the N samples are cut into groups of `group`
 * consecutive samples; group divides N, and a group holds at least two
 * values per channel (the unbiased variance divides by count - 1). */
REPRO_INLINE repro_status repro_batchnorm_check(int64_t N, int64_t C, int64_t HW, int64_t group, repro_error *err)
{
    repro_status st = repro_norm_check_shape("batch-norm", N, C, HW, err);
    if (st != REPRO_OK)
        return st;
    if (group < 1)
        return repro_fail(err, REPRO_ERR_ARG, "batch-norm group %lld must be at least 1 sample", (long long)group);
    if (N % group != 0)
        return repro_fail(err, REPRO_ERR_ARG, "batch-norm group %lld does not divide the micro-batch of %lld samples",
                          (long long)group, (long long)N);
    if (group * HW < 2)
        return repro_fail(err, REPRO_ERR_ARG,
                          "batch-norm group of %lld sample(s) x HW=%lld has %lld value(s) per channel: at least 2 "
                          "are needed (the unbiased variance divides by count - 1)",
                          (long long)group, (long long)HW, (long long)(group * HW));
    return REPRO_OK;
}

/* Batch norm's running statistics: both buffers or neither. */
REPRO_INLINE repro_status repro_batchnorm_check_running(const float *running_mean, const float *running_var,
                                                        repro_error *err)
{
    if ((running_mean == NULL) != (running_var == NULL))
        return repro_fail(err, REPRO_ERR_ARG,
                          "batch-norm running statistics: running_mean is %s but running_var is %s (give both or "
                          "neither)",
                          running_mean ? "set" : "NULL", running_var ? "set" : "NULL");
    return REPRO_OK;
}

/* Group norm: `groups` groups of C / groups channels each. */
REPRO_INLINE repro_status repro_groupnorm_check(int64_t N, int64_t C, int64_t HW, int64_t groups, repro_error *err)
{
    repro_status st = repro_norm_check_shape("group-norm", N, C, HW, err);
    if (st != REPRO_OK)
        return st;
    if (groups < 1)
        return repro_fail(err, REPRO_ERR_ARG, "group-norm groups %lld must be at least 1", (long long)groups);
    if (C % groups != 0)
        return repro_fail(err, REPRO_ERR_ARG, "group-norm groups %lld do not divide the %lld channels",
                          (long long)groups, (long long)C);
    return REPRO_OK;
}

#endif
