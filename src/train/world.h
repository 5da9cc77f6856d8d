/* The processes of a data-parallel run (docs/parallel.md): who they are and
 * the one collective they need, an exact all-gather of bytes. Nothing here
 * adds floats: MPI only moves them (train/reduce_tree.h adds them).
 *
 * Processes forked by `repro train --procs N` (train/comm_local.h); or,
 * under mpirun in a build with MPI (REPRO_MPI), every process of
 * MPI_COMM_WORLD (train/comm_mpi.h); otherwise a world of one, where the
 * all-gather is a copy. */
#ifndef REPRO_TRAIN_WORLD_H
#define REPRO_TRAIN_WORLD_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "repro/status.h"

typedef struct repro_world repro_world;

struct repro_comm_local;

/* Opens the world: the forked ranks of `local` when not NULL (train/
 * comm_local.h); else MPI_COMM_WORLD when launched by mpirun (refused,
 * naming the missing piece, in a build without MPI); else a world of one. */
repro_status repro_world_open(struct repro_comm_local *local, repro_world **out, repro_error *err);

int repro_world_rank(const repro_world *w);
int repro_world_size(const repro_world *w);
const char *repro_world_host(const repro_world *w); /* this process's host name */

/* Every rank's block, in rank order: recv = block 0 | block 1 | ...,
 * bytes[r] the size of rank r's block (every rank passes the same bytes);
 * send holds this rank's. A rank that does not answer within the deadline
 * (REPRO_WORLD_TIMEOUT seconds, default 600) stops every rank with a
 * message naming the silent ranks, this rank's host and `step`. */
repro_status repro_world_allgather(repro_world *w, const void *send, void *recv, const size_t *bytes,
                                   int64_t step, repro_error *err);

/* Checks that every rank holds the same `bytes` bytes at val; else an error
 * naming `what` and the first rank that differs from rank 0. */
repro_status repro_world_agree(repro_world *w, const char *what, const void *val, size_t bytes,
                               repro_error *err);

/* run.json's "world": size, hosts, engine and its version. */
cJSON *repro_world_describe(const repro_world *w, int shards);

/* Ends the world. failed: this rank stops with an error that the others may
 * be waiting on: with more than one rank it prints message (naming the
 * rank and host) and aborts the whole job (MPI_Abort), so no rank hangs. */
void repro_world_close(repro_world *w, int failed, const char *message);

#endif
