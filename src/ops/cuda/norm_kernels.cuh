/* The device side of batch norm and group norm (internal to batchnorm.cu
 * and groupnorm.cu); the order is src/ops/cpu/norm.h's, the arithmetic the
 * text of src/ops/ops_math.h and src/ops/reduce.h.
 *
 * A "pair" is one (mean, rstd): a batch-norm (group g, channel c) or a
 * group-norm (sample n, group g). Its cnt values are `runs` runs of HW
 * contiguous values, `stride` apart, run q holding channel c0 + q * cstep
 * (src/ops/cpu/norm_seq.h's norm_seq): value i of the pair's sequence is
 * run i / HW, offset i % HW.
 *
 * Statistics and dx: a team of W threads (W = 32, 64, 128 or 256, a
 * power of two fixed per launch from cnt) per pair. The canonical sum's
 * shape is fixed (blocks of 1024, 8 lanes striding each, the lane combine,
 * the pairwise tree over blocks), so the team computes it cooperatively
 * without changing a single addition: thread t takes lane t of the current
 * chunk of W lanes (lane l = block l / 8, lane l % 8: the same elements in
 * the same order as the reference lane), W / 8 threads combine the chunk's
 * lanes into block sums, and the team's first thread feeds them to a
 * resumable walk of the block tree (repro_cuda_canon_walker); when all the
 * blocks fit one chunk (cnt <= 128 W) the team's first warp adds them up
 * the tree level by level instead (repro_cuda_canon_tree_warp). Then every
 * thread writes y or dx for values t, t + W, ... Every pair has the same
 * cnt, so all teams of a block run the same loops and __syncthreads is
 * reached uniformly; teams past the last pair just follow along.
 *
 * dgamma, dbeta: one sequential chain per channel over (n, hw) ascending
 * is the contract, so the parallelism is across channels: a block per
 * channel, eight warps loading the next tile of (dy, xhat) into shared
 * memory (all of a lane's loads in flight at once) while the first thread
 * runs the chain over the current one (double buffering), so the chain
 * runs near the fmaf's latency. */
#ifndef REPRO_OPS_CUDA_NORM_KERNELS_CUH
#define REPRO_OPS_CUDA_NORM_KERNELS_CUH

#include <stdint.h>

#include "ops/cuda/canon_tree.cuh"
#include "ops/ops_math.h"
#include "ops/reduce.h"

#define REPRO_NORM_THREADS 256 /* threads per block of the team kernels */
#define REPRO_NORM_CHAIN_TILE 2048 /* values per tile of the dgamma/dbeta chain */
#define REPRO_NORM_BATCH 8 /* values a thread loads before it uses the first (a lane's sum, y, dx) */

/* The pairs of one launch. Batch norm: pair t = g * C + c, runs = group
 * samples, stride C * HW. Group norm: pair t = n * groups + g, runs = C /
 * groups channels, stride HW. */
struct repro_norm_shape {
    int64_t pairs, cnt;   /* pairs, values per pair (runs * HW) */
    int64_t C, HW, runs, stride;
    int64_t per;          /* pairs per batch-norm group (C) or per group-norm sample (groups) */
    int bn;               /* 1: batch norm, 0: group norm */
};

/* Where pair t's values start and which channels its runs hold. */
struct repro_norm_pair {
    int64_t base, c0, cstep;
};

__device__ inline repro_norm_pair repro_norm_pair_of(const repro_norm_shape &s, int64_t t)
{
    int64_t a = t / s.per, b = t % s.per;
    repro_norm_pair p;
    if (s.bn) { /* a = group g, b = channel c */
        p.base = (a * s.runs * s.C + b) * s.HW;
        p.c0 = b;
        p.cstep = 0;
    } else { /* a = sample n, b = group g */
        p.base = (a * s.C + b * s.runs) * s.HW;
        p.c0 = b * s.runs;
        p.cstep = 1;
    }
    return p;
}

/* A position in a pair's sequence: run q, offset off in it; steps of a
 * fixed size d = dq * HW + doff move it without a division. */
struct repro_norm_cursor {
    int64_t q, off;
    __device__ void at(int64_t i, int64_t hw)
    {
        q = i / hw;
        off = i % hw;
    }
    __device__ void step(int64_t dq, int64_t doff, int64_t hw)
    {
        off += doff;
        q += dq;
        if (off >= hw) {
            off -= hw;
            q++;
        }
    }
    __device__ int64_t pos(int64_t stride) const { return q * stride + off; }
};

