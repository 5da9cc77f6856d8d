/* A step's gradient over the world's processes (docs/parallel.md).
 *
 * The step's count samples are cut into `shards` fixed shards (shard s:
 * positions [s*count/shards, (s+1)*count/shards)). Rank r of W owns the
 * shards [r*shards/W, (r+1)*shards/W). It computes each owned shard's
 * gradient (an in-order sum from +0) into a leaf, adds its leaves into its
 * frontier of the fixed tree (train/reduce_tree.h), and one all-gather
 * gives every rank every frontier, every per-sample loss, every rank's
 * extra block (batch norm's statistics) and stop flag; every rank then
 * adds the root in the tree's order. Nothing is summed by MPI or NCCL; the
 * world size decides only who computes which node.
 *
 * Leaves, frontiers and the tree's adds live in the backend's memory (a
 * GPU's, with device: cuda). The frontiers travel GPU to GPU through NCCL
 * when the trainer hands over peers (backend/peers.h), else inside the
 * world's all-gather through host memory; the losses, extra blocks and
 * flags always take the world's all-gather. */
#ifndef REPRO_TRAIN_SHARD_SUM_H
#define REPRO_TRAIN_SHARD_SUM_H

#include <stdint.h>

#include "backend/backend.h"
#include "backend/peers.h"
#include "repro/status.h"
#include "train/world.h"

typedef struct repro_shard_sum repro_shard_sum;

/* Refuses a world larger than the shard count, naming both. max_extra:
 * the most floats any rank's extra block holds (0: none). peers: NCCL
 * between the world's GPUs (kept, not owned), or NULL. */
repro_status repro_shard_sum_create(repro_world *w, const repro_backend *be, repro_peers *peers, int shards,
                                    int64_t n_params, int n_heads, int64_t batch_size, int64_t max_extra,
                                    repro_shard_sum **out, repro_error *err);
void repro_shard_sum_free(repro_shard_sum *s);

/* This rank's shards [*first, *first + *n). */
void repro_shard_sum_owned(const repro_shard_sum *s, int *first, int *n);
/* Rank `rank`'s shards [*first, *first + *n) of `size` ranks. */
void repro_shard_owned(int shards, int size, int rank, int *first, int *n);
/* Positions [*lo, *hi) of shard `shard` in a step of count samples. */
void repro_shard_range(int shards, int shard, int64_t count, int64_t *lo, int64_t *hi);

/* The buffer [n_params] (backend memory) for the i-th owned shard's
 * gradient. */
float *repro_shard_sum_leaf(repro_shard_sum *s, int i);

/* Floats besides the gradient that ride on the step's exchange: rank r's
 * block is floats[r] floats (at most max_extra; every rank passes the same
 * counts); mine is this rank's; all receives every rank's, in rank order. */
typedef struct repro_shard_extra {
    const float *mine;
    const int64_t *floats; /* [size] */
    float *all;
} repro_shard_extra;

/* After the leaves: grads[n_params] (backend memory) = the tree's root; losses[h][count]
 * (host) get every rank's per-sample losses (this rank's own positions
 * must be filled); *any_stop = 1 when any rank passed stop != 0; extra
 * (or NULL) is gathered in the same exchange. */
repro_status repro_shard_sum_reduce(repro_shard_sum *s, int64_t step, int64_t count, float *const *losses,
                                    const repro_shard_extra *extra, int stop, int *any_stop, float *grads,
                                    repro_error *err);

#endif
