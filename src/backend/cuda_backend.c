/* The CUDA backend: device memory and the exact kernels of src/ops/cuda on
 * one stream, with side streams for the parameter gradients that can run
 * beside the backward pass (kernel.h). Built only with -DREPRO_CUDA=ON.
 * Reductions leave their result on the device unless the caller asks for
 * it on the host.
 *
 * mode: fast swaps the linear layers for cuBLAS SGEMM (FP32; TF32 tensor
 * cores only with allow_tf32) and an atomic bias gradient: faster, and not
 * reproducible. Everything else stays exact. */
#ifdef REPRO_HAVE_CUDA

#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_impl.h"
#include "backend/cublas_lib.h"
#include "backend/kernel.h"
#include "ops/cuda/cuda_ops.h"

/* Side streams: enough for the parameter gradients of consecutive layers
 * to run side by side (each is one chain an output, a few blocks). On the
 * H200 the residual net ran at 24.5k samples/s with none, 32.9k with 2,
 * 45.8k with 4 and 56.4k with 8; 12 to 32 were no faster (2026-12-01). */
#define SIDE_STREAMS_MAX 32
#define SIDE_STREAMS_DEFAULT 8
#define SIDE_KEYS 64

typedef struct cuda_state {
    float *scratch;     /* device: canonical-sum scratch, grown on demand */
    int64_t scratch_n;  /* floats in scratch */
    float *result;      /* device: one float, the last reduction's result */
    repro_cublas_lib cublas; /* mode: fast only: cuBLAS, opened at run time */
    cublasHandle_t blas;     /* mode: fast only, else NULL */
    cudaStream_t stream; /* non-blocking: capturable into a graph */
    cudaGraphExec_t step_graph; /* the last step's graph, updated in place for the next (graph_end) */
    /* side streams (kernel.h, repro_backend_side_stream): the parameter
     * gradients of one backward pass, beside it */
    int side_n;                              /* side streams in use; 0: off */
    cudaStream_t side[SIDE_STREAMS_MAX];
    cudaEvent_t side_done[SIDE_STREAMS_MAX]; /* recorded at the join, waited for by the stream */
    cudaEvent_t fork;                    /* the stream's position, recorded at each fork */
    unsigned side_pending;               /* bit i: side[i] has work the stream has not joined */
    const void *side_key[SIDE_KEYS];     /* the keys seen since the last join, and their streams */
    int side_of[SIDE_KEYS];
    int side_keys, side_next;
} cuda_state;

#define STATE(be) ((cuda_state *)(be)->impl)
/* every operation of the backend runs in order on its stream (only kernel
 * rows put work on the side streams) */
#define STREAM ((repro_cuda_stream)STATE(be)->stream)

static repro_status cuda_check(cudaError_t e, const char *what, repro_error *err)
{
    if (e == cudaSuccess)
        return REPRO_OK;
    return repro_fail(err, REPRO_ERR_INTERNAL, "CUDA: %s: %s", what, cudaGetErrorString(e));
}

static repro_status cu_alloc(const repro_backend *be, size_t bytes, void **out, repro_error *err)
{
    (void)be;
    *out = NULL;
    if (cudaMalloc(out, bytes ? bytes : 4) != cudaSuccess) {
        cudaGetLastError();
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate %zu bytes of GPU memory", bytes);
    }
    return REPRO_OK;
}

static void cu_free(const repro_backend *be, void *p)
{
    (void)be;
    cudaFree(p);
}

static repro_status cu_host_alloc(const repro_backend *be, size_t bytes, void **out, repro_error *err)
{
    (void)be;
    *out = NULL;
    if (cudaMallocHost(out, bytes ? bytes : 4) != cudaSuccess) {
        cudaGetLastError();
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate %zu bytes of page-locked host memory", bytes);
    }
    return REPRO_OK;
}

static void cu_host_free(const repro_backend *be, void *p)
{
    (void)be;
    cudaFreeHost(p);
}

static repro_status cu_zero(const repro_backend *be, void *p, size_t bytes, repro_error *err)
{
    return cuda_check(cudaMemsetAsync(p, 0, bytes, STATE(be)->stream), "memset", err);
}

