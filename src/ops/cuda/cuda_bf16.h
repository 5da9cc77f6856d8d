/* The bf16 GEMM's tilings (gemm_bf16.cu), for tests and benchmarks; the
 * product itself is declared in cuda_ops.h (repro_cuda_gemm_bf16). Every
 * tiling runs the same chains, so gives the same bits. */
#ifndef REPRO_OPS_CUDA_BF16_H
#define REPRO_OPS_CUDA_BF16_H

#include "ops/cuda/cuda_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum repro_cuda_bf16_tiling {
    REPRO_CUDA_BF16_AUTO = 0, /* wgmma where it runs (128x256 or 64x128), else 32x64 when 128x128
                                 blocks would not fill the GPU, else 128x128 */
    REPRO_CUDA_BF16_128X128,  /* mma.sync */
    REPRO_CUDA_BF16_32X64,    /* mma.sync */
    REPRO_CUDA_BF16_WGMMA,    /* 128x256 on Hopper's wgmma (gemm_bf16_wgmma.cu); REPRO_ERR_UNSUPPORTED elsewhere */
    REPRO_CUDA_BF16_WGMMA_64X128, /* the same, blocks of 64x128 */
    REPRO_CUDA_BF16_TILINGS
} repro_cuda_bf16_tiling;

/* Whether REPRO_CUDA_BF16_WGMMA runs on this GPU and build. */
int repro_cuda_bf16_wgmma_ready(void);

/* repro_cuda_gemm_bf16 with a chosen tiling. */
repro_status repro_cuda_gemm_bf16_tiled(repro_cuda_bf16_tiling tiling, int64_t M, int64_t N, int64_t K,
                                        const float *A, int64_t a_rs, int64_t a_cs, const float *B, int64_t b_rs,
                                        int64_t b_cs, const float *bias, float *C, int64_t ldc, int accumulate,
                                        repro_cuda_stream stream, repro_error *err);

/* repro_cuda_gemm_bf16_packed with a chosen tiling. */
repro_status repro_cuda_gemm_bf16_packed_tiled(repro_cuda_bf16_tiling tiling, int64_t M, int64_t N, int64_t Kp,
                                               const uint16_t *Ap, const uint16_t *Bp, const float *bias, float *C,
                                               int64_t ldc, int accumulate, repro_cuda_stream stream,
                                               repro_error *err);

#ifdef __cplusplus
}
#endif

#endif
