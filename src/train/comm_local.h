/* Processes forked on one host as the world's engine (`repro train
 * --procs N`, no MPI needed: the GPU machines have none). Rank 0 is the
 * launching process; ranks 1..N-1 are its children, each with a Unix
 * socket to every other rank. Like comm_mpi.h it only moves bytes, with a
 * deadline; a rank that dies closes its sockets, which every rank waiting
 * on it sees at once. With device: cuda, rank r sees only GPU r (the r-th
 * entry of CUDA_VISIBLE_DEVICES, or r). */
#ifndef REPRO_TRAIN_COMM_LOCAL_H
#define REPRO_TRAIN_COMM_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "repro/status.h"

typedef struct repro_comm_local repro_comm_local;

/* Forks n - 1 children (call it before any thread or GPU exists); returns
 * in every process, with that process's rank. */
repro_status repro_comm_local_spawn(int n, repro_comm_local **out, repro_error *err);
int repro_comm_local_rank(const repro_comm_local *c);
int repro_comm_local_size(const repro_comm_local *c);

/* See repro_world_allgather. */
repro_status repro_comm_local_allgather(repro_comm_local *c, const void *send, void *recv, const size_t *bytes,
                                        int64_t step, const char *host, repro_error *err);

/* Stops every other rank at once (after a failure here). */
void repro_comm_local_abort(repro_comm_local *c);

/* Rank 0: waits for every child and returns rc, or 1 when a child failed
 * (each named on stderr). Other ranks: returns rc. Frees c. */
int repro_comm_local_finish(repro_comm_local *c, int rc);

#endif