static repro_status cu_copy(const repro_backend *be, void *dst, const void *src, size_t bytes, int kind,
                            repro_error *err)
{
    static const enum cudaMemcpyKind kinds[3] = {cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost,
                                                 cudaMemcpyDeviceToDevice};
    if (bytes == 0)
        return REPRO_OK;
    cudaStream_t st = STATE(be)->stream;
    repro_status r = cuda_check(cudaMemcpyAsync(dst, src, bytes, kinds[kind], st), "copy", err);
    if (r == REPRO_OK && kind != 2) /* the host's side of the copy is ready when we return */
        r = cuda_check(cudaStreamSynchronize(st), "copy", err);
    return r;
}

/* Scratch of at least n floats for the canonical sum of n elements. */
static repro_status scratch_for(const repro_backend *be, int64_t n, repro_error *err)
{
    cuda_state *s = STATE(be);
    int64_t need = repro_cuda_canon_scratch(n) + 1;
    if (need <= s->scratch_n)
        return REPRO_OK;
    cudaFree(s->scratch);
    s->scratch = NULL;
    s->scratch_n = 0;
    repro_status st = cu_alloc(be, (size_t)need * sizeof(float), (void **)&s->scratch, err);
    if (st == REPRO_OK)
        s->scratch_n = need;
    return st;
}

/* ---- mode: fast: cuBLAS, column-major, so each row-major product is
 * taken transposed: a row-major M[r][c] is the column-major M^T. ---- */

static repro_status blas_check(const repro_backend *be, cublasStatus_t s, const char *what, repro_error *err)
{
    if (s == CUBLAS_STATUS_SUCCESS)
        return REPRO_OK;
    return repro_fail(err, REPRO_ERR_INTERNAL, "cuBLAS %s: %s", what, STATE(be)->cublas.status_string(s));
}

static repro_status dims_fit_int(int64_t B, int64_t I, int64_t O, repro_error *err)
{
    if (B > INT32_MAX || I > INT32_MAX || O > INT32_MAX)
        return repro_fail(err, REPRO_ERR_ARG, "cuBLAS: a %lldx%lld -> %lld linear layer is too large", (long long)B,
                          (long long)I, (long long)O);
    return REPRO_OK;
}

/* y^T (O x B) = W (O x I) x^T (I x B) [+ bias broadcast first, beta = 1] */
static repro_status fast_linear_forward(const repro_backend *be, float *y, const float *x, const float *w,
                                        const float *bias, int64_t B, int64_t I, int64_t O, repro_error *err)
{
    const float one = 1.0f, zero = 0.0f;
    repro_status st = dims_fit_int(B, I, O, err);
    if (st == REPRO_OK && bias)
        st = repro_cuda_fast_bias_broadcast(y, bias, B, O, STREAM, err);
    if (st == REPRO_OK)
        st = blas_check(be, STATE(be)->cublas.sgemm(STATE(be)->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)O, (int)B, (int)I, &one, w, (int)I,
                                    x, (int)I, bias ? &one : &zero, y, (int)O),
                        "sgemm (linear forward)", err);
    return st;
}

/* dx^T (I x B) = W^T (I x O) dy^T (O x B); dW^T (I x O) += x^T (I x B) dy (B x O) */
static repro_status fast_linear_backward(const repro_backend *be, float *dx, float *dw, float *db, const float *dy,
                                         const float *x, const float *w, int64_t B, int64_t I, int64_t O,
                                         repro_error *err)
{
    const float one = 1.0f, zero = 0.0f;
    cublasHandle_t h = STATE(be)->blas;
    cublasStatus_t (*sgemm)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const float *,
                            const float *, int, const float *, int, const float *, float *, int) =
        STATE(be)->cublas.sgemm;
    repro_status st = dims_fit_int(B, I, O, err);
    if (st == REPRO_OK && dx)
        st = blas_check(be, sgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, (int)I, (int)B, (int)O, &one, w, (int)I, dy, (int)O,
                                    &zero, dx, (int)I),
                        "sgemm (linear dx)", err);
    if (st == REPRO_OK)
        st = blas_check(be, sgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, (int)I, (int)O, (int)B, &one, x, (int)I, dy, (int)O,
                                    &one, dw, (int)I),
                        "sgemm (linear dW)", err);
    if (st == REPRO_OK && db)
        st = repro_cuda_fast_bias_grad(db, dy, B, O, STREAM, err);
    return st;
}

