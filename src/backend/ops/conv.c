/* conv2d's kernel rows: src/ops/cpu/conv.h on the CPU, its CUDA twin on a GPU. */
#include "backend/ops/ops.h"
#include "ops/cpu/conv.h"
#ifdef REPRO_HAVE_CUDA
#include "ops/cuda/cuda_conv.h"
#endif

static repro_status forward_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_conv2d_args *a = p;
    return repro_conv2d_forward(repro_backend_cpu(be), &a->shape, a->y, a->x, a->w, a->bias, err);
}

static repro_status maxpool_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_conv2d_maxpool_args *a = p;
    return repro_conv2d_forward_maxpool(repro_backend_cpu(be), &a->conv, &a->pool, a->pool_y, a->argmax, a->y, a->x,
                                        a->w, a->bias, err);
}

static repro_status maxpool_backward_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_conv2d_maxpool_args *a = p;
    return repro_conv2d_backward_maxpool(repro_backend_cpu(be), &a->conv, &a->pool, a->dw, a->db, a->pool_dy,
                                         a->argmax, a->x, err);
}

static repro_status backward_cpu(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_conv2d_args *a = p;
    return repro_conv2d_backward(repro_backend_cpu(be), &a->shape, a->dx, a->dw, a->db, a->dy, a->x, a->w, err);
}

#ifdef REPRO_HAVE_CUDA
static repro_status forward_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_conv2d_args *a = p;
    return repro_cuda_conv2d_forward(&a->shape, a->y, a->x, a->w, a->bias, repro_backend_stream(be), err);
}

/* the two kernels one after the other, through y */
static repro_status maxpool_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_conv2d_maxpool_args *a = p;
    repro_status st = repro_cuda_conv2d_forward(&a->conv, a->y, a->x, a->w, a->bias, repro_backend_stream(be), err);
    return st == REPRO_OK
               ? repro_cuda_maxpool2d_forward(&a->pool, a->pool_y, a->argmax, a->y, repro_backend_stream(be), err)
               : st;
}

static repro_status backward_cuda(const repro_backend *be, const void *p, repro_error *err);

/* the pool's backward into y, then the conv's */
static repro_status maxpool_backward_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_conv2d_maxpool_args *a = p;
    repro_status st =
        repro_cuda_maxpool2d_backward(&a->pool, a->y, a->pool_dy, a->argmax, repro_backend_stream(be), err);
    repro_conv2d_args c = {.shape = a->conv, .dw = a->dw, .db = a->db, .x = a->x, .w = a->w, .dy = a->y};
    return st == REPRO_OK ? backward_cuda(be, &c, err) : st;
}

/* dw and db (one chain a weight over the batch and the image, latency
 * bound, few blocks) on a side stream, started first; dx on the stream
 * (kernel.h) */
static repro_status backward_cuda(const repro_backend *be, const void *p, repro_error *err)
{
    const repro_conv2d_args *a = p;
    void *side = NULL;
    repro_status st = REPRO_OK;
    if (a->dw || a->db) {
        st = repro_backend_side_stream(be, a->dw ? (const void *)a->dw : a->db, &side, err);
        if (st == REPRO_OK)
            st = repro_cuda_conv2d_backward(&a->shape, NULL, a->dw, a->db, a->dy, a->x, a->w, side, err);
    }
    if (st == REPRO_OK && a->dx)
        st = repro_cuda_conv2d_backward(&a->shape, a->dx, NULL, NULL, a->dy, a->x, a->w, repro_backend_stream(be),
                                        err);
    return st;
}
#endif

const repro_kernel repro_k_conv2d_forward = {"conv2d.forward", forward_cpu, REPRO_CUDA_KERNEL(forward_cuda)};
const repro_kernel repro_k_conv2d_maxpool_forward = {"conv2d_maxpool.forward", maxpool_cpu,
                                                     REPRO_CUDA_KERNEL(maxpool_cuda)};
const repro_kernel repro_k_conv2d_maxpool_backward = {"conv2d_maxpool.backward", maxpool_backward_cpu,
                                                      REPRO_CUDA_KERNEL(maxpool_backward_cuda)};
const repro_kernel repro_k_conv2d_backward = {"conv2d.backward", backward_cpu, REPRO_CUDA_KERNEL(backward_cuda)};
