/* The forward and dx of a convolution with few columns a group, one thread
 * a row (arguments: conv2d_args.cuh, the implicit-GEMM view: the forward's
 * columns are the output channels, dx's the input channels). Same chains
 * as the references and as conv2d_igemm.cu:
 *
 *   forward out = y:  row (n, oh, ow), column o, k = (ci, kh, kw) ascending,
 *                     tap x[n][c][ih][iw] or +0; then + bias
 *   dx      out = dx: row (n, ih, iw), column ci, k = (o, kh, kw) ascending,
 *                     tap dy[n][o][th/sh][tw/sw] or +0
 *
 * each output one fmaf chain from +0 over all of k, absent taps included
 * as +0 (fmaf(+0, inf, acc) is NaN, as on the CPU).
 *
 * Why another kernel: a layer with one input channel (conv1 of the example
 * nets) has dx columns of width 1, which the tiles of conv2d_igemm.cu
 * cannot use, and the direct kernel spends its time on 64-bit index
 * arithmetic at every tap: 202 us for conv1's dx at batch 128, where the
 * whole forward takes 18. With 16 columns (the residual net's 16 -> 16
 * layers) a 32-wide tile is half idle.
 *
 * A thread owns one row m = (n, p) and CB columns of one group: CB chains
 * that read the same tap of the source, so a tap is one load for CB fmas.
 * A block is NT rows of one group (blockIdx.z) and one block of CB columns
 * (blockIdx.y). It stages its columns' weights once, as [k][CB] in shared
 * memory (columns past the group's are +0, and their chains are never
 * stored), so that a tap's CB weights are float4 reads at one address for
 * the whole warp (a broadcast). Where a row's taps fall in the source
 * plane (or that one is absent: padding, or for dx between strides) is
 * worked out once per kh and per kw; a tap is then one predicated load.
 * Rows vary fastest across a warp, so its loads of a tap run along a row
 * of the image (coalesced), and so do its stores of a column.
 *
 * pixel2 gives a thread two rows (NT apart), 2 x CB chains: each float4 of
 * weights read from shared memory then serves two rows' fmas, half the
 * shared-memory reads per fma, for half as many threads (conv2d.cu's
 * auto_igemm says where that pays). */
#include "ops/cuda/conv2d_args.cuh"

namespace {

typedef repro_conv_igemm_args igemm_args;

constexpr int NT = 128; /* rows a block */

/* The largest staged weight block (so that 2 blocks fit a multiprocessor):
 * 170 chain channels of a 3x3 kernel at 16 columns. */
constexpr int MAX_SMEM = 96 * 1024;

/* CB weights of one tap, in order, into the CB chains */
template <int CB>
__device__ __forceinline__ void taps_fma(float (&acc)[CB], float v, const float *wk)
{
    if (CB % 4 == 0) {
#pragma unroll
        for (int q = 0; q < CB / 4; q++) {
            const float4 w = reinterpret_cast<const float4 *>(wk)[q];
            acc[4 * q + 0] = fmaf(v, w.x, acc[4 * q + 0]);
            acc[4 * q + 1] = fmaf(v, w.y, acc[4 * q + 1]);
            acc[4 * q + 2] = fmaf(v, w.z, acc[4 * q + 2]);
            acc[4 * q + 3] = fmaf(v, w.w, acc[4 * q + 3]);
        }
    } else {
#pragma unroll
        for (int j = 0; j < CB; j++)
            acc[j] = fmaf(v, wk[j], acc[j]);
    }
}

/* Where tap index t of this row's kernel row or column lands in the source
 * (its row or column), or -1 when absent. Forward: i = o*s - pad + t*dil
 * inside [0, n). dx: e = i + pad - t*dil, present when >= 0, divisible by
 * the stride and e/s inside [0, n). */
template <bool DX>
__device__ __forceinline__ int tap_at(int i, int t, int stride, int pad, int dil, int n)
{
    if (DX) {
        const int e = i + pad - t * dil;
        if (e < 0 || e % stride != 0 || e / stride >= n)
            return -1;
        return e / stride;
    }
    const int s = i * stride - pad + t * dil;
    return s >= 0 && s < n ? s : -1;
}

/* One row's taps: offsets in a source plane (-1: absent), and the row's
 * place in the source and the output. */
template <int KH, int KW, bool DX>
struct pixel_row {
    int off[KH * KW];
    int src, out; /* n * src_n + group's first chain channel, n * out_n + p */
    bool live;

