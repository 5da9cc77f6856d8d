/* Batches from a data set held in device memory: row gathers and the
 * batch's epoch positions. Pure copies, no arithmetic: the batch holds the
 * bits the host loader would have put there. */
#include "ops/cuda/cuda_util.cuh"

namespace {

/* A block per destination row (grid-stride over rows), its threads over the
 * row's 32-bit words. */
__global__ void gather_rows_kernel(uint32_t *dst, const uint32_t *src, int64_t words, const uint32_t *rows,
                                   int64_t n)
{
    for (int64_t i = blockIdx.x; i < n; i += gridDim.x) {
        const uint32_t *from = src + (int64_t)rows[i] * words;
        uint32_t *to = dst + i * words;
        for (int64_t w = threadIdx.x; w < words; w += blockDim.x)
            to[w] = from[w];
    }
}

__global__ void fill_positions_kernel(uint32_t *dst, uint32_t first, int64_t n)
{
    REPRO_CUDA_FOR(i, n)
    dst[i] = first + (uint32_t)i;
}

} // namespace

extern "C" {

repro_status repro_cuda_gather_rows(void *dst, const void *src, size_t row_bytes, const uint32_t *rows, int64_t n,
                                    repro_cuda_stream s, repro_error *err)
{
    if (row_bytes % 4 != 0 || n < 0)
        return repro_fail(err, REPRO_ERR_ARG, "cuda gather rows: %zu-byte rows or n=%lld", row_bytes,
                          (long long)n);
    if (n == 0 || row_bytes == 0)
        return REPRO_OK;
    int64_t words = (int64_t)(row_bytes / 4);
    unsigned blocks = (unsigned)(n < REPRO_CUDA_MAX_BLOCKS ? n : REPRO_CUDA_MAX_BLOCKS);
    unsigned threads = words >= 256 ? 256 : words >= 64 ? 64 : 32;
    gather_rows_kernel<<<blocks, threads, 0, repro_cuda_s(s)>>>((uint32_t *)dst, (const uint32_t *)src, words,
                                                                 rows, n);
    return repro_cuda_check("gather rows", err);
}

repro_status repro_cuda_fill_positions(uint32_t *dst, uint32_t first, int64_t n, repro_cuda_stream s,
                                       repro_error *err)
{
    if (n <= 0)
        return REPRO_OK;
    fill_positions_kernel<<<repro_cuda_blocks(n), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(dst, first, n);
    return repro_cuda_check("fill positions", err);
}

} /* extern "C" */