/* ---- the elements of the sums (each the exact formula of its CPU twin) ---- */

/* e = element kind K of reduce.h at offset p: the CPU's own text
 * (REPRO_CANON_X for the mean, REPRO_CANON_CENTRED_SQ for the variance). */
template <repro_canon_kind K>
struct repro_norm_elem_canon {
    repro_canon_src src;
    __device__ void operator()(int64_t, int64_t p, float *e) const { e[0] = repro_canon_elem_at(&src, K, p); }
};

/* dxhat = dy * gamma[c]; e0 = dxhat (REPRO_CANON_X over the CPU's dxhat
 * scratch); e1 = dxhat * ((x - mean) * rstd) (REPRO_CANON_Y_XHAT). */
struct repro_norm_elem_bwd {
    const float *x, *dy, *gamma;
    int64_t c0, cstep;
    float mean, rstd;
    __device__ void operator()(int64_t q, int64_t p, float *e) const
    {
        float dxhat = dy[p] * gamma[c0 + q * cstep];
        float xhat = (x[p] - mean) * rstd;
        e[0] = dxhat;
        e[1] = dxhat * xhat;
    }
};

/* ---- the team's canonical sum ---- */

template <int W, int NS>
struct repro_norm_team_smem {
    enum { TEAMS = REPRO_NORM_THREADS / W, BLOCKS = REPRO_NORM_THREADS / 8 };
    float lanes[NS][REPRO_NORM_THREADS];  /* team k's lanes at [k * W, k * W + W) */
    float blocks[NS][BLOCKS];             /* team k's block sums at [k * W / 8, ...) */
    float result[NS][TEAMS];
    /* a team of 256 may walk any tree; a smaller one has m <= W / 8 blocks */
    repro_cuda_canon_walker<NS, W == REPRO_NORM_THREADS ? 66 : 8> walker[TEAMS];
};

/* The NS canonical sums of a pair's cnt values, e = elem(q, p), into
 * out[NS] (every thread of the team gets them). Called by every thread of
 * the block, the same number of times (see the top of this file). */
