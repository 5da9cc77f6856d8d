/* The processes of a data-parallel run: see world.h. The MPI engine is in
 * comm_mpi.c (compiled to stubs without MPI); this file is the world of
 * one and the parts that do not depend on the engine. */
#include "train/world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train/comm_local.h"
#include "train/comm_mpi.h"

struct repro_world {
    int rank, size;
    repro_comm_mpi *mpi;     /* mpirun's processes, or NULL */
    repro_comm_local *local; /* --procs: forked processes, or NULL (not owned: the CLI finishes it) */
    char host[256];
};

/* Launched by an MPI launcher: Open MPI (and PMIx) set these. */
static int under_mpirun(void)
{
    const char *v = getenv("OMPI_COMM_WORLD_SIZE");
    return (v && v[0]) || getenv("PMIX_RANK") != NULL;
}

repro_status repro_world_open(repro_comm_local *local, repro_world **out, repro_error *err)
{
    *out = NULL;
    repro_world *w = calloc(1, sizeof *w);
    if (!w)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the world");
    w->size = 1;
    if (gethostname(w->host, sizeof w->host - 1) != 0)
        snprintf(w->host, sizeof w->host, "unknown");
    if (local) {
        w->local = local;
        w->rank = repro_comm_local_rank(local);
        w->size = repro_comm_local_size(local);
    } else if (under_mpirun()) {
        if (!repro_comm_mpi_built()) {
            free(w);
            return repro_fail(err, REPRO_ERR_CONFIG, "launched by mpirun, but this repro was built without MPI "
                              "(install libopenmpi-dev and rebuild with -DREPRO_MPI=ON)");
        }
        repro_status st = repro_comm_mpi_open(&w->mpi, &w->rank, &w->size, err);
        if (st != REPRO_OK) {
            free(w);
            return st;
        }
    }
    *out = w;
    return REPRO_OK;
}

int repro_world_rank(const repro_world *w) { return w ? w->rank : 0; }
int repro_world_size(const repro_world *w) { return w ? w->size : 1; }
const char *repro_world_host(const repro_world *w) { return w ? w->host : "localhost"; }

repro_status repro_world_allgather(repro_world *w, const void *send, void *recv, const size_t *bytes,
                                   int64_t step, repro_error *err)
{
    if (w->size == 1) {
        memmove(recv, send, bytes[0]);
        return REPRO_OK;
    }
    if (w->local)
        return repro_comm_local_allgather(w->local, send, recv, bytes, step, w->host, err);
    return repro_comm_mpi_allgather(w->mpi, send, recv, bytes, step, w->host, err);
}

repro_status repro_world_agree(repro_world *w, const char *what, const void *val, size_t bytes, repro_error *err)
{
    if (w->size == 1)
        return REPRO_OK;
    size_t *sizes = malloc((size_t)w->size * sizeof *sizes);
    unsigned char *all = malloc((size_t)w->size * bytes);
    repro_status st = sizes && all ? REPRO_OK : repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate a check buffer");
    for (int r = 0; st == REPRO_OK && r < w->size; r++)
        sizes[r] = bytes;
    if (st == REPRO_OK)
        st = repro_world_allgather(w, val, all, sizes, 0, err);
    for (int r = 1; st == REPRO_OK && r < w->size; r++)
        if (memcmp(all, all + (size_t)r * bytes, bytes) != 0)
            st = repro_fail(err, REPRO_ERR_CONFIG, "rank %d's %s differs from rank 0's: every rank must run "
                            "the same thing", r, what);
    free(sizes);
    free(all);
    return st;
}

cJSON *repro_world_describe(const repro_world *w, int shards)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "size", w->size);
    cJSON_AddNumberToObject(o, "shards", shards);
    cJSON *hosts = cJSON_AddArrayToObject(o, "hosts");
    if (w->mpi)
        repro_comm_mpi_hosts(w->mpi, hosts);
    for (int r = 0; !w->mpi && r < w->size; r++)
        cJSON_AddItemToArray(hosts, cJSON_CreateString(w->host));
    cJSON_AddStringToObject(o, "engine", w->mpi     ? repro_comm_mpi_version()
                                         : w->local ? "forked processes on one host (repro train --procs)"
                                                    : "none (one process)");
    return o;
}

void repro_world_close(repro_world *w, int failed, const char *message)
{
    if (!w)
        return;
    if (w->local && failed && w->size > 1) {
        fprintf(stderr, "repro: rank %d (host %s): %s; stopping every rank\n", w->rank, w->host,
                message ? message : "failed");
        repro_comm_local_abort(w->local);
    }
    if (w->mpi) {
        if (failed && w->size > 1) {
            fprintf(stderr, "repro: rank %d (host %s): %s; stopping every rank\n", w->rank, w->host,
                    message ? message : "failed");
            fflush(stderr);
            repro_comm_mpi_abort(w->mpi, 1);
        }
        repro_comm_mpi_close(w->mpi);
    }
    free(w);
}
