/* NCCL between the world's GPUs: see world_peers.h. */
#include "train/world_peers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

repro_status repro_world_peers_open(repro_world *w, const repro_backend *be, repro_peers **out, char *how,
                                    size_t how_size, repro_error *err)
{
    enum { MSG = 512, ID = 1 };
    *out = NULL;
    int size = repro_world_size(w), rank = repro_world_rank(w);
    snprintf(how, how_size, "%s",
             size == 1 ? "none (one process)" : "host memory, through the world's engine");
    const char *want = getenv("REPRO_WORLD_EXCHANGE");
    want = want && want[0] ? want : "auto";
    if (strcmp(want, "host") != 0 && strcmp(want, "nccl") != 0 && strcmp(want, "auto") != 0)
        return repro_fail(err, REPRO_ERR_ARG, "REPRO_WORLD_EXCHANGE=%s: expected auto, nccl or host", want);
    int on_cpu = repro_backend_device(be) == REPRO_DEVICE_CPU;
    if (size > 1 && on_cpu && strcmp(want, "nccl") == 0)
        return repro_fail(err, REPRO_ERR_ARG, "REPRO_WORLD_EXCHANGE=nccl: NCCL moves GPU memory, and this run is on "
                          "the CPU (device: cpu)");
    if (size == 1 || on_cpu || strcmp(want, "host") == 0)
        return REPRO_OK;
    /* each rank's message: [ok][rank 0's id][why not] */
    unsigned char *mine = calloc(1, MSG), *all = calloc((size_t)size, MSG);
    size_t *bytes = calloc((size_t)size, sizeof *bytes);
    if (!mine || !all || !bytes) {
        free(mine), free(all), free(bytes);
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate NCCL's bootstrap");
    }
    repro_error why = {0};
    repro_status st = repro_peers_load(be, out, &why);
    if (st == REPRO_OK && rank == 0)
        st = repro_peers_id(*out, mine + ID, &why);
    mine[0] = st == REPRO_OK;
    snprintf((char *)mine + ID + REPRO_PEERS_ID_BYTES, MSG - ID - REPRO_PEERS_ID_BYTES, "%.300s", why.message);
    for (int r = 0; r < size; r++)
        bytes[r] = MSG;
    st = repro_world_allgather(w, mine, all, bytes, 0, err);
    int failed = -1;
    for (int r = 0; st == REPRO_OK && r < size && failed < 0; r++)
        if (!all[(size_t)r * MSG])
            failed = r;
    if (st == REPRO_OK && failed >= 0) {
        const char *reason = (const char *)all + (size_t)failed * MSG + ID + REPRO_PEERS_ID_BYTES;
        repro_peers_close(*out, 1);
        *out = NULL;
        if (strcmp(want, "nccl") == 0)
            st = repro_fail(err, REPRO_ERR_UNSUPPORTED, "REPRO_WORLD_EXCHANGE=nccl, but rank %d cannot use NCCL: %s",
                            failed, reason);
        else
            snprintf(how, how_size,
                     "host memory, through the world's engine (NCCL unused: rank %d: %.300s)", failed, reason);
    } else if (st == REPRO_OK) {
        const char *v = getenv("REPRO_WORLD_TIMEOUT");
        st = repro_peers_join(*out, all + ID, rank, size, v && atof(v) > 0 ? atof(v) : 600.0, err);
        if (st == REPRO_OK)
            snprintf(how, how_size, "%s, GPU to GPU (sends and receives only)",
                     repro_peers_describe(*out));
    }
    free(mine), free(all), free(bytes);
    return st;
}
