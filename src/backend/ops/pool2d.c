/* Pooling's kernel rows: src/ops/cpu/pool2d.h on the CPU, its CUDA twins on a GPU. */
#include "backend/ops/ops.h"
#include "ops/cpu/pool2d.h"
#ifdef REPRO_HAVE_CUDA
#include "ops/cuda/cuda_conv.h"
#endif

#define CPU(be) repro_backend_cpu(be)

static repro_status max_fwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_pool2d_args *a = p;
    return repro_maxpool2d_forward(CPU(be), &a->shape, a->y, a->argmax, a->x, err);
}

static repro_status max_bwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_pool2d_args *a = p;
    return repro_maxpool2d_backward(CPU(be), &a->shape, a->dx, a->dy, a->argmax, err);
}

static repro_status avg_fwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_pool2d_args *a = p;
    return repro_avgpool2d_forward(CPU(be), &a->shape, a->y, a->x, err);
}

static repro_status avg_bwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_pool2d_args *a = p;
    return repro_avgpool2d_backward(CPU(be), &a->shape, a->dx, a->dy, err);
}

static repro_status gap_fwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_gap_args *a = p;
    return repro_global_avgpool_forward(CPU(be), a->y, a->x, a->N, a->C, a->HW, err);
}

static repro_status gap_bwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_gap_args *a = p;
    return repro_global_avgpool_backward(CPU(be), a->dx, a->dy, a->N, a->C, a->HW, err);
}

#ifdef REPRO_HAVE_CUDA
#define STREAM repro_backend_stream(be)

static repro_status max_fwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_pool2d_args *a = p;
    return repro_cuda_maxpool2d_forward(&a->shape, a->y, a->argmax, a->x, STREAM, err);
}

static repro_status max_bwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_pool2d_args *a = p;
    return repro_cuda_maxpool2d_backward(&a->shape, a->dx, a->dy, a->argmax, STREAM, err);
}

static repro_status avg_fwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_pool2d_args *a = p;
    return repro_cuda_avgpool2d_forward(&a->shape, a->y, a->x, STREAM, err);
}

static repro_status avg_bwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_pool2d_args *a = p;
    return repro_cuda_avgpool2d_backward(&a->shape, a->dx, a->dy, STREAM, err);
}

static repro_status gap_fwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_gap_args *a = p;
    return repro_cuda_global_avgpool_forward(a->y, a->x, a->N, a->C, a->HW, STREAM, err);
}

static repro_status gap_bwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_gap_args *a = p;
    return repro_cuda_global_avgpool_backward(a->dx, a->dy, a->N, a->C, a->HW, STREAM, err);
}
#endif

const repro_kernel repro_k_maxpool2d_forward = {"max_pool2d.forward", max_fwd_cpu, REPRO_CUDA_KERNEL(max_fwd_cuda)};
const repro_kernel repro_k_maxpool2d_backward = {"max_pool2d.backward", max_bwd_cpu, REPRO_CUDA_KERNEL(max_bwd_cuda)};
const repro_kernel repro_k_avgpool2d_forward = {"avg_pool2d.forward", avg_fwd_cpu, REPRO_CUDA_KERNEL(avg_fwd_cuda)};
const repro_kernel repro_k_avgpool2d_backward = {"avg_pool2d.backward", avg_bwd_cpu, REPRO_CUDA_KERNEL(avg_bwd_cuda)};
const repro_kernel repro_k_gap_forward = {"global_avg_pool.forward", gap_fwd_cpu, REPRO_CUDA_KERNEL(gap_fwd_cuda)};
const repro_kernel repro_k_gap_backward = {"global_avg_pool.backward", gap_bwd_cpu, REPRO_CUDA_KERNEL(gap_bwd_cuda)};
