/* Tiled attention on the GPU (attention_tiled.cuh): FlashAttention's tiling
 * of src/ops/attention_math.h's written order. A block of 256 threads owns
 * a tile of 64 query rows (forward, dq) or 64 keys (dk, dv) of one sample
 * and head, keeps it in shared memory, and walks the other side's tiles of
 * 64 in ascending order through shared memory too, so every q, k, v and dO
 * row is read from global memory once a tile instead of once a row.
 *
 * Why the bits are the row functions' bits:
 *   - every score s_ij and every dPd_ij is its own chain over d ascending
 *     (fmaf(q[d], k[d], acc), as repro_attn_dot), computed by one thread;
 *   - the forward's key tiles are the written order's blocks of
 *     REPRO_ATTN_BLOCK keys (the block size is part of the contract), and
 *     within a tile the running max and the sum l are the row's sequential
 *     scans over its keys in ascending order, run by one thread a row;
 *   - every output value (o, dq, dk, dv) is one chain owned by one thread
 *     over the other side's keys or queries in ascending order, tile after
 *     tile, skipping the pairs the row function skips (masked keys, keys
 *     past a row's end, padded queries) rather than adding zeros;
 *   - dS and Pd come from repro_attn_ds_from, the row functions' own text.
 * No sum is split, no atomics are used, and the tile shapes do not depend
 * on the batch or the device.
 *
 * Thread layout: thread t is (t / 16, t % 16). In a score phase it owns
 * rows t / 16 + 16 u and columns t % 16 + 16 v (u, v < 4): 16 chains. In an
 * output phase it owns rows t / 16 + 16 u and the values d = t % 16 + 16 v
 * (v < HD / 16). Tiles are stored row-major with a stride of HD + 1 floats,
 * so the 16 different rows a warp reads at one d fall in different banks. */
#include "ops/cuda/attention_tiled.cuh"
#include "ops/cuda/cuda_util.cuh"