template <int W, int NS, typename Elem>
__device__ void repro_norm_team_sum(const repro_norm_shape &s, bool active, const Elem &elem,
                                    repro_norm_team_smem<W, NS> &sm, int team, int t, float *out)
{
    const int64_t m = repro_canon_blocks(s.cnt), L = m * REPRO_CANON_LANES;
    const int64_t q8 = REPRO_CANON_LANES / s.HW, r8 = REPRO_CANON_LANES % s.HW; /* a lane's step */
    if (t == 0)
        sm.walker[team].start(m);
    for (int64_t chunk = 0; chunk < L; chunk += W) {
        float acc[NS];
        for (int k = 0; k < NS; k++)
            acc[k] = +0.0f;
        int64_t lane = chunk + t;
        if (active && lane < L) {
            /* lane j of block b: ((+0 + e[s+j]) + e[s+j+8]) + ..., s = 1024 b */
            int64_t b = lane / REPRO_CANON_LANES, i = b * REPRO_CANON_BLOCK + lane % REPRO_CANON_LANES;
            int64_t end = s.cnt - b * REPRO_CANON_BLOCK < REPRO_CANON_BLOCK ? s.cnt : (b + 1) * REPRO_CANON_BLOCK;
            repro_norm_cursor cur;
            cur.at(i, s.HW);
            /* REPRO_NORM_BATCH values' loads in flight before their adds
             * (in the same order), not one memory latency a value */
            for (; i + (REPRO_NORM_BATCH - 1) * REPRO_CANON_LANES < end; i += REPRO_NORM_BATCH * REPRO_CANON_LANES) {
                float e[REPRO_NORM_BATCH][NS];
#pragma unroll
                for (int u = 0; u < REPRO_NORM_BATCH; u++) {
                    elem(cur.q, cur.pos(s.stride), e[u]);
                    cur.step(q8, r8, s.HW);
                }
#pragma unroll
                for (int u = 0; u < REPRO_NORM_BATCH; u++)
                    for (int k = 0; k < NS; k++)
                        acc[k] = acc[k] + e[u][k];
            }
            for (; i < end; i += REPRO_CANON_LANES) {
                float e[NS];
                elem(cur.q, cur.pos(s.stride), e);
                for (int k = 0; k < NS; k++)
                    acc[k] = acc[k] + e[k];
                cur.step(q8, r8, s.HW);
            }
        }
        for (int k = 0; k < NS; k++)
            sm.lanes[k][team * W + t] = acc[k];
        __syncthreads();
        if (t < W / REPRO_CANON_LANES)
            for (int k = 0; k < NS; k++) {
                const float *l = &sm.lanes[k][team * W + t * REPRO_CANON_LANES];
                sm.blocks[k][team * (W / REPRO_CANON_LANES) + t] =
                    ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
            }
        __syncthreads();
        /* The next chunk rewrites lanes only after this barrier and blocks
         * only after the next one, which thread 0 reaches after feeding.
         * When every block is in this one chunk, the team's first warp
         * adds them up the tree instead (canon_tree.cuh). */
        if (m <= W / REPRO_CANON_LANES) {
            if (t < 32) {
                float *b = &sm.blocks[0][team * (W / REPRO_CANON_LANES)];
                repro_cuda_canon_tree_warp<NS>(b, repro_norm_team_smem<W, NS>::BLOCKS, (int)m, t);
                if (t == 0)
                    for (int k = 0; k < NS; k++)
                        sm.walker[team].ret[k] = b[k * repro_norm_team_smem<W, NS>::BLOCKS];
            }
        } else if (t == 0 && active) {
            int64_t lo = chunk / REPRO_CANON_LANES, hi = lo + W / REPRO_CANON_LANES;
            sm.walker[team].feed(lo, hi < m ? hi : m, &sm.blocks[0][team * (W / REPRO_CANON_LANES)],
                                 repro_norm_team_smem<W, NS>::BLOCKS);
        }
    }
    if (t == 0)
        for (int k = 0; k < NS; k++)
            sm.result[k][team] = sm.walker[team].ret[k];
    __syncthreads();
    for (int k = 0; k < NS; k++)
        out[k] = sm.result[k][team];
}

