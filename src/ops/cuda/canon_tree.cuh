/* The pairwise tree of src/ops/reduce.h on the device (internal):
 *   S(b[0..m)) = m == 1 ? b[0] : S(b[0..h)) + S(b[h..m)),  h = (m + 1) / 2,
 * walked by one thread with an explicit stack (the tree's depth is at most
 * 64 for any int64 m), the leaves supplied by a functor: leaf(i) is block
 * i's sum. Every addition has the operands of the CPU's recursion
 * (src/ops/cpu/reduce.c tree_sum), so the result has its bits. */
#ifndef REPRO_OPS_CUDA_CANON_TREE_CUH
#define REPRO_OPS_CUDA_CANON_TREE_CUH

#include <stdint.h>

#include "ops/reduce.h"

template <typename Leaf>
__device__ float repro_cuda_canon_tree(int64_t m, const Leaf &leaf)
{
    struct frame {
        int64_t first, m;
        float left;
        int stage; /* 0: descend left, 1: descend right, 2: add */
    } st[66];
    int top = 0;
    st[0] = {0, m, 0.0f, 0};
    float ret = 0.0f;
    while (top >= 0) {
        frame &f = st[top];
        if (f.m == 1) {
            ret = leaf(f.first);
            top--;
            continue;
        }
        int64_t h = (f.m + 1) / 2;
        if (f.stage == 0) {
            f.stage = 1;
            st[top + 1] = {f.first, h, 0.0f, 0};
            top++;
        } else if (f.stage == 1) {
            f.left = ret;
            f.stage = 2;
            st[top + 1] = {f.first + h, f.m - h, 0.0f, 0};
            top++;
        } else {
            ret = f.left + ret;
            top--;
        }
    }
    return ret;
}

/* The same tree over m <= 32 sums already in shared memory, b[k * bstride
 * + i] for sum k < NS and leaf i < m, evaluated in place by the 32 threads
 * of one warp (every lane calls it; lane i owns leaf i): bottom-up, one
 * barrier a level, the node [f, f + n) computed by lane f as b[f] + b[f +
 * h], h = (n + 1) / 2, once its children are done (the left child starts
 * at f too, the right at f + h). Nodes of one level are disjoint, so no
 * lane reads what another writes. Each addition is a node's left + right,
 * as in the walk, so the sums are the same bits; the total ends in b[k *
 * bstride]. A lone thread walking the tree in shared memory waits on a
 * read at every step of the walk (~3 per node); this is 5 levels. */
template <int NS>
__device__ void repro_cuda_canon_tree_warp(float *b, int bstride, int m, int lane)
{
    enum { LEVELS = 5 }; /* halving 32 leaves reaches single leaves after 5 splits */
    int first[LEVELS], size[LEVELS]; /* the node at each level that holds this lane's leaf */
    int f = 0, n = m;
#pragma unroll
    for (int d = 0; d < LEVELS; d++) {
        first[d] = f;
        size[d] = n;
        const int h = (n + 1) / 2;
        if (n > 1) {
            if (lane >= f + h) {
                f += h;
                n -= h;
            } else {
                n = h;
            }
        }
    }
#pragma unroll
    for (int d = LEVELS - 1; d >= 0; d--) {
        if (lane < m && lane == first[d] && size[d] > 1) {
            const int h = (size[d] + 1) / 2;
            for (int k = 0; k < NS; k++)
                b[k * bstride + lane] = b[k * bstride + lane] + b[k * bstride + lane + h];
        }
        __syncwarp();
    }
}

/* The same tree walked in pieces, for a team of threads that computes the
 * block sums chunk by chunk (batch and group norm, norm_kernels.cuh): the
 * team's first thread feeds each chunk's block sums in, in block order, and
 * the walk pauses when it needs a block not yet computed. NS sums of the
 * same length walk the one tree in lockstep (the tree's shape depends on m
 * alone). Every addition is repro_cuda_canon_tree's: left + right at each
 * node, leaves the block sums. DEPTH frames hold any tree of m <= 2^(DEPTH-2)
 * blocks (66: any int64 m). Plain data, so it can live in shared memory. */
template <int NS, int DEPTH>
struct repro_cuda_canon_walker {
    struct frame {
        int64_t first, m;
        float left[NS];
        int stage; /* 0: descend left, 1: descend right, 2: add */
    } st[DEPTH];
    int top;       /* -1 when the walk is done */
    float ret[NS]; /* the last finished subtree's sums; the totals once done */

    __device__ void start(int64_t m)
    {
        top = 0;
        st[0].first = 0;
        st[0].m = m;
        st[0].stage = 0;
    }

    /* Takes the sums of blocks [lo, hi): block i's sum s at b[s * bstride + i - lo].
     * Returns when the walk needs block hi (or is done). */
    __device__ void feed(int64_t lo, int64_t hi, const float *b, int bstride)
    {
        while (top >= 0) {
            frame &f = st[top];
            if (f.m == 1) {
                if (f.first >= hi)
                    return;
                for (int s = 0; s < NS; s++)
                    ret[s] = b[s * bstride + (f.first - lo)];
                top--;
                continue;
            }
            int64_t h = (f.m + 1) / 2;
            if (f.stage == 0) {
                f.stage = 1;
                frame &c = st[top + 1];
                c.first = f.first;
                c.m = h;
                c.stage = 0;
                top++;
            } else if (f.stage == 1) {
                for (int s = 0; s < NS; s++)
                    f.left[s] = ret[s];
                f.stage = 2;
                frame &c = st[top + 1];
                c.first = f.first + h;
                c.m = f.m - h;
                c.stage = 0;
                top++;
            } else {
                for (int s = 0; s < NS; s++)
                    ret[s] = f.left[s] + ret[s];
                top--;
            }
        }
    }
};

/* The canonical sum of src's elements [0, n), n >= 1, in one thread
 * (blocks computed on the fly): the row statistics of layer norm. */
struct repro_cuda_canon_leaf_src {
    const repro_canon_src *src;
    int64_t n;
    __device__ float operator()(int64_t i) const
    {
        int64_t start = i * REPRO_CANON_BLOCK;
        int64_t len = n - start < REPRO_CANON_BLOCK ? n - start : REPRO_CANON_BLOCK;
        return repro_canon_block(src, start, len);
    }
};

__device__ inline float repro_cuda_canon_sum_thread(const repro_canon_src *src, int64_t n)
{
    if (n <= 0)
        return +0.0f;
    repro_cuda_canon_leaf_src leaf = {src, n};
    return repro_cuda_canon_tree(repro_canon_blocks(n), leaf);
}

#endif