static repro_status cu_linear_forward(const repro_backend *be, float *y, const float *x, const float *w,
                                      const float *bias, int64_t B, int64_t I, int64_t O, repro_error *err)
{
    if (STATE(be)->blas)
        return fast_linear_forward(be, y, x, w, bias, B, I, O, err);
    if (be->bf16)
        return repro_cuda_linear_forward_bf16(y, x, w, bias, B, I, O, STREAM, err);
    return repro_cuda_linear_forward(y, x, w, bias, B, I, O, STREAM, err);
}

static repro_status cu_linear_backward(const repro_backend *be, float *dx, float *dw, float *db, const float *dy,
                                       const float *x, const float *w, int64_t B, int64_t I, int64_t O,
                                       repro_error *err)
{
    if (STATE(be)->blas)
        return fast_linear_backward(be, dx, dw, db, dy, x, w, B, I, O, err);
    repro_status (*run)(float *, float *, float *, const float *, const float *, const float *, int64_t, int64_t,
                        int64_t, repro_cuda_stream, repro_error *) =
        be->bf16 ? repro_cuda_linear_backward_bf16 : repro_cuda_linear_backward;
    /* dw and db beside the pass (kernel.h), started first; dx in line */
    void *side = NULL;
    repro_status st = repro_backend_side_stream(be, dw, &side, err);
    if (st == REPRO_OK)
        st = run(NULL, dw, db, dy, x, w, B, I, O, side, err);
    if (st == REPRO_OK && dx)
        st = run(dx, NULL, NULL, dy, x, w, B, I, O, STREAM, err);
    return st;
}

static repro_status cu_act_forward(const repro_backend *be, repro_act act, float *y, const float *x, int64_t n,
                                   repro_error *err)
{
    return repro_cuda_act_forward(act, y, x, n, STREAM, err);
}

static repro_status cu_act_backward(const repro_backend *be, repro_act act, float *dx, const float *dy,
                                    const float *saved, int64_t n, repro_error *err)
{
    return repro_cuda_act_backward(act, dx, dy, saved, n, STREAM, err);
}

static repro_status cu_add_inplace(const repro_backend *be, float *y, const float *x, int64_t n, repro_error *err)
{
    return repro_cuda_add_inplace(y, x, n, STREAM, err);
}

static repro_status cu_dropout_forward(const repro_backend *be, float *y, uint8_t *mask, const float *x, int64_t B,
                                       int64_t D, float p, uint64_t seed, uint32_t layer, uint64_t step,
                                       const uint32_t *sample_pos, repro_error *err)
{
    return repro_cuda_dropout_forward(y, mask, x, B, D, p, seed, layer, step, sample_pos, STREAM, err);
}

static repro_status cu_dropout_backward(const repro_backend *be, float *dx, const float *dy, const uint8_t *mask,
                                        int64_t B, int64_t D, float p, repro_error *err)
{
    return repro_cuda_dropout_backward(dx, dy, mask, B, D, p, STREAM, err);
}

static repro_status cu_layernorm_forward(const repro_backend *be, float *y, float *mean, float *rstd,
                                         const float *x, const float *gamma, const float *beta, int64_t B,
                                         int64_t D, float eps, repro_error *err)
{
    return repro_cuda_layernorm_forward(y, mean, rstd, x, gamma, beta, B, D, eps, STREAM, err);
}

static repro_status cu_layernorm_backward(const repro_backend *be, float *dx, float *dgamma, float *dbeta,
                                          const float *dy, const float *x, const float *mean, const float *rstd,
                                          const float *gamma, int64_t B, int64_t D, repro_error *err)
{
    /* dgamma and dbeta beside the pass (kernel.h), started first; dx in line */
    void *side = NULL;
    repro_status st = repro_backend_side_stream(be, dgamma, &side, err);
    if (st == REPRO_OK)
        st = repro_cuda_layernorm_backward(NULL, dgamma, dbeta, dy, x, mean, rstd, gamma, B, D, side, err);
    if (st == REPRO_OK && dx)
        st = repro_cuda_layernorm_backward(dx, NULL, NULL, dy, x, mean, rstd, gamma, B, D, STREAM, err);
    return st;
}

