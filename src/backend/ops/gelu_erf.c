/* GELU (erf form)'s kernel rows: src/ops/cpu/gelu_erf.h on the CPU, its
 * CUDA twin (src/ops/cuda/cuda_attention.h) on a GPU. */
#include "backend/ops/ops.h"
#include "ops/cpu/gelu_erf.h"
#ifdef REPRO_HAVE_CUDA
#include "ops/cuda/cuda_attention.h"
#endif

static repro_status fwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_gelu_erf_args *a = p;
    return repro_gelu_erf_forward(repro_backend_cpu(be), a->y, a->phi, a->x, a->n, err);
}

static repro_status bwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_gelu_erf_args *a = p;
    return repro_gelu_erf_backward(repro_backend_cpu(be), a->dx, a->dy, a->x, a->phi, a->n, err);
}

#ifdef REPRO_HAVE_CUDA
static repro_status fwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_gelu_erf_args *a = p;
    return repro_cuda_gelu_erf_forward(a->y, a->x, a->n, repro_backend_stream(be), err);
}

static repro_status bwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_gelu_erf_args *a = p;
    return repro_cuda_gelu_erf_backward(a->dx, a->dy, a->x, a->n, repro_backend_stream(be), err);
}
#endif

const repro_kernel repro_k_gelu_erf_forward = {"gelu_erf.forward", fwd_cpu, REPRO_CUDA_KERNEL(fwd_cuda)};
const repro_kernel repro_k_gelu_erf_backward = {"gelu_erf.backward", bwd_cpu, REPRO_CUDA_KERNEL(bwd_cuda)};
