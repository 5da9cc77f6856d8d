/* DELETE AT MERGE. A stand-in for the CPU side of conv2d / pooling
 * (src/ops/conv_shape.c, src/ops/cpu/conv.h, src/ops/cpu/pool2d.h), so that
 * tests/cuda/test_cuda_conv.cu compiles and links before that branch lands:
 * test_cuda_conv.cu includes this only when src/ops/cpu/conv.h does not
 * exist. Plain scalar loops written from the op contract (the orders in
 * src/ops/cuda/cuda_conv.h), independently of the CUDA kernels. */
#ifndef REPRO_TESTS_CUDA_CONV_REF_LOCAL_H
#define REPRO_TESTS_CUDA_CONV_REF_LOCAL_H

#include <math.h>
#include <stdint.h>

#include "ops/conv_shape.h"
#include "repro/status.h"
extern "C" {
#include "ops/reduce.h"
}

repro_status repro_conv2d_shape_check(repro_conv2d_shape *s, repro_error *err)
{
    if (s->N < 1 || s->C < 1 || s->H < 1 || s->W < 1 || s->O < 1 || s->KH < 1 || s->KW < 1 || s->stride_h < 1 ||
        s->stride_w < 1 || s->dil_h < 1 || s->dil_w < 1 || s->pad_h < 0 || s->pad_w < 0 || s->groups < 1)
        return repro_fail(err, REPRO_ERR_ARG, "conv2d: a size is < 1");
    if (s->C % s->groups || s->O % s->groups)
        return repro_fail(err, REPRO_ERR_ARG, "groups %lld does not divide %lld input / %lld output channels",
                          (long long)s->groups, (long long)s->C, (long long)s->O);
    int64_t eh = s->dil_h * (s->KH - 1) + 1, ew = s->dil_w * (s->KW - 1) + 1;
    if (eh > s->H + 2 * s->pad_h || ew > s->W + 2 * s->pad_w)
        return repro_fail(err, REPRO_ERR_ARG, "kernel larger than the padded input");
    s->OH = (s->H + 2 * s->pad_h - eh) / s->stride_h + 1;
    s->OW = (s->W + 2 * s->pad_w - ew) / s->stride_w + 1;
    return REPRO_OK;
}

repro_status repro_pool2d_shape_check(repro_pool2d_shape *s, repro_error *err)
{
    if (s->N < 1 || s->C < 1 || s->H < 1 || s->W < 1 || s->KH < 1 || s->KW < 1 || s->stride_h < 1 ||
        s->stride_w < 1 || s->pad_h < 0 || s->pad_w < 0)
        return repro_fail(err, REPRO_ERR_ARG, "pool2d: a size is < 1");
    if (s->pad_h > s->KH / 2 || s->pad_w > s->KW / 2)
        return repro_fail(err, REPRO_ERR_ARG, "padding is more than half the kernel");
    if (s->KH > s->H + 2 * s->pad_h || s->KW > s->W + 2 * s->pad_w)
        return repro_fail(err, REPRO_ERR_ARG, "kernel larger than the padded input");
    s->OH = (s->H + 2 * s->pad_h - s->KH) / s->stride_h + 1;
    s->OW = (s->W + 2 * s->pad_w - s->KW) / s->stride_w + 1;
    return REPRO_OK;
}

repro_status repro_conv2d_forward_ref(const repro_conv2d_shape *s, float *y, const float *x, const float *w,
                                      const float *bias, repro_error *err)
{
    (void)err;
    int64_t Cg = s->C / s->groups, Og = s->O / s->groups;
    for (int64_t n = 0; n < s->N; n++)
        for (int64_t o = 0; o < s->O; o++)
            for (int64_t oh = 0; oh < s->OH; oh++)
                for (int64_t ow = 0; ow < s->OW; ow++) {
                    int64_t g = o / Og;
                    float acc = +0.0f;
                    for (int64_t ci = 0; ci < Cg; ci++)
                        for (int64_t kh = 0; kh < s->KH; kh++)
                            for (int64_t kw = 0; kw < s->KW; kw++) {
                                int64_t ih = oh * s->stride_h - s->pad_h + kh * s->dil_h;
                                int64_t iw = ow * s->stride_w - s->pad_w + kw * s->dil_w;
                                int64_t c = g * Cg + ci;
                                float xv = (ih >= 0 && ih < s->H && iw >= 0 && iw < s->W)
                                               ? x[((n * s->C + c) * s->H + ih) * s->W + iw]
                                               : +0.0f;
                                acc = fmaf(xv, w[((o * Cg + ci) * s->KH + kh) * s->KW + kw], acc);
                            }
                    y[((n * s->O + o) * s->OH + oh) * s->OW + ow] = bias ? acc + bias[o] : acc;
                }
    return REPRO_OK;
}