static repro_status cu_xent_forward(const repro_backend *be, float *loss, int32_t *pred, const float *z,
                                    const int32_t *labels, int64_t B, int64_t C, repro_error *err)
{
    return repro_cuda_softmax_xent_forward(loss, pred, z, labels, B, C, STREAM, err);
}

static repro_status cu_xent_backward(const repro_backend *be, float *dz, const float *z, const int32_t *labels,
                                     int64_t B, int64_t C, float scale, repro_error *err)
{
    return repro_cuda_softmax_xent_backward(dz, z, labels, B, C, scale, STREAM, err);
}

static repro_status cu_mse_forward(const repro_backend *be, float *loss, const float *pred, const float *target,
                                   int64_t B, int64_t T, repro_error *err)
{
    return repro_cuda_mse_forward(loss, pred, target, B, T, STREAM, err);
}

static repro_status cu_mse_backward(const repro_backend *be, float *dpred, const float *pred, const float *target,
                                    int64_t B, int64_t T, float scale, repro_error *err)
{
    return repro_cuda_mse_backward(dpred, pred, target, B, T, scale, STREAM, err);
}

static repro_status cu_huber_forward(const repro_backend *be, float *loss, const float *pred, const float *target,
                                     int64_t B, int64_t T, float delta, repro_error *err)
{
    return repro_cuda_huber_forward(loss, pred, target, B, T, delta, STREAM, err);
}

static repro_status cu_huber_backward(const repro_backend *be, float *dpred, const float *pred, const float *target,
                                      int64_t B, int64_t T, float delta, float scale, repro_error *err)
{
    return repro_cuda_huber_backward(dpred, pred, target, B, T, delta, scale, STREAM, err);
}

static repro_status cu_sum(const repro_backend *be, const float *x, int64_t n, float *out, repro_error *err)
{
    repro_status st = scratch_for(be, n, err);
    if (st == REPRO_OK)
        st = repro_cuda_sum_canonical(STATE(be)->result, x, n, STATE(be)->scratch, STREAM, err);
    if (st == REPRO_OK)
        st = cu_copy(be, out, STATE(be)->result, sizeof(float), 1, err);
    return st;
}

static repro_status cu_sum_into(const repro_backend *be, const float *x, int64_t n, float *out, repro_error *err)
{
    repro_status st = scratch_for(be, n, err);
    if (st == REPRO_OK)
        st = repro_cuda_sum_canonical(out, x, n, STATE(be)->scratch, STREAM, err);
    return st;
}

static repro_status cu_clip(const repro_backend *be, float *grads, int64_t n, float max_norm, float *norm,
                            repro_error *err)
{
    repro_status st = scratch_for(be, n, err);
    if (st == REPRO_OK)
        st = repro_cuda_clip_grad_norm(grads, n, max_norm, STATE(be)->result, STATE(be)->scratch, STREAM, err);
    if (st == REPRO_OK && norm)
        st = cu_copy(be, norm, STATE(be)->result, sizeof(float), 1, err);
    return st;
}

static repro_status cu_copy_2d(const repro_backend *be, void *dst, size_t dst_pitch, const void *src,
                               size_t src_pitch, size_t width, size_t rows, repro_error *err)
{
    return cuda_check(cudaMemcpy2DAsync(dst, dst_pitch, src, src_pitch, width, rows, cudaMemcpyDeviceToDevice,
                                        STATE(be)->stream),
                      "2-D copy", err);
}

static repro_status cu_gather_rows(const repro_backend *be, void *dst, const void *src, size_t row_bytes,
                                   const uint32_t *rows, int64_t n, repro_error *err)
{
    return repro_cuda_gather_rows(dst, src, row_bytes, rows, n, STREAM, err);
}

static repro_status cu_fill_positions(const repro_backend *be, uint32_t *dst, uint32_t first, int64_t n,
                                      repro_error *err)
{
    return repro_cuda_fill_positions(dst, first, n, STREAM, err);
}

