/* The pooling references: pool2d.h's written order as plain loops, one
 * output (or input-gradient) element at a time, single-threaded. */
#include "ops/cpu/pool2d.h"
#include "ops/reduce.h"

/* Output (oh, ow)'s tap (kh, kw): 1 and its plane index when real. */
static int tap(const repro_pool2d_shape *s, int64_t oh, int64_t ow, int64_t kh, int64_t kw, int64_t *at)
{
    int64_t ih = oh * s->stride_h - s->pad_h + kh, iw = ow * s->stride_w - s->pad_w + kw;
    *at = ih * s->W + iw;
    return ih >= 0 && ih < s->H && iw >= 0 && iw < s->W;
}

/* The windows along one axis that can contain pixel i: [*lo, *hi). */
static void windows_of(int64_t i, int64_t pad, int64_t k, int64_t stride, int64_t out, int64_t *lo, int64_t *hi)
{
    int64_t first = i + pad - k + 1, last = i + pad; /* o*stride in [first, last] */
    *lo = first <= 0 ? 0 : (first + stride - 1) / stride;
    *hi = last / stride + 1 < out ? last / stride + 1 : out;
}

/* Does the window of (oh, ow) contain pixel (ih, iw)? */
static int contains(const repro_pool2d_shape *s, int64_t oh, int64_t ow, int64_t ih, int64_t iw)
{
    int64_t dh = ih - (oh * s->stride_h - s->pad_h), dw = iw - (ow * s->stride_w - s->pad_w);
    return dh >= 0 && dh < s->KH && dw >= 0 && dw < s->KW;
}

void repro_maxpool2d_forward_ref(const repro_pool2d_shape *s, float *y, int32_t *argmax, const float *x)
{
    const int64_t HW = s->H * s->W, OHW = s->OH * s->OW;
    for (int64_t p = 0; p < s->N * s->C; p++)
        for (int64_t oh = 0; oh < s->OH; oh++)
            for (int64_t ow = 0; ow < s->OW; ow++) {
                float m = 0.0f;
                int64_t idx = -1;
                for (int64_t kh = 0; kh < s->KH; kh++)
                    for (int64_t kw = 0; kw < s->KW; kw++) {
                        int64_t at;
                        if (!tap(s, oh, ow, kh, kw, &at))
                            continue;
                        float v = x[p * HW + at];
                        if (idx < 0 || v > m || (v != v && m == m)) {
                            m = v;
                            idx = at;
                        }
                    }
                y[p * OHW + oh * s->OW + ow] = m;
                if (argmax)
                    argmax[p * OHW + oh * s->OW + ow] = (int32_t)idx;
            }
}

void repro_maxpool2d_backward_ref(const repro_pool2d_shape *s, float *dx, const float *dy, const int32_t *argmax)
{
    const int64_t HW = s->H * s->W, OHW = s->OH * s->OW;
    for (int64_t p = 0; p < s->N * s->C; p++)
        for (int64_t ih = 0; ih < s->H; ih++)
            for (int64_t iw = 0; iw < s->W; iw++) {
                float acc = +0.0f;
                int64_t oh0, oh1, ow0, ow1;
                windows_of(ih, s->pad_h, s->KH, s->stride_h, s->OH, &oh0, &oh1);
                windows_of(iw, s->pad_w, s->KW, s->stride_w, s->OW, &ow0, &ow1);
                for (int64_t oh = oh0; oh < oh1; oh++)
                    for (int64_t ow = ow0; ow < ow1; ow++)
                        if (contains(s, oh, ow, ih, iw) && argmax[p * OHW + oh * s->OW + ow] == ih * s->W + iw)
                            acc = acc + dy[p * OHW + oh * s->OW + ow];
                dx[p * HW + ih * s->W + iw] = acc;
            }
}

void repro_avgpool2d_forward_ref(const repro_pool2d_shape *s, float *y, const float *x)
{
    const int64_t HW = s->H * s->W, OHW = s->OH * s->OW;
    const float div = (float)(s->KH * s->KW);
    for (int64_t p = 0; p < s->N * s->C; p++)
        for (int64_t oh = 0; oh < s->OH; oh++)
            for (int64_t ow = 0; ow < s->OW; ow++) {
                float sum = +0.0f;
                for (int64_t kh = 0; kh < s->KH; kh++)
                    for (int64_t kw = 0; kw < s->KW; kw++) {
                        int64_t at;
                        if (tap(s, oh, ow, kh, kw, &at))
                            sum = sum + x[p * HW + at];
                    }
                y[p * OHW + oh * s->OW + ow] = sum / div;
            }
}

void repro_avgpool2d_backward_ref(const repro_pool2d_shape *s, float *dx, const float *dy)
{
    const int64_t HW = s->H * s->W, OHW = s->OH * s->OW;
    const float div = (float)(s->KH * s->KW);
    for (int64_t p = 0; p < s->N * s->C; p++)
        for (int64_t ih = 0; ih < s->H; ih++)
            for (int64_t iw = 0; iw < s->W; iw++) {
                float acc = +0.0f;
                int64_t oh0, oh1, ow0, ow1;
                windows_of(ih, s->pad_h, s->KH, s->stride_h, s->OH, &oh0, &oh1);
                windows_of(iw, s->pad_w, s->KW, s->stride_w, s->OW, &ow0, &ow1);
                for (int64_t oh = oh0; oh < oh1; oh++)
                    for (int64_t ow = ow0; ow < ow1; ow++)
                        if (contains(s, oh, ow, ih, iw))
                            acc = acc + dy[p * OHW + oh * s->OW + ow] / div;
                dx[p * HW + ih * s->W + iw] = acc;
            }
}

void repro_global_avgpool_forward_ref(float *y, const float *x, int64_t N, int64_t C, int64_t HW)
{
    for (int64_t p = 0; p < N * C; p++)
        y[p] = repro_sum_canonical(x + p * HW, HW) / (float)HW;
}

void repro_global_avgpool_backward_ref(float *dx, const float *dy, int64_t N, int64_t C, int64_t HW)
{
    for (int64_t p = 0; p < N * C; p++)
        for (int64_t i = 0; i < HW; i++)
            dx[p * HW + i] = dy[p] / (float)HW;
}
