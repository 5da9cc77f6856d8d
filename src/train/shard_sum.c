/* A step's gradient over the world's processes: see shard_sum.h. */
#include "train/shard_sum.h"

#include <stdlib.h>
#include <string.h>

#include "train/reduce_tree.h"

enum { MAX_FRONTIER = 64 }; /* >= 2 * log2(65536) + 2 */

struct repro_shard_sum {
    repro_world *w;
    int shards, rank, size, first, n; /* this rank owns shards [first, first + n) */
    int64_t n_params, batch_size, max_extra;
    int n_heads;
    float *leaves;  /* [n][n_params] */
    float *scratch; /* [depth][n_params] */
    float *send, *recv;
    size_t *bytes;  /* [size] */
    int (*nodes)[MAX_FRONTIER][2]; /* [size]: every rank's frontier */
    int *n_nodes;   /* [size] */
    /* lookup state */
    const float **known; /* [size * MAX_FRONTIER] node values, or the leaves */
    int lookup_rank;           /* -1: every rank's frontier; else that rank's leaves */
};

void repro_shard_range(int shards, int shard, int64_t count, int64_t *lo, int64_t *hi)
{
    *lo = (int64_t)shard * count / shards;
    *hi = (int64_t)(shard + 1) * count / shards;
}

void repro_shard_owned(int shards, int size, int rank, int *first, int *n)
{
    *first = (int)((int64_t)rank * shards / size);
    *n = (int)((int64_t)(rank + 1) * shards / size) - *first;
}

repro_status repro_shard_sum_create(repro_world *w, int shards, int64_t n_params, int n_heads, int64_t batch_size,
                                    int64_t max_extra, repro_shard_sum **out, repro_error *err)
{
    *out = NULL;
    int size = repro_world_size(w);
    if (shards < 1)
        return repro_fail(err, REPRO_ERR_CONFIG, "%d processes need world.shards: set it to a multiple of %d "
                          "(e.g. --set world.shards=%d); it must divide batch_size %lld", size, size, size,
                          (long long)batch_size);
    if (size > shards)
        return repro_fail(err, REPRO_ERR_CONFIG, "%d processes but world.shards is %d: each process needs at "
                          "least one shard (use at most %d processes, or more shards)", size, shards, shards);
    repro_shard_sum *s = calloc(1, sizeof *s);
    if (!s)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the shard sum");
    *s = (repro_shard_sum){.w = w, .shards = shards, .rank = repro_world_rank(w), .size = size,
                           .n_params = n_params, .batch_size = batch_size, .max_extra = max_extra,
                           .n_heads = n_heads};
    repro_shard_owned(shards, size, s->rank, &s->first, &s->n);
    size_t p = (size_t)n_params * sizeof(float);
    int total_nodes = 0;
    s->nodes = calloc((size_t)size, sizeof *s->nodes);
    s->n_nodes = calloc((size_t)size, sizeof *s->n_nodes);
    s->bytes = calloc((size_t)size, sizeof *s->bytes);
    if (s->nodes && s->n_nodes)
        for (int r = 0; r < size; r++) {
            int f, n;
            repro_shard_owned(shards, size, r, &f, &n);
            s->n_nodes[r] = repro_tree_frontier(shards, f, f + n, s->nodes[r], MAX_FRONTIER);
            total_nodes += s->n_nodes[r];
        }
    size_t loss_bytes = (size_t)(n_heads * batch_size + max_extra + 1) * sizeof(float); /* + extra + flag */
    s->leaves = malloc((size_t)s->n * p);
    s->scratch = malloc((size_t)repro_tree_depth(shards) * p);
    s->send = malloc((size_t)s->n_nodes[s->rank] * p + loss_bytes);
    s->recv = malloc((size_t)total_nodes * p + (size_t)size * loss_bytes);
    s->known = calloc((size_t)(size * MAX_FRONTIER + s->n), sizeof *s->known);
    if (!s->nodes || !s->n_nodes || !s->bytes || !s->leaves || !s->scratch || !s->send || !s->recv || !s->known) {
        repro_shard_sum_free(s);
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the shard gradients (%d shards of %lld "
                          "parameters)", shards, (long long)n_params);
    }
    *out = s;
    return REPRO_OK;
}

void repro_shard_sum_free(repro_shard_sum *s)
{
    if (!s)
        return;
    free(s->nodes);
    free(s->n_nodes);
    free(s->bytes);
    free(s->leaves);
    free(s->scratch);
    free(s->send);
    free(s->recv);
    free(s->known);
    free(s);
}

void repro_shard_sum_owned(const repro_shard_sum *s, int *first, int *n)
{
    *first = s->first;
    *n = s->n;
}

