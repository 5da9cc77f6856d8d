/* Where the training arithmetic runs: the CPU (any ISA path, any thread
 * count) or a CUDA GPU. Both follow the same written evaluation orders, so
 * in exact mode they give the same bits; the backend only decides where
 * buffers live and which kernel runs.
 *
 * Every pointer a backend op takes is backend memory (from repro_be_alloc):
 * host memory on the CPU, device memory on CUDA. Data crosses with
 * repro_be_upload / repro_be_download. The ops mirror src/ops/cpu/ops.h,
 * src/ops/cpu/linear.h and the optimiser updates, with the same shapes. */
#ifndef REPRO_BACKEND_H
#define REPRO_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "ops/activations.h"
#include "ops/adam_math.h"
#include "ops/cpu/cpu.h"
#include "ops/update_math.h"
#include "repro/config.h"
#include "repro/status.h"

typedef struct repro_backend repro_backend;

/* The CPU backend: isa path and a pool of `threads` compute threads. */
repro_status repro_backend_create_cpu(repro_isa isa, int threads, repro_backend **out, repro_error *err);
/* A CPU backend over an existing context (isa, pool); the pool stays the
 * caller's. For tests and for code that already holds a repro_cpu. */
repro_status repro_backend_wrap_cpu(const repro_cpu *cpu, repro_backend **out, repro_error *err);
/* mode: fast on the CPU: linear layers through OpenBLAS sgemm with the
 * backend's thread count. NOT bit-exact (only where determinism allowed it). */
void repro_backend_cpu_fast(repro_backend *be, int fast);
/* The CUDA backend on device 0 (REPRO_ERR_UNSUPPORTED when this build has
 * no CUDA or the machine no GPU, with a message saying which). fast: linear
 * layers through cuBLAS SGEMM and an atomic bias gradient (mode: fast, not
 * reproducible); tf32: let cuBLAS use TF32 tensor cores (fast only). */
repro_status repro_backend_create_cuda(int fast, int tf32, repro_backend **out, repro_error *err);
/* precision: bf16: linear layers' products take bf16-rounded inputs and the
 * tensor core's arithmetic (src/ops/tc_model.h), the same bits on the CPU
 * and the GPU. REPRO_ERR_UNSUPPORTED on a GPU without bf16 tensor cores
 * (naming its compute capability). */
repro_status repro_backend_use_bf16(repro_backend *be, repro_error *err);
void repro_backend_destroy(repro_backend *be);

repro_device repro_backend_device(const repro_backend *be);
/* "cpu avx512, 2 threads" or "cuda NVIDIA H100 80GB HBM3 (sm_90)" */
const char *repro_backend_describe(const repro_backend *be);
/* The CPU context (NULL for CUDA). */
const repro_cpu *repro_backend_cpu(const repro_backend *be);
/* Facts for the run record (device name, compute capability, driver and
 * runtime versions), as "key=value" lines; "" on the CPU. */
const char *repro_backend_facts(const repro_backend *be);

/* ---- memory ---- */
repro_status repro_be_alloc(const repro_backend *be, size_t bytes, void **out, repro_error *err);
void repro_be_free(const repro_backend *be, void *p);
repro_status repro_be_zero(const repro_backend *be, void *p, size_t bytes, repro_error *err);
repro_status repro_be_upload(const repro_backend *be, void *dst, const void *host, size_t bytes, repro_error *err);
repro_status repro_be_download(const repro_backend *be, void *host, const void *src, size_t bytes,
                               repro_error *err);
repro_status repro_be_copy(const repro_backend *be, void *dst, const void *src, size_t bytes, repro_error *err);
/* rows blocks of width bytes, from src (consecutive blocks src_pitch bytes
 * apart) to dst (dst_pitch apart), both backend memory: a concat's or a
 * split's strided copy. */
repro_status repro_be_copy_2d(const repro_backend *be, void *dst, size_t dst_pitch, const void *src,
                              size_t src_pitch, size_t width, size_t rows, repro_error *err);
/* Host memory that downloads fill fastest (page-locked on CUDA; plain
 * malloc on the CPU). */
repro_status repro_be_host_alloc(const repro_backend *be, size_t bytes, void **out, repro_error *err);
void repro_be_host_free(const repro_backend *be, void *p);

/* ---- layers ---- */
repro_status repro_be_linear_forward(const repro_backend *be, float *y, const float *x, const float *w,
                                     const float *bias, int64_t B, int64_t I, int64_t O, repro_error *err);
repro_status repro_be_linear_backward(const repro_backend *be, float *dx, float *dw, float *db, const float *dy,
                                      const float *x, const float *w, int64_t B, int64_t I, int64_t O,
                                      repro_error *err);

/* act: a row of src/ops/activations.h; backward's `saved` is the forward's
 * x or y, as repro_act_reads_output(act) says */
repro_status repro_be_act_forward(const repro_backend *be, repro_act act, float *y, const float *x, int64_t n,
                                  repro_error *err);
repro_status repro_be_act_backward(const repro_backend *be, repro_act act, float *dx, const float *dy,
                                   const float *saved, int64_t n, repro_error *err);