static repro_status cu_adam(const repro_backend *be, const repro_adam_coef *c, float *p, float *m, float *v,
                            const float *g, int64_t n, repro_error *err)
{
    return repro_cuda_adam_step(c, p, m, v, g, n, STREAM, err);
}

static repro_status cu_sgd(const repro_backend *be, const repro_sgd_coef *c, float *p, float *buf, const float *g,
                           int64_t n, repro_error *err)
{
    return repro_cuda_sgd_step(c, p, buf, g, n, STREAM, err);
}

static repro_status cu_ema(const repro_backend *be, float *ema, const float *p, int64_t n, float decay,
                           repro_error *err)
{
    return repro_cuda_ema_update(ema, p, n, decay, STREAM, err);
}

/* ---- side streams (kernel.h): parameter gradients beside the backward pass ---- */

/* The key's stream since the last join: the one it had, else the next in
 * turn (so consecutive layers spread over the streams). */
static int side_index(cuda_state *s, const void *key)
{
    for (int i = 0; i < s->side_keys; i++)
        if (s->side_key[i] == key)
            return s->side_of[i];
    int idx = s->side_next;
    s->side_next = (s->side_next + 1) % s->side_n;
    if (s->side_keys < SIDE_KEYS) {
        s->side_key[s->side_keys] = key;
        s->side_of[s->side_keys++] = idx;
    } else { /* more keys than the table: a key past it always maps to one stream */
        idx = (int)(((uintptr_t)key >> 2) % (uintptr_t)s->side_n);
    }
    return idx;
}

static repro_status cu_side_stream(const repro_backend *be, const void *key, void **stream, repro_error *err)
{
    cuda_state *s = STATE(be);
    *stream = s->stream;
    if (!s->side_n)
        return REPRO_OK;
    int i = side_index(s, key);
    repro_status st = cuda_check(cudaEventRecord(s->fork, s->stream), "fork a side stream", err);
    if (st == REPRO_OK)
        st = cuda_check(cudaStreamWaitEvent(s->side[i], s->fork, 0), "fork a side stream", err);
    if (st != REPRO_OK)
        return st;
    s->side_pending |= 1u << i;
    *stream = s->side[i];
    return REPRO_OK;
}

static repro_status cu_join_side(const repro_backend *be, repro_error *err)
{
    cuda_state *s = STATE(be);
    repro_status st = REPRO_OK;
    for (int i = 0; i < s->side_n; i++) {
        if (!(s->side_pending & (1u << i)))
            continue;
        repro_status r = cuda_check(cudaEventRecord(s->side_done[i], s->side[i]), "join a side stream", err);
        if (r == REPRO_OK)
            r = cuda_check(cudaStreamWaitEvent(s->stream, s->side_done[i], 0), "join a side stream", err);
        if (st == REPRO_OK)
            st = r;
    }
    s->side_pending = 0;
    s->side_keys = 0;
    s->side_next = 0;
    return st;
}

static void side_destroy(cuda_state *s)
{
    for (int i = 0; i < SIDE_STREAMS_MAX; i++) {
        if (s->side_done[i])
            cudaEventDestroy(s->side_done[i]);
        if (s->side[i])
            cudaStreamDestroy(s->side[i]);
        s->side_done[i] = NULL;
        s->side[i] = NULL;
    }
    if (s->fork)
        cudaEventDestroy(s->fork);
    s->fork = NULL;
    s->side_n = 0;
}

/* REPRO_CUDA_SIDE_STREAMS: unset (or not a count), the default; 0, off
 * (the gradients in line, to compare); 1 to SIDE_STREAMS_MAX, that many.
 * Side streams only save time, so where the driver cannot give them
 * (streams and events are its resources) the gradients run in line. */
static void side_init(cuda_state *s)
{
    const char *env = getenv("REPRO_CUDA_SIDE_STREAMS");
    char *end = NULL;
    long n = env ? strtol(env, &end, 10) : -1;
    s->side_n = env && *env && !*end && n >= 0 && n <= SIDE_STREAMS_MAX ? (int)n : SIDE_STREAMS_DEFAULT;
    if (!s->side_n)
        return;
    cudaError_t e = cudaEventCreateWithFlags(&s->fork, cudaEventDisableTiming);
    for (int i = 0; e == cudaSuccess && i < s->side_n; i++) {
        e = cudaStreamCreateWithFlags(&s->side[i], cudaStreamNonBlocking);
        if (e == cudaSuccess)
            e = cudaEventCreateWithFlags(&s->side_done[i], cudaEventDisableTiming);
    }
    if (e != cudaSuccess) {
        cudaGetLastError();
        side_destroy(s);
    }
}