/* ---- kernels (each .cu that includes this gets its own copies) ---- */
namespace {


/* Every value of a pair that thread t of its team writes (t, t + W, ...),
 * REPRO_NORM_BATCH at a time: op.load(u, p, c) for each value u of the
 * batch (offset p, channel c) before any op.store(u, p), so the batch's
 * loads are in flight together rather than one memory latency a value.
 * The output may be an input: each value is read and written by one
 * thread, in that order. */
template <int W, typename Op>
__device__ __forceinline__ void repro_norm_each_value(const repro_norm_shape &s, const repro_norm_pair &pp, int t,
                                                      Op &op)
{
    const int64_t qW = W / s.HW, rW = W % s.HW;
    repro_norm_cursor cur;
    cur.at(t, s.HW);
    for (int64_t i = t; i < s.cnt; i += REPRO_NORM_BATCH * W) {
        int64_t p[REPRO_NORM_BATCH];
#pragma unroll
        for (int u = 0; u < REPRO_NORM_BATCH; u++) {
            p[u] = cur.pos(s.stride);
            if (i + u * W < s.cnt)
                op.load(u, p[u], pp.c0 + cur.q * pp.cstep);
            cur.step(qW, rW, s.HW);
        }
#pragma unroll
        for (int u = 0; u < REPRO_NORM_BATCH; u++)
            if (i + u * W < s.cnt)
                op.store(u, p[u]);
    }
}

/* y = repro_layernorm_f(x, mean, rstd, gamma[c], beta[c]) */
struct repro_norm_y_op {
    const float *x, *gamma, *beta;
    float *y;
    float mean, rstd;
    float xv[REPRO_NORM_BATCH], gv[REPRO_NORM_BATCH], bv[REPRO_NORM_BATCH];
    __device__ void load(int u, int64_t p, int64_t c)
    {
        xv[u] = x[p];
        gv[u] = gamma[c];
        bv[u] = beta[c];
    }
    __device__ void store(int u, int64_t p) { y[p] = repro_layernorm_f(xv[u], mean, rstd, gv[u], bv[u]); }
};

/* dx = repro_layernorm_dx(dy * gamma[c], xhat, rstd, m1, m2) */
struct repro_norm_dx_op {
    const float *x, *dy, *gamma;
    float *dx;
    float mean, rstd, m1, m2;
    float dv[REPRO_NORM_BATCH], xv[REPRO_NORM_BATCH], gv[REPRO_NORM_BATCH];
    __device__ void load(int u, int64_t p, int64_t c)
    {
        dv[u] = dy[p];
        xv[u] = x[p];
        gv[u] = gamma[c];
    }
    __device__ void store(int u, int64_t p)
    {
        const float dxhat = dv[u] * gv[u];
        dx[p] = repro_layernorm_dx(dxhat, repro_layernorm_xhat(xv[u], mean, rstd), rstd, m1, m2);
    }
};

/* Statistics and y of every pair:
 *   mean = canon(x) / cnt; var = canon((x - mean)^2) / cnt;
 *   rstd = repro_layernorm_rstd(var, eps); y = repro_layernorm_f(x, mean, rstd, gamma[c], beta[c])
 * mean_out[t] = mean; stat_out[t] = store_var ? var : rstd (batch norm keeps
 * var for its running statistics, then turns it into rstd). */
template <int W>
__global__ void repro_norm_forward_kernel(repro_norm_shape s, float *y, float *mean_out, float *stat_out,
                                          const float *x, const float *gamma, const float *beta, float eps,
                                          int store_var)
{
    __shared__ repro_norm_team_smem<W, 1> sm;
    const int team = threadIdx.x / W, t = threadIdx.x % W, teams = REPRO_NORM_THREADS / W;
    const float fcnt = (float)s.cnt;
    for (int64_t first = (int64_t)blockIdx.x * teams; first < s.pairs; first += (int64_t)gridDim.x * teams) {
        const int64_t pair = first + team;
        const bool active = pair < s.pairs;
        const repro_norm_pair pp = repro_norm_pair_of(s, active ? pair : 0);
        const float *xp = x + pp.base;
        float sum[1];
        repro_canon_src src = {REPRO_CANON_X, xp, NULL, 0.0f, 0.0f, 0, 0}; /* offsets come from the cursor */
        repro_norm_team_sum<W, 1>(s, active, repro_norm_elem_canon<REPRO_CANON_X>{src}, sm, team, t, sum);
        const float mean = sum[0] / fcnt;
        src.kind = REPRO_CANON_CENTRED_SQ;
        src.a = mean;
        repro_norm_team_sum<W, 1>(s, active, repro_norm_elem_canon<REPRO_CANON_CENTRED_SQ>{src}, sm, team, t, sum);
        const float var = sum[0] / fcnt;
        const float rstd = repro_layernorm_rstd(var, eps);
        if (!active)
            continue;
        repro_norm_y_op op{xp, gamma, beta, y + pp.base, mean, rstd};
        repro_norm_each_value<W>(s, pp, t, op);
        if (t == 0) {
            mean_out[pair] = mean;
            stat_out[pair] = store_var ? var : rstd;
        }
    }
}

/* dx of every pair (mean, rstd [pairs] from the forward):
 *   m1 = canon(dxhat) / cnt; m2 = canon(dxhat * xhat) / cnt  (one pass, two sums)
 *   dx = repro_layernorm_dx(dxhat, xhat, rstd, m1, m2)        (overwrites) */
template <int W>
__global__ void repro_norm_dx_kernel(repro_norm_shape s, float *dx, const float *dy, const float *x,
                                     const float *mean, const float *rstd, const float *gamma)
{
    __shared__ repro_norm_team_smem<W, 2> sm;
    const int team = threadIdx.x / W, t = threadIdx.x % W, teams = REPRO_NORM_THREADS / W;
    const float fcnt = (float)s.cnt;
    for (int64_t first = (int64_t)blockIdx.x * teams; first < s.pairs; first += (int64_t)gridDim.x * teams) {
        const int64_t pair = first + team;
        const bool active = pair < s.pairs;
        const repro_norm_pair pp = repro_norm_pair_of(s, active ? pair : 0);
        const float mu = active ? mean[pair] : 0.0f, rs = active ? rstd[pair] : 0.0f;
        const float *xp = x + pp.base, *dyp = dy + pp.base;
        float m[2];
        repro_norm_team_sum<W, 2>(s, active, repro_norm_elem_bwd{xp, dyp, gamma, pp.c0, pp.cstep, mu, rs}, sm,
                                  team, t, m);
        const float m1 = m[0] / fcnt, m2 = m[1] / fcnt;
        if (!active)
            continue;
        repro_norm_dx_op op{xp, dyp, gamma, dx + pp.base, mu, rs, m1, m2};
        repro_norm_each_value<W>(s, pp, t, op);
    }
}

/* The dgamma/dbeta chain's staging: REPRO_NORM_LOADERS warps stage tiles
 * of REPRO_NORM_CHAIN_TILE values, REPRO_NORM_PER_LANE a lane. */
#define REPRO_NORM_LOADERS 8
#define REPRO_NORM_PER_LANE (REPRO_NORM_CHAIN_TILE / (32 * REPRO_NORM_LOADERS))

/* Tile k of channel c's (n, hw) sequence, by the loader warps (loader
 * thread `lt` of 32 * REPRO_NORM_LOADERS): sdy[u] = dy, sxh[u] =
 * repro_layernorm_xhat(x, mean[st], rstd[st]) for values k * TILE + u,
 * st = (n / nd) * ns + cst (cst = c / cd). Every load of the lane is
 * issued before the first is used, so the tile costs about one memory
 * latency, not one per value; values past L are +0, never consumed. A
 * lane's values are 32 * REPRO_NORM_LOADERS apart: a cursor (n, hw) steps
 * by (dq, doff) = that step's quotient and remainder by HW, so a tile
 * divides by HW once, and n / nd is a 32-bit division when N fits (the
 * loaders share the chain thread's schedulers: what they issue, it waits
 * for). */
__device__ inline void repro_norm_stage_tile(float *sdy, float *sxh, int64_t k, int lt, const float *dy,
                                             const float *x, const float *mean, const float *rstd, int64_t L,
                                             int64_t N, int64_t C, int64_t HW, int64_t dq, int64_t doff, int64_t c,
                                             int64_t nd, int64_t ns, int64_t cst)
{
    float vd[REPRO_NORM_PER_LANE], vx[REPRO_NORM_PER_LANE], vm[REPRO_NORM_PER_LANE], vr[REPRO_NORM_PER_LANE];
    const int64_t j0 = k * REPRO_NORM_CHAIN_TILE + lt;
    const bool narrow = N <= 0xffffffffLL && nd <= 0xffffffffLL;
    repro_norm_cursor cur;
    cur.at(j0 < L ? j0 : 0, HW);
#pragma unroll
    for (int i = 0; i < REPRO_NORM_PER_LANE; i++) {
        const bool in = j0 + i * 32 * REPRO_NORM_LOADERS < L;
        const int64_t n = cur.q, at = (n * C + c) * HW + cur.off;
        const int64_t g = narrow ? (int64_t)((uint32_t)n / (uint32_t)nd) : n / nd, st = g * ns + cst;
        vd[i] = in ? dy[at] : 0.0f;
        vx[i] = in ? x[at] : 0.0f;
        vm[i] = in ? mean[st] : 0.0f;
        vr[i] = in ? rstd[st] : 0.0f;
        cur.step(dq, doff, HW);
    }
#pragma unroll
    for (int i = 0; i < REPRO_NORM_PER_LANE; i++) {
        const int u = lt + i * 32 * REPRO_NORM_LOADERS;
        sdy[u] = vd[i];
        sxh[u] = repro_layernorm_xhat(vx[i], vm[i], vr[i]);
    }
}

/* Four steps of both chains: values d.x, d.y, d.z, d.w in order. */
__device__ __forceinline__ void repro_norm_chain4(float4 d, float4 x, float *g, float *b)
{
    *g = fmaf(d.x, x.x, *g);
    *b = *b + d.x;
    *g = fmaf(d.y, x.y, *g);
    *b = *b + d.y;
    *g = fmaf(d.z, x.z, *g);
    *b = *b + d.z;
    *g = fmaf(d.w, x.w, *g);
    *b = *b + d.w;
}

/* Thread 0's part of the chains: values [0, n) of a staged tile, in
 * order (the buffers hold 8 floats past the tile). Eight values a round,
 * read as two float4s of each buffer, and the next round's four reads
 * issued before this round's eight fmaf/add pairs, so a shared-memory
 * read's latency (~30 cycles) hides under the chain's (eight dependent
 * fmafs, ~32 cycles) instead of adding to it. A value a float at a time,
 * with no prefetch, cost 9.1 cycles (the 16-channel 28x28 batch norm of
 * examples/fashion_resnet.yaml, batch 128: 458 us); this costs 5.6
 * (280 us; the floor, the fmaf's latency, is 4). The adds are in the same
 * order either way. */
__device__ __forceinline__ void repro_norm_chain_tile(const float *sdy, const float *sxh, int n, float *g_io,
                                                      float *b_io)
{
    const float4 *d4 = reinterpret_cast<const float4 *>(sdy), *x4 = reinterpret_cast<const float4 *>(sxh);
    float g = *g_io, b = *b_io;
    const int rounds = n / 8;
    float4 d0, d1, x0, x1;
    if (rounds > 0) {
        d0 = d4[0];
        d1 = d4[1];
        x0 = x4[0];
        x1 = x4[1];
    }
    for (int r = 0; r < rounds; r++) {
        /* the last round reads 8 values past the tile: the buffers' padding */
        const float4 e0 = d4[2 * r + 2], e1 = d4[2 * r + 3], y0 = x4[2 * r + 2], y1 = x4[2 * r + 3];
        repro_norm_chain4(d0, x0, &g, &b);
        repro_norm_chain4(d1, x1, &g, &b);
        d0 = e0;
        d1 = e1;
        x0 = y0;
        x1 = y1;
    }
    for (int i = 8 * rounds; i < n; i++) { /* the last tile's tail */
        g = fmaf(sdy[i], sxh[i], g);
        b = b + sdy[i];
    }
    *g_io = g;
    *b_io = b;
}

/* dgamma[c], dbeta[c] from their current values over (n ascending, hw
 * ascending): dgamma = fmaf(dy, xhat, dgamma); dbeta = dbeta + dy, with
 * sample n's statistics at st = (n / nd) * ns + c / cd (batch norm: nd =
 * group, ns = C, cd = 1; group norm: nd = 1, ns = groups, cd = C / groups).
 * One channel a block: the loader warps stage tile k + 1 into one buffer
 * while thread 0 chains tile k from the other (double buffering). The two
 * chains, N * HW values long, are the contract; the loaders keep them fed
 * so that they run near the fmaf's latency. */
__global__ void __launch_bounds__(32 * (1 + REPRO_NORM_LOADERS))
    repro_norm_param_kernel(float *dgamma, float *dbeta, const float *dy, const float *x, const float *mean,
                            const float *rstd, int64_t N, int64_t C, int64_t HW, int64_t nd, int64_t ns, int64_t cd)
{
    /* 8 floats of padding a buffer: repro_norm_chain_tile's last prefetch */
    __shared__ __align__(16) float sdy[2][REPRO_NORM_CHAIN_TILE + 8];
    __shared__ __align__(16) float sxh[2][REPRO_NORM_CHAIN_TILE + 8];
    const int64_t L = N * HW, tiles = (L + REPRO_NORM_CHAIN_TILE - 1) / REPRO_NORM_CHAIN_TILE;
    const int64_t dq = 32 * REPRO_NORM_LOADERS / HW, doff = 32 * REPRO_NORM_LOADERS % HW; /* a lane's step */
    const int warp = threadIdx.x / 32, lt = (int)threadIdx.x - 32; /* lt: the loader thread's index */
    for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
        const int64_t cst = c / cd;
        if (warp > 0)
            repro_norm_stage_tile(sdy[0], sxh[0], 0, lt, dy, x, mean, rstd, L, N, C, HW, dq, doff, c, nd, ns, cst);
        __syncthreads();
        float g = 0.0f, b = 0.0f;
        if (threadIdx.x == 0) {
            g = dgamma[c];
            b = dbeta[c];
        }
        for (int64_t k = 0; k < tiles; k++) {
            if (warp > 0 && k + 1 < tiles)
                repro_norm_stage_tile(sdy[(k + 1) & 1], sxh[(k + 1) & 1], k + 1, lt, dy, x, mean, rstd, L, N, C,
                                      HW, dq, doff, c, nd, ns, cst);
            if (threadIdx.x == 0) {
                const int64_t left = L - k * REPRO_NORM_CHAIN_TILE;
                repro_norm_chain_tile(sdy[k & 1], sxh[k & 1],
                                      left < REPRO_NORM_CHAIN_TILE ? (int)left : REPRO_NORM_CHAIN_TILE, &g, &b);
            }
            __syncthreads();
        }
        if (threadIdx.x == 0) {
            dgamma[c] = g;
            dbeta[c] = b;
        }
    }
}

} // namespace

