/* Attention and softmax on the GPU (cuda_attention.h): the tiled kernels
 * of attention_tiled.cu where the head size has them, else the row
 * functions of src/ops/attention_math.h (a warp a row forward, a thread a
 * row backward), and softmax's rows with the canonical sums of
 * canon_tree.cuh. */
#include "ops/cuda/attention_tiled.cuh"
#include "ops/cuda/canon_tree.cuh"
#include "ops/cuda/cuda_attention.h"
#include "ops/cuda/cuda_util.cuh"

namespace {

/* 64 threads a block: a block is 64 consecutive rows, mostly one (b, h),
 * so the key and value rows every thread reads come through the cache once. */
constexpr int kThreads = 64;

unsigned blocks_of(int64_t n)
{
    int64_t b = (n + kThreads - 1) / kThreads;
    return (unsigned)(b < REPRO_CUDA_MAX_BLOCKS ? (b < 1 ? 1 : b) : REPRO_CUDA_MAX_BLOCKS);
}

#define ROW_LOOP(r, n) for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < (n); r += (int64_t)gridDim.x * blockDim.x)

__global__ void forward_kernel(repro_attn_args a)
{
    ROW_LOOP(r, a.B * a.H * a.T)
    repro_attn_forward_row(&a, r);
}

/* The forward with one warp a row (b, h, i), the row function's sequence
 * with its independent parts spread over the lanes: lane t computes the
 * score chain (d ascending) of key jb + t and jb + 32 + t, its exponential
 * and its dropout draw; the running max and the sum l are the sequential
 * scans of the written order over the block's keys in ascending order
 * (every lane runs them on the same values, so all agree); each lane owns
 * the output values d = lane + 32 u and runs their chains acc[d] = fmaf(pd_j,
 * v_j[d], acc[d]) over the block's keys in ascending order. Masked keys are
 * skipped, as in the row function. kWarpRows warps a block. */
constexpr int kWarpRows = 4;
constexpr int kMaxPerLane = REPRO_ATTN_MAX_HD / 32;

__global__ void forward_warp_kernel(repro_attn_args a)
{
    __shared__ float q_s[kWarpRows][REPRO_ATTN_MAX_HD];
    __shared__ float s_s[kWarpRows][REPRO_ATTN_BLOCK], pd_s[kWarpRows][REPRO_ATTN_BLOCK];
    __shared__ int use_s[kWarpRows][REPRO_ATTN_BLOCK];
    const int w = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int64_t rows = a.B * a.H * a.T, T = a.T, hd = a.hd;
    for (int64_t r = (int64_t)blockIdx.x * kWarpRows + w; r < rows; r += (int64_t)gridDim.x * kWarpRows) {
        int64_t i = r % T, h = (r / T) % a.H, b = r / (T * a.H);
        const float *q = repro_attn_qkv(&a, b, i, 0, h);
        for (int64_t d = lane; d < hd; d += 32)
            q_s[w][d] = q[d];
        __syncwarp();
        float acc[kMaxPerLane];
        for (int u = 0; u < kMaxPerLane; u++)
            acc[u] = 0.0f;
        float m = -repro_math_inff(), l = 0.0f, sd = a.keep ? 1.0f / (1.0f - a.p) : 1.0f;
        repro_rng_key key = {{0, 0}};
        if (a.keep)
            key = repro_rng_derive(a.seed, REPRO_RNG_DROPOUT, a.node, (uint32_t)(1 + h));
        int64_t kend = repro_attn_kend(&a, b, i);
        for (int64_t jb = 0; jb < kend; jb += REPRO_ATTN_BLOCK) {
            int64_t je = jb + REPRO_ATTN_BLOCK < kend ? jb + REPRO_ATTN_BLOCK : kend;
            for (int64_t j = jb + lane; j < je; j += 32) { /* scores, lanes over keys */
                int use = !repro_attn_masked(&a, b, j);
                use_s[w][j - jb] = use;
                if (use) {
                    const float *k = repro_attn_qkv(&a, b, j, 1, h);
                    float dot = 0.0f;
                    for (int64_t d = 0; d < hd; d++)
                        dot = fmaf(q_s[w][d], k[d], dot);
                    s_s[w][j - jb] = dot * a.scale;
                }
            }
            __syncwarp();
            float mb = -repro_math_inff();
            int any = 0;
            for (int64_t j = jb; j < je; j++) /* the written order's max, every lane */
                if (use_s[w][j - jb]) {
                    float sj = s_s[w][j - jb];
                    mb = sj > mb ? sj : mb;
                    any = 1;
                }
            if (!any) {
                __syncwarp();
                continue;
            }
            float mn = mb > m ? mb : m;
            float c = repro_expf(m - mn);
            __syncwarp(); /* every lane has read the scores before p overwrites them */
            for (int64_t j = jb + lane; j < je; j += 32) { /* exponentials and draws, lanes over keys */
                if (!use_s[w][j - jb])
                    continue;
                float p = repro_expf(s_s[w][j - jb] - mn), pd = p;
                if (a.keep) {
                    uint32_t c1 = (uint32_t)a.step, c2 = (uint32_t)(a.step >> 32);
                    int kp = repro_rng_uniform(key, a.sample_pos[b], c1, c2, ((uint64_t)i << 17) | (uint64_t)j) >= a.p;
                    a.keep[repro_attn_keep_at(&a, b, h, i, j)] = (uint8_t)kp;
                    pd = kp ? p * sd : 0.0f;
                }
                s_s[w][j - jb] = p; /* the score is no longer needed: p takes its place */
                pd_s[w][j - jb] = pd;
            }
            __syncwarp();
            l = l * c;
            for (int64_t j = jb; j < je; j++) /* l's chain, every lane */
                if (use_s[w][j - jb])
                    l = l + s_s[w][j - jb];
            for (int u = 0; u < kMaxPerLane; u++) {
                int64_t d = lane + 32 * u;
                if (d >= hd)
                    break;
                float ad = acc[u] * c;
                for (int64_t j = jb; j < je; j++)
                    if (use_s[w][j - jb])
                        ad = fmaf(pd_s[w][j - jb], repro_attn_qkv(&a, b, j, 2, h)[d], ad);
                acc[u] = ad;
            }
            m = mn;
            __syncwarp();
        }
        float *o = a.o + ((b * T + i) * a.H + h) * hd;
        for (int u = 0; u < kMaxPerLane; u++) {
            int64_t d = lane + 32 * u;
            if (d < hd)
                o[d] = l > 0.0f ? acc[u] / l : 0.0f;
        }
        if (lane == 0) {
            *repro_attn_stat(&a, b, h, i, 0) = m;
            *repro_attn_stat(&a, b, h, i, 1) = l;
        }
        __syncwarp();
    }
}

__global__ void dsum_kernel(repro_attn_args a)
{
    ROW_LOOP(r, a.B * a.H * a.T)
    repro_attn_dsum_row(&a, r);
}

__global__ void dq_kernel(repro_attn_args a)
{
    ROW_LOOP(r, a.B * a.H * a.T)
    repro_attn_dq_row(&a, r);
}

__global__ void dkv_kernel(repro_attn_args a)
{
    ROW_LOOP(r, a.B * a.H * a.T)
    repro_attn_dkv_row(&a, r);
}

__global__ void softmax_forward_kernel(float *y, const float *x, int64_t rows, int64_t n)
{
    REPRO_CUDA_FOR(r, rows)
    {
        const float *xr = x + r * n;
        float *yr = y + r * n, m = -repro_math_inff();
        for (int64_t k = 0; k < n; k++)
            m = xr[k] > m ? xr[k] : m;
        for (int64_t k = 0; k < n; k++)
            yr[k] = repro_expf(xr[k] - m);
        repro_canon_src src = {REPRO_CANON_X, yr, NULL, 0.0f, 0.0f, 0, 0};
        float s = repro_cuda_canon_sum_thread(&src, n);
        for (int64_t k = 0; k < n; k++)
            yr[k] = yr[k] / s;
    }
}

__global__ void softmax_backward_kernel(float *dx, const float *dy, const float *y, int64_t rows, int64_t n)
{
    REPRO_CUDA_FOR(r, rows)
    {
        const float *yr = y + r * n, *dyr = dy + r * n;
        float *dxr = dx + r * n;
        repro_canon_src src = {REPRO_CANON_XY, dyr, yr, 0.0f, 0.0f, 0, 0};
        float g = repro_cuda_canon_sum_thread(&src, n);
        for (int64_t k = 0; k < n; k++)
            dxr[k] = yr[k] * (dyr[k] - g);
    }
}

} // namespace

