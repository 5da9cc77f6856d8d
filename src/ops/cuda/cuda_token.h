/* Token embedding, the LM cross-entropy, the pad mask and patchify on the GPU, bit for bit the CPU
 * references of src/ops/cpu/embedding.h (whose comment holds the orders).
 * Conventions as in cuda_ops.h: device pointers, `stream` a cudaStream_t,
 * nothing synchronises or allocates. The ids are not checked here (that
 * would need a copy back): the data loader and `repro sample` check them
 * before they reach a kernel, and a bad one makes a NaN (an output row, a
 * loss), which the training loop's non-finite check stops on. */
#ifndef REPRO_OPS_CUDA_TOKEN_H
#define REPRO_OPS_CUDA_TOKEN_H

#include <stdint.h>

#include "ops/cpu/patchify.h"
#include "ops/cuda/cuda_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

repro_status repro_cuda_embedding_forward(float *y, const float *ids, const float *w, int64_t N, int64_t V, int64_t D,
                                          repro_cuda_stream stream, repro_error *err);
repro_status repro_cuda_embedding_backward(float *dw, const float *ids, const float *dy, int64_t N, int64_t V,
                                           int64_t D, repro_cuda_stream stream, repro_error *err);
/* `ignore`: the ignored target id (< 0: none); scale = head weight / batch size */
repro_status repro_cuda_lm_xent_forward(float *loss, const float *z, const float *target, int64_t B, int64_t T,
                                        int64_t V, int64_t ignore, repro_cuda_stream stream, repro_error *err);
repro_status repro_cuda_lm_xent_backward(float *dz, const float *z, const float *target, int64_t B, int64_t T,
                                         int64_t V, int64_t ignore, float scale, repro_cuda_stream stream,
                                         repro_error *err);

/* pad mask (src/ops/cpu/embedding.h): one thread a position */
repro_status repro_cuda_pad_mask_forward(float *y, const float *ids, int64_t N, float pad, repro_cuda_stream stream,
                                         repro_error *err);

/* sinusoidal positions (src/ops/cpu/embedding.h): one thread an element */
repro_status repro_cuda_sinusoidal_forward(float *y, const float *x, int64_t B, int64_t T, int64_t D,
                                           repro_cuda_stream stream, repro_error *err);

/* patchify (src/ops/cpu/patchify.h's map): one thread an output element */
repro_status repro_cuda_patchify_forward(const repro_patchify_shape *s, float *y, const float *x,
                                         repro_cuda_stream stream, repro_error *err);
repro_status repro_cuda_patchify_backward(const repro_patchify_shape *s, float *dx, const float *dy,
                                          repro_cuda_stream stream, repro_error *err);

#ifdef __cplusplus
}
#endif
#endif
