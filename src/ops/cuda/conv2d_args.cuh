/* The arguments of the tiled convolution kernels (internal): the implicit
 * GEMM of the forward and dx (conv2d_igemm.cu) and of dw/db
 * (conv2d_wgrad.cu); conv2d.cu fills them from a checked shape and picks
 * the tiling. Every index fits int32: conv2d.cu sends a shape here only when
 * every tensor has fewer than 2^31 elements. */
#ifndef REPRO_OPS_CUDA_CONV2D_ARGS_CUH
#define REPRO_OPS_CUDA_CONV2D_ARGS_CUH

#include <stdint.h>

#include "ops/cuda/cuda_conv.h"
#include "ops/cuda/cuda_util.cuh"

/* The most chain taps a forward/dx k tile holds. A tile is cpt whole chain
 * channels (cpt = 28 / (KH*KW), at least 1), so a thread's staged taps have
 * the same (channel in tile, kh, kw) in every tile and their padding tests
 * are made once. Kernels of more than 28 taps go to the direct kernels. */
#define REPRO_CONV_IG_BK 28

/* Forward / dx as an implicit GEMM over one group g (blockIdx.z):
 *   out[n][g*cols + col][p] = chain over k = (cl, kh, kw), cl < KC, of
 *       fmaf(src tap (n, p; g*KC + cl, kh, kw), w(col, cl, kh, kw), acc)
 * forward: src = x, rows (n, oh, ow), cols = Og, KC = Cg, tap ih = oh*sh - ph + kh*dh;
 * dx:      src = dy, rows (n, ih, iw), cols = Cg, KC = Og, tap th = ih + ph - kh*dh
 *          (present when divisible by sh, in range after the division). */
struct repro_conv_igemm_args {
    const float *src;  /* x [N][C][H][W] (forward) or dy [N][O][OH][OW] (dx) */
    const float *w;    /* [O][Cg][KH][KW] */
    const float *bias; /* [O] forward only, may be NULL */
    float *out;        /* y [N][O][OH][OW] (forward) or dx [N][C][H][W] */
    int M;             /* rows: N * P */
    int P, PW;         /* output plane size and width: row m = (n, p), p = (r, c) = (p / PW, p % PW) */
    int cols;          /* output channels of a group */
    int KC;            /* chain channels of a group */
    int KHW, KW;
    int cpt, bk;       /* chain channels a k tile, bk = cpt * KHW <= REPRO_CONV_IG_BK */
    int SH, SW, SP;    /* the source plane: H, W (forward) or OH, OW (dx); SP = SH * SW */
    int src_n;         /* one sample of the source: channels * SP */
    int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
    int w_col, w_chan; /* weight stride of a column and of a chain channel */
    int w_group;       /* Og * Cg * KHW */
    int out_n;         /* one sample of the output: groups * cols * P */
    int groups;
};

/* dw (and db) as a GEMM over one group g (blockIdx.z):
 *   dw[g*Og + o][j] (+)= chain over k = (n, oh, ow) of fmaf(dy[n][g*Og + o][oh][ow], xtap(n, oh, ow; j), acc)
 * with j = (ci, kh, kw) < taps; with db, column `taps` is the bias: its tap is 1.0f.
 * taps = Cg*KHW, or 0 when dw is not wanted (db alone: one column). */
struct repro_conv_wgrad_args {
    const float *dy; /* [N][O][OH][OW] */
    const float *x;  /* [N][C][H][W] */
    float *dw;       /* [O][Cg][KH][KW] */
    float *db;       /* [O] or NULL */
    int N, OH, OW, P, K; /* P = OH*OW, K = N*P (the chain) */
    int H, W, HW;
    int Og, Cg, KHW, KW;
    int taps;        /* dw columns: Cg*KHW, 0 without dw */
    int cols;        /* taps, + 1 with db */
    int dy_n, x_n;   /* O*P, C*HW */
    int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
    int groups;
};

/* Launch the kernel of `tiling` (one of the tile tilings; 0 when it is not
 * this pass's). dx selects the dx tap rule. */
int repro_conv_igemm_launch(repro_cuda_conv_tiling tiling, int dx, const repro_conv_igemm_args &a,
                            cudaStream_t stream);
int repro_conv_wgrad_launch(repro_cuda_conv_tiling tiling, const repro_conv_wgrad_args &a, cudaStream_t stream);
/* The row kernel of dw (conv2d_wgrad_rows.cu): whether `tiling` can run a,
 * and launching it (0 when it is not the row kernel's tiling). */
int repro_conv_wgrad_rows_can(repro_cuda_conv_tiling tiling, const repro_conv_wgrad_args &a);
int repro_conv_wgrad_rows_launch(repro_cuda_conv_tiling tiling, const repro_conv_wgrad_args &a,
                                 cudaStream_t stream);

/* The one-thread-a-row kernel of the forward and dx (conv2d_pixel.cu):
 * whether `tiling` can run a, and launching it (0 when it cannot). */
int repro_conv_pixel_can(repro_cuda_conv_tiling tiling, const repro_conv_igemm_args &a);
int repro_conv_pixel_launch(repro_cuda_conv_tiling tiling, int dx, const repro_conv_igemm_args &a,
                            cudaStream_t stream);

/* The block edges of a tiling (rows, cols), {0, 0} when it is not a tile tiling. */
struct repro_conv_tile_dims {
    int bm, bn;
};
repro_conv_tile_dims repro_conv_tiling_dims(repro_cuda_conv_tiling tiling);

#endif
