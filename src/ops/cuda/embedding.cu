/* Token embedding, the LM cross-entropy and the pad mask on the GPU: the orders of
 * src/ops/cpu/embedding.h, one thread an output element (the LM loss: a
 * block a sample, see lm_forward_kernel). The embedding backward gives
 * each dW[v][d] its own thread, which adds the positions holding v in
 * ascending order: the reference's chain, no atomics (a block lists a
 * row's positions once for all its threads, see embedding_backward_kernel).
 * Consecutive threads take consecutive d of one row, so the dy reads are
 * coalesced. */
#include "ops/cuda/cuda_token.h"
#include "ops/cuda/cuda_util.cuh"
#include "ops/ops_math.h"
#include "ops/token_math.h"

namespace {

__global__ void embedding_forward_kernel(float *y, const float *ids, const float *w, int64_t N, int64_t V, int64_t D)
{
    REPRO_CUDA_FOR(i, N * D)
    {
        const int64_t p = i / D, d = i % D, id = repro_token_id(ids[p], V);
        y[i] = id >= 0 ? w[id * D + d] : __int_as_float(0x7fc00000);
    }
}

/* dW[v][d] += dy[p][d] for the positions p holding v, p ascending. A block
 * owns one row v and 256 of its d. It goes over the positions 256 at a
 * time: every thread tests one id, the hits are listed in ascending order
 * in shared memory (a ballot a warp, the warps' counts in order), and
 * then each thread adds its d of the listed rows: its chain, in the
 * reference's order, with the dy loads independent of the adds. */
constexpr int EMB_THREADS = 256;
__global__ void __launch_bounds__(EMB_THREADS) embedding_backward_kernel(float *dw, const float *ids, const float *dy,
                                                                         int64_t N, int64_t V, int64_t D)
{
    __shared__ int64_t hits[EMB_THREADS];
    __shared__ int warp_hits[EMB_THREADS / 32];
    const int64_t v = blockIdx.x, d = (int64_t)blockIdx.y * EMB_THREADS + threadIdx.x;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const bool live = d < D;
    float acc = live ? dw[v * D + d] : 0.0f;
    for (int64_t p0 = 0; p0 < N; p0 += EMB_THREADS) {
        const int64_t p = p0 + threadIdx.x;
        const bool hit = p < N && repro_token_id(ids[p], V) == v;
        const unsigned mask = __ballot_sync(0xffffffffu, hit);
        if (lane == 0)
            warp_hits[warp] = __popc(mask);
        __syncthreads();
        int before = 0, total = 0;
        for (int w = 0; w < EMB_THREADS / 32; w++) {
            before += w < warp ? warp_hits[w] : 0;
            total += warp_hits[w];
        }
        if (hit)
            hits[before + __popc(mask & ((1u << lane) - 1))] = p;
        __syncthreads();
        if (live) {
#pragma unroll 8
            for (int j = 0; j < total; j++)
                acc = acc + dy[hits[j] * D + d];
        }
        __syncthreads(); /* the list is rewritten next round */
    }
    if (live)
        dw[v * D + d] = acc;
}

/* The LM loss of a sample: a block a sample. Its threads compute the terms
 * of REPRO_CUDA_THREADS positions at a time (each position's row
 * statistics, one thread a position) into shared memory, and thread 0 adds
 * the counted ones in ascending order: the reference's chain, whose
 * length is T, so the parallel part is everything but the adds. */
__global__ void lm_forward_kernel(float *loss, const float *z, const float *target, int64_t B, int64_t T, int64_t V,
                                  int64_t ignore)
{
    __shared__ float term[REPRO_CUDA_THREADS];
    __shared__ int counted[REPRO_CUDA_THREADS];
    for (int64_t b = blockIdx.x; b < B; b += gridDim.x) {
        float acc = 0.0f;
        int64_t n = 0;
        for (int64_t t0 = 0; t0 < T; t0 += REPRO_CUDA_THREADS) {
            const int64_t t = t0 + threadIdx.x;
            float v = 0.0f;
            int use = t < T && !repro_token_ignored(target[b * T + t], ignore);
            if (use) {
                const float *zr = z + (b * T + t) * V;
                const int64_t label = repro_token_id(target[b * T + t], V);
                repro_xent_stats st = repro_xent_row_stats(zr, V);
                v = label >= 0 ? repro_xent_loss(st, zr[label]) : __int_as_float(0x7fc00000);
            }
            term[threadIdx.x] = v;
            counted[threadIdx.x] = use;
            __syncthreads();
            if (threadIdx.x == 0) {
                int m = (int)(T - t0 < REPRO_CUDA_THREADS ? T - t0 : REPRO_CUDA_THREADS);
                for (int k = 0; k < m; k++)
                    if (counted[k]) {
                        acc = acc + term[k];
                        n++;
                    }
            }
            __syncthreads();
        }
        if (threadIdx.x == 0)
            loss[b] = n ? acc / (float)n : 0.0f;
    }
}

/* One thread a row; it counts its sample's positions itself (T reads, only
 * with an ignored id: without one the count is T). */
__global__ void lm_backward_kernel(float *dz, const float *z, const float *target, int64_t R, int64_t T, int64_t V,
                                   int64_t ignore, float scale)
{
    REPRO_CUDA_FOR(r, R)
    {
        float *g = dz + r * V;
        if (repro_token_ignored(target[r], ignore)) {
            for (int64_t k = 0; k < V; k++)
                g[k] = 0.0f;
            continue;
        }
        const float s = scale / (float)repro_lm_counted(target + (r / T) * T, T, ignore);
        const float *zr = z + r * V;
        const int64_t label = repro_token_id(target[r], V);
        repro_xent_stats st = repro_xent_row_stats(zr, V);
        for (int64_t k = 0; k < V; k++)
            g[k] = label >= 0 ? repro_xent_dz(zr[k], k == label, st, s) : __int_as_float(0x7fc00000);
    }
}

__global__ void pad_mask_kernel(float *y, const float *ids, int64_t N, float pad)
{
    REPRO_CUDA_FOR(p, N)
    {
        y[p] = repro_pad_mask(ids[p], pad);
    }
}

__global__ void sinusoidal_kernel(float *y, const float *x, int64_t n, int64_t T, int64_t D)
{
    REPRO_CUDA_FOR(i, n)
    {
        const int64_t r = i / D, d = i % D;
        y[i] = x[i] + repro_sinusoidal_pe(r % T, d, D);
    }
}

repro_status check(const char *what, const void *a, const void *b, const void *c, int64_t n, int64_t m, int64_t k,
                   repro_error *err)
{
    if (!a || !b || !c)
        return repro_fail(err, REPRO_ERR_ARG, "cuda %s: a pointer is NULL", what);
    if (n < 0 || m < 1 || k < 1 || m > 16777216)
        return repro_fail(err, REPRO_ERR_ARG, "cuda %s: bad sizes %lld, %lld, %lld", what, (long long)n,
                          (long long)m, (long long)k);
    return REPRO_OK;
}

} /* namespace */