float *repro_shard_sum_leaf(repro_shard_sum *s, int i)
{
    return s->leaves + (size_t)i * (size_t)s->n_params;
}

/* A node's known values: a leaf of this rank (lookup_rank >= 0), or a node
 * of some rank's frontier (lookup_rank -1). */
static const float *lookup(void *ctx, int lo, int hi)
{
    const repro_shard_sum *s = ctx;
    if (s->lookup_rank >= 0)
        return hi - lo == 1 && lo >= s->first && lo < s->first + s->n ? s->known[lo - s->first] : NULL;
    for (int r = 0, k = 0; r < s->size; r++)
        for (int i = 0; i < s->n_nodes[r]; i++, k++)
            if (s->nodes[r][i][0] == lo && s->nodes[r][i][1] == hi)
                return s->known[k];
    return NULL;
}

repro_status repro_shard_sum_reduce(repro_shard_sum *s, int64_t step, int64_t count, float *const *losses,
                                    const repro_shard_extra *extra, int stop, int *any_stop, float *grads,
                                    repro_error *err)
{
    int64_t np = s->n_params;
    int nf = s->n_nodes[s->rank];
    /* this rank's frontier, from its leaves */
    s->lookup_rank = s->rank;
    for (int i = 0; i < s->n; i++)
        s->known[i] = repro_shard_sum_leaf(s, i);
    for (int i = 0; i < nf; i++)
        repro_tree_sum(s->nodes[s->rank][i][0], s->nodes[s->rank][i][1], lookup, s, s->send + (size_t)i * np,
                       s->scratch, np);
    /* the block: frontier [nf][np], losses [heads][own positions], extra, stop flag */
    int64_t lo, hi, end;
    repro_shard_range(s->shards, s->first, count, &lo, &end);
    repro_shard_range(s->shards, s->first + s->n - 1, count, &hi, &end);
    float *tail = s->send + (size_t)nf * np;
    for (int h = 0; h < s->n_heads; h++, tail += end - lo)
        memcpy(tail, losses[h] + lo, (size_t)(end - lo) * sizeof(float));
    for (int r = 0; extra && r < s->size; r++)
        if (extra->floats[r] < 0 || extra->floats[r] > s->max_extra)
            return repro_fail(err, REPRO_ERR_INTERNAL, "rank %d's extra block of %lld floats is outside [0, %lld]",
                              r, (long long)extra->floats[r], (long long)s->max_extra);
    int64_t mine = extra ? extra->floats[s->rank] : 0;
    if (mine)
        memcpy(tail, extra->mine, (size_t)mine * sizeof(float));
    tail[mine] = stop ? 1.0f : 0.0f;
    (void)hi;
    for (int r = 0; r < s->size; r++) {
        int f, n;
        int64_t rlo, rhi, x;
        repro_shard_owned(s->shards, s->size, r, &f, &n);
        repro_shard_range(s->shards, f, count, &rlo, &x);
        repro_shard_range(s->shards, f + n - 1, count, &x, &rhi);
        int64_t tail_floats = s->n_heads * (rhi - rlo) + (extra ? extra->floats[r] : 0) + 1;
        s->bytes[r] = ((size_t)s->n_nodes[r] * (size_t)np + (size_t)tail_floats) * sizeof(float);
    }
    repro_status st = repro_world_allgather(s->w, s->send, s->recv, s->bytes, step + 1, err);
    if (st != REPRO_OK)
        return st;
    /* every rank's frontier nodes, losses, extra and flag, in rank order */
    const float *at = s->recv;
    float *extra_at = extra ? extra->all : NULL;
    *any_stop = 0;
    for (int r = 0, k = 0; r < s->size; r++) {
        for (int i = 0; i < s->n_nodes[r]; i++, k++, at += np)
            s->known[k] = at;
        int f, n;
        int64_t rlo, rhi, x;
        repro_shard_owned(s->shards, s->size, r, &f, &n);
        repro_shard_range(s->shards, f, count, &rlo, &x);
        repro_shard_range(s->shards, f + n - 1, count, &x, &rhi);
        for (int h = 0; h < s->n_heads; h++, at += rhi - rlo)
            if (r != s->rank)
                memcpy(losses[h] + rlo, at, (size_t)(rhi - rlo) * sizeof(float));
        int64_t e = extra ? extra->floats[r] : 0;
        if (e) {
            memcpy(extra_at, at, (size_t)e * sizeof(float));
            extra_at += e;
            at += e;
        }
        *any_stop |= *at++ != 0.0f;
    }
    s->lookup_rank = -1;
    repro_tree_sum(0, s->shards, lookup, s, grads, s->scratch, np);
    return REPRO_OK;
}
