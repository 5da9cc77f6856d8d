/* Asynchronous global -> shared copies (sm_80+ cp.async), for kernels that
 * keep several tiles of loads in flight (internal). A copy moves bits: it
 * never changes a value, so it is outside the numerics rules.
 *
 *   repro_cp_async4(dst, src)   start copying one float (4 bytes) from global
 *                               src to shared dst
 *   repro_cp_async_at<B>(a, src) B = 4, 8 or 16 bytes (1, 2 or 4 floats) to
 *                               shared-window address a (repro_shared_addr),
 *                               both aligned to B
 *   repro_cp_async_at_or_zero<B>(a, src, valid)
 *                               the same, or B bytes of +0.0f there (src not
 *                               read) when !valid
 *   repro_cp_async_commit()     close this thread's group of started copies
 *   repro_cp_async_wait<N>()    wait until at most N of this thread's groups
 *                               are still in flight
 *
 * The copies land for the issuing thread only: a __syncthreads after the wait
 * makes them visible to the block. */
#ifndef REPRO_OPS_CUDA_CP_ASYNC_CUH
#define REPRO_OPS_CUDA_CP_ASYNC_CUH

#include <cuda_runtime.h>

__device__ __forceinline__ void repro_cp_async4(float *dst, const float *src)
{
    const unsigned d = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(d), "l"(src));
}

/* The shared-window address of a shared-memory pointer. */
__device__ __forceinline__ unsigned repro_shared_addr(const void *p)
{
    return (unsigned)__cvta_generic_to_shared(p);
}

template <int B>
__device__ __forceinline__ void repro_cp_async_at(unsigned dst, const float *src)
{
    static_assert(B == 4 || B == 8 || B == 16, "cp.async moves 4, 8 or 16 bytes");
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2;\n" ::"r"(dst), "l"(src), "n"(B));
}

template <int B>
__device__ __forceinline__ void repro_cp_async_at_or_zero(unsigned dst, const float *src, bool valid)
{
    static_assert(B == 4 || B == 8 || B == 16, "cp.async moves 4, 8 or 16 bytes");
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(dst), "l"(src), "n"(B), "r"(valid ? B : 0));
}

__device__ __forceinline__ void repro_cp_async_commit()
{
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}

template <int N>
__device__ __forceinline__ void repro_cp_async_wait()
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

#endif