namespace {

constexpr int kTile = REPRO_ATTN_BLOCK; /* queries and keys a tile */
constexpr int kThreads = 256;
constexpr int kPer = kTile / 16; /* rows (and columns) a thread owns in a score phase */
constexpr int kPairLd = kTile + 1; /* stride of the [64][64] score / dS tiles */
static_assert(kTile == 64, "the thread layout assumes tiles of 64");

/* Rows [t0, t0 + 64) of a [T][row_stride] matrix whose row t0 starts at
 * `base`, into s[64][HD + 1]; zeros for rows past T. */
template <int HD>
__device__ void load_tile(float *s, const float *base, int64_t row_stride, int64_t rows_left)
{
    for (int idx = threadIdx.x; idx < kTile * HD; idx += kThreads) {
        int r = idx / HD, d = idx % HD;
        s[r * (HD + 1) + d] = r < rows_left ? base[r * row_stride + d] : 0.0f;
    }
}

/* Row t0 of q, k or v (which 0, 1, 2) of (b, h), and the stride between tokens. */
__device__ const float *qkv_rows(const repro_attn_args &a, int64_t b, int64_t h, int64_t t0, int which)
{
    return repro_attn_qkv(&a, b, t0, which, h);
}

__device__ int64_t qkv_stride(const repro_attn_args &a)
{
    return 3 * a.H * a.hd;
}

/* Row t0 of dO (or o) of (b, h): [B][T][H][hd]. */
__device__ int64_t out_at(const repro_attn_args &a, int64_t b, int64_t h, int64_t t0)
{
    return ((b * a.T + t0) * a.H + h) * a.hd;
}

/* The end of row i's keys, 0 for a padded query or a row past T. */
__device__ int64_t kend_of(const repro_attn_args &a, int64_t b, int64_t i)
{
    return i < a.T ? repro_attn_kend(&a, b, i) : 0;
}

/* A tile's block: (b, h) and the first row of the tile. */
struct tile_pos {
    int64_t b, h, t0;
};

__device__ tile_pos tile_of(const repro_attn_args &a)
{
    int64_t tiles = (a.T + kTile - 1) / kTile, bh = blockIdx.x / tiles;
    return {bh / a.H, bh % a.H, (int64_t)(blockIdx.x % tiles) * kTile};
}

/* ---- forward ---------------------------------------------------------- */

template <int HD>
__global__ void __launch_bounds__(kThreads) forward_tiled_kernel(repro_attn_args a)
{
    constexpr int LD = HD + 1, NV = HD / 16;
    extern __shared__ float smem[];
    float *Qs = smem, *Ks = Qs + kTile * LD, *Vs = Ks + kTile * LD;
    float *Ps = Vs + kTile * LD;                         /* scores, then p */
    float *PDs = a.keep ? Ps + kTile * kPairLd : Ps;     /* p with dropout applied */
    __shared__ float row_mn[kTile], row_c[kTile], row_l[kTile];
    __shared__ int row_any[kTile], kmask[kTile];

    const int t = threadIdx.x, tr = t / 16, tc = t % 16;
    const tile_pos tp = tile_of(a);
    const int64_t b = tp.b, h = tp.h, q0 = tp.t0, T = a.T;
    load_tile<HD>(Qs, qkv_rows(a, b, h, q0, 0), qkv_stride(a), T - q0);

    int64_t kend[kPer]; /* of this thread's rows tr + 16 u */
    for (int u = 0; u < kPer; u++)
        kend[u] = kend_of(a, b, q0 + tr + 16 * u);
    const int64_t my_kend = t < kTile ? kend_of(a, b, q0 + t) : 0; /* a row thread's own row t */
    float m = -repro_math_inff(), l = 0.0f;                         /* row t's running max and sum */
    float acc[kPer][NV];
    for (int u = 0; u < kPer; u++)
        for (int v = 0; v < NV; v++)
            acc[u][v] = 0.0f;
    const float sd = a.keep ? 1.0f / (1.0f - a.p) : 1.0f;
    repro_rng_key key = {{0, 0}};
    if (a.keep)
        key = repro_rng_derive(a.seed, REPRO_RNG_DROPOUT, a.node, (uint32_t)(1 + h));

    const int64_t kmax = a.causal ? (q0 + kTile < T ? q0 + kTile : T) : T;
    for (int64_t jb = 0; jb < kmax; jb += kTile) {
        __syncthreads(); /* the last tile's readers are done */
        load_tile<HD>(Ks, qkv_rows(a, b, h, jb, 1), qkv_stride(a), T - jb);
        load_tile<HD>(Vs, qkv_rows(a, b, h, jb, 2), qkv_stride(a), T - jb);
        if (t < kTile)
            kmask[t] = jb + t >= T || repro_attn_masked(&a, b, jb + t);
        __syncthreads();

        /* scores: 16 chains a thread, d ascending */
        float s[kPer][kPer];
        for (int u = 0; u < kPer; u++)
            for (int v = 0; v < kPer; v++)
                s[u][v] = 0.0f;
        for (int d = 0; d < HD; d++) {
            float qv[kPer], kv[kPer];
            for (int u = 0; u < kPer; u++)
                qv[u] = Qs[(tr + 16 * u) * LD + d];
            for (int v = 0; v < kPer; v++)
                kv[v] = Ks[(tc + 16 * v) * LD + d];
            for (int u = 0; u < kPer; u++)
                for (int v = 0; v < kPer; v++)
                    s[u][v] = fmaf(qv[u], kv[v], s[u][v]);
        }
        for (int u = 0; u < kPer; u++)
            for (int v = 0; v < kPer; v++) {
                s[u][v] = s[u][v] * a.scale;
                Ps[(tr + 16 * u) * kPairLd + tc + 16 * v] = s[u][v];
            }
        __syncthreads();

        /* the block's max over row t's keys, ascending, and the rescale */
        if (t < kTile) {
            float mb = -repro_math_inff();
            int any = 0;
            for (int c = 0; c < kTile; c++)
                if (jb + c < my_kend && !kmask[c]) {
                    float sj = Ps[t * kPairLd + c];
                    mb = sj > mb ? sj : mb;
                    any = 1;
                }
            row_any[t] = any;
            if (any) {
                float mn = mb > m ? mb : m;
                row_mn[t] = mn;
                row_c[t] = repro_expf(m - mn);
            }
        }
        __syncthreads();

        /* exponentials and dropout draws, each pair by its score's thread */
        for (int u = 0; u < kPer; u++)
            for (int v = 0; v < kPer; v++) {
                int r = tr + 16 * u, c = tc + 16 * v;
                int64_t i = q0 + r, j = jb + c;
                if (j >= kend[u] || kmask[c])
                    continue;
                float p = repro_expf(s[u][v] - row_mn[r]);
                Ps[r * kPairLd + c] = p;
                if (a.keep) {
                    uint32_t c1 = (uint32_t)a.step, c2 = (uint32_t)(a.step >> 32);
                    int kp = repro_rng_uniform(key, a.sample_pos[b], c1, c2, ((uint64_t)i << 17) | (uint64_t)j) >= a.p;
                    a.keep[repro_attn_keep_at(&a, b, h, i, j)] = (uint8_t)kp;
                    PDs[r * kPairLd + c] = kp ? p * sd : 0.0f;
                }
            }
        __syncthreads();

        /* l's chain, one thread a row */
        if (t < kTile && row_any[t]) {
            l = l * row_c[t];
            for (int c = 0; c < kTile; c++)
                if (jb + c < my_kend && !kmask[c])
                    l = l + Ps[t * kPairLd + c];
            m = row_mn[t];
        }
        /* the outputs' chains: rescale, then the block's keys ascending */
        for (int u = 0; u < kPer; u++)
            if (row_any[tr + 16 * u])
                for (int v = 0; v < NV; v++)
                    acc[u][v] = acc[u][v] * row_c[tr + 16 * u];
        for (int c = 0; c < kTile; c++) {
            if (kmask[c])
                continue;
            float vv[NV];
            for (int v = 0; v < NV; v++)
                vv[v] = Vs[c * LD + tc + 16 * v];
            for (int u = 0; u < kPer; u++) {
                if (jb + c >= kend[u])
                    continue;
                float pd = PDs[(tr + 16 * u) * kPairLd + c];
                for (int v = 0; v < NV; v++)
                    acc[u][v] = fmaf(pd, vv[v], acc[u][v]);
            }
        }
    }

    if (t < kTile) {
        row_l[t] = l;
        if (q0 + t < T) {
            *repro_attn_stat(&a, b, h, q0 + t, 0) = m;
            *repro_attn_stat(&a, b, h, q0 + t, 1) = l;
        }
    }
    __syncthreads();
    for (int u = 0; u < kPer; u++) {
        int r = tr + 16 * u;
        if (q0 + r >= T)
            continue;
        float lr = row_l[r], *o = a.o + out_at(a, b, h, q0 + r);
        for (int v = 0; v < NV; v++)
            o[tc + 16 * v] = lr > 0.0f ? acc[u][v] / lr : 0.0f;
    }
}

/* ---- backward: dq ----------------------------------------------------- */

/* s_ij and dPd_ij of a thread's 16 pairs: rows A (q or its tile) and keys B
 * (k), rows C (dO) and D (v); row index = first + 16 u, column = second + 16 v. */
template <int HD>
__device__ void score_pairs(float s[kPer][kPer], float dp[kPer][kPer], const float *Qr, const float *Kc,
                            const float *dOr, const float *Vc, int first, int second)
{
    constexpr int LD = HD + 1;
    for (int u = 0; u < kPer; u++)
        for (int v = 0; v < kPer; v++)
            s[u][v] = dp[u][v] = 0.0f;
    for (int d = 0; d < HD; d++) {
        float qv[kPer], kv[kPer], ov[kPer], vv[kPer];
        for (int u = 0; u < kPer; u++) {
            qv[u] = Qr[(first + 16 * u) * LD + d];
            ov[u] = dOr[(first + 16 * u) * LD + d];
        }
        for (int v = 0; v < kPer; v++) {
            kv[v] = Kc[(second + 16 * v) * LD + d];
            vv[v] = Vc[(second + 16 * v) * LD + d];
        }
        for (int u = 0; u < kPer; u++)
            for (int v = 0; v < kPer; v++) {
                s[u][v] = fmaf(qv[u], kv[v], s[u][v]);
                dp[u][v] = fmaf(ov[u], vv[v], dp[u][v]);
            }
    }
}

template <int HD>
__global__ void __launch_bounds__(kThreads) dq_tiled_kernel(repro_attn_args a)
{
    constexpr int LD = HD + 1, NV = HD / 16;
    extern __shared__ float smem[];
    float *Qs = smem, *dOs = Qs + kTile * LD, *Ks = dOs + kTile * LD, *Vs = Ks + kTile * LD;
    float *DSs = Vs + kTile * LD;
    __shared__ int kmask[kTile];

    const int t = threadIdx.x, tr = t / 16, tc = t % 16;
    const tile_pos tp = tile_of(a);
    const int64_t b = tp.b, h = tp.h, q0 = tp.t0, T = a.T;
    load_tile<HD>(Qs, qkv_rows(a, b, h, q0, 0), qkv_stride(a), T - q0);
    load_tile<HD>(dOs, a.dout + out_at(a, b, h, q0), a.H * a.hd, T - q0);

    int64_t kend[kPer];
    float rm[kPer], rl[kPer], rdsum[kPer];
    for (int u = 0; u < kPer; u++) {
        int64_t i = q0 + tr + 16 * u;
        kend[u] = kend_of(a, b, i);
        rm[u] = rl[u] = rdsum[u] = 0.0f;
        if (i < T) {
            rm[u] = *repro_attn_stat(&a, b, h, i, 0);
            rl[u] = *repro_attn_stat(&a, b, h, i, 1);
            rdsum[u] = *repro_attn_stat(&a, b, h, i, 2);
        }
    }
    float acc[kPer][NV];
    for (int u = 0; u < kPer; u++)
        for (int v = 0; v < NV; v++)
            acc[u][v] = 0.0f;
    const float sd = a.keep ? 1.0f / (1.0f - a.p) : 1.0f;

    const int64_t kmax = a.causal ? (q0 + kTile < T ? q0 + kTile : T) : T;
    for (int64_t jb = 0; jb < kmax; jb += kTile) {
        __syncthreads();
        load_tile<HD>(Ks, qkv_rows(a, b, h, jb, 1), qkv_stride(a), T - jb);
        load_tile<HD>(Vs, qkv_rows(a, b, h, jb, 2), qkv_stride(a), T - jb);
        if (t < kTile)
            kmask[t] = jb + t >= T || repro_attn_masked(&a, b, jb + t);
        __syncthreads();

        float s[kPer][kPer], dp[kPer][kPer];
        score_pairs<HD>(s, dp, Qs, Ks, dOs, Vs, tr, tc);
        for (int u = 0; u < kPer; u++)
            for (int v = 0; v < kPer; v++) {
                int c = tc + 16 * v;
                int64_t i = q0 + tr + 16 * u, j = jb + c;
                if (j >= kend[u] || kmask[c])
                    continue;
                int kept = a.keep ? a.keep[repro_attn_keep_at(&a, b, h, i, j)] : 1;
                float pd;
                DSs[(tr + 16 * u) * kPairLd + c] =
                    repro_attn_ds_from(rm[u], rl[u], rdsum[u], a.keep != NULL, kept, sd, s[u][v] * a.scale, dp[u][v], &pd);
            }
        __syncthreads();

        for (int c = 0; c < kTile; c++) {
            if (kmask[c])
                continue;
            float kv[NV];
            for (int v = 0; v < NV; v++)
                kv[v] = Ks[c * LD + tc + 16 * v];
            for (int u = 0; u < kPer; u++) {
                if (jb + c >= kend[u])
                    continue;
                float ds = DSs[(tr + 16 * u) * kPairLd + c];
                for (int v = 0; v < NV; v++)
                    acc[u][v] = fmaf(ds, kv[v], acc[u][v]);
            }
        }
    }
    for (int u = 0; u < kPer; u++) {
        int64_t i = q0 + tr + 16 * u;
        if (i >= T)
            continue;
        float *dq = a.dqkv + ((b * T + i) * 3 + 0) * a.H * a.hd + h * a.hd;
        for (int v = 0; v < NV; v++)
            dq[tc + 16 * v] = acc[u][v] * a.scale;
    }
}

/* ---- backward: dk, dv ------------------------------------------------- */

template <int HD>
__global__ void __launch_bounds__(kThreads) dkv_tiled_kernel(repro_attn_args a)
{
    constexpr int LD = HD + 1, NV = HD / 16;
    extern __shared__ float smem[];
    float *Ks = smem, *Vs = Ks + kTile * LD, *Qs = Vs + kTile * LD, *dOs = Qs + kTile * LD;
    float *DSs = dOs + kTile * LD, *PDs = DSs + kTile * kPairLd; /* [key][query] */
    __shared__ float qm[kTile], ql[kTile], qdsum[kTile];
    __shared__ int64_t qkend[kTile];

    const int t = threadIdx.x, tk = t / 16, tq = t % 16;
    const tile_pos tp = tile_of(a);
    const int64_t b = tp.b, h = tp.h, j0 = tp.t0, T = a.T;
    load_tile<HD>(Ks, qkv_rows(a, b, h, j0, 1), qkv_stride(a), T - j0);
    load_tile<HD>(Vs, qkv_rows(a, b, h, j0, 2), qkv_stride(a), T - j0);

    int jmasked[kPer]; /* this thread's keys tk + 16 u: masked or past T (no pair, dk = dv = 0) */
    for (int u = 0; u < kPer; u++) {
        int64_t j = j0 + tk + 16 * u;
        jmasked[u] = j >= T || repro_attn_masked(&a, b, j);
    }
    float ak[kPer][NV], av[kPer][NV];
    for (int u = 0; u < kPer; u++)
        for (int v = 0; v < NV; v++)
            ak[u][v] = av[u][v] = 0.0f;
    const float sd = a.keep ? 1.0f / (1.0f - a.p) : 1.0f;

    for (int64_t ib = a.causal ? j0 : 0; ib < T; ib += kTile) {
        __syncthreads();
        load_tile<HD>(Qs, qkv_rows(a, b, h, ib, 0), qkv_stride(a), T - ib);
        load_tile<HD>(dOs, a.dout + out_at(a, b, h, ib), a.H * a.hd, T - ib);
        if (t < kTile) {
            int64_t i = ib + t;
            qkend[t] = kend_of(a, b, i);
            if (i < T) {
                qm[t] = *repro_attn_stat(&a, b, h, i, 0);
                ql[t] = *repro_attn_stat(&a, b, h, i, 1);
                qdsum[t] = *repro_attn_stat(&a, b, h, i, 2);
            }
        }
        __syncthreads();

        /* pairs (query tq + 16 v, key tk + 16 u): s[v][u] and dp[v][u] */
        float s[kPer][kPer], dp[kPer][kPer];
        score_pairs<HD>(s, dp, Qs, Ks, dOs, Vs, tq, tk);
        for (int v = 0; v < kPer; v++)
            for (int u = 0; u < kPer; u++) {
                int q = tq + 16 * v, c = tk + 16 * u;
                int64_t i = ib + q, j = j0 + c;
                if (jmasked[u] || j >= qkend[q])
                    continue;
                int kept = a.keep ? a.keep[repro_attn_keep_at(&a, b, h, i, j)] : 1;
                float pd;
                DSs[c * kPairLd + q] =
                    repro_attn_ds_from(qm[q], ql[q], qdsum[q], a.keep != NULL, kept, sd, s[v][u] * a.scale, dp[v][u], &pd);
                PDs[c * kPairLd + q] = pd;
            }
        __syncthreads();

        for (int q = 0; q < kTile; q++) {
            float qv[NV], ov[NV];
            for (int v = 0; v < NV; v++) {
                qv[v] = Qs[q * LD + tq + 16 * v];
                ov[v] = dOs[q * LD + tq + 16 * v];
            }
            for (int u = 0; u < kPer; u++) {
                if (jmasked[u] || j0 + tk + 16 * u >= qkend[q])
                    continue;
                float ds = DSs[(tk + 16 * u) * kPairLd + q], pd = PDs[(tk + 16 * u) * kPairLd + q];
                for (int v = 0; v < NV; v++) {
                    ak[u][v] = fmaf(ds, qv[v], ak[u][v]);
                    av[u][v] = fmaf(pd, ov[v], av[u][v]);
                }
            }
        }
    }
    for (int u = 0; u < kPer; u++) {
        int64_t j = j0 + tk + 16 * u;
        if (j >= T)
            continue;
        float *dk = a.dqkv + ((b * T + j) * 3 + 1) * a.H * a.hd + h * a.hd;
        float *dv = a.dqkv + ((b * T + j) * 3 + 2) * a.H * a.hd + h * a.hd;
        for (int v = 0; v < NV; v++) {
            dk[tq + 16 * v] = ak[u][v] * a.scale;
            dv[tq + 16 * v] = av[u][v];
        }
    }
}

/* ---- launches --------------------------------------------------------- */

/* Shared memory of each kernel: its [64][HD + 1] tiles and [64][65] pair tiles. */
size_t tile_bytes(int hd, int tiles, int pair_tiles)
{
    return ((size_t)tiles * kTile * (hd + 1) + (size_t)pair_tiles * kTile * kPairLd) * sizeof(float);
}

template <typename K>
repro_status launch(K kernel, const repro_attn_args *a, size_t smem, repro_cuda_stream s, const char *what,
                    repro_error *err)
{
    int64_t blocks = a->B * a->H * ((a->T + kTile - 1) / kTile);
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess)
        return repro_fail(err, REPRO_ERR_INTERNAL, "CUDA %s: %s (%s)", what, cudaGetErrorString(e),
                          cudaGetErrorName(e));
    kernel<<<(unsigned)blocks, kThreads, smem, repro_cuda_s(s)>>>(*a);
    return repro_cuda_check(what, err);
}

