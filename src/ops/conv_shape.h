/* The shapes of 2-D convolution and pooling, shared by the CPU kernels
 * (src/ops/cpu/conv.h, src/ops/cpu/pool2d.h) and their CUDA twins.
 *
 * Layout NCHW, row-major, batch first. A shape is filled by the caller,
 * validated once by its check (which also derives the output size), and
 * then passed to every kernel; the kernels re-run the check on a copy and
 * refuse a shape whose OH/OW disagree, so a shape that skipped the check
 * cannot index out of bounds.
 *
 * Plain C, includable from .cu: the tap helpers below are REPRO_HD so the
 * CPU references and the CUDA kernels decide "which tap is padding" with
 * the same text. */
#ifndef REPRO_OPS_CONV_SHAPE_H
#define REPRO_OPS_CONV_SHAPE_H

#include <stdint.h>

#include "repro/defs.h"
#include "repro/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct repro_conv2d_shape {
    int64_t N, C, H, W;                 /* input  x [N][C][H][W] */
    int64_t O, KH, KW;                  /* weight w [O][C/groups][KH][KW], bias [O] */
    int64_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups;
    int64_t OH, OW;                     /* output y [N][O][OH][OW]; set by the check */
} repro_conv2d_shape;

/* Validates s and fills OH = (H + 2*pad_h - dil_h*(KH-1) - 1)/stride_h + 1
 * (OW likewise). Errors (REPRO_ERR_ARG, the message naming the numbers,
 * s untouched): a size (N, C, H, W, O, KH, KW, groups) below 1, a negative
 * padding, a stride or dilation below 1, groups not dividing C or O
 * ("groups 3 does not divide 32 input channels"), a dilated kernel larger
 * than the padded input ("kernel 5x5 (dilation 1) is larger than the padded
 * input 3x3 (padding 0)"), an element count (of x, y, w, or one im2col
 * matrix) that overflows int64. */
repro_status repro_conv2d_shape_check(repro_conv2d_shape *s, repro_error *err);

typedef struct repro_pool2d_shape {
    int64_t N, C, H, W, KH, KW, stride_h, stride_w, pad_h, pad_w;
    int64_t OH, OW;                     /* set by the check: (H + 2*pad_h - KH)/stride_h + 1 */
} repro_pool2d_shape;

/* Validates s and fills OH, OW. Errors as for conv2d (no dilation, no
 * groups), plus a padding more than half the kernel ("padding 2 is more
 * than half the kernel 3": then a window could hold padding only) and a
 * plane H*W too large for the int32 argmax. */
repro_status repro_pool2d_shape_check(repro_pool2d_shape *s, repro_error *err);

/* The input tap of output (oh, ow) at kernel tap (kh, kw) of a convolution:
 * 1 and (*ih, *iw) when it lies inside the image, 0 for a padding tap. */
REPRO_HD REPRO_INLINE int repro_conv2d_x_tap(const repro_conv2d_shape *s, int64_t oh, int64_t ow,
                                             int64_t kh, int64_t kw, int64_t *ih, int64_t *iw)
{
    *ih = oh * s->stride_h - s->pad_h + kh * s->dil_h;
    *iw = ow * s->stride_w - s->pad_w + kw * s->dil_w;
    return *ih >= 0 && *ih < s->H && *iw >= 0 && *iw < s->W;
}

/* The output that input pixel (ih, iw) meets at kernel tap (kh, kw), for
 * dx: 1 and (*oh, *ow) when that output exists, 0 for an absent tap.
 * th, tw >= 0 is checked before the remainder (C's % of a negative number
 * would otherwise pass for a multiple of the stride). */
REPRO_HD REPRO_INLINE int repro_conv2d_dy_tap(const repro_conv2d_shape *s, int64_t ih, int64_t iw,
                                              int64_t kh, int64_t kw, int64_t *oh, int64_t *ow)
{
    int64_t th = ih + s->pad_h - kh * s->dil_h, tw = iw + s->pad_w - kw * s->dil_w;
    if (th < 0 || tw < 0 || th % s->stride_h != 0 || tw % s->stride_w != 0)
        return 0;
    *oh = th / s->stride_h;
    *ow = tw / s->stride_w;
    return *oh < s->OH && *ow < s->OW;
}

#ifdef __cplusplus
}
#endif
#endif
