/* The inside of a backend: one table of operations per device. backend.c
 * forwards each repro_be_* call to be->ops; cpu_backend.c and (with CUDA)
 * cuda_backend.c fill the tables. */
#ifndef REPRO_BACKEND_IMPL_H
#define REPRO_BACKEND_IMPL_H

#include "backend/backend.h"

typedef struct repro_backend_ops {
    repro_status (*alloc)(const repro_backend *be, size_t bytes, void **out, repro_error *err);
    void (*free)(const repro_backend *be, void *p);
    repro_status (*zero)(const repro_backend *be, void *p, size_t bytes, repro_error *err);
    repro_status (*host_alloc)(const repro_backend *be, size_t bytes, void **out, repro_error *err);
    void (*host_free)(const repro_backend *be, void *p);
    /* kind: 0 host->backend, 1 backend->host, 2 backend->backend */
    repro_status (*copy)(const repro_backend *be, void *dst, const void *src, size_t bytes, int kind,
                         repro_error *err);
    repro_status (*linear_forward)(const repro_backend *be, float *y, const float *x, const float *w,
                                   const float *bias, int64_t B, int64_t I, int64_t O, repro_error *err);
    repro_status (*linear_backward)(const repro_backend *be, float *dx, float *dw, float *db, const float *dy,
                                    const float *x, const float *w, int64_t B, int64_t I, int64_t O,
                                    repro_error *err);
    repro_status (*act_forward)(const repro_backend *be, repro_act act, float *y, const float *x, int64_t n,
                                repro_error *err);
    repro_status (*act_backward)(const repro_backend *be, repro_act act, float *dx, const float *dy,
                                 const float *saved, int64_t n, repro_error *err);
    repro_status (*add_inplace)(const repro_backend *be, float *y, const float *x, int64_t n, repro_error *err);
    repro_status (*dropout_forward)(const repro_backend *be, float *y, uint8_t *mask, const float *x, int64_t B,
                                    int64_t D, float p, uint64_t seed, uint32_t layer, uint64_t step,
                                    const uint32_t *sample_pos, repro_error *err);
    repro_status (*dropout_backward)(const repro_backend *be, float *dx, const float *dy, const uint8_t *mask,
                                     int64_t B, int64_t D, float p, repro_error *err);
    repro_status (*layernorm_forward)(const repro_backend *be, float *y, float *mean, float *rstd, const float *x,
                                      const float *gamma, const float *beta, int64_t B, int64_t D, float eps,
                                      repro_error *err);
    repro_status (*layernorm_backward)(const repro_backend *be, float *dx, float *dgamma, float *dbeta,
                                       const float *dy, const float *x, const float *mean, const float *rstd,
                                       const float *gamma, int64_t B, int64_t D, repro_error *err);
    repro_status (*xent_forward)(const repro_backend *be, float *loss, int32_t *pred, const float *z,
                                 const int32_t *labels, int64_t B, int64_t C, repro_error *err);
    repro_status (*xent_backward)(const repro_backend *be, float *dz, const float *z, const int32_t *labels,
                                  int64_t B, int64_t C, float scale, repro_error *err);
    repro_status (*mse_forward)(const repro_backend *be, float *loss, const float *pred, const float *target,
                                int64_t B, int64_t T, repro_error *err);
    repro_status (*mse_backward)(const repro_backend *be, float *dpred, const float *pred, const float *target,
                                 int64_t B, int64_t T, float scale, repro_error *err);
    repro_status (*huber_forward)(const repro_backend *be, float *loss, const float *pred, const float *target,
                                  int64_t B, int64_t T, float delta, repro_error *err);
    repro_status (*huber_backward)(const repro_backend *be, float *dpred, const float *pred, const float *target,
                                   int64_t B, int64_t T, float delta, float scale, repro_error *err);
    /* rows x width bytes from src (rows src_pitch bytes apart) to dst (dst_pitch apart) */
    repro_status (*copy_2d)(const repro_backend *be, void *dst, size_t dst_pitch, const void *src, size_t src_pitch,
                            size_t width, size_t rows, repro_error *err);
    repro_status (*gather_rows)(const repro_backend *be, void *dst, const void *src, size_t row_bytes,
                                const uint32_t *rows, int64_t n, repro_error *err);
    repro_status (*fill_positions)(const repro_backend *be, uint32_t *dst, uint32_t first, int64_t n,
                                   repro_error *err);
    repro_status (*sum)(const repro_backend *be, const float *x, int64_t n, float *out, repro_error *err);
    repro_status (*sum_into)(const repro_backend *be, const float *x, int64_t n, float *out, repro_error *err);
    repro_status (*clip)(const repro_backend *be, float *grads, int64_t n, float max_norm, float *norm,
                         repro_error *err);
    repro_status (*adam)(const repro_backend *be, const repro_adam_coef *c, float *p, float *m, float *v,
                         const float *g, int64_t n, repro_error *err);
    repro_status (*sgd)(const repro_backend *be, const repro_sgd_coef *c, float *p, float *buf, const float *g,
                        int64_t n, repro_error *err);
    repro_status (*ema)(const repro_backend *be, float *ema, const float *p, int64_t n, float decay,
                        repro_error *err);
    /* NULL where the backend has one stream (the CPU): see kernel.h */
    repro_status (*side_stream)(const repro_backend *be, const void *key, void **stream, repro_error *err);
    repro_status (*join_side)(const repro_backend *be, repro_error *err);
    /* NULL where the backend has no graphs (the CPU) */
    repro_status (*graph_begin)(const repro_backend *be, repro_error *err);
    repro_status (*graph_end)(const repro_backend *be, int launch, repro_error *err);
    void (*destroy)(repro_backend *be);
} repro_backend_ops;

struct repro_backend {
    const repro_backend_ops *ops;
    repro_device device;
    repro_cpu cpu;        /* the CPU backend's context */
    void *impl;           /* the CUDA backend's state */
    int fast;             /* CPU, mode: fast: linear layers through OpenBLAS (not bit-exact) */
    int bf16;             /* precision: bf16: linear products on the tensor core's arithmetic */
    void *stream;         /* CUDA: the cudaStream_t every kernel runs on; NULL on the CPU */
    char describe[256];
    char facts[1024];
};

extern const repro_backend_ops repro_cpu_backend_ops;
#ifdef REPRO_HAVE_CUDA
repro_status repro_cuda_backend_init(repro_backend *be, int fast, int tf32, repro_error *err);
/* REPRO_OK when the GPU has bf16 tensor cores (sm_80+), else why not */
repro_status repro_cuda_backend_check_bf16(const repro_backend *be, repro_error *err);
#endif

#endif
