/* One op's kernels on every device, as one row: a new op joins the backends
 * with one file in src/backend/ops/ (its argument struct in ops.h and a row
 * naming its CPU and CUDA kernels), instead of a slot in every backend.
 *
 *   static repro_status fwd_cpu(const repro_backend *be, const void *args, repro_error *err);
 *   static repro_status fwd_cuda(...);                 (under REPRO_HAVE_CUDA)
 *   const repro_kernel repro_k_conv2d_forward = {"conv2d.forward", fwd_cpu, REPRO_CUDA_KERNEL(fwd_cuda)};
 *
 * repro_be_run(be, &repro_k_conv2d_forward, &args, err) runs the row's
 * kernel for be's device. Every pointer in args is backend memory. */
#ifndef REPRO_BACKEND_KERNEL_H
#define REPRO_BACKEND_KERNEL_H

#include "backend/backend.h"

typedef repro_status (*repro_kernel_fn)(const repro_backend *be, const void *args, repro_error *err);

typedef struct repro_kernel {
    const char *name;     /* "conv2d.forward", for messages */
    repro_kernel_fn cpu;  /* never NULL */
    repro_kernel_fn cuda; /* NULL in a build without CUDA */
} repro_kernel;

#ifdef REPRO_HAVE_CUDA
#define REPRO_CUDA_KERNEL(fn) (fn)
#else
#define REPRO_CUDA_KERNEL(fn) NULL
#endif

/* REPRO_ERR_UNSUPPORTED (naming the op and device) when the row has no
 * kernel for be's device. */
repro_status repro_be_run(const repro_backend *be, const repro_kernel *k, const void *args, repro_error *err);

/* The CUDA stream every kernel of be is enqueued on (a cudaStream_t; NULL on the CPU). */
void *repro_backend_stream(const repro_backend *be);

/* A second CUDA stream for work whose results nothing reads before
 * repro_be_join_side (backend.h), and whose inputs nothing writes before
 * it: a layer's parameter gradients, which then run beside the rest of the
 * backward pass instead of in line with it. The stream starts after
 * everything enqueued on be's stream so far; calls with the same key (the
 * gradient buffer) get the same stream until the join, so a gradient's
 * chain keeps its order across calls. *stream is be's own stream on the
 * CPU (NULL) and when side streams are off (REPRO_CUDA_SIDE_STREAMS=0 in the
 * environment, to compare). The same kernels run on the same inputs, so
 * the bits are the same either way. */
repro_status repro_backend_side_stream(const repro_backend *be, const void *key, void **stream, repro_error *err);

#endif
