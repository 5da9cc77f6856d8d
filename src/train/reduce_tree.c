/* The shards' fixed binary tree: see reduce_tree.h. */
#include "train/reduce_tree.h"

#include <string.h>

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

void repro_tree_sum(int lo, int hi, repro_tree_lookup lookup, void *ctx, float *out, float *scratch, int64_t n)
{
    const float *known = lookup(ctx, lo, hi);
    if (known || hi - lo < 2) {
        if (known && known != out)
            memcpy(out, known, (size_t)n * sizeof(float));
        return;
    }
    int mid = repro_tree_split(lo, hi);
    repro_tree_sum(lo, mid, lookup, ctx, out, scratch, n);
    repro_tree_sum(mid, hi, lookup, ctx, scratch, scratch + n, n);
    for (int64_t i = 0; i < n; i++) /* one IEEE add per element: left + right */
        out[i] = out[i] + scratch[i];
}
