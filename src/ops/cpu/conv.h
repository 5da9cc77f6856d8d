/* 2-D convolution (cross-correlation, as PyTorch's conv2d) on the CPU:
 * NCHW, groups (depthwise included), stride, zero padding, dilation.
 *
 *   x  [N][C][H][W]            w  [O][Cg][KH][KW]   (Cg = C/groups, Og = O/groups)
 *   y  [N][O][OH][OW]          bias [O]
 * shape: src/ops/conv_shape.h (run repro_conv2d_shape_check first).
 *
 * Written order (the contract every twin keeps, bit for bit):
 *
 * forward, each output (n, o, oh, ow), g = o / Og:
 *     acc = +0.0f
 *     for ci < Cg ascending (c = g*Cg + ci), kh < KH ascending, kw < KW ascending:
 *         ih = oh*stride_h - pad_h + kh*dil_h,  iw = ow*stride_w - pad_w + kw*dil_w
 *         xv = inside the image ? x[n][c][ih][iw] : +0.0f   (padding taps ARE in the chain)
 *         acc = fmaf(xv, w[o][ci][kh][kw], acc)
 *     y = bias ? acc + bias[o] : acc
 *
 * backward, dx (OVERWRITTEN) for each (n, c, ih, iw), g = c / Cg, ci = c % Cg:
 *     acc = +0.0f
 *     for o = g*Og .. g*Og+Og-1 ascending, kh ascending, kw ascending:
 *         th = ih + pad_h - kh*dil_h,  tw = iw + pad_w - kw*dil_w
 *         dyv = th, tw >= 0, both multiples of the strides and th/stride_h < OH,
 *               tw/stride_w < OW ? dy[n][o][th/stride_h][tw/stride_w] : +0.0f
 *         acc = fmaf(dyv, w[o][ci][kh][kw], acc)
 *     dx = acc
 * dw (ACCUMULATES from its current value) for each (o, ci, kh, kw):
 *     for n ascending, oh ascending, ow ascending:
 *         acc = fmaf(dy[n][o][oh][ow], xv, acc)       (xv the forward's tap, +0.0f for padding)
 *     one chain per weight over the whole batch, so two half-batches in
 *     order give the full batch's bits
 * db (ACCUMULATES) for each o: for n, oh, ow ascending: acc = acc + dy[n][o][oh][ow]
 *
 * (fmaf(+0, inf, acc) is NaN: a padding tap against an infinite weight
 * poisons the output. That is part of the contract.)
 *
 * How the fast kernels keep it (conv2d.c): every chain above is a dot
 * product over an im2col matrix with its taps in exactly that order
 * (padding and absent taps as +0.0f), computed by repro_gemm, which keeps
 * one fmaf chain per output, k ascending, on every ISA path (db's chain as
 * fmaf(1.0f, dy, acc), which is acc + dy bit for bit). Threads split output
 * elements only (images or pixels for y and dx, the parameters' rows
 * (group, ci, kh, kw) for dw and db), never a chain.
 *
 * Scratch: the fast kernels allocate their own and free it before
 * returning. Per thread: one image's im2col matrix (forward Cg*KH*KW x
 * OH*OW floats, dx Og*KH*KW x H*W), for dx the GEMM's result before its
 * transpose (H*W x C), and zero-padded copies of the image's planes; for
 * dw and db, (Cg*KH*KW + 1)*groups/threads rows of OH*OW + Og floats. When
 * that allocation fails: REPRO_ERR_NOMEM with every output untouched.
 * repro_gemm's own packing buffers are allocated inside the threads; if
 * one of those fails the status is REPRO_ERR_NOMEM and the outputs are
 * partly written.
 *
 * The _ref twins are the written order as plain single-threaded loops, the
 * oracle of tests/test_conv.c; their arguments are assumed valid (a checked
 * shape, the arrays its op needs).
 *
 * Errors (REPRO_ERR_ARG, nothing written): a shape the check refuses or
 * whose OH/OW disagree with it, a NULL array that is needed. Outputs must
 * not alias inputs. */
#ifndef REPRO_OPS_CPU_CONV_H
#define REPRO_OPS_CPU_CONV_H

#include "ops/conv_shape.h"
#include "ops/cpu/cpu.h"
#include "repro/status.h"

/* y[N][O][OH][OW] from x, w and bias (bias may be NULL). */
repro_status repro_conv2d_forward(const repro_cpu *cpu, const repro_conv2d_shape *s, float *y, const float *x,
                                  const float *w, const float *bias, repro_error *err);
void repro_conv2d_forward_ref(const repro_conv2d_shape *s, float *y, const float *x, const float *w,
                              const float *bias);

/* The forward, then a max pool (pool2d.h) over its output: pool_y and
 * argmax exactly as repro_maxpool2d_forward(ps, conv's y) gives them, each
 * image pooled while its output planes are still in cache, so y itself is
 * not written out (a 12.8 MB write and read in the conv net's first layer
 * at batch 128). ps must pool this conv's output (N, C = O, H = OH,
 * W = OW). y [N][O][OH][OW] is a workspace: with fewer images than threads
 * the two run one after the other through it; afterwards its contents are
 * unspecified. */
repro_status repro_conv2d_forward_maxpool(const repro_cpu *cpu, const repro_conv2d_shape *s,
                                          const repro_pool2d_shape *ps, float *pool_y, int32_t *argmax, float *y,
                                          const float *x, const float *w, const float *bias, repro_error *err);

/* dw and db accumulated as repro_conv2d_backward accumulates them from dy
 * = repro_maxpool2d_backward(ps, pool_dy, argmax) (a max pool over this
 * conv's output, as in repro_conv2d_forward_maxpool), without dy written
 * out: each part makes its planes of each image in cache before its GEMM
 * reads them. No dx: for a layer whose input needs no gradient (the first). */
repro_status repro_conv2d_backward_maxpool(const repro_cpu *cpu, const repro_conv2d_shape *s,
                                           const repro_pool2d_shape *ps, float *dw, float *db, const float *pool_dy,
                                           const int32_t *argmax, const float *x, repro_error *err);

/* From dy[N][O][OH][OW], x and w: dx[N][C][H][W] overwritten, dw[O][Cg][KH][KW]
 * and db[O] accumulated. Any of dx, dw, db may be NULL (not wanted); x is
 * only read for dw, w only for dx (either may then be NULL). */
repro_status repro_conv2d_backward(const repro_cpu *cpu, const repro_conv2d_shape *s, float *dx, float *dw,
                                   float *db, const float *dy, const float *x, const float *w, repro_error *err);
void repro_conv2d_backward_ref(const repro_conv2d_shape *s, float *dx, float *dw, float *db, const float *dy,
                               const float *x, const float *w);

#endif
