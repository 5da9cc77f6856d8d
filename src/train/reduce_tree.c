/* The shards' fixed binary tree: see reduce_tree.h. */
#include "train/reduce_tree.h"


int repro_tree_split(int lo, int hi)
{
    int half = 1;
    while (half * 2 < hi - lo)
        half *= 2;
    return lo + half;
}

static void frontier(int lo, int hi, int a, int b, int (*nodes)[2], int cap, int *count)
{
    if (hi <= a || b <= lo)
        return;
    if (a <= lo && hi <= b) {
        if (*count < cap) {
            nodes[*count][0] = lo;
            nodes[*count][1] = hi;
        }
        (*count)++;
        return;
    }
    int mid = repro_tree_split(lo, hi);
    frontier(lo, mid, a, b, nodes, cap, count);
    frontier(mid, hi, a, b, nodes, cap, count);
}

int repro_tree_frontier(int shards, int a, int b, int (*nodes)[2], int cap)
{
    int count = 0;
    frontier(0, shards, a, b, nodes, cap, &count);
    return count;
}

int repro_tree_depth(int shards)
{
    int d = 1;
    for (int span = 1; span < shards; span *= 2)
        d++;
    return d;
}

repro_status repro_tree_sum(const repro_backend *be, int lo, int hi, repro_tree_lookup lookup, void *ctx, float *out,
                            float *scratch, int64_t n, repro_error *err)
{
    const float *known = lookup(ctx, lo, hi);
    size_t bytes = (size_t)n * sizeof(float);
    if (known || hi - lo < 2)
        return known && known != out ? repro_be_copy(be, out, known, bytes, err) : REPRO_OK;
    int mid = repro_tree_split(lo, hi);
    repro_status st = repro_tree_sum(be, lo, mid, lookup, ctx, out, scratch, n, err);
    if (st == REPRO_OK)
        st = repro_tree_sum(be, mid, hi, lookup, ctx, scratch, scratch + n, n, err);
    /* one IEEE add per element: out = left + right */
    return st == REPRO_OK ? repro_be_add_inplace(be, out, scratch, n, err) : st;
}
