/* Per-sample losses on the GPU, one thread per row, the formulas of
 * src/ops/ops_math.h in src/ops/cpu/loss.c's order:
 *   cross-entropy: st = repro_xent_row_stats(z row); loss = repro_xent_loss(st, z[label]);
 *                  dz[j] = repro_xent_dz(z[j], j == label, st, scale)
 *   MSE / Huber:   acc = +0; for t ascending acc = acc + term(p, y); loss = acc / (float)T
 *                  dp = repro_mse_dp / repro_huber_dp */
#include "ops/cuda/cuda_util.cuh"
#include "ops/ops_math.h"

namespace {

__global__ void xent_forward_kernel(float *loss, int32_t *pred, const float *z, const int32_t *labels, int64_t B,
                                    int64_t C)
{
    REPRO_CUDA_FOR(b, B)
    {
        const float *zr = z + b * C;
        repro_xent_stats st = repro_xent_row_stats(zr, C);
        loss[b] = repro_xent_loss(st, zr[labels[b]]);
        if (pred)
            pred[b] = st.arg;
    }
}

__global__ void xent_backward_kernel(float *dz, const float *z, const int32_t *labels, int64_t B, int64_t C,
                                     float scale)
{
    REPRO_CUDA_FOR(b, B)
    {
        const float *zr = z + b * C;
        float *g = dz + b * C;
        repro_xent_stats st = repro_xent_row_stats(zr, C);
        for (int64_t j = 0; j < C; j++)
            g[j] = repro_xent_dz(zr[j], j == labels[b], st, scale);
    }
}

template <bool huber>
__global__ void reg_forward_kernel(float *loss, const float *pred, const float *target, int64_t B, int64_t T,
                                   float delta)
{
    REPRO_CUDA_FOR(b, B)
    {
        const float *p = pred + b * T, *y = target + b * T;
        float acc = 0.0f;
        for (int64_t t = 0; t < T; t++)
            acc = acc + (huber ? repro_huber_term(p[t], y[t], delta) : repro_mse_term(p[t], y[t]));
        loss[b] = acc / (float)T;
    }
}

template <bool huber>
__global__ void reg_backward_kernel(float *dpred, const float *pred, const float *target, int64_t n, int64_t T,
                                    float delta, float scale)
{
    float fT = (float)T;
    REPRO_CUDA_FOR(i, n)
    dpred[i] = huber ? repro_huber_dp(pred[i], target[i], delta, fT, scale) : repro_mse_dp(pred[i], target[i], fT, scale);
}

repro_status check_width(const char *what, int64_t W, repro_error *err)
{
    if (W < 1)
        return repro_fail(err, REPRO_ERR_ARG, "cuda %s: need a row width of at least 1, got %lld", what,
                          (long long)W);
    return REPRO_OK;
}

template <bool huber>
repro_status reg_forward(const char *what, float *loss, const float *pred, const float *target, int64_t B,
                         int64_t T, float delta, repro_cuda_stream s, repro_error *err)
{
    repro_status st = check_width(what, T, err);
    if (st != REPRO_OK || B <= 0)
        return st;
    reg_forward_kernel<huber><<<repro_cuda_blocks(B), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(loss, pred,
                                                                                               target, B, T, delta);
    return repro_cuda_check(what, err);
}

template <bool huber>
repro_status reg_backward(const char *what, float *dpred, const float *pred, const float *target, int64_t B,
                          int64_t T, float delta, float scale, repro_cuda_stream s, repro_error *err)
{
    repro_status st = check_width(what, T, err);
    if (st != REPRO_OK || B <= 0)
        return st;
    reg_backward_kernel<huber><<<repro_cuda_blocks(B * T), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(
        dpred, pred, target, B * T, T, delta, scale);
    return repro_cuda_check(what, err);
}

} // namespace

extern "C" {

repro_status repro_cuda_softmax_xent_forward(float *loss, int32_t *pred, const float *z, const int32_t *labels,
                                             int64_t B, int64_t C, repro_cuda_stream s, repro_error *err)
{
    repro_status st = check_width("softmax cross-entropy", C, err);
    if (st != REPRO_OK || B <= 0)
        return st;
    xent_forward_kernel<<<repro_cuda_blocks(B), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(loss, pred, z, labels, B,
                                                                                         C);
    return repro_cuda_check("softmax cross-entropy forward", err);
}

repro_status repro_cuda_softmax_xent_backward(float *dz, const float *z, const int32_t *labels, int64_t B,
                                              int64_t C, float scale, repro_cuda_stream s, repro_error *err)
{
    repro_status st = check_width("softmax cross-entropy", C, err);
    if (st != REPRO_OK || B <= 0)
        return st;
    xent_backward_kernel<<<repro_cuda_blocks(B), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(dz, z, labels, B, C,
                                                                                          scale);
    return repro_cuda_check("softmax cross-entropy backward", err);
}

repro_status repro_cuda_mse_forward(float *loss, const float *pred, const float *target, int64_t B, int64_t T,
                                    repro_cuda_stream s, repro_error *err)
{
    return reg_forward<false>("mse forward", loss, pred, target, B, T, 0.0f, s, err);
}

repro_status repro_cuda_mse_backward(float *dpred, const float *pred, const float *target, int64_t B, int64_t T,
                                     float scale, repro_cuda_stream s, repro_error *err)
{
    return reg_backward<false>("mse backward", dpred, pred, target, B, T, 0.0f, scale, s, err);
}

repro_status repro_cuda_huber_forward(float *loss, const float *pred, const float *target, int64_t B, int64_t T,
                                      float delta, repro_cuda_stream s, repro_error *err)
{
    return reg_forward<true>("huber forward", loss, pred, target, B, T, delta, s, err);
}

repro_status repro_cuda_huber_backward(float *dpred, const float *pred, const float *target, int64_t B,
                                       int64_t T, float delta, float scale, repro_cuda_stream s, repro_error *err)
{
    return reg_backward<true>("huber backward", dpred, pred, target, B, T, delta, scale, s, err);
}

} /* extern "C" */
