/* A step's gradient over the world's processes: see shard_sum.h. */
#include "train/shard_sum.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/reduce_tree.h"

enum { MAX_FRONTIER = 64 }; /* >= 2 * log2(65536) + 2 */

struct repro_shard_sum {
    repro_world *w;
    const repro_backend *be;
    repro_peers *peers; /* NCCL between GPUs, or NULL: frontiers ride on the world's all-gather */
    int dev;            /* be's memory is a GPU's */
    int msg_front;      /* the frontiers travel in the host message */
    int shards, rank, size, first, n; /* this rank owns shards [first, first + n) */
    int64_t n_params, batch_size, max_extra;
    int n_heads;
    float *leaves;     /* be: [n][n_params] */
    float *scratch;    /* be: [depth][n_params] */
    float *front;      /* be: this rank's frontier [nf][n_params]; the head of send on the CPU */
    float *recv_front; /* GPU: every rank's frontier nodes [total_nodes][n_params] (this rank's slots unused) */
    float *send, *recv; /* host: the message, [frontier when msg_front | losses | extra | flag] */
    size_t *bytes;  /* [size] */
    int (*nodes)[MAX_FRONTIER][2]; /* [size]: every rank's frontier */
    int *n_nodes;   /* [size] */
    int *first_node; /* [size]: rank r's frontier is nodes first_node[r].. of all ranks' */
    float **peer_recv;    /* [size]: where NCCL puts rank r's frontier (in recv_front) */
    int64_t *peer_floats; /* [size]: its floats */
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

repro_status repro_shard_sum_create(repro_world *w, const repro_backend *be, repro_peers *peers, int shards,
                                    int64_t n_params, int n_heads, int64_t batch_size, int64_t max_extra,
                                    repro_shard_sum **out, repro_error *err)
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
    int dev = repro_backend_device(be) != REPRO_DEVICE_CPU;
    *s = (repro_shard_sum){.w = w, .be = be, .peers = dev ? peers : NULL, .dev = dev, .shards = shards,
                           .rank = repro_world_rank(w), .size = size, .n_params = n_params,
                           .batch_size = batch_size, .max_extra = max_extra, .n_heads = n_heads};
    /* one GPU keeps its frontier; the CPU's is the message's head anyway */
    s->msg_front = !s->peers && (!dev || size > 1);
    repro_shard_owned(shards, size, s->rank, &s->first, &s->n);
    size_t p = (size_t)n_params * sizeof(float);
    int total_nodes = 0;
    s->nodes = calloc((size_t)size, sizeof *s->nodes);
    s->n_nodes = calloc((size_t)size, sizeof *s->n_nodes);
    s->first_node = calloc((size_t)size, sizeof *s->first_node);
    s->bytes = calloc((size_t)size, sizeof *s->bytes);
    s->peer_recv = calloc((size_t)size, sizeof *s->peer_recv);
    s->peer_floats = calloc((size_t)size, sizeof *s->peer_floats);
    if (s->nodes && s->n_nodes && s->first_node)
        for (int r = 0; r < size; r++) {
            int f, n;
            repro_shard_owned(shards, size, r, &f, &n);
            s->n_nodes[r] = repro_tree_frontier(shards, f, f + n, s->nodes[r], MAX_FRONTIER);
            s->first_node[r] = total_nodes;
            total_nodes += s->n_nodes[r];
        }
    int nf = s->n_nodes ? s->n_nodes[s->rank] : 0;
    size_t loss_bytes = (size_t)(n_heads * batch_size + max_extra + 1) * sizeof(float); /* + extra + flag */
    size_t msg_nodes = s->msg_front ? (size_t)nf : 0, msg_all = s->msg_front ? (size_t)total_nodes : 0;
    s->send = malloc(msg_nodes * p + loss_bytes);
    s->recv = malloc(msg_all * p + (size_t)size * loss_bytes);
    s->known = calloc((size_t)(size * MAX_FRONTIER + s->n), sizeof *s->known);
    repro_status st = s->nodes && s->n_nodes && s->first_node && s->bytes && s->peer_recv && s->peer_floats &&
                              s->send && s->recv && s->known
                          ? REPRO_OK
                          : repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the shard sum's buffers");
    if (st == REPRO_OK)
        st = repro_be_alloc(be, (size_t)s->n * p, (void **)&s->leaves, err);
    if (st == REPRO_OK)
        st = repro_be_alloc(be, (size_t)repro_tree_depth(shards) * p, (void **)&s->scratch, err);
    if (st == REPRO_OK && dev)
        st = repro_be_alloc(be, (size_t)nf * p, (void **)&s->front, err);
    else
        s->front = s->send;
    if (st == REPRO_OK && dev && size > 1)
        st = repro_be_alloc(be, (size_t)total_nodes * p, (void **)&s->recv_front, err);
    if (st != REPRO_OK) {
        repro_shard_sum_free(s);
        char why[REPRO_ERROR_MESSAGE_MAX];
        snprintf(why, sizeof why, "%s", err->message);
        return repro_fail(err, st, "%s (%d shards of %lld parameters)", why, shards, (long long)n_params);
    }
    for (int r = 0; s->recv_front && r < size; r++) {
        s->peer_recv[r] = s->recv_front + (size_t)s->first_node[r] * (size_t)n_params;
        s->peer_floats[r] = (int64_t)s->n_nodes[r] * n_params;
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
    free(s->first_node);
    free(s->peer_recv);
    free(s->peer_floats);
    free(s->bytes);
    repro_be_free(s->be, s->leaves);
    repro_be_free(s->be, s->scratch);
    if (s->dev)
        repro_be_free(s->be, s->front);
    repro_be_free(s->be, s->recv_front);
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

/* Positions [*lo, *hi) of rank r's shards in a step of count samples. */
static void rank_positions(const repro_shard_sum *s, int r, int64_t count, int64_t *lo, int64_t *hi)
{
    int f, n;
    int64_t x;
    repro_shard_owned(s->shards, s->size, r, &f, &n);
    repro_shard_range(s->shards, f, count, lo, &x);
    repro_shard_range(s->shards, f + n - 1, count, &x, hi);
}

/* This rank's frontier nodes from its leaves, into s->front. */
static repro_status sum_frontier(repro_shard_sum *s, repro_error *err)
{
    int64_t np = s->n_params;
    s->lookup_rank = s->rank;
    for (int i = 0; i < s->n; i++)
        s->known[i] = repro_shard_sum_leaf(s, i);
    repro_status st = REPRO_OK;
    for (int i = 0; st == REPRO_OK && i < s->n_nodes[s->rank]; i++)
        st = repro_tree_sum(s->be, s->nodes[s->rank][i][0], s->nodes[s->rank][i][1], lookup, s,
                            s->front + (size_t)i * np, s->scratch, np, err);
    return st;
}

/* The host message's tail after the frontier: losses [heads][own
 * positions], extra, stop flag; and every rank's message size. */
static repro_status pack_message(repro_shard_sum *s, int64_t count, float *const *losses,
                                 const repro_shard_extra *extra, int stop, repro_error *err)
{
    int64_t np = s->n_params, lo, end;
    size_t nf = s->msg_front ? (size_t)s->n_nodes[s->rank] : 0;
    rank_positions(s, s->rank, count, &lo, &end);
    float *tail = s->send + nf * (size_t)np;
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
    for (int r = 0; r < s->size; r++) {
        int64_t rlo, rhi;
        rank_positions(s, r, count, &rlo, &rhi);
        int64_t tail_floats = s->n_heads * (rhi - rlo) + (extra ? extra->floats[r] : 0) + 1;
        size_t front = s->msg_front ? (size_t)s->n_nodes[r] * (size_t)np : 0;
        s->bytes[r] = (front + (size_t)tail_floats) * sizeof(float);
    }
    /* a GPU's frontier leaves it for the message */
    if (s->msg_front && s->dev)
        return repro_be_download(s->be, s->send, s->front, nf * (size_t)np * sizeof(float), err);
    return REPRO_OK;
}

/* Every rank's frontier nodes (known[]), losses, extra and flag, from the
 * message received (and, with peers, the GPUs' exchange). */
static repro_status unpack_message(repro_shard_sum *s, int64_t count, float *const *losses,
                                   const repro_shard_extra *extra, int *any_stop, repro_error *err)
{
    int64_t np = s->n_params;
    const float *at = s->recv;
    float *extra_at = extra ? extra->all : NULL;
    *any_stop = 0;
    repro_status st = REPRO_OK;
    for (int r = 0; r < s->size; r++) {
        int k = s->first_node[r], nr = s->n_nodes[r];
        size_t node_bytes = (size_t)np * sizeof(float);
        for (int i = 0; i < nr; i++) {
            float *slot = s->recv_front ? s->recv_front + (size_t)(k + i) * np : NULL;
            if (r == s->rank)
                s->known[k + i] = s->front + (size_t)i * np;
            else if (!s->dev) /* the CPU reads the message in place */
                s->known[k + i] = at + (size_t)i * np;
            else
                s->known[k + i] = slot;
            if (r != s->rank && s->dev && s->msg_front && st == REPRO_OK)
                st = repro_be_upload(s->be, slot, at + (size_t)i * np, node_bytes, err);
        }
        if (s->msg_front)
            at += (size_t)nr * np;
        int64_t rlo, rhi;
        rank_positions(s, r, count, &rlo, &rhi);
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
    return st;
}

repro_status repro_shard_sum_reduce(repro_shard_sum *s, int64_t step, int64_t count, float *const *losses,
                                    const repro_shard_extra *extra, int stop, int *any_stop, float *grads,
                                    repro_error *err)
{
    repro_status st = sum_frontier(s, err);
    if (st == REPRO_OK)
        st = pack_message(s, count, losses, extra, stop, err);
    /* the host message first: it notices a dead or hung rank (world.h)
     * before the GPUs wait on it */
    if (st == REPRO_OK)
        st = repro_world_allgather(s->w, s->send, s->recv, s->bytes, step + 1, err);
    if (st == REPRO_OK && s->peers && s->size > 1)
        st = repro_peers_allgather(s->peers, s->front, s->peer_recv, s->peer_floats, step + 1, err);
    if (st == REPRO_OK)
        st = unpack_message(s, count, losses, extra, any_stop, err);
    s->lookup_rank = -1;
    return st == REPRO_OK ? repro_tree_sum(s->be, 0, s->shards, lookup, s, grads, s->scratch, s->n_params, err) : st;
}
