/* GPUs of more than one process exchange the shard tree's frontiers
 * through NCCL (backend/peers.h) when every rank can load it, else through
 * host memory with the world's engine (train/shard_sum.h);
 * REPRO_WORLD_EXCHANGE=host|nccl|auto (default) chooses. Neither changes a
 * bit: both only move the tree's nodes. Rank 0 draws NCCL's id and the
 * world's all-gather hands it to every rank. */
#ifndef REPRO_TRAIN_WORLD_PEERS_H
#define REPRO_TRAIN_WORLD_PEERS_H

#include <stddef.h>

#include "backend/backend.h"
#include "backend/peers.h"
#include "repro/status.h"
#include "train/world.h"

/* Every rank calls it at the same point. *out: the joined NCCL peers, or
 * NULL (one process, the CPU, or host memory chosen or fallen back to);
 * how: what run.json's world.gradient_exchange says. An unknown
 * REPRO_WORLD_EXCHANGE, or nccl where a rank cannot use it or the run is
 * on the CPU, is an error naming it. */
repro_status repro_world_peers_open(repro_world *w, const repro_backend *be, repro_peers **out, char *how,
                                    size_t how_size, repro_error *err);

#endif
