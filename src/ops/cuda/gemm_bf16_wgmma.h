/* The bf16 GEMM's Hopper kernel (gemm_bf16_wgmma.cu, internal to
 * gemm_bf16.cu and its tests): the contract of repro_cuda_gemm_bf16_packed,
 * the same bits, on wgmma. */
#ifndef REPRO_OPS_CUDA_GEMM_BF16_WGMMA_H
#define REPRO_OPS_CUDA_GEMM_BF16_WGMMA_H

#include "ops/cuda/cuda_bf16.h"

#ifdef __cplusplus
extern "C" {
#endif

/* repro_cuda_bf16_wgmma_ready (cuda_bf16.h) says when it runs: compute
 * capability 9.0 and sm_90a machine code in the build. */
/* C = Ap Bpᵀ (+ bias, or += when accumulate) on packed operands Ap[M][Kp],
 * Bp[N][Kp] (16-byte aligned, Kp a multiple of 32), in blocks of 64 x 128
 * for REPRO_CUDA_BF16_WGMMA_64X128, else 128 x 256. Only when ready. */
repro_status repro_cuda_gemm_bf16_wgmma(repro_cuda_bf16_tiling tiling, int64_t M, int64_t N, int64_t Kp,
                                        const uint16_t *Ap, const uint16_t *Bp, const float *bias, float *C,
                                        int64_t ldc, int accumulate, repro_cuda_stream stream, repro_error *err);

#ifdef __cplusplus
}
#endif

#endif