/* ---- CUDA Graphs: a step recorded on the stream, then run as one graph ---- */

static repro_status cu_graph_begin(const repro_backend *be, repro_error *err)
{
    return cuda_check(cudaStreamBeginCapture(STATE(be)->stream, cudaStreamCaptureModeThreadLocal),
                      "begin graph capture", err);
}

/* Ends the capture; with launch, runs it: the previous graph is updated in
 * place when the steps have the same shape (only kernel arguments differ:
 * the step number, batch positions, learning rate), else instantiated anew. */
static repro_status cu_graph_end(const repro_backend *be, int launch, repro_error *err)
{
    cuda_state *s = STATE(be);
    cudaGraph_t g = NULL;
    cudaError_t e = cudaStreamEndCapture(s->stream, &g);
    if (e != cudaSuccess || !launch) {
        cudaGetLastError(); /* a failed capture leaves its error behind */
        if (g)
            cudaGraphDestroy(g);
        return launch ? cuda_check(e, "graph capture", err) : REPRO_OK;
    }
    if (s->step_graph) {
        cudaGraphExecUpdateResultInfo info;
        if (cudaGraphExecUpdate(s->step_graph, g, &info) != cudaSuccess) {
            cudaGetLastError();
            cudaGraphExecDestroy(s->step_graph);
            s->step_graph = NULL;
        }
    }
    repro_status st = REPRO_OK;
    if (!s->step_graph)
        st = cuda_check(cudaGraphInstantiate(&s->step_graph, g, 0), "graph instantiate", err);
    if (st == REPRO_OK)
        st = cuda_check(cudaGraphLaunch(s->step_graph, s->stream), "graph launch", err);
    cudaGraphDestroy(g);
    return st;
}

static void cu_destroy(repro_backend *be)
{
    cuda_state *s = STATE(be);
    if (s) {
        if (s->step_graph)
            cudaGraphExecDestroy(s->step_graph);
        side_destroy(s);
        if (s->stream)
            cudaStreamDestroy(s->stream);
        if (s->blas)
            s->cublas.destroy(s->blas);
        repro_cublas_close(&s->cublas);
        cudaFree(s->scratch);
        cudaFree(s->result);
        free(s);
    }
}

static const repro_backend_ops cuda_ops = {
    .alloc = cu_alloc,
    .free = cu_free,
    .zero = cu_zero,
    .host_alloc = cu_host_alloc,
    .host_free = cu_host_free,
    .copy = cu_copy,
    .linear_forward = cu_linear_forward,
    .linear_backward = cu_linear_backward,
    .act_forward = cu_act_forward,
    .act_backward = cu_act_backward,
    .add_inplace = cu_add_inplace,
    .dropout_forward = cu_dropout_forward,
    .dropout_backward = cu_dropout_backward,
    .layernorm_forward = cu_layernorm_forward,
    .layernorm_backward = cu_layernorm_backward,
    .xent_forward = cu_xent_forward,
    .xent_backward = cu_xent_backward,
    .mse_forward = cu_mse_forward,
    .mse_backward = cu_mse_backward,
    .huber_forward = cu_huber_forward,
    .huber_backward = cu_huber_backward,
    .gather_rows = cu_gather_rows,
    .copy_2d = cu_copy_2d,
    .fill_positions = cu_fill_positions,
    .sum = cu_sum,
    .sum_into = cu_sum_into,
    .clip = cu_clip,
    .adam = cu_adam,
    .sgd = cu_sgd,
    .ema = cu_ema,
    .side_stream = cu_side_stream,
    .join_side = cu_join_side,
    .graph_begin = cu_graph_begin,
    .graph_end = cu_graph_end,
    .destroy = cu_destroy,
};