template <int HD>
repro_status forward_hd(const repro_attn_args *a, repro_cuda_stream s, repro_error *err)
{
    return launch(forward_tiled_kernel<HD>, a, tile_bytes(HD, 3, a->keep ? 2 : 1), s, "attention forward (tiled)",
                  err);
}

template <int HD>
repro_status backward_hd(const repro_attn_args *a, repro_cuda_stream s, repro_error *err)
{
    repro_status st = launch(dq_tiled_kernel<HD>, a, tile_bytes(HD, 4, 1), s, "attention backward (dq, tiled)", err);
    if (st != REPRO_OK)
        return st;
    return launch(dkv_tiled_kernel<HD>, a, tile_bytes(HD, 4, 2), s, "attention backward (dk, dv, tiled)", err);
}

} // namespace

extern "C" {

int repro_cuda_attention_tiled_fits(const repro_attn_args *a)
{
    int64_t blocks = a->B * a->H * ((a->T + kTile - 1) / kTile);
    return (a->hd == 16 || a->hd == 32 || a->hd == 64 || a->hd == 128) && blocks >= 1 && blocks <= INT32_MAX;
}

repro_status repro_cuda_attention_forward_tiled(const repro_attn_args *a, repro_cuda_stream s, repro_error *err)
{
    switch (a->hd) {
    case 16: return forward_hd<16>(a, s, err);
    case 32: return forward_hd<32>(a, s, err);
    case 64: return forward_hd<64>(a, s, err);
    case 128: return forward_hd<128>(a, s, err);
    default: return repro_fail(err, REPRO_ERR_INTERNAL, "attention: no tiled kernel for head_dim %lld", (long long)a->hd);
    }
}

repro_status repro_cuda_attention_backward_tiled(const repro_attn_args *a, repro_cuda_stream s, repro_error *err)
{
    switch (a->hd) {
    case 16: return backward_hd<16>(a, s, err);
    case 32: return backward_hd<32>(a, s, err);
    case 64: return backward_hd<64>(a, s, err);
    case 128: return backward_hd<128>(a, s, err);
    default: return repro_fail(err, REPRO_ERR_INTERNAL, "attention: no tiled kernel for head_dim %lld", (long long)a->hd);
    }
}

} /* extern "C" */