repro_status repro_be_add_inplace(const repro_backend *be, float *y, const float *x, int64_t n, repro_error *err);
repro_status repro_be_dropout_forward(const repro_backend *be, float *y, uint8_t *mask, const float *x, int64_t B,
                                      int64_t D, float p, uint64_t seed, uint32_t layer, uint64_t step,
                                      const uint32_t *sample_pos, repro_error *err);
repro_status repro_be_dropout_backward(const repro_backend *be, float *dx, const float *dy, const uint8_t *mask,
                                       int64_t B, int64_t D, float p, repro_error *err);
repro_status repro_be_layernorm_forward(const repro_backend *be, float *y, float *mean, float *rstd,
                                        const float *x, const float *gamma, const float *beta, int64_t B,
                                        int64_t D, float eps, repro_error *err);
repro_status repro_be_layernorm_backward(const repro_backend *be, float *dx, float *dgamma, float *dbeta,
                                         const float *dy, const float *x, const float *mean, const float *rstd,
                                         const float *gamma, int64_t B, int64_t D, repro_error *err);

/* ---- losses (labels/targets in backend memory) ---- */
repro_status repro_be_xent_forward(const repro_backend *be, float *loss, int32_t *pred, const float *z,
                                   const int32_t *labels, int64_t B, int64_t C, repro_error *err);
repro_status repro_be_xent_backward(const repro_backend *be, float *dz, const float *z, const int32_t *labels,
                                    int64_t B, int64_t C, float scale, repro_error *err);
repro_status repro_be_mse_forward(const repro_backend *be, float *loss, const float *pred, const float *target,
                                  int64_t B, int64_t T, repro_error *err);
repro_status repro_be_mse_backward(const repro_backend *be, float *dpred, const float *pred, const float *target,
                                   int64_t B, int64_t T, float scale, repro_error *err);
repro_status repro_be_huber_forward(const repro_backend *be, float *loss, const float *pred, const float *target,
                                    int64_t B, int64_t T, float delta, repro_error *err);
repro_status repro_be_huber_backward(const repro_backend *be, float *dpred, const float *pred,
                                     const float *target, int64_t B, int64_t T, float delta, float scale,
                                     repro_error *err);

/* ---- batches from a data set held in backend memory ---- */
/* dst row i = src row rows[i] for i in [0, n); rows of row_bytes bytes (a
 * multiple of 4); rows is backend memory. */
repro_status repro_be_gather_rows(const repro_backend *be, void *dst, const void *src, size_t row_bytes,
                                  const uint32_t *rows, int64_t n, repro_error *err);
/* dst[i] = first + i for i in [0, n) (a batch's epoch positions). */
repro_status repro_be_fill_positions(const repro_backend *be, uint32_t *dst, uint32_t first, int64_t n,
                                     repro_error *err);

/* ---- reductions and updates over whole buffers ---- */
/* *out (host) = repro_sum_canonical(x[0..n)) */
repro_status repro_be_sum(const repro_backend *be, const float *x, int64_t n, float *out, repro_error *err);
/* The same sum into *out in backend memory: no copy to the host, so a GPU
 * need not wait for it. */
repro_status repro_be_sum_into(const repro_backend *be, const float *x, int64_t n, float *out, repro_error *err);
/* repro_clip_grad_norm: *norm (host; NULL = not wanted, which spares a GPU
 * the wait) = sqrt(canonical sum of g*g); scales g when norm > max_norm */
repro_status repro_be_clip(const repro_backend *be, float *grads, int64_t n, float max_norm, float *norm,
                           repro_error *err);
repro_status repro_be_adam(const repro_backend *be, const repro_adam_coef *c, float *p, float *m, float *v,
                           const float *g, int64_t n, repro_error *err);
repro_status repro_be_sgd(const repro_backend *be, const repro_sgd_coef *c, float *p, float *buf, const float *g,
                          int64_t n, repro_error *err);
repro_status repro_be_ema(const repro_backend *be, float *ema, const float *p, int64_t n, float decay,
                          repro_error *err);

/* Work put on a side stream (repro_backend_side_stream in kernel.h: the
 * parameter gradients of conv, linear and norm layers on a GPU) has finished
 * before anything enqueued after this call runs. The model's backward ends
 * with it, so the optimiser, the exchange between ranks and the next forward
 * see whole gradients. Nothing to do on the CPU. */
repro_status repro_be_join_side(const repro_backend *be, repro_error *err);

/* ---- graphs (CUDA Graphs; absent on the CPU) ----
 * Between graph_begin and graph_end the backend's operations are recorded,
 * not run, so nothing in between may read results on the host (no
 * download, no reduction to the host). graph_end(launch = 1) runs the
 * recording as one graph, launch = 0 drops it. A recording that fails (an
 * operation that cannot be captured) fails graph_end; nothing has run. */
int repro_be_has_graphs(const repro_backend *be);
repro_status repro_be_graph_begin(const repro_backend *be, repro_error *err);
repro_status repro_be_graph_end(const repro_backend *be, int launch, repro_error *err);

#endif
