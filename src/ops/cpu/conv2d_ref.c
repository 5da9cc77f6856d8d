/* The conv2d references: conv.h's written order as plain loops, one output
 * element at a time, single-threaded. Slow on purpose: they are what the
 * fast kernels (conv2d.c) and the CUDA twins are held to, bit for bit. */
#include <math.h>
#include <stddef.h>

#include "ops/cpu/conv.h"

/* x[n][c][ih][iw], or +0.0f for a padding tap. */
static float x_tap(const repro_conv2d_shape *s, const float *x, int64_t n, int64_t c, int64_t oh, int64_t ow,
                   int64_t kh, int64_t kw)
{
    int64_t ih, iw;
    if (!repro_conv2d_x_tap(s, oh, ow, kh, kw, &ih, &iw))
        return +0.0f;
    return x[((n * s->C + c) * s->H + ih) * s->W + iw];
}

void repro_conv2d_forward_ref(const repro_conv2d_shape *s, float *y, const float *x, const float *w,
                              const float *bias)
{
    const int64_t Cg = s->C / s->groups, Og = s->O / s->groups;
    for (int64_t n = 0; n < s->N; n++)
        for (int64_t o = 0; o < s->O; o++)
            for (int64_t oh = 0; oh < s->OH; oh++)
                for (int64_t ow = 0; ow < s->OW; ow++) {
                    const int64_t g = o / Og;
                    float acc = +0.0f;
                    for (int64_t ci = 0; ci < Cg; ci++)
                        for (int64_t kh = 0; kh < s->KH; kh++)
                            for (int64_t kw = 0; kw < s->KW; kw++) {
                                float xv = x_tap(s, x, n, g * Cg + ci, oh, ow, kh, kw);
                                acc = fmaf(xv, w[((o * Cg + ci) * s->KH + kh) * s->KW + kw], acc);
                            }
                    y[((n * s->O + o) * s->OH + oh) * s->OW + ow] = bias ? acc + bias[o] : acc;
                }
}

/* dx[n][c][ih][iw]: over the group's outputs and kernel taps. */
static float dx_elem(const repro_conv2d_shape *s, const float *dy, const float *w, int64_t n, int64_t c,
                     int64_t ih, int64_t iw)
{
    const int64_t Cg = s->C / s->groups, Og = s->O / s->groups, g = c / Cg, ci = c % Cg;
    float acc = +0.0f;
    for (int64_t o = g * Og; o < (g + 1) * Og; o++)
        for (int64_t kh = 0; kh < s->KH; kh++)
            for (int64_t kw = 0; kw < s->KW; kw++) {
                int64_t oh, ow;
                float dyv = repro_conv2d_dy_tap(s, ih, iw, kh, kw, &oh, &ow)
                                ? dy[((n * s->O + o) * s->OH + oh) * s->OW + ow]
                                : +0.0f;
                acc = fmaf(dyv, w[((o * Cg + ci) * s->KH + kh) * s->KW + kw], acc);
            }
    return acc;
}

void repro_conv2d_backward_ref(const repro_conv2d_shape *s, float *dx, float *dw, float *db, const float *dy,
                               const float *x, const float *w)
{
    const int64_t Cg = s->C / s->groups, Og = s->O / s->groups;
    if (dx)
        for (int64_t n = 0; n < s->N; n++)
            for (int64_t c = 0; c < s->C; c++)
                for (int64_t ih = 0; ih < s->H; ih++)
                    for (int64_t iw = 0; iw < s->W; iw++)
                        dx[((n * s->C + c) * s->H + ih) * s->W + iw] = dx_elem(s, dy, w, n, c, ih, iw);
    if (dw)
        for (int64_t o = 0; o < s->O; o++)
            for (int64_t ci = 0; ci < Cg; ci++)
                for (int64_t kh = 0; kh < s->KH; kh++)
                    for (int64_t kw = 0; kw < s->KW; kw++) {
                        float *out = &dw[((o * Cg + ci) * s->KH + kh) * s->KW + kw];
                        const int64_t c = (o / Og) * Cg + ci;
                        float acc = *out;
                        for (int64_t n = 0; n < s->N; n++)
                            for (int64_t oh = 0; oh < s->OH; oh++)
                                for (int64_t ow = 0; ow < s->OW; ow++)
                                    acc = fmaf(dy[((n * s->O + o) * s->OH + oh) * s->OW + ow],
                                               x_tap(s, x, n, c, oh, ow, kh, kw), acc);
                        *out = acc;
                    }
    if (db)
        for (int64_t o = 0; o < s->O; o++) {
            float acc = db[o];
            for (int64_t n = 0; n < s->N; n++)
                for (int64_t i = 0; i < s->OH * s->OW; i++)
                    acc = acc + dy[(n * s->O + o) * s->OH * s->OW + i];
            db[o] = acc;
        }
}
