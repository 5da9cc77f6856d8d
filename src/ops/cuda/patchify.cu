/* Patchify on the GPU: src/ops/cpu/patchify.h's map, one thread an element
 * of the patch matrix (forward reads the image, backward writes it). */
#include "ops/cuda/cuda_token.h"
#include "ops/cuda/cuda_util.cuh"

namespace {

__global__ void patchify_kernel(repro_patchify_shape s, float *out, const float *in, int forward)
{
    const int64_t P = s.P, GW = s.W / P, NP = (s.H / P) * GW, K = s.C * P * P;
    REPRO_CUDA_FOR(e, s.N * NP * K)
    {
        const int64_t r = e / K, k = e % K, n = r / NP, p = r % NP, ph = p / GW, pw = p % GW;
        const int64_t c = k / (P * P), i = k / P % P, j = k % P;
        const int64_t xi = ((n * s.C + c) * s.H + ph * P + i) * s.W + pw * P + j;
        if (forward)
            out[e] = in[xi];
        else
            out[xi] = in[e];
    }
}

repro_status launch(const repro_patchify_shape *s, float *out, const float *in, int forward, repro_cuda_stream stream,
                    repro_error *err)
{
    if (!out || !in)
        return repro_fail(err, REPRO_ERR_ARG, "cuda patchify: a pointer is NULL");
    if (s->N < 0 || s->C < 1 || s->P < 1 || s->H < s->P || s->W < s->P || s->H % s->P || s->W % s->P)
        return repro_fail(err, REPRO_ERR_ARG, "cuda patchify: patch %lld does not tile a %lldx%lld image",
                          (long long)s->P, (long long)s->H, (long long)s->W);
    const int64_t n = s->N * s->C * s->H * s->W;
    if (n == 0)
        return REPRO_OK;
    patchify_kernel<<<repro_cuda_blocks(n), REPRO_CUDA_THREADS, 0, repro_cuda_s(stream)>>>(*s, out, in, forward);
    return repro_cuda_check(forward ? "patchify forward" : "patchify backward", err);
}

} /* namespace */

extern "C" {

repro_status repro_cuda_patchify_forward(const repro_patchify_shape *s, float *y, const float *x,
                                         repro_cuda_stream stream, repro_error *err)
{
    return launch(s, y, x, 1, stream, err);
}

repro_status repro_cuda_patchify_backward(const repro_patchify_shape *s, float *dx, const float *dy,
                                          repro_cuda_stream stream, repro_error *err)
{
    return launch(s, dx, dy, 0, stream, err);
}

} /* extern "C" */