/* ---- launches (host) ---- */
#ifdef __CUDACC__

/* The team width for pairs of cnt values: the lanes of the canonical sum
 * (8 per 1024-value block), rounded up to a power of two in [32, 256]. */
static inline int repro_norm_team_width(int64_t cnt)
{
    int64_t lanes = repro_canon_blocks(cnt) * REPRO_CANON_LANES;
    return lanes <= 32 ? 32 : lanes <= 64 ? 64 : lanes <= 128 ? 128 : 256;
}

static inline unsigned repro_norm_team_grid(int64_t pairs, int W)
{
    int64_t teams = REPRO_NORM_THREADS / W, b = (pairs + teams - 1) / teams;
    return (unsigned)(b < 1 ? 1 : b < 65535 ? b : 65535);
}

static inline void repro_norm_launch_forward(const repro_norm_shape &s, float *y, float *mean, float *stat,
                                             const float *x, const float *gamma, const float *beta, float eps,
                                             int store_var, cudaStream_t st)
{
    int W = repro_norm_team_width(s.cnt);
    unsigned grid = repro_norm_team_grid(s.pairs, W);
    switch (W) {
    case 32:
        repro_norm_forward_kernel<32><<<grid, REPRO_NORM_THREADS, 0, st>>>(s, y, mean, stat, x, gamma, beta, eps,
                                                                          store_var);
        break;
    case 64:
        repro_norm_forward_kernel<64><<<grid, REPRO_NORM_THREADS, 0, st>>>(s, y, mean, stat, x, gamma, beta, eps,
                                                                          store_var);
        break;
    case 128:
        repro_norm_forward_kernel<128><<<grid, REPRO_NORM_THREADS, 0, st>>>(s, y, mean, stat, x, gamma, beta, eps,
                                                                           store_var);
        break;
    default:
        repro_norm_forward_kernel<256><<<grid, REPRO_NORM_THREADS, 0, st>>>(s, y, mean, stat, x, gamma, beta, eps,
                                                                           store_var);
        break;
    }
}

