/* Attention and softmax on the GPU: src/ops/attention_math.h's and
 * src/ops/cpu/softmax.h's orders, bit for bit (tests/cuda/test_cuda_attention.cu).
 * Conventions of src/ops/cuda/cuda_ops.h: device pointers, work enqueued
 * on `stream`, nothing synchronised or allocated (CUDA-graph safe).
 *
 * How the work is split: where the head size has them (16, 32, 64, 128),
 * tiled kernels (attention_tiled.cu): a thread block owns 64 query rows
 * (forward, dq) or 64 keys (dk, dv) and walks the other side in tiles of 64
 * through shared memory; every other head size runs the row functions (a
 * warp a row forward, a thread a row or key backward). In both, the
 * running max and sum are the written sequential scans and every output
 * value is one chain owned by one thread: no sum is ever split and no
 * atomics are used. */
#ifndef REPRO_OPS_CUDA_ATTENTION_H
#define REPRO_OPS_CUDA_ATTENTION_H

#include <stdint.h>

#include "ops/attention_math.h"
#include "ops/cuda/cuda_ops.h"
#include "repro/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The kernels behind the calls below, for the tests (all give the same
 * bits): AUTO picks the tiled kernels where the head size has them. */
enum {
    REPRO_CUDA_ATTN_AUTO = -1,
    REPRO_CUDA_ATTN_ROW = 0,   /* one thread a row: the row functions themselves */
    REPRO_CUDA_ATTN_WARP = 1,  /* forward only: one warp a row */
    REPRO_CUDA_ATTN_TILED = 2  /* 64 rows or keys a block (head_dim 16, 32, 64, 128) */
};

/* The CPU's argument checks (REPRO_ERR_ARG, nothing launched), then the
 * forward: o, the m and l rows of stat, keep when not NULL. */
repro_status repro_cuda_attention_forward(const repro_attn_args *a, repro_cuda_stream stream, repro_error *err);
repro_status repro_cuda_attention_forward_variant(const repro_attn_args *a, int variant, repro_cuda_stream stream,
                                                  repro_error *err);
/* dsum rows of stat, then dqkv (overwritten). The backward variants are
 * ROW and TILED (WARP runs ROW). */
repro_status repro_cuda_attention_backward(const repro_attn_args *a, repro_cuda_stream stream, repro_error *err);
repro_status repro_cuda_attention_backward_variant(const repro_attn_args *a, int variant, repro_cuda_stream stream,
                                                   repro_error *err);

/* Softmax over the last axis of [rows][n]; backward from the forward's y. */
repro_status repro_cuda_softmax_forward(float *y, const float *x, int64_t rows, int64_t n, repro_cuda_stream stream,
                                        repro_error *err);
repro_status repro_cuda_softmax_backward(float *dx, const float *dy, const float *y, int64_t rows, int64_t n,
                                         repro_cuda_stream stream, repro_error *err);

/* GELU, erf form (gelu_erf.cu): src/ops/gelu_erf_math.h per element. */
repro_status repro_cuda_gelu_erf_forward(float *y, const float *x, int64_t n, repro_cuda_stream stream,
                                         repro_error *err);
repro_status repro_cuda_gelu_erf_backward(float *dx, const float *dy, const float *x, int64_t n,
                                          repro_cuda_stream stream, repro_error *err);

/* attention.c (CPU side): the argument checks every backend makes */
repro_status repro_attention_check(const repro_attn_args *a, int forward, repro_error *err);

#ifdef __cplusplus
}
#endif

#endif
