/* Attention's kernel rows: src/ops/cpu/attention.h on the CPU,
 * src/ops/cuda/cuda_attention.h on a GPU (the same row functions). */
#include "backend/ops/ops.h"
#include "ops/cpu/attention.h"
#ifdef REPRO_HAVE_CUDA
#include "ops/cuda/cuda_attention.h"
#endif

static repro_status fwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    return repro_attention_forward(repro_backend_cpu(be), p, err);
}

static repro_status bwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    return repro_attention_backward(repro_backend_cpu(be), p, err);
}

#ifdef REPRO_HAVE_CUDA
static repro_status fwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    return repro_cuda_attention_forward(p, repro_backend_stream(be), err);
}

static repro_status bwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    return repro_cuda_attention_backward(p, repro_backend_stream(be), err);
}
#endif

const repro_kernel repro_k_attention_forward = {"attention.forward", fwd_cpu, REPRO_CUDA_KERNEL(fwd_cuda)};
const repro_kernel repro_k_attention_backward = {"attention.backward", bwd_cpu, REPRO_CUDA_KERNEL(bwd_cuda)};
