/* Open MPI as the world's engine (train/world.h): MPI only moves bytes,
 * point to point, with a deadline; it never adds. Built to stubs without
 * MPI (CMake REPRO_MPI=OFF, or AUTO without libopenmpi-dev). */
#ifndef REPRO_TRAIN_COMM_MPI_H
#define REPRO_TRAIN_COMM_MPI_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "repro/status.h"

typedef struct repro_comm_mpi repro_comm_mpi;

int repro_comm_mpi_built(void); /* 1 when this build has MPI */
repro_status repro_comm_mpi_open(repro_comm_mpi **out, int *rank, int *size, repro_error *err);
/* See repro_world_allgather. */
repro_status repro_comm_mpi_allgather(repro_comm_mpi *c, const void *send, void *recv, const size_t *bytes,
                                      int64_t step, const char *host, repro_error *err);
void repro_comm_mpi_hosts(const repro_comm_mpi *c, cJSON *array); /* every rank's host, rank order */
const char *repro_comm_mpi_version(void);
void repro_comm_mpi_abort(repro_comm_mpi *c, int code); /* does not return */
void repro_comm_mpi_close(repro_comm_mpi *c);

#endif
