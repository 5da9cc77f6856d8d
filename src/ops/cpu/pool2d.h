/* 2-D pooling on the CPU, NCHW: max pooling (with the argmax the backward
 * needs), average pooling (padding counted, as PyTorch's default
 * count_include_pad=True) and global average pooling.
 *
 *   x, dx [N][C][H][W]     y, dy [N][C][OH][OW]     argmax int32 [N][C][OH][OW]
 * shape: src/ops/conv_shape.h (run repro_pool2d_shape_check first). A window
 * of output (oh, ow) holds the taps ih = oh*stride_h - pad_h + kh,
 * iw = ow*stride_w - pad_w + kw; taps outside the image are padding.
 *
 * Written order (the contract every twin keeps, bit for bit):
 *
 * max forward, each output: taps in (kh asc, kw asc) order, padding skipped
 * (the shape check guarantees every window a real tap):
 *     m = first tap's x; idx = its ih*W + iw
 *     for each later tap v: if (v > m || (v != v && m == m)) { m = v; idx = tap }
 *     y = m; argmax = idx   (the first maximum; the first NaN wins and stays)
 * max backward, dx OVERWRITTEN, each (n, c, ih, iw):
 *     acc = +0.0f
 *     for windows (oh asc, ow asc) containing (ih, iw):
 *         if argmax[n][c][oh][ow] == ih*W + iw: acc = acc + dy[n][c][oh][ow]
 *     dx = acc
 * avg forward: s = +0.0f; for real taps (kh asc, kw asc): s = s + x;
 *     y = s / (float)(KH*KW)
 * avg backward, dx OVERWRITTEN: acc = +0.0f; for windows (oh asc, ow asc)
 *     containing (ih, iw): acc = acc + dy[oh][ow] / (float)(KH*KW)   (a division per term)
 * global average, y [N][C] from x [N][C][HW]:
 *     y = repro_sum_canonical(x[n][c][0..HW)) / (float)HW
 *     backward dx[n][c][i] = dy[n][c] / (float)HW (OVERWRITTEN)
 *
 * The threaded kernels split (n, c) planes over the pool; the fast ones
 * visit a plane's windows in (oh, ow) order and add each window's share
 * into dx (a scatter), which gives every dx element the same sum, in the
 * same order, as the gather above. A max backward argmax that points
 * outside its window matches no pixel in the gather, so the scatter skips
 * it too. Plain C, vectorised by the compiler over output columns (each
 * lane its own chain), except 2x2 windows at stride 2 without padding,
 * which have AVX2 twins (pool2d_rows.h) on the AVX2 and AVX-512 paths.
 *
 * Errors (REPRO_ERR_ARG, nothing written): a shape the check refuses or
 * whose OH/OW disagree with it, a NULL array. argmax may be NULL in the
 * max forward (not wanted). Outputs must not alias inputs. The _ref twins
 * are the written loops, single-threaded, arguments assumed valid. */
#ifndef REPRO_OPS_CPU_POOL2D_H
#define REPRO_OPS_CPU_POOL2D_H

#include <stdint.h>

#include "ops/conv_shape.h"
#include "ops/cpu/cpu.h"
#include "repro/status.h"

repro_status repro_maxpool2d_forward(const repro_cpu *cpu, const repro_pool2d_shape *s, float *y, int32_t *argmax,
                                     const float *x, repro_error *err);
void repro_maxpool2d_forward_ref(const repro_pool2d_shape *s, float *y, int32_t *argmax, const float *x);
repro_status repro_maxpool2d_backward(const repro_cpu *cpu, const repro_pool2d_shape *s, float *dx, const float *dy,
                                      const int32_t *argmax, repro_error *err);
void repro_maxpool2d_backward_ref(const repro_pool2d_shape *s, float *dx, const float *dy, const int32_t *argmax);

/* The max backward of one image (s->N == 1) over 2x2 windows at stride 2
 * without padding, written pixel-major: dxT[i * ld + c] for pixel
 * i = ih*W + iw and plane c < C (ld >= C) holds what
 * repro_maxpool2d_backward writes at dx[c][i]. For a product that reads dx
 * along the planes (conv2d's dw after a max pool: there dx is the conv's
 * dy, its B), which then needs no transpose. Runs on the calling thread
 * (one image; the caller splits the work). Errors (REPRO_ERR_ARG, nothing
 * written): as repro_maxpool2d_backward's, other windows, N != 1, ld < C. */
repro_status repro_maxpool2x2_backward_pixels(const repro_cpu *cpu, const repro_pool2d_shape *s, float *dxT,
                                              int64_t ld, const float *dy, const int32_t *argmax, repro_error *err);
/* Whether s has the windows repro_maxpool2x2_backward_pixels takes. */
int repro_pool2d_is_2x2_tiling(const repro_pool2d_shape *s);

repro_status repro_avgpool2d_forward(const repro_cpu *cpu, const repro_pool2d_shape *s, float *y, const float *x,
                                     repro_error *err);
void repro_avgpool2d_forward_ref(const repro_pool2d_shape *s, float *y, const float *x);
repro_status repro_avgpool2d_backward(const repro_cpu *cpu, const repro_pool2d_shape *s, float *dx, const float *dy,
                                      repro_error *err);
void repro_avgpool2d_backward_ref(const repro_pool2d_shape *s, float *dx, const float *dy);

/* y [N][C] from x [N][C][HW]; dx [N][C][HW] from dy [N][C]. N, C, HW >= 1. */
repro_status repro_global_avgpool_forward(const repro_cpu *cpu, float *y, const float *x, int64_t N, int64_t C,
                                          int64_t HW, repro_error *err);
void repro_global_avgpool_forward_ref(float *y, const float *x, int64_t N, int64_t C, int64_t HW);
repro_status repro_global_avgpool_backward(const repro_cpu *cpu, float *dx, const float *dy, int64_t N, int64_t C,
                                           int64_t HW, repro_error *err);
void repro_global_avgpool_backward_ref(float *dx, const float *dy, int64_t N, int64_t C, int64_t HW);

#endif
