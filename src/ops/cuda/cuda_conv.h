/* 2-D convolution and pooling on the GPU, bit for bit the CPU references
 * of src/ops/cpu/conv.h and src/ops/cpu/pool2d.h (tests/cuda/test_cuda_conv.cu
 * checks every kernel against them). Conventions as in cuda_ops.h: every
 * pointer is a device pointer, layout NCHW, `stream` a cudaStream_t (NULL =
 * the default stream), nothing synchronises, nothing is allocated (every
 * entry point can be recorded in a CUDA Graph). Errors: REPRO_ERR_ARG for
 * an invalid argument (nothing launched), REPRO_ERR_INTERNAL with CUDA's
 * message when a launch fails. The shapes must have been filled by
 * repro_conv2d_shape_check / repro_pool2d_shape_check (OH, OW are checked
 * against the formula).
 *
 * Written orders (the contract every twin follows; g = group, Cg = C/groups,
 * Og = O/groups, all sums one binary32 rounding each, fmaf fused):
 *
 * conv2d forward, each y[n][o][oh][ow] (g = o / Og):
 *   acc = +0; for ci < Cg asc, kh < KH asc, kw < KW asc:
 *       ih = oh*stride_h - pad_h + kh*dil_h, iw = ow*stride_w - pad_w + kw*dil_w
 *       xv = inside ? x[n][g*Cg + ci][ih][iw] : +0      (padding taps are in the chain)
 *       acc = fmaf(xv, w[o][ci][kh][kw], acc)
 *   y = bias ? acc + bias[o] : acc
 * conv2d backward:
 *   dx[n][c][ih][iw] (overwritten; g = c / Cg, ci = c % Cg):
 *       acc = +0; for o in group g asc, kh asc, kw asc:
 *           th = ih + pad_h - kh*dil_h, tw = iw + pad_w - kw*dil_w
 *           dyv = th, tw >= 0, divisible by the strides and th/stride_h < OH,
 *                 tw/stride_w < OW ? dy[n][o][th/stride_h][tw/stride_w] : +0
 *           acc = fmaf(dyv, w[o][ci][kh][kw], acc)
 *   dw[o][ci][kh][kw] (accumulates): acc = dw; for n asc, oh asc, ow asc:
 *       acc = fmaf(dy[n][o][oh][ow], xv, acc)        (xv: the forward's tap)
 *   db[o] (accumulates): acc = db; for n asc, oh asc, ow asc: acc = acc + dy[n][o][oh][ow]
 * max pool forward, each (n, c, oh, ow): taps kh asc, kw asc, padding taps
 *   skipped; m = first valid tap; for each later valid tap v:
 *   if (v > m || (v != v && m == m)) { m = v; idx = tap }; y = m,
 *   argmax = ih*W + iw of the kept tap (the first maximum; the first NaN wins)
 * max pool backward, each dx[n][c][ih][iw] (overwritten): acc = +0; for the
 *   windows containing it, oh asc, ow asc: if argmax == ih*W + iw: acc = acc + dy
 * avg pool (count_include_pad): s = +0; valid taps kh asc, kw asc: s = s + x;
 *   y = s / (float)(KH*KW). Backward (overwritten): acc = +0; windows oh asc,
 *   ow asc: acc = acc + dy / (float)(KH*KW)
 * global average pool: y[n][c] = repro_sum_canonical(x[n][c][0..HW)) / (float)HW;
 *   backward dx[n][c][i] = dy[n][c] / (float)HW (overwritten).
 *
 * How the convolution's work is split (src/ops/cuda/conv2d*.cu): only over
 * outputs, each output one chain run by one thread in the order above.
 * Forward and dx are implicit GEMMs (rows (n, spatial), columns the output
 * channels of a group, k the chain), staged through shared memory a few
 * whole chain channels at a time; dw (and db, as one more column whose tap
 * is 1.0f: fmaf(dy, 1.0f, acc) is acc + dy exactly) is a GEMM whose k is
 * (n, oh, ow). What the tiles cannot take (forward/dx: kernels of more than
 * 28 taps KH*KW, fewer than 8 output channels a group; any pass: a tensor of
 * 2^31 elements or more, more than 65535 groups) runs on the direct
 * kernels: one thread an output, the same chains. */
#ifndef REPRO_OPS_CUDA_CONV_H
#define REPRO_OPS_CUDA_CONV_H

#include <stdint.h>

#include "ops/conv_shape.h"
#include "ops/cuda/cuda_ops.h"
#include "repro/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* x [N][C][H][W], w [O][C/groups][KH][KW], bias [O] (may be NULL) -> y [N][O][OH][OW]. */
repro_status repro_cuda_conv2d_forward(const repro_conv2d_shape *s, float *y, const float *x, const float *w,
                                       const float *bias, repro_cuda_stream stream, repro_error *err);
/* dy [N][O][OH][OW], x, w as in the forward. dx [N][C][H][W] overwritten;
 * dw [O][C/groups][KH][KW] accumulates; db [O] accumulates. Each may be NULL
 * (not wanted: a frozen layer, the input layer's dx). dx runs first, then
 * dw and db in one launch. */
repro_status repro_cuda_conv2d_backward(const repro_conv2d_shape *s, float *dx, float *dw, float *db,
                                        const float *dy, const float *x, const float *w, repro_cuda_stream stream,
                                        repro_error *err);

