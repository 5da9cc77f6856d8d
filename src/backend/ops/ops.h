/* The ops that run through kernel rows (backend/kernel.h): each one's
 * argument struct and its rows. Every pointer is backend memory; shapes and
 * orders are the kernels' own (src/ops/conv_shape.h, src/ops/cpu/conv.h,
 * pool2d.h, norm.h), which the CUDA twins follow bit for bit. */
#ifndef REPRO_BACKEND_OPS_H
#define REPRO_BACKEND_OPS_H

#include <stdint.h>

#include "backend/kernel.h"
#include "ops/attention_math.h"
#include "ops/conv_shape.h"
#include "ops/cpu/patchify.h"

/* ---- conv2d (conv.c) ---- */
typedef struct repro_conv2d_args {
    repro_conv2d_shape shape;
    float *y, *dx, *dw, *db;           /* y: forward; dx (NULL = skip, overwritten), dw, db (NULL = skip) accumulate */
    const float *x, *w, *bias, *dy;    /* bias may be NULL */
} repro_conv2d_args;
extern const repro_kernel repro_k_conv2d_forward, repro_k_conv2d_backward;

/* conv2d then max pool (a conv whose ReLU folds into the pool: model.c):
 * pool_y and argmax as the two ops give them over y; y is the conv's output
 * buffer, a workspace whose contents are then unspecified (the CPU pools
 * each image in cache and does not write it) */
typedef struct repro_conv2d_maxpool_args {
    repro_conv2d_shape conv;
    repro_pool2d_shape pool;
    float *y, *pool_y;
    int32_t *argmax;
    const float *x, *w, *bias;         /* bias may be NULL */
    /* backward, for a conv whose input needs no gradient: dw, db accumulate
     * from dy = the pool's backward of pool_dy (y again a workspace; w as
     * the conv's backward takes it, though no dx is made) */
    float *dw, *db;
    const float *pool_dy;
} repro_conv2d_maxpool_args;
extern const repro_kernel repro_k_conv2d_maxpool_forward, repro_k_conv2d_maxpool_backward;

/* ---- pooling (pool2d.c) ---- */
typedef struct repro_pool2d_args {
    repro_pool2d_shape shape;
    float *y, *dx;                     /* dx overwritten */
    const float *x, *dy;
    int32_t *argmax;                   /* max pool: [N][C][OH][OW] */
} repro_pool2d_args;
extern const repro_kernel repro_k_maxpool2d_forward, repro_k_maxpool2d_backward;
extern const repro_kernel repro_k_avgpool2d_forward, repro_k_avgpool2d_backward;

typedef struct repro_gap_args {        /* global average pool: x [N][C][HW] -> y [N][C] */
    int64_t N, C, HW;
    float *y, *dx;
    const float *x, *dy;
} repro_gap_args;
extern const repro_kernel repro_k_gap_forward, repro_k_gap_backward;

/* ---- norms (norm.c): x, y, dx, dy [N][C][HW] ---- */
typedef struct repro_norm_args {
    int64_t N, C, HW;
    int64_t group;                     /* batch norm: samples a group; group norm: channel groups */
    float eps, momentum;
    float *y, *dx, *dgamma, *dbeta;    /* dgamma, dbeta accumulate */
    float *mean, *rstd;                /* saved statistics */
    float *running_mean, *running_var; /* batch norm */
    float *group_stats;                /* batch norm training: each group's mean and unbiased variance rows, or NULL */
    const float *x, *dy, *gamma, *beta;
} repro_norm_args;
extern const repro_kernel repro_k_batchnorm_train, repro_k_batchnorm_eval, repro_k_batchnorm_backward;
extern const repro_kernel repro_k_groupnorm_forward, repro_k_groupnorm_backward;

/* ---- tokens (token.c): src/ops/cpu/embedding.h's orders ---- */
typedef struct repro_embedding_args {  /* ids [N] (float-coded), w, dw [V][D], y, dy [N][D] */
    int64_t N, V, D;
    float *y, *dw;                     /* dw accumulates */
    const float *ids, *w, *dy;
} repro_embedding_args;
extern const repro_kernel repro_k_embedding_forward, repro_k_embedding_backward;

typedef struct repro_lm_xent_args {    /* z, dz [B][T][V], target [B][T] (float-coded ids), loss [B] */
    int64_t B, T, V;
    int64_t ignore;                    /* the ignored target id (ignore_index); < 0: none (0 is an id) */
    float scale;                       /* backward: head weight / batch size (the kernel divides by the
                                          sample's counted positions) */
    float *loss, *dz;                  /* dz overwritten */
    const float *z, *target;
} repro_lm_xent_args;
extern const repro_kernel repro_k_lm_xent_forward, repro_k_lm_xent_backward;

typedef struct repro_pad_mask_args {   /* ids [N] (float-coded) -> y [N]: 1 where ids[p] == pad, else 0 */
    int64_t N;
    float pad;
    float *y;
    const float *ids;
} repro_pad_mask_args;
extern const repro_kernel repro_k_pad_mask_forward;

typedef struct repro_sinusoidal_args { /* x, y [B][T][D]: y = x + the sinusoidal encoding of (t, d) */
    int64_t B, T, D;
    float *y;
    const float *x;
} repro_sinusoidal_args;
extern const repro_kernel repro_k_sinusoidal_forward;

typedef struct repro_patchify_args {   /* x, dx [N][C][H][W] <-> y, dy [N][NP][C*P*P] (ops/cpu/patchify.h) */
    repro_patchify_shape shape;
    float *y, *dx;                     /* dx overwritten */
    const float *x, *dy;
} repro_patchify_args;
extern const repro_kernel repro_k_patchify_forward, repro_k_patchify_backward;

/* ---- scaled dot-product attention (attention.c): src/ops/attention_math.h's
 * shapes and order; the args are that header's repro_attn_args ---- */
extern const repro_kernel repro_k_attention_forward, repro_k_attention_backward;

/* ---- softmax over the last axis (softmax.c): x, y, dx, dy [rows][n] ---- */
typedef struct repro_softmax_args {
    int64_t rows, n;
    float *y, *dx;
    const float *x, *dy;
} repro_softmax_args;
extern const repro_kernel repro_k_softmax_forward, repro_k_softmax_backward;

/* ---- GELU, erf form (gelu_erf.c): elementwise over n values; x is the
 * forward's input in both passes ---- */
typedef struct repro_gelu_erf_args {
    int64_t n;
    float *y, *dx;
    const float *x, *dy;
    double *phi; /* CPU: [n] Phi(x), kept by a training forward, read by its backward; NULL: none (the GPU
                    computes it again) */
} repro_gelu_erf_args;
extern const repro_kernel repro_k_gelu_erf_forward, repro_k_gelu_erf_backward;

#endif
