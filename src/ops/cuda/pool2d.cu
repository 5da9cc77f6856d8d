/* 2-D pooling on the GPU, the orders of cuda_conv.h (src/ops/cpu/pool2d.h's
 * contract): one thread an output element, its loop verbatim. Forward
 * threads walk their window's taps; backward threads (one an input element)
 * walk the windows that contain their element, oh then ow ascending, so no
 * two threads ever add into one value. These kernels are memory bound and
 * small next to the convolutions; consecutive threads take consecutive
 * elements of a plane, so their reads and writes are coalesced. */
#include "ops/cuda/canon_tree.cuh"
#include "ops/cuda/cuda_conv.h"
#include "ops/cuda/cuda_util.cuh"

namespace {

typedef repro_pool2d_shape shape;

/* The max pools index within a plane in 32 bits (check_plane_int32: the
 * plane and its output fit int32, as argmax must): one block row (y) a
 * plane, looping when there are more planes than blocks, so no thread
 * divides a 64-bit index. The taps and windows are the same as the
 * avg pools' and the references'. */
__device__ __forceinline__ int64_t pool_planes(const shape &s)
{
    return s.N * s.C;
}

__global__ void maxpool_forward_kernel(shape s, float *y, int32_t *argmax, const float *x)
{
    const int H = (int)s.H, W = (int)s.W, OW = (int)s.OW, OP = (int)(s.OH * s.OW);
    const int KH = (int)s.KH, KW = (int)s.KW, sh = (int)s.stride_h, sw = (int)s.stride_w;
    const int ph = (int)s.pad_h, pw = (int)s.pad_w;
    for (int64_t nc = blockIdx.y; nc < pool_planes(s); nc += gridDim.y) {
        const float *xp = x + nc * s.H * s.W;
        for (int p = blockIdx.x * blockDim.x + threadIdx.x; p < OP; p += gridDim.x * blockDim.x) {
            const int oh = p / OW, ow = p - oh * OW;
            float m = 0.0f;
            int best = -1;
            for (int kh = 0; kh < KH; kh++) {
                const long long ih = (long long)oh * sh - ph + kh;
                if (ih < 0 || ih >= H)
                    continue;
                for (int kw = 0; kw < KW; kw++) {
                    const long long iw = (long long)ow * sw - pw + kw;
                    if (iw < 0 || iw >= W)
                        continue;
                    const int tap = (int)ih * W + (int)iw; /* < H*W <= INT32_MAX */
                    const float v = xp[tap];
                    if (best < 0) { /* the first valid tap */
                        m = v;
                        best = tap;
                    } else if (v > m || (v != v && m == m)) {
                        m = v;
                        best = tap;
                    }
                }
            }
            y[nc * OP + p] = m;
            argmax[nc * OP + p] = best;
        }
    }
}

/* The windows (along one axis) that contain input position i: the o with
 * o*stride - pad <= i <= o*stride - pad + k - 1, clipped to [0, out). */
__device__ __forceinline__ void windows(int64_t i, int64_t k, int64_t stride, int64_t pad, int64_t out,
                                        int64_t *lo, int64_t *hi)
{
    const int64_t first = i + pad - k + 1; /* o*stride >= first */
    *lo = first <= 0 ? 0 : (first + stride - 1) / stride;
    const int64_t last = (i + pad) / stride; /* i + pad >= 0 */
    *hi = last < out - 1 ? last : out - 1;
}

/* The same with 32-bit quotients: i < H <= INT32_MAX and pad <= k/2 <=
 * 2^30, so i + pad < 2^32 and the divisions can be unsigned ones. */
__device__ __forceinline__ void windows32(int i, int k, int stride, int pad, int out, int *lo, int *hi)
{
    const long long first = (long long)i + pad - k + 1; /* o*stride >= first */
    *lo = first <= 0 ? 0 : (int)((unsigned)(first - 1) / (unsigned)stride + 1u);
    const int last = (int)(((unsigned)i + (unsigned)pad) / (unsigned)stride);
    *hi = last < out - 1 ? last : out - 1;
}

__global__ void maxpool_backward_kernel(shape s, float *dx, const float *dy, const int32_t *argmax)
{
    const int W = (int)s.W, HW = (int)(s.H * s.W), OH = (int)s.OH, OW = (int)s.OW, OP = (int)(s.OH * s.OW);
    for (int64_t nc = blockIdx.y; nc < pool_planes(s); nc += gridDim.y) {
        const float *dyp = dy + nc * OP;
        const int32_t *ap = argmax + nc * OP;
        for (int tap = blockIdx.x * blockDim.x + threadIdx.x; tap < HW; tap += gridDim.x * blockDim.x) {
            const int ih = tap / W, iw = tap - ih * W;
            int oh0, oh1, ow0, ow1;
            windows32(ih, (int)s.KH, (int)s.stride_h, (int)s.pad_h, OH, &oh0, &oh1);
            windows32(iw, (int)s.KW, (int)s.stride_w, (int)s.pad_w, OW, &ow0, &ow1);
            float acc = 0.0f;
            for (int oh = oh0; oh <= oh1; oh++)
                for (int ow = ow0; ow <= ow1; ow++)
                    if (ap[oh * OW + ow] == tap)
                        acc = acc + dyp[oh * OW + ow];
            dx[nc * HW + tap] = acc;
        }
    }
}

/* Threads a block for a plane-major launch over planes of n elements: the
 * plane rounded up to whole warps, at most REPRO_CUDA_THREADS, so a 7x7
 * output keeps 49 of 64 threads busy rather than 49 of 256 (an SM holds
 * 32 such blocks, as many threads as 8 blocks of 256). */
unsigned plane_threads(int64_t n)
{
    const int64_t warps = (n + 31) / 32;
    return (unsigned)(warps * 32 < REPRO_CUDA_THREADS ? warps * 32 : REPRO_CUDA_THREADS);
}

/* Blocks for a plane-major launch: x over a plane of n, y over the planes. */
dim3 plane_grid(int64_t n, int64_t planes)
{
    const unsigned threads = plane_threads(n);
    const int64_t bx = (n + threads - 1) / threads;
    return dim3((unsigned)(bx < 1024 ? bx : 1024), (unsigned)(planes < 65535 ? planes : 65535));
}

__global__ void avgpool_forward_kernel(shape s, float *y, const float *x)
{
    const int64_t OP = s.OH * s.OW;
    const float div = (float)(s.KH * s.KW);
    REPRO_CUDA_FOR(idx, s.N * s.C * OP)
    {
        const int64_t nc = idx / OP, p = idx % OP, oh = p / s.OW, ow = p % s.OW;
        const float *xp = x + nc * s.H * s.W;
        float sum = 0.0f;
        for (int64_t kh = 0; kh < s.KH; kh++) {
            const int64_t ih = oh * s.stride_h - s.pad_h + kh;
            if (ih < 0 || ih >= s.H)
                continue;
            for (int64_t kw = 0; kw < s.KW; kw++) {
                const int64_t iw = ow * s.stride_w - s.pad_w + kw;
                if (iw >= 0 && iw < s.W)
                    sum = sum + xp[ih * s.W + iw];
            }
        }
        y[idx] = sum / div;
    }
}

__global__ void avgpool_backward_kernel(shape s, float *dx, const float *dy)
{
    const int64_t HW = s.H * s.W, OP = s.OH * s.OW;
    const float div = (float)(s.KH * s.KW);
    REPRO_CUDA_FOR(idx, s.N * s.C * HW)
    {
        const int64_t nc = idx / HW, tap = idx % HW, ih = tap / s.W, iw = tap % s.W;
        const float *dyp = dy + nc * OP;
        int64_t oh0, oh1, ow0, ow1;
        windows(ih, s.KH, s.stride_h, s.pad_h, s.OH, &oh0, &oh1);
        windows(iw, s.KW, s.stride_w, s.pad_w, s.OW, &ow0, &ow1);
        float acc = 0.0f;
        for (int64_t oh = oh0; oh <= oh1; oh++)
            for (int64_t ow = ow0; ow <= ow1; ow++)
                acc = acc + dyp[oh * s.OW + ow] / div;
        dx[idx] = acc;
    }
}

/* One thread a plane: the canonical sum of its HW values (the same blocks,
 * lanes and tree as repro_sum_canonical), then / HW. */
__global__ void global_avg_forward_kernel(float *y, const float *x, int64_t NC, int64_t HW)
{
    const float div = (float)HW;
    REPRO_CUDA_FOR(i, NC)
    {
        const repro_canon_src src = {REPRO_CANON_X, x + i * HW, NULL, 0.0f, 0.0f};
        y[i] = repro_cuda_canon_sum_thread(&src, HW) / div;
    }
}

__global__ void global_avg_backward_kernel(float *dx, const float *dy, int64_t NC, int64_t HW)
{
    const float div = (float)HW;
    REPRO_CUDA_FOR(i, NC * HW)
    {
        dx[i] = dy[i / HW] / div;
    }
}

bool mul_ok(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* The shape must be one repro_pool2d_shape_check filled. */
repro_status check_shape(const char *what, const shape *s, repro_error *err)
{
    if (!s)
        return repro_fail(err, REPRO_ERR_ARG, "cuda %s: shape is NULL", what);
    if (s->N < 1 || s->C < 1 || s->H < 1 || s->W < 1 || s->KH < 1 || s->KW < 1 || s->stride_h < 1 ||
        s->stride_w < 1 || s->pad_h < 0 || s->pad_w < 0 || s->pad_h > s->KH / 2 || s->pad_w > s->KW / 2 ||
        s->H > INT32_MAX || s->W > INT32_MAX || s->KH > INT32_MAX || s->KW > INT32_MAX ||
        s->stride_h > INT32_MAX || s->stride_w > INT32_MAX)
        return repro_fail(err, REPRO_ERR_ARG,
                          "cuda %s: invalid shape N=%lld C=%lld H=%lld W=%lld kernel %lldx%lld stride %lldx%lld "
                          "padding %lldx%lld",
                          what, (long long)s->N, (long long)s->C, (long long)s->H, (long long)s->W,
                          (long long)s->KH, (long long)s->KW, (long long)s->stride_h, (long long)s->stride_w,
                          (long long)s->pad_h, (long long)s->pad_w);
    const int64_t ph = s->H + 2 * s->pad_h, pw = s->W + 2 * s->pad_w;
    const int64_t oh = ph >= s->KH ? (ph - s->KH) / s->stride_h + 1 : 0;
    const int64_t ow = pw >= s->KW ? (pw - s->KW) / s->stride_w + 1 : 0;
    if (oh < 1 || ow < 1 || s->OH != oh || s->OW != ow)
        return repro_fail(err, REPRO_ERR_ARG,
                          "cuda %s: output %lldx%lld is not the shape's (%lldx%lld): "
                          "fill it with repro_pool2d_shape_check",
                          what, (long long)s->OH, (long long)s->OW, (long long)oh, (long long)ow);
    int64_t nc, a, b;
    if (!mul_ok(s->N, s->C, &nc) || !mul_ok(nc, s->H * s->W, &a) || !mul_ok(nc, s->OH * s->OW, &b))
        return repro_fail(err, REPRO_ERR_ARG, "cuda %s: an element count overflows int64", what);
    return REPRO_OK;
}

/* argmax holds ih*W + iw as int32, and the max pools index a plane (and
 * its output) in 32 bits. */
repro_status check_plane_int32(const char *what, const shape *s, repro_error *err)
{
    if (s->H * s->W > INT32_MAX || s->OH * s->OW > INT32_MAX)
        return repro_fail(err, REPRO_ERR_ARG, "cuda %s: a %lldx%lld plane does not fit the int32 argmax", what,
                          (long long)s->H, (long long)s->W);
    return REPRO_OK;
}

repro_status check_nc_hw(const char *what, int64_t N, int64_t C, int64_t HW, repro_error *err)
{
    int64_t nc, all;
    if (N < 1 || C < 1 || HW < 1 || !mul_ok(N, C, &nc) || !mul_ok(nc, HW, &all))
        return repro_fail(err, REPRO_ERR_ARG, "cuda %s: invalid sizes N=%lld C=%lld HW=%lld", what, (long long)N,
                          (long long)C, (long long)HW);
    return REPRO_OK;
}

} // namespace

extern "C" {

repro_status repro_cuda_maxpool2d_forward(const repro_pool2d_shape *s, float *y, int32_t *argmax, const float *x,
                                          repro_cuda_stream stream, repro_error *err)
{
    repro_status st = check_shape("maxpool2d forward", s, err);
    if (st == REPRO_OK)
        st = check_plane_int32("maxpool2d forward", s, err);
    if (st != REPRO_OK)
        return st;
    if (!y || !argmax || !x)
        return repro_fail(err, REPRO_ERR_ARG, "cuda maxpool2d forward: %s is NULL",
                          !y ? "y" : !argmax ? "argmax" : "x");
    const int64_t op = s->OH * s->OW;
    const dim3 grid = plane_grid(op, s->N * s->C);
    maxpool_forward_kernel<<<grid, plane_threads(op), 0, repro_cuda_s(stream)>>>(*s, y, argmax, x);
    return repro_cuda_check("maxpool2d forward", err);
}

repro_status repro_cuda_maxpool2d_backward(const repro_pool2d_shape *s, float *dx, const float *dy,
                                           const int32_t *argmax, repro_cuda_stream stream, repro_error *err)
{
    repro_status st = check_shape("maxpool2d backward", s, err);
    if (st == REPRO_OK)
        st = check_plane_int32("maxpool2d backward", s, err);
    if (st != REPRO_OK)
        return st;
    if (!dx || !dy || !argmax)
        return repro_fail(err, REPRO_ERR_ARG, "cuda maxpool2d backward: %s is NULL",
                          !dx ? "dx" : !dy ? "dy" : "argmax");
    const int64_t hw = s->H * s->W;
    const dim3 grid = plane_grid(hw, s->N * s->C);
    maxpool_backward_kernel<<<grid, plane_threads(hw), 0, repro_cuda_s(stream)>>>(*s, dx, dy, argmax);
    return repro_cuda_check("maxpool2d backward", err);
}

repro_status repro_cuda_avgpool2d_forward(const repro_pool2d_shape *s, float *y, const float *x,
                                          repro_cuda_stream stream, repro_error *err)
{
    repro_status st = check_shape("avgpool2d forward", s, err);
    if (st != REPRO_OK)
        return st;
    if (!y || !x)
        return repro_fail(err, REPRO_ERR_ARG, "cuda avgpool2d forward: %s is NULL", !y ? "y" : "x");
    avgpool_forward_kernel<<<repro_cuda_blocks(s->N * s->C * s->OH * s->OW), REPRO_CUDA_THREADS, 0,
                             repro_cuda_s(stream)>>>(*s, y, x);
    return repro_cuda_check("avgpool2d forward", err);
}

repro_status repro_cuda_avgpool2d_backward(const repro_pool2d_shape *s, float *dx, const float *dy,
                                           repro_cuda_stream stream, repro_error *err)
{
    repro_status st = check_shape("avgpool2d backward", s, err);
    if (st != REPRO_OK)
        return st;
    if (!dx || !dy)
        return repro_fail(err, REPRO_ERR_ARG, "cuda avgpool2d backward: %s is NULL", !dx ? "dx" : "dy");
    avgpool_backward_kernel<<<repro_cuda_blocks(s->N * s->C * s->H * s->W), REPRO_CUDA_THREADS, 0,
                              repro_cuda_s(stream)>>>(*s, dx, dy);
    return repro_cuda_check("avgpool2d backward", err);
}

repro_status repro_cuda_global_avgpool_forward(float *y, const float *x, int64_t N, int64_t C, int64_t HW,
                                               repro_cuda_stream stream, repro_error *err)
{
    repro_status st = check_nc_hw("global avgpool forward", N, C, HW, err);
    if (st != REPRO_OK)
        return st;
    if (!y || !x)
        return repro_fail(err, REPRO_ERR_ARG, "cuda global avgpool forward: %s is NULL", !y ? "y" : "x");
    global_avg_forward_kernel<<<repro_cuda_blocks(N * C), REPRO_CUDA_THREADS, 0, repro_cuda_s(stream)>>>(y, x, N * C,
                                                                                                       HW);
    return repro_cuda_check("global avgpool forward", err);
}

repro_status repro_cuda_global_avgpool_backward(float *dx, const float *dy, int64_t N, int64_t C, int64_t HW,
                                                repro_cuda_stream stream, repro_error *err)
{
    repro_status st = check_nc_hw("global avgpool backward", N, C, HW, err);
    if (st != REPRO_OK)
        return st;
    if (!dx || !dy)
        return repro_fail(err, REPRO_ERR_ARG, "cuda global avgpool backward: %s is NULL", !dx ? "dx" : "dy");
    global_avg_backward_kernel<<<repro_cuda_blocks(N * C * HW), REPRO_CUDA_THREADS, 0, repro_cuda_s(stream)>>>(
        dx, dy, N * C, HW);
    return repro_cuda_check("global avgpool backward", err);
}

} /* extern "C" */