    __device__ __forceinline__ void init(const igemm_args &a, int m, int g)
    {
        live = m < a.M;
        const int mm = live ? m : 0;
        const int n = mm / a.P, p = mm - n * a.P, r = p / a.PW, c = p - r * a.PW;
#pragma unroll
        for (int kh = 0; kh < KH; kh++) {
            const int sr = tap_at<DX>(r, kh, a.stride_h, a.pad_h, a.dil_h, a.SH);
#pragma unroll
            for (int kw = 0; kw < KW; kw++) {
                const int sc = tap_at<DX>(c, kw, a.stride_w, a.pad_w, a.dil_w, a.SW);
                off[kh * KW + kw] = sr >= 0 && sc >= 0 ? sr * a.SW + sc : -1;
            }
        }
        src = n * a.src_n + g * a.KC * a.SP;
        out = n * a.out_n + p;
    }
};

/* RB rows a thread: rows m0 + threadIdx.x + i*NT, each with its own CB
 * chains; the rows' loads of a tap share the weights' reads. */
template <int CB, int RB, int KH, int KW, bool DX>
__global__ void __launch_bounds__(NT) pixel_kernel(igemm_args a)
{
    constexpr int KHW = KH * KW;
    extern __shared__ __align__(16) float ws[]; /* [KC][KH][KW][CB] */
    const int g = blockIdx.z, c0 = blockIdx.y * CB;

    const int nw = a.KC * KHW * CB;
    for (int e = threadIdx.x; e < nw; e += NT) {
        const int j = e % CB, k = e / CB, cl = k / KHW, rr = k - cl * KHW, col = c0 + j;
        ws[e] = col < a.cols ? a.w[g * a.w_group + col * a.w_col + cl * a.w_chan + rr] : 0.0f;
    }
    __syncthreads();

    const int m0 = blockIdx.x * NT * RB + threadIdx.x;
    if (m0 >= a.M)
        return;
    pixel_row<KH, KW, DX> row[RB];
#pragma unroll
    for (int i = 0; i < RB; i++)
        row[i].init(a, m0 + i * NT, g);

    float acc[RB][CB];
#pragma unroll
    for (int i = 0; i < RB; i++)
#pragma unroll
        for (int j = 0; j < CB; j++)
            acc[i][j] = 0.0f;
#pragma unroll 2
    for (int cl = 0; cl < a.KC; cl++) {
        float v[RB][KHW];
#pragma unroll
        for (int i = 0; i < RB; i++) { /* every tap's load before the first fma */
            const float *plane = a.src + row[i].src + cl * a.SP;
#pragma unroll
            for (int t = 0; t < KHW; t++)
                v[i][t] = row[i].off[t] >= 0 ? __ldg(plane + row[i].off[t]) : 0.0f;
        }
        const float *wk = ws + cl * KHW * CB;
#pragma unroll
        for (int t = 0; t < KHW; t++)
#pragma unroll
            for (int i = 0; i < RB; i++)
                taps_fma<CB>(acc[i], v[i][t], wk + t * CB);
    }

#pragma unroll
    for (int i = 0; i < RB; i++) {
        if (!row[i].live)
            break;
        float *out = a.out + row[i].out + (g * a.cols + c0) * a.P;
#pragma unroll
        for (int j = 0; j < CB; j++) {
            if (c0 + j >= a.cols)
                break;
            out[j * a.P] = (!DX && a.bias) ? acc[i][j] + a.bias[g * a.cols + c0 + j] : acc[i][j];
        }
    }
}

/* Columns a thread: 16, or fewer when the group has fewer (2 and 3 take 4).
 * 32 was slower than 16 on every layer of bench_layers (test_cuda_conv
 * --bench): 64 -> 64 on 14x14 108 against 97 us for the forward. */
int cb_of(int cols)
{
    return cols <= 1 ? 1 : cols <= 4 ? 4 : cols <= 8 ? 8 : 16;
}

size_t smem_of(const igemm_args &a, int cb)
{
    return (size_t)a.KC * (size_t)a.KHW * (size_t)cb * sizeof(float);
}

template <int CB, int RB, int KH, int KW>
void launch_cb(int dx, const igemm_args &a, cudaStream_t s)
{
    void (*kernel)(igemm_args) = dx ? pixel_kernel<CB, RB, KH, KW, true> : pixel_kernel<CB, RB, KH, KW, false>;
    const size_t smem = smem_of(a, CB);
    /* past 48 KiB a kernel must ask, on each device it runs on; a failure
     * shows as the launch's error */
    if (smem > 48 * 1024)
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    const dim3 grid((unsigned)((a.M + NT * RB - 1) / (NT * RB)), (unsigned)((a.cols + CB - 1) / CB),
                    (unsigned)a.groups);
    kernel<<<grid, NT, smem, s>>>(a);
}

template <int RB, int KH, int KW>
void launch_k(int dx, const igemm_args &a, cudaStream_t s)
{
    switch (cb_of(a.cols)) {
    case 1: launch_cb<1, RB, KH, KW>(dx, a, s); break;
    case 4: launch_cb<4, RB, KH, KW>(dx, a, s); break;
    case 8: launch_cb<8, RB, KH, KW>(dx, a, s); break;
    default: launch_cb<16, RB, KH, KW>(dx, a, s); break;
    }
}

} // namespace

int repro_conv_pixel_can(repro_cuda_conv_tiling t, const repro_conv_igemm_args &a)
{
    if (t != REPRO_CUDA_CONV_PIXEL && t != REPRO_CUDA_CONV_PIXEL2)
        return 0;
    const bool k11 = a.KHW == 1, k33 = a.KHW == 9 && a.KW == 3;
    const int cb = cb_of(a.cols);
    return (k11 || k33) && a.M <= INT32_MAX - 2 * NT && (a.cols + cb - 1) / cb <= 65535 &&
           smem_of(a, cb) <= (size_t)MAX_SMEM;
}

int repro_conv_pixel_launch(repro_cuda_conv_tiling t, int dx, const repro_conv_igemm_args &a, cudaStream_t s)
{
    if (!repro_conv_pixel_can(t, a))
        return 0;
    const bool two = t == REPRO_CUDA_CONV_PIXEL2;
    if (a.KHW == 1)
        two ? launch_k<2, 1, 1>(dx, a, s) : launch_k<1, 1, 1>(dx, a, s);
    else
        two ? launch_k<2, 3, 3>(dx, a, s) : launch_k<1, 3, 3>(dx, a, s);
    return 1;
}