extern "C" {

repro_status repro_cuda_embedding_forward(float *y, const float *ids, const float *w, int64_t N, int64_t V, int64_t D,
                                          repro_cuda_stream stream, repro_error *err)
{
    repro_status st = check("embedding forward", y, ids, w, N, V, D, err);
    if (st != REPRO_OK || N == 0)
        return st;
    embedding_forward_kernel<<<repro_cuda_blocks(N * D), REPRO_CUDA_THREADS, 0, repro_cuda_s(stream)>>>(y, ids, w, N,
                                                                                                       V, D);
    return repro_cuda_check("embedding forward", err);
}

repro_status repro_cuda_embedding_backward(float *dw, const float *ids, const float *dy, int64_t N, int64_t V,
                                           int64_t D, repro_cuda_stream stream, repro_error *err)
{
    repro_status st = check("embedding backward", dw, ids, dy, N, V, D, err);
    if (st != REPRO_OK || N == 0)
        return st;
    if (V > INT32_MAX || (D + EMB_THREADS - 1) / EMB_THREADS > 65535)
        return repro_fail(err, REPRO_ERR_ARG, "cuda embedding backward: %lld rows of %lld are too many", (long long)V,
                          (long long)D);
    dim3 grid((unsigned)V, (unsigned)((D + EMB_THREADS - 1) / EMB_THREADS));
    embedding_backward_kernel<<<grid, EMB_THREADS, 0, repro_cuda_s(stream)>>>(dw, ids, dy, N, V, D);
    return repro_cuda_check("embedding backward", err);
}

repro_status repro_cuda_lm_xent_forward(float *loss, const float *z, const float *target, int64_t B, int64_t T,
                                        int64_t V, int64_t ignore, repro_cuda_stream stream, repro_error *err)
{
    repro_status st = check("lm cross-entropy forward", loss, z, target, B, V, T, err);
    if (st != REPRO_OK || B == 0)
        return st;
    unsigned blocks = (unsigned)(B < REPRO_CUDA_MAX_BLOCKS ? B : REPRO_CUDA_MAX_BLOCKS);
    lm_forward_kernel<<<blocks, REPRO_CUDA_THREADS, 0, repro_cuda_s(stream)>>>(loss, z, target, B, T, V, ignore);
    return repro_cuda_check("lm cross-entropy forward", err);
}

repro_status repro_cuda_lm_xent_backward(float *dz, const float *z, const float *target, int64_t B, int64_t T,
                                         int64_t V, int64_t ignore, float scale, repro_cuda_stream stream,
                                         repro_error *err)
{
    repro_status st = check("lm cross-entropy backward", dz, z, target, B, V, T, err);
    if (st != REPRO_OK || B == 0)
        return st;
    lm_backward_kernel<<<repro_cuda_blocks(B * T), REPRO_CUDA_THREADS, 0, repro_cuda_s(stream)>>>(dz, z, target, B * T,
                                                                                                 T, V, ignore, scale);
    return repro_cuda_check("lm cross-entropy backward", err);
}

repro_status repro_cuda_pad_mask_forward(float *y, const float *ids, int64_t N, float pad, repro_cuda_stream stream,
                                         repro_error *err)
{
    repro_status st = check("pad mask forward", y, ids, ids, N, 1, 1, err);
    if (st != REPRO_OK || N == 0)
        return st;
    pad_mask_kernel<<<repro_cuda_blocks(N), REPRO_CUDA_THREADS, 0, repro_cuda_s(stream)>>>(y, ids, N, pad);
    return repro_cuda_check("pad mask forward", err);
}

repro_status repro_cuda_sinusoidal_forward(float *y, const float *x, int64_t B, int64_t T, int64_t D,
                                           repro_cuda_stream stream, repro_error *err)
{
    repro_status st = check("sinusoidal forward", y, x, x, B, T, D, err);
    if (st != REPRO_OK || B == 0)
        return st;
    sinusoidal_kernel<<<repro_cuda_blocks(B * T * D), REPRO_CUDA_THREADS, 0, repro_cuda_s(stream)>>>(y, x, B * T * D,
                                                                                                    T, D);
    return repro_cuda_check("sinusoidal forward", err);
}

} /* extern "C" */
