/* Dropout on the GPU, the coordinates of src/ops/cpu/dropout.c: element
 * (b, d) is kept iff
 *     repro_rng_uniform(key, sample_pos[b], (uint32_t)step, (uint32_t)(step >> 32), d) >= p,
 *     key = repro_rng_derive(seed, REPRO_RNG_DROPOUT, layer_index, 0)   (on the host),
 * one thread per Philox block: elements d = 4q .. 4q+3 of row b are the four
 * words of the block at counter (q, sample_pos[b], c1, c2), as on the CPU.
 * y = keep ? x * scale : +0 (repro_dropout_f); p == 0 copies x and sets
 * every mask byte to 1 without a draw. */
#include "ops/cuda/cuda_util.cuh"
#include "ops/ops_math.h"
#include "repro/rng.h"

namespace {

__global__ void forward_kernel(float *y, uint8_t *mask, const float *x, int64_t B, int64_t D, float p,
                               float scale, repro_rng_key key, uint32_t c1, uint32_t c2,
                               const uint32_t *sample_pos)
{
    int64_t q_per_row = (D + 3) / 4;
    REPRO_CUDA_FOR(t, B * q_per_row)
    {
        int64_t b = t / q_per_row, d0 = (t % q_per_row) * 4;
        int64_t m = D - d0 < 4 ? D - d0 : 4;
        int64_t base = b * D + d0;
        if (p == 0.0f) {
            for (int64_t j = 0; j < m; j++) {
                mask[base + j] = 1;
                y[base + j] = x[base + j];
            }
            continue;
        }
        uint32_t w[4];
        repro_rng_block(key, (uint32_t)(d0 >> 2), sample_pos[b], c1, c2, w);
        for (int64_t j = 0; j < m; j++) {
            int keep = repro_rng_u32_to_uniform(w[j]) >= p;
            mask[base + j] = (uint8_t)keep;
            y[base + j] = repro_dropout_f(x[base + j], keep, scale);
        }
    }
}

__global__ void backward_kernel(float *dx, const float *dy, const uint8_t *mask, int64_t n, float p, float scale)
{
    REPRO_CUDA_FOR(i, n)
    dx[i] = p == 0.0f ? dy[i] : repro_dropout_f(dy[i], mask[i], scale);
}

} // namespace

extern "C" {

repro_status repro_cuda_dropout_forward(float *y, uint8_t *mask, const float *x, int64_t B, int64_t D, float p,
                                        uint64_t seed, uint32_t layer_index, uint64_t step,
                                        const uint32_t *sample_pos, repro_cuda_stream s, repro_error *err)
{
    if (!(p >= 0.0f && p < 1.0f))
        return repro_fail(err, REPRO_ERR_ARG, "cuda dropout: rate p must be in [0, 1), got %g (layer %u)",
                          (double)p, (unsigned)layer_index);
    if (B <= 0 || D <= 0)
        return REPRO_OK;
    repro_rng_key key = repro_rng_derive(seed, REPRO_RNG_DROPOUT, layer_index, 0);
    int64_t threads = B * ((D + 3) / 4);
    forward_kernel<<<repro_cuda_blocks(threads), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(
        y, mask, x, B, D, p, repro_dropout_scale(p), key, (uint32_t)step, (uint32_t)(step >> 32), sample_pos);
    return repro_cuda_check("dropout forward", err);
}

repro_status repro_cuda_dropout_backward(float *dx, const float *dy, const uint8_t *mask, int64_t B, int64_t D,
                                         float p, repro_cuda_stream s, repro_error *err)
{
    int64_t n = B * D;
    if (n <= 0)
        return REPRO_OK;
    backward_kernel<<<repro_cuda_blocks(n), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(dx, dy, mask, n, p,
                                                                                     repro_dropout_scale(p));
    return repro_cuda_check("dropout backward", err);
}

} /* extern "C" */
