/* A step's gradient over the world's processes (docs/parallel.md).
 *
 * The step's count samples are cut into `shards` fixed shards (shard s:
 * positions [s*count/shards, (s+1)*count/shards)). Rank r of W owns the
 * shards [r*shards/W, (r+1)*shards/W). It computes each owned shard's
 * gradient (an in-order sum from +0) into a leaf, adds its leaves into its
 * frontier of the fixed tree (train/reduce_tree.h), and one all-gather
 * gives every rank every frontier, every per-sample loss and every rank's
 * stop flag; every rank then adds the root in the tree's order. Nothing is
 * summed by MPI; the world size decides only who computes which node. */
#ifndef REPRO_TRAIN_SHARD_SUM_H
#define REPRO_TRAIN_SHARD_SUM_H

#include <stdint.h>

#include "repro/status.h"
#include "train/world.h"

typedef struct repro_shard_sum repro_shard_sum;

/* Refuses a world larger than the shard count, naming both. */
repro_status repro_shard_sum_create(repro_world *w, int shards, int64_t n_params, int n_heads, int64_t batch_size,
                                    repro_shard_sum **out, repro_error *err);
void repro_shard_sum_free(repro_shard_sum *s);

/* This rank's shards [*first, *first + *n). */
void repro_shard_sum_owned(const repro_shard_sum *s, int *first, int *n);
/* Positions [*lo, *hi) of shard `shard` in a step of count samples. */
void repro_shard_range(int shards, int shard, int64_t count, int64_t *lo, int64_t *hi);

/* The host buffer [n_params] for the i-th owned shard's gradient. */
float *repro_shard_sum_leaf(repro_shard_sum *s, int i);

/* After the leaves: grads[n_params] = the tree's root; losses[h][count]
 * (host) get every rank's per-sample losses (this rank's own positions
 * must be filled); *any_stop = 1 when any rank passed stop != 0. */
repro_status repro_shard_sum_reduce(repro_shard_sum *s, int64_t step, int64_t count, float *const *losses,
                                    int stop, int *any_stop, float *grads, repro_error *err);

#endif
