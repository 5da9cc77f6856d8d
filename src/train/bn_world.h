/* Batch norm's running statistics over the world's processes
 * (docs/parallel.md). In one process they are updated group by group in
 * sample order, as the forward passes meet the groups; with more, each
 * rank meets only its own shards' groups. So in a step of more than one
 * process each rank logs its groups' statistics instead of applying them
 * (nn/model.h, repro_model_set_bn_log), the step's exchange carries every
 * rank's log (train/shard_sum.h), and every rank replays the updates over
 * all groups: rank after rank, and in a rank's block group after group for
 * each layer. Each layer's running statistics depend on its own groups
 * only, so that is one process's order and gives its bits.
 *
 * A rank's block, for a step of count samples: for each batch-norm layer
 * in model order, for each of the rank's groups in sample order, the
 * group's means [C] then its unbiased variances [C]. Its size follows from
 * the cut alone (shards, micro-batches inside a shard, groups inside a
 * micro-batch), so every rank knows every rank's before the exchange. */
#ifndef REPRO_TRAIN_BN_WORLD_H
#define REPRO_TRAIN_BN_WORLD_H

#include <stdint.h>

#include "backend/backend.h"
#include "nn/model.h"
#include "repro/status.h"
#include "train/shard_sum.h"

typedef struct repro_bn_world repro_bn_world;

/* *out is NULL when the model has no batch norm. The model's memory is
 * be's (a GPU's with device: cuda). Rank `rank` of `size`; steps of at most
 * batch_size samples cut into `shards` shards and micro-batches of `micro`
 * samples. */
repro_status repro_bn_world_create(repro_model *m, const repro_backend *be, int shards, int size, int rank, int64_t batch_size,
                                   int64_t micro, repro_bn_world **out, repro_error *err);
void repro_bn_world_free(repro_bn_world *b);

/* The most floats any rank's block holds (a full step's). */
int64_t repro_bn_world_max_floats(const repro_bn_world *b);

/* A step starts: the model logs its groups' statistics (into be's memory). */
void repro_bn_world_begin(repro_bn_world *b);

/* This rank's forward passes of a step of count samples are done: the
 * model stops logging, and *extra is what the step's exchange carries for
 * batch norm (this rank's block, every rank's size, where every rank's
 * goes). REPRO_ERR_INTERNAL when the log does not hold the groups the cut
 * says. */
repro_status repro_bn_world_end(repro_bn_world *b, int64_t count, repro_shard_extra *extra, repro_error *err);

/* After the exchange: every rank's block replayed into the model's
 * running statistics, rank after rank (on the host: a GPU's running
 * statistics go there and back, a few floats per channel). */
repro_status repro_bn_world_replay(repro_bn_world *b, repro_error *err);

#endif
