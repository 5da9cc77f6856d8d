/* The shapes of 2-D convolution and pooling, shared by the CPU kernels
 * (src/ops/cpu/conv.h, pool2d.h) and the CUDA kernels (src/ops/cuda/cuda_conv.h).
 * Plain C, usable from CUDA C++. Layout NCHW, row-major, batch first.
 *
 * (Written by the CUDA side from the op contract, so that it compiles before
 * the CPU side lands; the CPU side's copy, with conv_shape.c, is the one to
 * keep at merge: the fields and names are the contract's.) */
#ifndef REPRO_OPS_CONV_SHAPE_H
#define REPRO_OPS_CONV_SHAPE_H

#include <stdint.h>

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
/* Validates and fills OH = (H + 2*pad_h - dil_h*(KH-1) - 1)/stride_h + 1 (same for W).
 * Errors (REPRO_ERR_ARG, message naming the numbers): any size < 1 (pad >= 0),
 * stride 0, dilation 0, groups not dividing C or O ("groups 3 does not divide 32 input
 * channels"), dilated kernel larger than the padded input ("kernel 5x5 (dilation 1) is
 * larger than the padded input 3x3 (padding 0)"), int64 overflow of any element count. */
repro_status repro_conv2d_shape_check(repro_conv2d_shape *s, repro_error *err);

typedef struct repro_pool2d_shape {
    int64_t N, C, H, W, KH, KW, stride_h, stride_w, pad_h, pad_w;
    int64_t OH, OW;                     /* set by the check: (H + 2*pad_h - KH)/stride_h + 1 */
} repro_pool2d_shape;
/* errors as above, plus pad > kernel/2 ("padding 2 is more than half the kernel 3") */
repro_status repro_pool2d_shape_check(repro_pool2d_shape *s, repro_error *err);

#ifdef __cplusplus
}
#endif

#endif