/* mode: fast: a cuBLAS handle on the default stream, FP32 products unless tf32. */
static repro_status start_fast(repro_backend *be, int tf32, repro_error *err)
{
    cuda_state *s = STATE(be);
    repro_status st = repro_cublas_open(&s->cublas, err);
    if (st != REPRO_OK)
        return st;
    st = blas_check(be, s->cublas.create(&s->blas), "create", err);
    if (st != REPRO_OK) {
        s->blas = NULL;
        return st;
    }
    st = blas_check(be, s->cublas.set_stream(s->blas, s->stream), "set stream", err);
    if (st == REPRO_OK)
        st = blas_check(be, s->cublas.set_math_mode(s->blas, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
                        "set math mode", err);
    return st;
}

repro_status repro_cuda_backend_check_bf16(const repro_backend *be, repro_error *err)
{
    (void)be;
    struct cudaDeviceProp prop;
    repro_status st = cuda_check(cudaGetDeviceProperties(&prop, 0), "device properties", err);
    if (st == REPRO_OK && prop.major < 8)
        return repro_fail(err, REPRO_ERR_UNSUPPORTED,
                          "precision: bf16 needs bf16 tensor cores (compute capability 8.0 or later); %s has %d.%d",
                          prop.name, prop.major, prop.minor);
    /* The CPU's model is the Hopper tensor core's (docs/bf16.md); other
     * generations keep other bits, so they would break CPU == GPU. */
    if (st == REPRO_OK && !(prop.major == 9 && prop.minor == 0))
        return repro_fail(err, REPRO_ERR_UNSUPPORTED,
                          "precision: bf16 is modelled bit for bit for Hopper tensor cores (compute capability 9.0); "
                          "%s (%d.%d) has not been measured (tools/tc_probe.cu), so its bits could differ from the CPU's",
                          prop.name, prop.major, prop.minor);
    return st;
}

repro_status repro_cuda_backend_init(repro_backend *be, int fast, int tf32, repro_error *err)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        cudaGetLastError();
        return repro_fail(err, REPRO_ERR_UNSUPPORTED, "device: cuda: no CUDA GPU is available here (%s)",
                          e != cudaSuccess ? cudaGetErrorString(e) : "no device");
    }
    struct cudaDeviceProp prop;
    repro_status st = cuda_check(cudaGetDeviceProperties(&prop, 0), "device properties", err);
    if (st != REPRO_OK)
        return st;
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    be->ops = &cuda_ops;
    be->device = REPRO_DEVICE_CUDA;
    be->impl = calloc(1, sizeof(cuda_state));
    if (!be->impl)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the CUDA backend");
    st = cu_alloc(be, sizeof(float), (void **)&STATE(be)->result, err);
    if (st == REPRO_OK)
        st = cuda_check(cudaStreamCreateWithFlags(&STATE(be)->stream, cudaStreamNonBlocking), "create stream", err);
    if (st == REPRO_OK)
        be->stream = STATE(be)->stream;
    if (st == REPRO_OK)
        side_init(STATE(be));
    if (st == REPRO_OK && fast)
        st = start_fast(be, tf32, err);
    if (st != REPRO_OK) {
        cu_destroy(be);
        be->impl = NULL;
        return st;
    }
    snprintf(be->describe, sizeof be->describe, "cuda %.200s (sm_%d%d)%s", prop.name, prop.major, prop.minor,
             !fast ? "" : tf32 ? ", fast: cuBLAS TF32" : ", fast: cuBLAS FP32");
    snprintf(be->facts, sizeof be->facts,
             "gpu_name=%.200s\ncompute_capability=%d.%d\ndriver_version=%d.%d\nruntime_version=%d.%d\n"
             "gpu_memory_bytes=%zu\nlinear=%s\n",
             prop.name, prop.major, prop.minor, driver / 1000, driver % 1000 / 10, runtime / 1000,
             runtime % 1000 / 10, prop.totalGlobalMem,
             !fast ? "exact kernels" : tf32 ? "cuBLAS SGEMM, TF32 tensor cores (not reproducible)"
                                            : "cuBLAS SGEMM, FP32 (not reproducible)");
    return REPRO_OK;
}

#endif /* REPRO_HAVE_CUDA */