repro_status repro_conv2d_backward_ref(const repro_conv2d_shape *s, float *dx, float *dw, float *db,
                                       const float *dy, const float *x, const float *w, repro_error *err)
{
    (void)err;
    int64_t Cg = s->C / s->groups, Og = s->O / s->groups;
    if (dx)
        for (int64_t n = 0; n < s->N; n++)
            for (int64_t c = 0; c < s->C; c++)
                for (int64_t ih = 0; ih < s->H; ih++)
                    for (int64_t iw = 0; iw < s->W; iw++) {
                        int64_t g = c / Cg, ci = c % Cg;
                        float acc = +0.0f;
                        for (int64_t o = g * Og; o < (g + 1) * Og; o++)
                            for (int64_t kh = 0; kh < s->KH; kh++)
                                for (int64_t kw = 0; kw < s->KW; kw++) {
                                    int64_t th = ih + s->pad_h - kh * s->dil_h, tw = iw + s->pad_w - kw * s->dil_w;
                                    float dyv = +0.0f;
                                    if (th >= 0 && tw >= 0 && th % s->stride_h == 0 && tw % s->stride_w == 0 &&
                                        th / s->stride_h < s->OH && tw / s->stride_w < s->OW)
                                        dyv = dy[((n * s->O + o) * s->OH + th / s->stride_h) * s->OW +
                                                 tw / s->stride_w];
                                    acc = fmaf(dyv, w[((o * Cg + ci) * s->KH + kh) * s->KW + kw], acc);
                                }
                        dx[((n * s->C + c) * s->H + ih) * s->W + iw] = acc;
                    }
    for (int64_t o = 0; o < s->O; o++)
        for (int64_t ci = 0; ci < Cg; ci++)
            for (int64_t kh = 0; kh < s->KH; kh++)
                for (int64_t kw = 0; kw < s->KW; kw++) {
                    int64_t c = (o / Og) * Cg + ci;
                    float *wp = &dw[((o * Cg + ci) * s->KH + kh) * s->KW + kw];
                    float acc = *wp;
                    for (int64_t n = 0; n < s->N; n++)
                        for (int64_t oh = 0; oh < s->OH; oh++)
                            for (int64_t ow = 0; ow < s->OW; ow++) {
                                int64_t ih = oh * s->stride_h - s->pad_h + kh * s->dil_h;
                                int64_t iw = ow * s->stride_w - s->pad_w + kw * s->dil_w;
                                float xv = (ih >= 0 && ih < s->H && iw >= 0 && iw < s->W)
                                               ? x[((n * s->C + c) * s->H + ih) * s->W + iw]
                                               : +0.0f;
                                acc = fmaf(dy[((n * s->O + o) * s->OH + oh) * s->OW + ow], xv, acc);
                            }
                    *wp = acc;
                }
    if (db)
        for (int64_t o = 0; o < s->O; o++) {
            float acc = db[o];
            for (int64_t n = 0; n < s->N; n++)
                for (int64_t p = 0; p < s->OH * s->OW; p++)
                    acc = acc + dy[(n * s->O + o) * s->OH * s->OW + p];
            db[o] = acc;
        }
    return REPRO_OK;
}

repro_status repro_maxpool2d_forward_ref(const repro_pool2d_shape *s, float *y, int32_t *argmax, const float *x,
                                         repro_error *err)
{
    (void)err;
    for (int64_t nc = 0; nc < s->N * s->C; nc++)
        for (int64_t oh = 0; oh < s->OH; oh++)
            for (int64_t ow = 0; ow < s->OW; ow++) {
                float m = 0.0f;
                int32_t idx = -1;
                for (int64_t kh = 0; kh < s->KH; kh++)
                    for (int64_t kw = 0; kw < s->KW; kw++) {
                        int64_t ih = oh * s->stride_h - s->pad_h + kh, iw = ow * s->stride_w - s->pad_w + kw;
                        if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W)
                            continue;
                        float v = x[(nc * s->H + ih) * s->W + iw];
                        if (idx < 0 || v > m || (v != v && m == m)) {
                            m = v;
                            idx = (int32_t)(ih * s->W + iw);
                        }
                    }
                y[(nc * s->OH + oh) * s->OW + ow] = m;
                argmax[(nc * s->OH + oh) * s->OW + ow] = idx;
            }
    return REPRO_OK;
}

