/* Token kernels' rows (embedding, LM loss, pad mask, patchify): src/ops/cpu/embedding.h on the CPU, its CUDA twins
 * (src/ops/cuda/cuda_token.h) on a GPU. */
#include "backend/ops/ops.h"
#include "ops/cpu/embedding.h"
#ifdef REPRO_HAVE_CUDA
#include "ops/cuda/cuda_token.h"
#endif

#define CPU(be) repro_backend_cpu(be)

static repro_status emb_fwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_embedding_args *a = p;
    return repro_embedding_forward(CPU(be), a->y, a->ids, a->w, a->N, a->V, a->D, err);
}

static repro_status emb_bwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_embedding_args *a = p;
    return repro_embedding_backward(CPU(be), a->dw, a->ids, a->dy, a->N, a->V, a->D, err);
}

static repro_status lm_fwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_lm_xent_args *a = p;
    return repro_lm_xent_forward(CPU(be), a->loss, a->z, a->target, a->B, a->T, a->V, a->ignore, err);
}

static repro_status lm_bwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_lm_xent_args *a = p;
    return repro_lm_xent_backward(CPU(be), a->dz, a->z, a->target, a->B, a->T, a->V, a->ignore, a->scale, err);
}

static repro_status pad_fwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_pad_mask_args *a = p;
    return repro_pad_mask_forward(CPU(be), a->y, a->ids, a->N, a->pad, err);
}

static repro_status patch_fwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_patchify_args *a = p;
    return repro_patchify_forward(CPU(be), &a->shape, a->y, a->x, err);
}

static repro_status patch_bwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_patchify_args *a = p;
    return repro_patchify_backward(CPU(be), &a->shape, a->dx, a->dy, err);
}

static repro_status sin_fwd_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_sinusoidal_args *a = p;
    return repro_sinusoidal_forward(CPU(be), a->y, a->x, a->B, a->T, a->D, err);
}

#ifdef REPRO_HAVE_CUDA
#define STREAM repro_backend_stream(be)

static repro_status emb_fwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_embedding_args *a = p;
    return repro_cuda_embedding_forward(a->y, a->ids, a->w, a->N, a->V, a->D, STREAM, err);
}

static repro_status emb_bwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_embedding_args *a = p;
    return repro_cuda_embedding_backward(a->dw, a->ids, a->dy, a->N, a->V, a->D, STREAM, err);
}

static repro_status lm_fwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_lm_xent_args *a = p;
    return repro_cuda_lm_xent_forward(a->loss, a->z, a->target, a->B, a->T, a->V, a->ignore, STREAM, err);
}

static repro_status lm_bwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_lm_xent_args *a = p;
    return repro_cuda_lm_xent_backward(a->dz, a->z, a->target, a->B, a->T, a->V, a->ignore, a->scale, STREAM, err);
}

static repro_status pad_fwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_pad_mask_args *a = p;
    return repro_cuda_pad_mask_forward(a->y, a->ids, a->N, a->pad, STREAM, err);
}

static repro_status patch_fwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_patchify_args *a = p;
    return repro_cuda_patchify_forward(&a->shape, a->y, a->x, STREAM, err);
}

static repro_status patch_bwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_patchify_args *a = p;
    return repro_cuda_patchify_backward(&a->shape, a->dx, a->dy, STREAM, err);
}

static repro_status sin_fwd_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_sinusoidal_args *a = p;
    return repro_cuda_sinusoidal_forward(a->y, a->x, a->B, a->T, a->D, STREAM, err);
}
#endif

const repro_kernel repro_k_sinusoidal_forward = {"sinusoidal.forward", sin_fwd_cpu, REPRO_CUDA_KERNEL(sin_fwd_cuda)};
const repro_kernel repro_k_patchify_forward = {"patchify.forward", patch_fwd_cpu, REPRO_CUDA_KERNEL(patch_fwd_cuda)};
const repro_kernel repro_k_patchify_backward = {"patchify.backward", patch_bwd_cpu, REPRO_CUDA_KERNEL(patch_bwd_cuda)};
const repro_kernel repro_k_embedding_forward = {"embedding.forward", emb_fwd_cpu, REPRO_CUDA_KERNEL(emb_fwd_cuda)};
const repro_kernel repro_k_embedding_backward = {"embedding.backward", emb_bwd_cpu, REPRO_CUDA_KERNEL(emb_bwd_cuda)};
const repro_kernel repro_k_lm_xent_forward = {"lm_cross_entropy.forward", lm_fwd_cpu, REPRO_CUDA_KERNEL(lm_fwd_cuda)};
const repro_kernel repro_k_lm_xent_backward = {"lm_cross_entropy.backward", lm_bwd_cpu,
                                               REPRO_CUDA_KERNEL(lm_bwd_cuda)};
const repro_kernel repro_k_pad_mask_forward = {"pad_mask.forward", pad_fwd_cpu, REPRO_CUDA_KERNEL(pad_fwd_cuda)};