static inline void repro_norm_launch_dx(const repro_norm_shape &s, float *dx, const float *dy, const float *x,
                                        const float *mean, const float *rstd, const float *gamma, cudaStream_t st)
{
    int W = repro_norm_team_width(s.cnt);
    unsigned grid = repro_norm_team_grid(s.pairs, W);
    switch (W) {
    case 32:
        repro_norm_dx_kernel<32><<<grid, REPRO_NORM_THREADS, 0, st>>>(s, dx, dy, x, mean, rstd, gamma);
        break;
    case 64:
        repro_norm_dx_kernel<64><<<grid, REPRO_NORM_THREADS, 0, st>>>(s, dx, dy, x, mean, rstd, gamma);
        break;
    case 128:
        repro_norm_dx_kernel<128><<<grid, REPRO_NORM_THREADS, 0, st>>>(s, dx, dy, x, mean, rstd, gamma);
        break;
    default:
        repro_norm_dx_kernel<256><<<grid, REPRO_NORM_THREADS, 0, st>>>(s, dx, dy, x, mean, rstd, gamma);
        break;
    }
}

/* One block of 64 threads per channel (grid-stride beyond 65535). */
static inline void repro_norm_launch_param(float *dgamma, float *dbeta, const float *dy, const float *x,
                                           const float *mean, const float *rstd, int64_t N, int64_t C, int64_t HW,
                                           int64_t nd, int64_t ns, int64_t cd, cudaStream_t st)
{
    unsigned grid = (unsigned)(C < 65535 ? C : 65535);
    repro_norm_param_kernel<<<grid, 32 * (1 + REPRO_NORM_LOADERS), 0, st>>>(dgamma, dbeta, dy, x, mean, rstd, N, C, HW,
                                                                           nd, ns, cd);
}

#endif /* __CUDACC__ */

#endif
