/* GPUs of a data-parallel run moving floats to each other directly
 * (docs/parallel.md): NCCL's point-to-point sends and receives, opened at
 * run time (libnccl.so.2, like cuBLAS), so NCCL is neither a link
 * dependency nor needed by one GPU. Nothing here adds: NCCL's reductions
 * are never used (their order is NCCL's); the exact sums are the
 * trainer's (train/reduce_tree.h).
 *
 * Bootstrapping is the caller's: rank 0 draws an id, every rank receives
 * it over the world's own channel (sockets or MPI), then every rank opens
 * the peers with it. NVLink multicast (NVLS) is turned off: point-to-point
 * traffic never uses it, and on shared machines it can take GPUs out of
 * service. */
#ifndef REPRO_BACKEND_PEERS_H
#define REPRO_BACKEND_PEERS_H

#include <stdint.h>

#include "backend/backend.h"

enum { REPRO_PEERS_ID_BYTES = 128 };

typedef struct repro_peers repro_peers;

/* Loads NCCL for be's GPU. REPRO_ERR_UNSUPPORTED, naming what is missing
 * (a CUDA backend, libnccl.so.2), when it cannot be used. */
repro_status repro_peers_load(const repro_backend *be, repro_peers **out, repro_error *err);

/* Rank 0: a fresh id for repro_peers_join (NCCL's bootstrap starts
 * listening for the other ranks). */
repro_status repro_peers_id(repro_peers *p, unsigned char id[REPRO_PEERS_ID_BYTES], repro_error *err);

/* Every rank, with rank 0's id: joins the `size` GPUs. timeout_sec bounds
 * every later exchange. */
repro_status repro_peers_join(repro_peers *p, const unsigned char id[REPRO_PEERS_ID_BYTES], int rank, int size,
                              double timeout_sec, repro_error *err);

/* "NCCL 2.28.9" */
const char *repro_peers_describe(const repro_peers *p);

/* Every rank's block to every other rank, on be's stream, and waits for it:
 * recv[r] (device memory, floats[r] floats) receives rank r's block for
 * every r != this rank; send holds this rank's floats[rank]. A peer that
 * does not finish within the timeout, or an NCCL error, ends the peers
 * (aborting NCCL's communicator) and fails, naming `step`. */
repro_status repro_peers_allgather(repro_peers *p, const float *send, float *const *recv, const int64_t *floats,
                                   int64_t step, repro_error *err);

/* Ends the peers; abort: without waiting for the others (after a failure). */
void repro_peers_close(repro_peers *p, int abort);

#endif
