/* The tiled attention kernels (attention_tiled.cu, internal to the CUDA
 * ops): the written order of src/ops/attention_math.h with 64 queries or
 * 64 keys a thread block, for the head sizes they are built for. The
 * one-row kernels of attention.cu serve every other head size. */
#ifndef REPRO_OPS_CUDA_ATTENTION_TILED_CUH
#define REPRO_OPS_CUDA_ATTENTION_TILED_CUH

#include "ops/attention_math.h"
#include "ops/cuda/cuda_ops.h"
#include "repro/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when the tiled kernels take these arguments: head_dim 16, 32, 64 or 128. */
int repro_cuda_attention_tiled_fits(const repro_attn_args *a);
/* o, m, l and keep, as repro_cuda_attention_forward (arguments already checked). */
repro_status repro_cuda_attention_forward_tiled(const repro_attn_args *a, repro_cuda_stream stream, repro_error *err);
/* dq, dk, dv from the dsum rows already in stat. */
repro_status repro_cuda_attention_backward_tiled(const repro_attn_args *a, repro_cuda_stream stream, repro_error *err);

#ifdef __cplusplus
}
#endif

#endif