extern "C" {

repro_status repro_cuda_attention_forward_variant(const repro_attn_args *a, int variant, repro_cuda_stream s,
                                                  repro_error *err)
{
    repro_status st = repro_attention_check(a, 1, err);
    int64_t rows = a->B * a->H * a->T;
    if (st != REPRO_OK || rows == 0)
        return st;
    if (variant == REPRO_CUDA_ATTN_AUTO)
        variant = repro_cuda_attention_tiled_fits(a) ? REPRO_CUDA_ATTN_TILED : REPRO_CUDA_ATTN_WARP;
    if (variant == REPRO_CUDA_ATTN_TILED) {
        if (!repro_cuda_attention_tiled_fits(a))
            return repro_fail(err, REPRO_ERR_ARG, "attention: no tiled kernel for head_dim %lld", (long long)a->hd);
        return repro_cuda_attention_forward_tiled(a, s, err);
    }
    if (variant == REPRO_CUDA_ATTN_WARP) {
        int64_t blocks = (rows + kWarpRows - 1) / kWarpRows;
        forward_warp_kernel<<<(unsigned)(blocks < REPRO_CUDA_MAX_BLOCKS ? blocks : REPRO_CUDA_MAX_BLOCKS),
                              32 * kWarpRows, 0, repro_cuda_s(s)>>>(*a);
    } else {
        forward_kernel<<<blocks_of(rows), kThreads, 0, repro_cuda_s(s)>>>(*a);
    }
    return repro_cuda_check("attention forward", err);
}

repro_status repro_cuda_attention_forward(const repro_attn_args *a, repro_cuda_stream s, repro_error *err)
{
    return repro_cuda_attention_forward_variant(a, REPRO_CUDA_ATTN_AUTO, s, err);
}

repro_status repro_cuda_attention_backward_variant(const repro_attn_args *a, int variant, repro_cuda_stream s,
                                                   repro_error *err)
{
    repro_status st = repro_attention_check(a, 0, err);
    int64_t rows = a->B * a->H * a->T;
    if (st != REPRO_OK || rows == 0)
        return st;
    if (variant == REPRO_CUDA_ATTN_AUTO)
        variant = repro_cuda_attention_tiled_fits(a) ? REPRO_CUDA_ATTN_TILED : REPRO_CUDA_ATTN_ROW;
    if (variant == REPRO_CUDA_ATTN_TILED && !repro_cuda_attention_tiled_fits(a))
        return repro_fail(err, REPRO_ERR_ARG, "attention: no tiled kernel for head_dim %lld", (long long)a->hd);
    dsum_kernel<<<blocks_of(rows), kThreads, 0, repro_cuda_s(s)>>>(*a);
    st = repro_cuda_check("attention backward (dsum)", err);
    if (st != REPRO_OK)
        return st;
    if (variant == REPRO_CUDA_ATTN_TILED)
        return repro_cuda_attention_backward_tiled(a, s, err);
    dq_kernel<<<blocks_of(rows), kThreads, 0, repro_cuda_s(s)>>>(*a);
    st = repro_cuda_check("attention backward (dq)", err);
    if (st != REPRO_OK)
        return st;
    dkv_kernel<<<blocks_of(rows), kThreads, 0, repro_cuda_s(s)>>>(*a);
    return repro_cuda_check("attention backward (dk, dv)", err);
}

repro_status repro_cuda_attention_backward(const repro_attn_args *a, repro_cuda_stream s, repro_error *err)
{
    return repro_cuda_attention_backward_variant(a, REPRO_CUDA_ATTN_AUTO, s, err);
}

repro_status repro_cuda_softmax_forward(float *y, const float *x, int64_t rows, int64_t n, repro_cuda_stream s,
                                        repro_error *err)
{
    if (rows <= 0 || n <= 0)
        return REPRO_OK;
    softmax_forward_kernel<<<repro_cuda_blocks(rows), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(y, x, rows, n);
    return repro_cuda_check("softmax forward", err);
}

repro_status repro_cuda_softmax_backward(float *dx, const float *dy, const float *y, int64_t rows, int64_t n,
                                         repro_cuda_stream s, repro_error *err)
{
    if (rows <= 0 || n <= 0)
        return REPRO_OK;
    softmax_backward_kernel<<<repro_cuda_blocks(rows), REPRO_CUDA_THREADS, 0, repro_cuda_s(s)>>>(dx, dy, y, rows,
                                                                                               n);
    return repro_cuda_check("softmax backward", err);
}

} /* extern "C" */