/* Which kernels run a convolution. Every tiling runs the same chains, so
 * gives the same bits; AUTO picks by shape (repro_cuda_conv2d_auto_tilings).
 * The others are for tests and benchmarks: a tiling that cannot take a
 * shape, or does not belong to the pass, is REPRO_ERR_UNSUPPORTED. */
typedef enum repro_cuda_conv_tiling {
    REPRO_CUDA_CONV_AUTO = 0,
    REPRO_CUDA_CONV_DIRECT,     /* one thread an output, no shared memory: any shape, any pass */
    /* forward and dx: a block of rows (n, spatial) x columns (channels), a thread's outputs */
    REPRO_CUDA_CONV_128X64,     /* 256 threads, 8x4 outputs each */
    REPRO_CUDA_CONV_64X64,      /* 256 threads, 4x4 */
    REPRO_CUDA_CONV_128X32,     /* 128 threads, 8x4 */
    REPRO_CUDA_CONV_64X32,      /* 128 threads, 4x4 */
    /* dw (and db): a block of output channels x (ci, kh, kw) columns */
    REPRO_CUDA_CONV_W32X32,     /* 256 threads, 2x2 outputs each */
    REPRO_CUDA_CONV_W16X32,     /* 128 threads, 2x2 */
    REPRO_CUDA_CONV_W16X16,     /* 128 threads, 2x1 */
    REPRO_CUDA_CONV_W8X16,      /* 128 threads, 1 output each */
    /* dw (and db) of a 3-wide kernel at stride 1, one output row at a time:
     * output channels x (ci, kh) groups, a thread's 3 outputs kw = 0, 1, 2 */
    REPRO_CUDA_CONV_WROWS16X8,  /* 128 threads: 16 channels x 8 (ci, kh) */
    REPRO_CUDA_CONV_WROWS16X4,  /* 64 threads: 16 channels x 4 (ci, kh) */
    REPRO_CUDA_CONV_WROWS8X4WS, /* 32 + 32 threads: a warp of 8 channels x 4 (ci, kh) that only
                                   runs chains, a warp that only stages; rows of 14 or 28 */
    REPRO_CUDA_CONV_WROWS8X4WS1, /* the same with one output a thread: a block per kw */
    /* forward and dx of a 3x3 or 1x1 kernel: a thread a row (n, spatial) and
     * up to 16 columns (channels) of its group, the block's weights staged once */
    REPRO_CUDA_CONV_PIXEL,      /* 128 threads */
    REPRO_CUDA_CONV_PIXEL2      /* 128 threads, two rows each */
} repro_cuda_conv_tiling;
#define REPRO_CUDA_CONV_TILINGS 16

/* A short name ("direct", "128x64", "w8x16", ...). */
const char *repro_cuda_conv_tiling_name(repro_cuda_conv_tiling t);
/* The tilings AUTO picks for the forward, dx and dw (with db) of a checked shape. */
void repro_cuda_conv2d_auto_tilings(const repro_conv2d_shape *s, repro_cuda_conv_tiling *fwd,
                                    repro_cuda_conv_tiling *dx, repro_cuda_conv_tiling *dw);
/* The two entry points above with chosen tilings (AUTO allowed in each). */
repro_status repro_cuda_conv2d_forward_tiled(repro_cuda_conv_tiling tiling, const repro_conv2d_shape *s, float *y,
                                             const float *x, const float *w, const float *bias,
                                             repro_cuda_stream stream, repro_error *err);
repro_status repro_cuda_conv2d_backward_tiled(repro_cuda_conv_tiling dx_tiling, repro_cuda_conv_tiling dw_tiling,
                                              const repro_conv2d_shape *s, float *dx, float *dw, float *db,
                                              const float *dy, const float *x, const float *w,
                                              repro_cuda_stream stream, repro_error *err);

/* x [N][C][H][W] -> y, argmax [N][C][OH][OW] (argmax = ih*W + iw within the plane). */
repro_status repro_cuda_maxpool2d_forward(const repro_pool2d_shape *s, float *y, int32_t *argmax, const float *x,
                                          repro_cuda_stream stream, repro_error *err);
/* dy, argmax [N][C][OH][OW] -> dx [N][C][H][W] (overwritten). */
repro_status repro_cuda_maxpool2d_backward(const repro_pool2d_shape *s, float *dx, const float *dy,
                                           const int32_t *argmax, repro_cuda_stream stream, repro_error *err);
/* x [N][C][H][W] -> y [N][C][OH][OW]; padding counts in the divisor. */
repro_status repro_cuda_avgpool2d_forward(const repro_pool2d_shape *s, float *y, const float *x,
                                          repro_cuda_stream stream, repro_error *err);
/* dy [N][C][OH][OW] -> dx [N][C][H][W] (overwritten). */
repro_status repro_cuda_avgpool2d_backward(const repro_pool2d_shape *s, float *dx, const float *dy,
                                           repro_cuda_stream stream, repro_error *err);
/* x [N][C][HW] -> y [N][C]. */
repro_status repro_cuda_global_avgpool_forward(float *y, const float *x, int64_t N, int64_t C, int64_t HW,
                                               repro_cuda_stream stream, repro_error *err);
/* dy [N][C] -> dx [N][C][HW] (overwritten). */
repro_status repro_cuda_global_avgpool_backward(float *dx, const float *dy, int64_t N, int64_t C, int64_t HW,
                                                repro_cuda_stream stream, repro_error *err);

#ifdef __cplusplus
}
#endif

#endif
