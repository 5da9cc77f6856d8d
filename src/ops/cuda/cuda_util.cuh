/* Shared helpers of the CUDA kernels (internal): the launch check that
 * turns a CUDA error into a repro_status, and the grid of an elementwise
 * launch. */
#ifndef REPRO_OPS_CUDA_UTIL_CUH
#define REPRO_OPS_CUDA_UTIL_CUH

#include <cuda_runtime.h>
#include <stdint.h>

#include "ops/cuda/cuda_ops.h"

/* Elementwise kernels: this many threads a block, a grid-stride loop over
 * the elements, at most this many blocks. */
#define REPRO_CUDA_THREADS 256
#define REPRO_CUDA_MAX_BLOCKS ((int64_t)65535)

static inline unsigned repro_cuda_blocks(int64_t n)
{
    int64_t b = (n + REPRO_CUDA_THREADS - 1) / REPRO_CUDA_THREADS;
    if (b < 1)
        b = 1;
    return (unsigned)(b < REPRO_CUDA_MAX_BLOCKS ? b : REPRO_CUDA_MAX_BLOCKS);
}

static inline cudaStream_t repro_cuda_s(repro_cuda_stream s)
{
    return (cudaStream_t)s;
}

/* After a launch: REPRO_OK, or REPRO_ERR_INTERNAL naming the kernel and CUDA's error. */
static inline repro_status repro_cuda_check(const char *what, repro_error *err)
{
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        return repro_fail(err, REPRO_ERR_INTERNAL, "CUDA %s: %s (%s)", what, cudaGetErrorString(e),
                          cudaGetErrorName(e));
    return REPRO_OK;
}

/* The global index of this thread and the grid's stride, as int64. */
#define REPRO_CUDA_FOR(i, n)                                                                             \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                          \
         i += (int64_t)gridDim.x * blockDim.x)

#endif
