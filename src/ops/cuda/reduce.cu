/* The canonical sum on the GPU (order: src/ops/reduce.h).
 *
 * Pass 1: one thread per 1024-element block computes the block's sum with
 * the header's repro_canon_block (8 lanes striding the block, the fixed
 * lane combination), into scratch[block]. Pass 2: one thread combines the
 * block sums by the pairwise tree (canon_tree.cuh). Every addition is the
 * CPU reference's, so *out has repro_sum_canonical's bits; the shape
 * depends on n only. */
#include "ops/cuda/canon_tree.cuh"
#include "ops/cuda/cuda_util.cuh"

namespace {

__global__ void block_sums_kernel(float *sums, const float *x, int64_t n, int sq)
{
    int64_t m = repro_canon_blocks(n);
    repro_canon_src src = {sq ? REPRO_CANON_SQ : REPRO_CANON_X, x, NULL, 0.0f, 0.0f, 0, 0};
    REPRO_CUDA_FOR(b, m)
    {
        int64_t start = b * REPRO_CANON_BLOCK;
        int64_t len = n - start < REPRO_CANON_BLOCK ? n - start : REPRO_CANON_BLOCK;
        sums[b] = repro_canon_block(&src, start, len);
    }
}

struct array_leaf {
    const float *b;
    __device__ float operator()(int64_t i) const { return b[i]; }
};

__global__ void tree_kernel(float *out, const float *sums, int64_t m)
{
    array_leaf leaf = {sums};
    *out = m == 0 ? +0.0f : repro_cuda_canon_tree(m, leaf);
}

repro_status canon(const char *name, float *out, const float *x, int64_t n, int sq, float *scratch,
                   repro_cuda_stream s, repro_error *err)
{
    if (n < 0 || !out || (n > 0 && (!x || !scratch)))
        return repro_fail(err, REPRO_ERR_ARG, "cuda %s: invalid arguments (n=%lld, out/x/scratch NULL)", name,
                          (long long)n);
    int64_t m = repro_canon_blocks(n);
    if (m > 0) {
        block_sums_kernel<<<repro_cuda_blocks(m), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(scratch, x, n, sq);
        repro_status st = repro_cuda_check(name, err);
        if (st != REPRO_OK)
            return st;
    }
    tree_kernel<<<1, 1, 0, repro_cuda_s(s)>>>(out, scratch, m);
    return repro_cuda_check(name, err);
}

} // namespace

extern "C" {

int64_t repro_cuda_canon_scratch(int64_t n)
{
    return n > 0 ? repro_canon_blocks(n) : 1;
}

repro_status repro_cuda_sum_canonical(float *out, const float *x, int64_t n, float *scratch, repro_cuda_stream s,
                                      repro_error *err)
{
    return canon("canonical sum", out, x, n, 0, scratch, s, err);
}

repro_status repro_cuda_sumsq_canonical(float *out, const float *x, int64_t n, float *scratch,
                                        repro_cuda_stream s, repro_error *err)
{
    return canon("canonical sum of squares", out, x, n, 1, scratch, s, err);
}

} /* extern "C" */