repro_status repro_maxpool2d_backward_ref(const repro_pool2d_shape *s, float *dx, const float *dy,
                                          const int32_t *argmax, repro_error *err)
{
    (void)err;
    for (int64_t nc = 0; nc < s->N * s->C; nc++)
        for (int64_t ih = 0; ih < s->H; ih++)
            for (int64_t iw = 0; iw < s->W; iw++) {
                float acc = +0.0f;
                for (int64_t oh = 0; oh < s->OH; oh++)
                    for (int64_t ow = 0; ow < s->OW; ow++) {
                        int64_t h0 = oh * s->stride_h - s->pad_h, w0 = ow * s->stride_w - s->pad_w;
                        if (ih < h0 || ih >= h0 + s->KH || iw < w0 || iw >= w0 + s->KW)
                            continue;
                        int64_t o = (nc * s->OH + oh) * s->OW + ow;
                        if (argmax[o] == ih * s->W + iw)
                            acc = acc + dy[o];
                    }
                dx[(nc * s->H + ih) * s->W + iw] = acc;
            }
    return REPRO_OK;
}

repro_status repro_avgpool2d_forward_ref(const repro_pool2d_shape *s, float *y, const float *x, repro_error *err)
{
    (void)err;
    for (int64_t nc = 0; nc < s->N * s->C; nc++)
        for (int64_t oh = 0; oh < s->OH; oh++)
            for (int64_t ow = 0; ow < s->OW; ow++) {
                float sum = +0.0f;
                for (int64_t kh = 0; kh < s->KH; kh++)
                    for (int64_t kw = 0; kw < s->KW; kw++) {
                        int64_t ih = oh * s->stride_h - s->pad_h + kh, iw = ow * s->stride_w - s->pad_w + kw;
                        if (ih >= 0 && ih < s->H && iw >= 0 && iw < s->W)
                            sum = sum + x[(nc * s->H + ih) * s->W + iw];
                    }
                y[(nc * s->OH + oh) * s->OW + ow] = sum / (float)(s->KH * s->KW);
            }
    return REPRO_OK;
}

repro_status repro_avgpool2d_backward_ref(const repro_pool2d_shape *s, float *dx, const float *dy, repro_error *err)
{
    (void)err;
    for (int64_t nc = 0; nc < s->N * s->C; nc++)
        for (int64_t ih = 0; ih < s->H; ih++)
            for (int64_t iw = 0; iw < s->W; iw++) {
                float acc = +0.0f;
                for (int64_t oh = 0; oh < s->OH; oh++)
                    for (int64_t ow = 0; ow < s->OW; ow++) {
                        int64_t h0 = oh * s->stride_h - s->pad_h, w0 = ow * s->stride_w - s->pad_w;
                        if (ih < h0 || ih >= h0 + s->KH || iw < w0 || iw >= w0 + s->KW)
                            continue;
                        acc = acc + dy[(nc * s->OH + oh) * s->OW + ow] / (float)(s->KH * s->KW);
                    }
                dx[(nc * s->H + ih) * s->W + iw] = acc;
            }
    return REPRO_OK;
}

repro_status repro_global_avgpool_forward_ref(float *y, const float *x, int64_t N, int64_t C, int64_t HW,
                                              repro_error *err)
{
    (void)err;
    for (int64_t i = 0; i < N * C; i++)
        y[i] = repro_sum_canonical(x + i * HW, HW) / (float)HW;
    return REPRO_OK;
}

repro_status repro_global_avgpool_backward_ref(float *dx, const float *dy, int64_t N, int64_t C, int64_t HW,
                                               repro_error *err)
{
    (void)err;
    for (int64_t i = 0; i < N * C * HW; i++)
        dx[i] = dy[i / HW] / (float)HW;
    return REPRO_OK;
}

#endif
