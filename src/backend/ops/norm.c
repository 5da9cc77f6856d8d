/* Batch norm's and group norm's kernel rows: src/ops/cpu/norm.h on the CPU,
 * src/ops/cuda/cuda_norm.h on a GPU. */
#include "backend/ops/ops.h"
#include "ops/cpu/norm.h"
#ifdef REPRO_HAVE_CUDA
#include "ops/cuda/cuda_norm.h"
#endif

#define CPU(be) repro_backend_cpu(be)

static repro_status bn_train_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_norm_args *a = p;
    return repro_batchnorm_forward_train(CPU(be), a->y, a->mean, a->rstd, a->running_mean, a->running_var,
                                         a->group_stats, a->x, a->gamma, a->beta, a->N, a->C, a->HW, a->group,
                                         a->eps, a->momentum, err);
}

static repro_status bn_eval_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_norm_args *a = p;
    return repro_batchnorm_forward_eval(CPU(be), a->y, a->x, a->gamma, a->beta, a->running_mean, a->running_var,
                                        a->N, a->C, a->HW, a->eps, err);
}

static repro_status bn_bwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_norm_args *a = p;
    return repro_batchnorm_backward(CPU(be), a->dx, a->dgamma, a->dbeta, a->dy, a->x, a->mean, a->rstd, a->gamma,
                                    a->N, a->C, a->HW, a->group, err);
}

static repro_status gn_fwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_norm_args *a = p;
    return repro_groupnorm_forward(CPU(be), a->y, a->mean, a->rstd, a->x, a->gamma, a->beta, a->N, a->C, a->HW,
                                   a->group, a->eps, err);
}

static repro_status gn_bwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_norm_args *a = p;
    return repro_groupnorm_backward(CPU(be), a->dx, a->dgamma, a->dbeta, a->dy, a->x, a->mean, a->rstd, a->gamma,
                                    a->N, a->C, a->HW, a->group, err);
}

#ifdef REPRO_HAVE_CUDA
#define STREAM repro_backend_stream(be)

typedef repro_status (*norm_backward_cuda)(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                           const float *mean, const float *rstd, const float *gamma, int64_t N,
                                           int64_t C, int64_t HW, int64_t group, repro_cuda_stream stream,
                                           repro_error *err);

/* dgamma/dbeta (one chain a channel over the batch) on a side stream,
 * started first; dx on the stream (kernel.h) */
static repro_status param_beside(const repro_backend *be, const repro_norm_args *a, norm_backward_cuda run,
                                 repro_error *err)
{
    void *side = NULL;
    repro_status st = REPRO_OK;
    if (a->dgamma && a->dbeta) {
        st = repro_backend_side_stream(be, a->dgamma, &side, err);
        if (st == REPRO_OK)
            st = run(NULL, a->dgamma, a->dbeta, a->dy, a->x, a->mean, a->rstd, a->gamma, a->N, a->C, a->HW, a->group,
                     side, err);
    }
    if (st == REPRO_OK && a->dx)
        st = run(a->dx, NULL, NULL, a->dy, a->x, a->mean, a->rstd, a->gamma, a->N, a->C, a->HW, a->group, STREAM,
                 err);
    return st;
}

static repro_status bn_train_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_norm_args *a = p;
    return repro_cuda_batchnorm_forward_train(a->y, a->mean, a->rstd, a->running_mean, a->running_var, a->group_stats,
                                              a->x, a->gamma,
                                              a->beta, a->N, a->C, a->HW, a->group, a->eps, a->momentum, STREAM, err);
}

static repro_status bn_eval_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_norm_args *a = p;
    return repro_cuda_batchnorm_forward_eval(a->y, a->x, a->gamma, a->beta, a->running_mean, a->running_var, a->N,
                                             a->C, a->HW, a->eps, STREAM, err);
}

static repro_status bn_bwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_norm_args *a = p;
    return param_beside(be, a, repro_cuda_batchnorm_backward, err);
}

static repro_status gn_fwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_norm_args *a = p;
    return repro_cuda_groupnorm_forward(a->y, a->mean, a->rstd, a->x, a->gamma, a->beta, a->N, a->C, a->HW, a->group,
                                        a->eps, STREAM, err);
}

static repro_status gn_bwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_norm_args *a = p;
    return param_beside(be, a, repro_cuda_groupnorm_backward, err);
}
#endif

const repro_kernel repro_k_batchnorm_train = {"batch_norm.forward", bn_train_cpu, REPRO_CUDA_KERNEL(bn_train_cuda)};
const repro_kernel repro_k_batchnorm_eval = {"batch_norm.eval", bn_eval_cpu, REPRO_CUDA_KERNEL(bn_eval_cuda)};
const repro_kernel repro_k_batchnorm_backward = {"batch_norm.backward", bn_bwd_cpu, REPRO_CUDA_KERNEL(bn_bwd_cuda)};
const repro_kernel repro_k_groupnorm_forward = {"group_norm.forward", gn_fwd_cpu, REPRO_CUDA_KERNEL(gn_fwd_cuda)};
const repro_kernel repro_k_groupnorm_backward = {"group_norm.backward", gn_bwd_cpu, REPRO_CUDA_KERNEL(gn_bwd_cuda)};
