/* The arguments of one exact GEMM launch, shared by the tilings of gemm.cu
 * (128 x 128 tiles, for large outputs) and gemm_small.cu (smaller tiles, for
 * outputs too small to fill the GPU with 128 x 128 tiles). Internal. */
#ifndef REPRO_OPS_CUDA_GEMM_ARGS_CUH
#define REPRO_OPS_CUDA_GEMM_ARGS_CUH

#include <stdint.h>

#include "ops/cuda/cuda_util.cuh"

struct repro_gemm_args {
    int64_t M, N, K;
    const float *A;
    int64_t a_rs, a_cs;
    const float *B;
    int64_t b_rs, b_cs;
    const float *bias;
    float *C;
    int64_t ldc;
    int accumulate;
};

/* Launches gemm_small.cu's kernel of `tiling` on g; 0 when `tiling` is not
 * one of its tilings (128 x 128 and AUTO are gemm.cu's). */
int repro_cuda_gemm_small_launch(const repro_gemm_args &g, repro_cuda_gemm_tiling tiling, cudaStream_t stream);

#endif
