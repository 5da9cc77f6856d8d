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
 *     REPRO_ATTN_BLOCK keys (the block size is part of the contract); a
 *     block's max is the row's scan (`s > mb ? s : mb`, keys ascending):
 *     each of 16 lanes scans its keys ascending and the lanes' picks are
 *     combined keeping the larger and, of equal ones, the lower key, which
 *     is the scan's own pick (equal scores can differ only as +0 and -0);
 *     the sum l is the row's sequential scan, run by one thread a row;
 *   - every output value (o, dq, dk, dv) is one chain owned by one thread
 *     over the other side's keys or queries in ascending order, tile after
 *     tile, skipping the pairs the row function skips (masked keys, keys
 *     past a row's end, padded queries) rather than adding zeros;
 *   - dS and Pd come from repro_attn_ds_from, the row functions' own text.
 * No sum is split, no atomics are used, and the tile shapes do not depend
 * on the batch or the device.
 *
 * Thread layouts. A score phase (pairs of a row tile and a column tile):
 * thread t owns rows t / 16 + 16 u and columns t % 16 + 16 v (u, v < 4),
 * 16 chains, reading both tiles 4 values of d at a time (float4). An output
 * phase: thread t owns rows 4 (t / 16) + u (u < 4) and the values
 * d = NV (t % 16) + v (v < NV = HD / 16), reading 4 rows' weights as one
 * float4 and its NV values of the other side's row as vectors. Row tiles
 * have a stride of HD + 4 floats: 16-byte rows whose float4 reads by 16
 * different rows fall in different banks. The pair tiles (p, dS, Pd) are
 * stored with the output phase's rows contiguous: [column][row] for the
 * forward and dq, [query][key] for dk and dv.
 *
 * A tile where every pair is live (no masked key, every row sees every
 * key: all tiles but the causal diagonal and the sequence's ragged end,
 * when nothing is padded) runs the same chains without the per-pair tests. */
#include "ops/cuda/attention_tiled.cuh"
#include "ops/cuda/cuda_util.cuh"

namespace {

constexpr int kTile = REPRO_ATTN_BLOCK; /* queries and keys a tile */
constexpr int kThreads = 256;
constexpr int kPer = kTile / 16; /* rows (and columns) a thread owns in a score phase */
constexpr int kPairLd = kTile + 4; /* stride of the [64][64] pair tiles (16-byte rows) */
static_assert(kTile == 64, "the thread layout assumes tiles of 64");

/* Rows [t0, t0 + 64) of a [T][row_stride] matrix whose row t0 starts at
 * `base`, into s[64][HD + 4]; zeros for rows past T. float4 loads when the
 * rows are 16-byte aligned (row_stride is a multiple of 4). */
template <int HD>
__device__ void load_tile(float *s, const float *base, int64_t row_stride, int64_t rows_left)
{
    constexpr int LD = HD + 4, Q = HD / 4;
    if (((uintptr_t)base & 15) == 0) {
        for (int idx = threadIdx.x; idx < kTile * Q; idx += kThreads) {
            int r = idx / Q, d = idx % Q * 4;
            float4 x = r < rows_left ? *reinterpret_cast<const float4 *>(base + r * row_stride + d)
                                     : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            *reinterpret_cast<float4 *>(s + r * LD + d) = x;
        }
        return;
    }
    for (int idx = threadIdx.x; idx < kTile * HD; idx += kThreads) {
        int r = idx / HD, d = idx % HD;
        s[r * LD + d] = r < rows_left ? base[r * row_stride + d] : 0.0f;
    }
}

/* N contiguous floats of shared memory (aligned to their size up to 16 bytes). */
template <int N>
__device__ __forceinline__ void load_vec(float (&dst)[N], const float *p)
{
    if constexpr (N % 4 == 0) {
#pragma unroll
        for (int i = 0; i < N; i += 4) {
            float4 x = *reinterpret_cast<const float4 *>(p + i);
            dst[i] = x.x, dst[i + 1] = x.y, dst[i + 2] = x.z, dst[i + 3] = x.w;
        }
    } else if constexpr (N == 2) {
        float2 x = *reinterpret_cast<const float2 *>(p);
        dst[0] = x.x, dst[1] = x.y;
    } else {
        dst[0] = p[0];
    }
}

__device__ __forceinline__ void load4(float (&dst)[4], const float *p)
{
    load_vec<4>(dst, p);
}

/* acc[u][v] = the chain over d ascending of fmaf(A[ra + 16 u][d], B[rb + 16 v][d], .)
 * from +0, for two row tiles [64][HD + 4]: the score phase's 16 dots. */
template <int HD>
__device__ __forceinline__ void dots(float (&acc)[kPer][kPer], const float *A, int ra, const float *B, int rb)
{
    constexpr int LD = HD + 4;
#pragma unroll
    for (int u = 0; u < kPer; u++)
#pragma unroll
        for (int v = 0; v < kPer; v++)
            acc[u][v] = 0.0f;
#pragma unroll 1
    for (int d = 0; d < HD; d += 4) {
        float a[kPer][4], b[kPer][4];
#pragma unroll
        for (int u = 0; u < kPer; u++)
            load4(a[u], A + (ra + 16 * u) * LD + d);
#pragma unroll
        for (int v = 0; v < kPer; v++)
            load4(b[v], B + (rb + 16 * v) * LD + d);
#pragma unroll
        for (int e = 0; e < 4; e++)
#pragma unroll
            for (int u = 0; u < kPer; u++)
#pragma unroll
                for (int v = 0; v < kPer; v++)
                    acc[u][v] = fmaf(a[u][e], b[v][e], acc[u][v]);
    }
}

/* The output phase of the forward and of dq: acc[u][v] = fmaf(W[c][orow + u],
 * R[c][dcol + v], acc[u][v]) over the tile's columns c ascending, W a pair
 * tile ([column][row]) and R a row tile. Every pair when the tile is full;
 * else masked columns are skipped, and for each row the columns at or past
 * its end (jb + c >= okend[u]). */
template <int HD>
__device__ __forceinline__ void weighted_rows(float (&acc)[kPer][HD / 16], const float *W, const float *R, int orow,
                                              int dcol, int full, const int *kmask, int64_t jb,
                                              const int (&okend)[kPer])
{
    constexpr int LD = HD + 4, NV = HD / 16;
    if (full) {
#pragma unroll 4
        for (int c = 0; c < kTile; c++) {
            float w[4], r[NV];
            load4(w, W + c * kPairLd + orow);
            load_vec<NV>(r, R + c * LD + dcol);
#pragma unroll
            for (int u = 0; u < kPer; u++)
#pragma unroll
                for (int v = 0; v < NV; v++)
                    acc[u][v] = fmaf(w[u], r[v], acc[u][v]);
        }
        return;
    }
    for (int c = 0; c < kTile; c++) {
        if (kmask[c])
            continue;
        float w[4], r[NV];
        load4(w, W + c * kPairLd + orow);
        load_vec<NV>(r, R + c * LD + dcol);
#pragma unroll
        for (int u = 0; u < kPer; u++)
            if (jb + c < okend[u])
#pragma unroll
                for (int v = 0; v < NV; v++)
                    acc[u][v] = fmaf(w[u], r[v], acc[u][v]);
    }
}

/* The written scan's pick over a row's 64 columns spread over the 16 lanes
 * of a half-warp: each lane brings the first maximum of its own columns
 * (val from -inf, col = kTile when none); the larger wins, and of equal
 * values the lower column. Every lane of the half-warp gets the result. */
__device__ __forceinline__ float row_first_max(float val, int col)
{
#pragma unroll
    for (int off = 8; off >= 1; off >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, val, off);
        int oc = __shfl_xor_sync(0xffffffffu, col, off);
        if (ov > val || (ov == val && oc < col)) {
            val = ov;
            col = oc;
        }
    }
    return val;
}

/* Whether any lane of this thread's half-warp has `flag` set. */
__device__ __forceinline__ int half_warp_any(int flag)
{
    unsigned bits = __ballot_sync(0xffffffffu, flag);
    return ((bits >> (threadIdx.x & 16)) & 0xffffu) != 0;
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

/* The end of row i's keys, 0 for a padded query or a row past T (T <= 2^17). */
__device__ int kend_of(const repro_attn_args &a, int64_t b, int64_t i)
{
    return i < a.T ? (int)repro_attn_kend(&a, b, i) : 0;
}

/* Key j is no key at all: masked by kpm, or past T. */
__device__ int key_off(const repro_attn_args &a, int64_t b, int64_t j)
{
    return j >= a.T || repro_attn_masked(&a, b, j);
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
__global__ void __launch_bounds__(kThreads, 2) forward_tiled_kernel(repro_attn_args a)
{
    constexpr int LD = HD + 4, NV = HD / 16;
    extern __shared__ __align__(16) float smem[];
    float *Qs = smem, *Ks = Qs + kTile * LD, *Vs = Ks + kTile * LD;
    float *Ps = Vs + kTile * LD;                     /* p, [key][row] */
    float *PDs = a.keep ? Ps + kTile * kPairLd : Ps; /* p with dropout applied, [key][row] */
    __shared__ float row_c[kTile], row_l[kTile];
    __shared__ int row_any[kTile], kmask[kTile];

    const int t = threadIdx.x, tr = t / 16, tc = t % 16; /* score layout */
    const int orow = 4 * (t / 16), dcol = NV * (t % 16); /* output layout */
    const tile_pos tp = tile_of(a);
    const int64_t b = tp.b, h = tp.h, q0 = tp.t0, T = a.T;
    load_tile<HD>(Qs, qkv_rows(a, b, h, q0, 0), qkv_stride(a), T - q0);

    int kend[kPer], okend[kPer]; /* of the score rows tr + 16 u, of the output rows orow + u */
    float m[kPer];               /* the score rows' running max (every lane of the half-warp) */
#pragma unroll
    for (int u = 0; u < kPer; u++) {
        kend[u] = kend_of(a, b, q0 + tr + 16 * u);
        okend[u] = kend_of(a, b, q0 + orow + u);
        m[u] = -repro_math_inff();
    }
    const int my_kend = t < kTile ? kend_of(a, b, q0 + t) : 0; /* a row thread's own row t */
    float l = 0.0f;                                            /* row t's sum */
    float acc[kPer][NV];
#pragma unroll
    for (int u = 0; u < kPer; u++)
#pragma unroll
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
        int live = 1;
        if (t < kTile) {
            kmask[t] = key_off(a, b, jb + t);
            live = !kmask[t] && my_kend >= jb + kTile;
        }
        const int full = __syncthreads_and(live);

        /* scores: 16 chains a thread, d ascending */
        float s[kPer][kPer];
        dots<HD>(s, Qs, tr, Ks, tc);

        /* each row's block max (the scan's pick) and rescale */
        float mn[kPer];
#pragma unroll
        for (int u = 0; u < kPer; u++) {
            float mb = -repro_math_inff();
            int col = kTile, has = 0;
#pragma unroll
            for (int v = 0; v < kPer; v++) {
                const int c = tc + 16 * v;
                s[u][v] = s[u][v] * a.scale;
                if (full || (jb + c < kend[u] && !kmask[c])) {
                    has = 1;
                    if (s[u][v] > mb)
                        mb = s[u][v], col = c;
                }
            }
            mb = row_first_max(mb, col);
            const int any = full || half_warp_any(has);
            mn[u] = mb > m[u] ? mb : m[u];
            if (tc == 0) {
                row_any[tr + 16 * u] = any;
                if (any)
                    row_c[tr + 16 * u] = repro_expf(m[u] - mn[u]);
            }
            if (any)
                m[u] = mn[u];
        }

        /* exponentials and dropout draws, each pair by its score's thread */
#pragma unroll
        for (int u = 0; u < kPer; u++)
#pragma unroll
            for (int v = 0; v < kPer; v++) {
                const int r = tr + 16 * u, c = tc + 16 * v;
                const int64_t i = q0 + r, j = jb + c;
                if (!full && (j >= kend[u] || kmask[c]))
                    continue;
                float p = repro_expf(s[u][v] - mn[u]);
                Ps[c * kPairLd + r] = p;
                if (a.keep) {
                    uint32_t c1 = (uint32_t)a.step, c2 = (uint32_t)(a.step >> 32);
                    int kp = repro_rng_uniform(key, a.sample_pos[b], c1, c2, ((uint64_t)i << 17) | (uint64_t)j) >= a.p;
                    a.keep[repro_attn_keep_at(&a, b, h, i, j)] = (uint8_t)kp;
                    PDs[c * kPairLd + r] = kp ? p * sd : 0.0f;
                }
            }
        __syncthreads();

        /* l's chain, one thread a row, keys ascending */
        if (t < kTile && row_any[t]) {
            l = l * row_c[t];
            if (full) {
#pragma unroll 8
                for (int c = 0; c < kTile; c++)
                    l = l + Ps[c * kPairLd + t];
            } else {
                for (int c = 0; c < kTile; c++)
                    if (jb + c < my_kend && !kmask[c])
                        l = l + Ps[c * kPairLd + t];
            }
        }
        /* the outputs' chains: rescale, then the block's keys ascending */
#pragma unroll
        for (int u = 0; u < kPer; u++)
            if (row_any[orow + u])
#pragma unroll
                for (int v = 0; v < NV; v++)
                    acc[u][v] = acc[u][v] * row_c[orow + u];
        weighted_rows<HD>(acc, PDs, Vs, orow, dcol, full, kmask, jb, okend);
    }

    if (tc == 0)
#pragma unroll
        for (int u = 0; u < kPer; u++)
            if (q0 + tr + 16 * u < T)
                *repro_attn_stat(&a, b, h, q0 + tr + 16 * u, 0) = m[u];
    if (t < kTile) {
        row_l[t] = l;
        if (q0 + t < T)
            *repro_attn_stat(&a, b, h, q0 + t, 1) = l;
    }
    __syncthreads();
#pragma unroll
    for (int u = 0; u < kPer; u++) {
        const int r = orow + u;
        if (q0 + r >= T)
            continue;
        float lr = row_l[r], *o = a.o + out_at(a, b, h, q0 + r) + dcol;
#pragma unroll
        for (int v = 0; v < NV; v++)
            o[v] = lr > 0.0f ? acc[u][v] / lr : 0.0f;
    }
}

/* ---- backward: dq ----------------------------------------------------- */

template <int HD>
__global__ void __launch_bounds__(kThreads, 2) dq_tiled_kernel(repro_attn_args a)
{
    constexpr int LD = HD + 4, NV = HD / 16;
    extern __shared__ __align__(16) float smem[];
    float *Qs = smem, *dOs = Qs + kTile * LD, *Ks = dOs + kTile * LD, *Vs = Ks + kTile * LD;
    float *DSs = Vs + kTile * LD; /* dS, [key][row] */
    __shared__ int kmask[kTile];

    const int t = threadIdx.x, tr = t / 16, tc = t % 16;
    const int orow = 4 * (t / 16), dcol = NV * (t % 16);
    const tile_pos tp = tile_of(a);
    const int64_t b = tp.b, h = tp.h, q0 = tp.t0, T = a.T;
    load_tile<HD>(Qs, qkv_rows(a, b, h, q0, 0), qkv_stride(a), T - q0);
    load_tile<HD>(dOs, a.dout + out_at(a, b, h, q0), a.H * a.hd, T - q0);

    int kend[kPer], okend[kPer];
    float rm[kPer], rl[kPer], rdsum[kPer];
#pragma unroll
    for (int u = 0; u < kPer; u++) {
        int64_t i = q0 + tr + 16 * u;
        kend[u] = kend_of(a, b, i);
        okend[u] = kend_of(a, b, q0 + orow + u);
        rm[u] = rl[u] = rdsum[u] = 0.0f;
        if (i < T) {
            rm[u] = *repro_attn_stat(&a, b, h, i, 0);
            rl[u] = *repro_attn_stat(&a, b, h, i, 1);
            rdsum[u] = *repro_attn_stat(&a, b, h, i, 2);
        }
    }
    const int my_kend = t < kTile ? kend_of(a, b, q0 + t) : 0;
    float acc[kPer][NV];
#pragma unroll
    for (int u = 0; u < kPer; u++)
#pragma unroll
        for (int v = 0; v < NV; v++)
            acc[u][v] = 0.0f;
    const float sd = a.keep ? 1.0f / (1.0f - a.p) : 1.0f;

    const int64_t kmax = a.causal ? (q0 + kTile < T ? q0 + kTile : T) : T;
    for (int64_t jb = 0; jb < kmax; jb += kTile) {
        __syncthreads();
        load_tile<HD>(Ks, qkv_rows(a, b, h, jb, 1), qkv_stride(a), T - jb);
        load_tile<HD>(Vs, qkv_rows(a, b, h, jb, 2), qkv_stride(a), T - jb);
        int live = 1;
        if (t < kTile) {
            kmask[t] = key_off(a, b, jb + t);
            live = !kmask[t] && my_kend >= jb + kTile;
        }
        const int full = __syncthreads_and(live);

        float s[kPer][kPer], dp[kPer][kPer];
        dots<HD>(s, Qs, tr, Ks, tc);
        dots<HD>(dp, dOs, tr, Vs, tc);
#pragma unroll
        for (int u = 0; u < kPer; u++)
#pragma unroll
            for (int v = 0; v < kPer; v++) {
                const int r = tr + 16 * u, c = tc + 16 * v;
                const int64_t i = q0 + r, j = jb + c;
                if (!full && (j >= kend[u] || kmask[c]))
                    continue;
                int kept = a.keep ? a.keep[repro_attn_keep_at(&a, b, h, i, j)] : 1;
                float pd;
                DSs[c * kPairLd + r] =
                    repro_attn_ds_from(rm[u], rl[u], rdsum[u], a.keep != NULL, kept, sd, s[u][v] * a.scale, dp[u][v], &pd);
            }
        __syncthreads();

        weighted_rows<HD>(acc, DSs, Ks, orow, dcol, full, kmask, jb, okend);
    }
#pragma unroll
    for (int u = 0; u < kPer; u++) {
        int64_t i = q0 + orow + u;
        if (i >= T)
            continue;
        float *dq = a.dqkv + ((b * T + i) * 3 + 0) * a.H * a.hd + h * a.hd + dcol;
#pragma unroll
        for (int v = 0; v < NV; v++)
            dq[v] = acc[u][v] * a.scale;
    }
}

/* ---- backward: dk, dv ------------------------------------------------- */

template <int HD>
__global__ void __launch_bounds__(kThreads, 2) dkv_tiled_kernel(repro_attn_args a)
{
    constexpr int LD = HD + 4, NV = HD / 16;
    extern __shared__ __align__(16) float smem[];
    float *Ks = smem, *Vs = Ks + kTile * LD, *Qs = Vs + kTile * LD, *dOs = Qs + kTile * LD;
    float *DSs = dOs + kTile * LD, *PDs = DSs + kTile * kPairLd; /* [query][key] */
    __shared__ float qm[kTile], ql[kTile], qdsum[kTile];
    __shared__ int qkend[kTile];

    const int t = threadIdx.x, tk = t / 16, tq = t % 16; /* score layout: keys tk + 16 u, queries tq + 16 v */
    const int okey = 4 * (t / 16), dcol = NV * (t % 16);
    const tile_pos tp = tile_of(a);
    const int64_t b = tp.b, h = tp.h, j0 = tp.t0, T = a.T;
    load_tile<HD>(Ks, qkv_rows(a, b, h, j0, 1), qkv_stride(a), T - j0);
    load_tile<HD>(Vs, qkv_rows(a, b, h, j0, 2), qkv_stride(a), T - j0);

    int jmasked[kPer], ojmasked[kPer]; /* keys tk + 16 u, okey + u: masked or past T (dk = dv = 0) */
#pragma unroll
    for (int u = 0; u < kPer; u++) {
        jmasked[u] = key_off(a, b, j0 + tk + 16 * u);
        ojmasked[u] = key_off(a, b, j0 + okey + u);
    }
    const int my_key_live = t < kTile && !key_off(a, b, j0 + t);
    float ak[kPer][NV], av[kPer][NV];
#pragma unroll
    for (int u = 0; u < kPer; u++)
#pragma unroll
        for (int v = 0; v < NV; v++)
            ak[u][v] = av[u][v] = 0.0f;
    const float sd = a.keep ? 1.0f / (1.0f - a.p) : 1.0f;

    for (int64_t ib = a.causal ? j0 : 0; ib < T; ib += kTile) {
        __syncthreads();
        load_tile<HD>(Qs, qkv_rows(a, b, h, ib, 0), qkv_stride(a), T - ib);
        load_tile<HD>(dOs, a.dout + out_at(a, b, h, ib), a.H * a.hd, T - ib);
        int live = 1;
        if (t < kTile) {
            int64_t i = ib + t;
            qkend[t] = kend_of(a, b, i);
            if (i < T) {
                qm[t] = *repro_attn_stat(&a, b, h, i, 0);
                ql[t] = *repro_attn_stat(&a, b, h, i, 1);
                qdsum[t] = *repro_attn_stat(&a, b, h, i, 2);
            }
            live = my_key_live && qkend[t] >= j0 + kTile; /* key j0 + t, query ib + t */
        }
        const int full = __syncthreads_and(live);

        /* pairs (key tk + 16 u, query tq + 16 v): s[u][v] and dp[u][v] */
        float s[kPer][kPer], dp[kPer][kPer];
        dots<HD>(s, Ks, tk, Qs, tq);
        dots<HD>(dp, Vs, tk, dOs, tq);
#pragma unroll
        for (int u = 0; u < kPer; u++)
#pragma unroll
            for (int v = 0; v < kPer; v++) {
                const int q = tq + 16 * v, c = tk + 16 * u;
                const int64_t i = ib + q, j = j0 + c;
                if (!full && (jmasked[u] || j >= qkend[q]))
                    continue;
                int kept = a.keep ? a.keep[repro_attn_keep_at(&a, b, h, i, j)] : 1;
                float pd;
                DSs[q * kPairLd + c] =
                    repro_attn_ds_from(qm[q], ql[q], qdsum[q], a.keep != NULL, kept, sd, s[u][v] * a.scale, dp[u][v], &pd);
                PDs[q * kPairLd + c] = pd;
            }
        __syncthreads();

        if (full) {
#pragma unroll 2
            for (int q = 0; q < kTile; q++) {
                float ds[4], pd[4], qv[NV], ov[NV];
                load4(ds, DSs + q * kPairLd + okey);
                load4(pd, PDs + q * kPairLd + okey);
                load_vec<NV>(qv, Qs + q * LD + dcol);
                load_vec<NV>(ov, dOs + q * LD + dcol);
#pragma unroll
                for (int u = 0; u < kPer; u++)
#pragma unroll
                    for (int v = 0; v < NV; v++) {
                        ak[u][v] = fmaf(ds[u], qv[v], ak[u][v]);
                        av[u][v] = fmaf(pd[u], ov[v], av[u][v]);
                    }
            }
        } else {
            for (int q = 0; q < kTile; q++) {
                float ds[4], pd[4], qv[NV], ov[NV];
                load4(ds, DSs + q * kPairLd + okey);
                load4(pd, PDs + q * kPairLd + okey);
                load_vec<NV>(qv, Qs + q * LD + dcol);
                load_vec<NV>(ov, dOs + q * LD + dcol);
                const int qe = qkend[q];
#pragma unroll
                for (int u = 0; u < kPer; u++)
                    if (!ojmasked[u] && j0 + okey + u < qe)
#pragma unroll
                        for (int v = 0; v < NV; v++) {
                            ak[u][v] = fmaf(ds[u], qv[v], ak[u][v]);
                            av[u][v] = fmaf(pd[u], ov[v], av[u][v]);
                        }
            }
        }
    }
#pragma unroll
    for (int u = 0; u < kPer; u++) {
        int64_t j = j0 + okey + u;
        if (j >= T)
            continue;
        float *dk = a.dqkv + ((b * T + j) * 3 + 1) * a.H * a.hd + h * a.hd + dcol;
        float *dv = a.dqkv + ((b * T + j) * 3 + 2) * a.H * a.hd + h * a.hd + dcol;
#pragma unroll
        for (int v = 0; v < NV; v++) {
            dk[v] = ak[u][v] * a.scale;
            dv[v] = av[u][v];
        }
    }
}

/* ---- launches --------------------------------------------------------- */

/* Shared memory of each kernel: its [64][HD + 4] row tiles and [64][68] pair tiles. */
size_t tile_bytes(int hd, int tiles, int pair_tiles)
{
    return ((size_t)tiles * kTile * (hd + 4) + (size_t)pair_tiles * kTile * kPairLd) * sizeof(float);
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
