/* Open MPI as the world's engine: see comm_mpi.h. The all-gather is point
 * to point (every rank sends its block to every other) and waited on with
 * nonblocking tests against a deadline, so a rank that hangs is named
 * instead of stalling the job; a rank that dies is reported by mpirun
 * (which stops the job) and by the deadline otherwise. */
#include "train/comm_mpi.h"

#include <stdlib.h>

#ifdef REPRO_HAVE_MPI

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

enum { HOST_LEN = 64 };

struct repro_comm_mpi {
    int rank, size, we_initialised;
    char *hosts; /* [size][HOST_LEN] */
    MPI_Request *reqs; /* [2 * size] */
    double timeout_sec;
};

int repro_comm_mpi_built(void) { return 1; }

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

repro_status repro_comm_mpi_open(repro_comm_mpi **out, int *rank, int *size, repro_error *err)
{
    *out = NULL;
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (finalized)
        return repro_fail(err, REPRO_ERR_STATE, "MPI was already finalised in this process (one run per process)");
    repro_comm_mpi *c = calloc(1, sizeof *c);
    if (!c)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the MPI state");
    if (!inited) {
        int provided;
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
            free(c);
            return repro_fail(err, REPRO_ERR_IO, "MPI_Init_thread failed");
        }
        c->we_initialised = 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    const char *t = getenv("REPRO_WORLD_TIMEOUT");
    c->timeout_sec = t && atof(t) > 0 ? atof(t) : 600.0;
    c->hosts = calloc((size_t)c->size, HOST_LEN);
    c->reqs = calloc((size_t)c->size * 2, sizeof *c->reqs);
    if (!c->hosts || !c->reqs) {
        repro_comm_mpi_close(c);
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the MPI state");
    }
    char me[HOST_LEN] = "";
    gethostname(me, HOST_LEN - 1);
    MPI_Allgather(me, HOST_LEN, MPI_CHAR, c->hosts, HOST_LEN, MPI_CHAR, MPI_COMM_WORLD);
    *rank = c->rank;
    *size = c->size;
    *out = c;
    return REPRO_OK;
}

/* Waits for the n requests until the deadline, testing with a growing
 * pause (the ranks share cores with the compute). Returns 1 when all
 * completed. */
static int wait_all(MPI_Request *reqs, int n, double deadline)
{
    long pause_ns = 0;
    for (;;) {
        int done = 0;
        MPI_Testall(n, reqs, &done, MPI_STATUSES_IGNORE);
        if (done)
            return 1;
        if (now_sec() > deadline)
            return 0;
        if (pause_ns > 0) {
            struct timespec ts = {0, pause_ns};
            nanosleep(&ts, NULL);
        }
        pause_ns = pause_ns < 1000 ? pause_ns + 100 : pause_ns < 1000000 ? pause_ns * 2 : 1000000;
    }
}

repro_status repro_comm_mpi_allgather(repro_comm_mpi *c, const void *send, void *recv, const size_t *bytes,
                                      int64_t step, const char *host, repro_error *err)
{
    size_t off = 0, mine = 0;
    int n = 0;
    for (int r = 0; r < c->size; r++) {
        if (bytes[r] > INT_MAX)
            return repro_fail(err, REPRO_ERR_ARG, "a block of %zu bytes is too large for one MPI message",
                              bytes[r]);
        if (r == c->rank)
            mine = off;
        else
            MPI_Irecv((char *)recv + off, (int)bytes[r], MPI_BYTE, r, 1, MPI_COMM_WORLD, &c->reqs[n++]);
        off += bytes[r];
    }
    int n_recv = n;
    for (int r = 0; r < c->size; r++)
        if (r != c->rank)
            MPI_Isend(send, (int)bytes[c->rank], MPI_BYTE, r, 1, MPI_COMM_WORLD, &c->reqs[n++]);
    memmove((char *)recv + mine, send, bytes[c->rank]);
    if (wait_all(c->reqs, n, now_sec() + c->timeout_sec))
        return REPRO_OK;
    /* the ranks this one still waits on: a receive or a send not done */
    char silent[256] = "";
    for (int r = 0; r < c->size; r++) {
        if (r == c->rank)
            continue;
        int i = r < c->rank ? r : r - 1, done_recv = 0, done_send = 0;
        MPI_Test(&c->reqs[i], &done_recv, MPI_STATUS_IGNORE);
        MPI_Test(&c->reqs[n_recv + i], &done_send, MPI_STATUS_IGNORE);
        size_t len = strlen(silent);
        if ((!done_recv || !done_send) && len + 80 < sizeof silent)
            snprintf(silent + len, sizeof silent - len, "%s%d (%.64s)", len ? ", " : "", r, c->hosts + r * HOST_LEN);
    }
    return repro_fail(err, REPRO_ERR_IO, "step %lld on %s: no answer from rank %s within %g s "
                      "(REPRO_WORLD_TIMEOUT): it hung or died", (long long)step, host, silent[0] ? silent : "?",
                      c->timeout_sec);
}

void repro_comm_mpi_hosts(const repro_comm_mpi *c, cJSON *array)
{
    for (int r = 0; r < c->size; r++)
        cJSON_AddItemToArray(array, cJSON_CreateString(c->hosts + r * HOST_LEN));
}

const char *repro_comm_mpi_version(void)
{
    static char version[MPI_MAX_LIBRARY_VERSION_STRING]; /* constant once filled: the library's own */
    int len = 0;
    MPI_Get_library_version(version, &len);
    char *nl = strpbrk(version, "\n,");
    if (nl)
        *nl = '\0';
    return version;
}

void repro_comm_mpi_abort(repro_comm_mpi *c, int code)
{
    (void)c;
    MPI_Abort(MPI_COMM_WORLD, code);
    exit(code); /* not reached */
}

void repro_comm_mpi_close(repro_comm_mpi *c)
{
    if (!c)
        return;
    if (c->we_initialised) {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized)
            MPI_Finalize();
    }
    free(c->hosts);
    free(c->reqs);
    free(c);
}

#else /* no MPI in this build: a world of one only */

int repro_comm_mpi_built(void) { return 0; }

repro_status repro_comm_mpi_open(repro_comm_mpi **out, int *rank, int *size, repro_error *err)
{
    *out = NULL;
    *rank = 0;
    *size = 1;
    return repro_fail(err, REPRO_ERR_CONFIG, "this repro was built without MPI (REPRO_MPI)");
}

repro_status repro_comm_mpi_allgather(repro_comm_mpi *c, const void *send, void *recv, const size_t *bytes,
                                      int64_t step, const char *host, repro_error *err)
{
    (void)c, (void)send, (void)recv, (void)bytes, (void)step, (void)host;
    return repro_fail(err, REPRO_ERR_STATE, "this repro was built without MPI (REPRO_MPI)");
}

void repro_comm_mpi_hosts(const repro_comm_mpi *c, cJSON *array) { (void)c, (void)array; }
const char *repro_comm_mpi_version(void) { return "none"; }
void repro_comm_mpi_abort(repro_comm_mpi *c, int code) { (void)c; exit(code); }
void repro_comm_mpi_close(repro_comm_mpi *c) { (void)c; }

#endif
