/* GPUs exchanging floats through NCCL's sends and receives: see peers.h.
 * libnccl.so.2 is opened at run time (the loader's search path, then
 * REPRO_NCCL_LIBRARY, then the CUDA toolkit's library folder of this
 * build); a build without CUDA has only the refusals. */
#include "backend/peers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef REPRO_HAVE_CUDA

repro_status repro_peers_load(const repro_backend *be, repro_peers **out, repro_error *err)
{
    (void)be;
    *out = NULL;
    return repro_fail(err, REPRO_ERR_UNSUPPORTED, "NCCL needs a build with CUDA (-DREPRO_CUDA=ON)");
}

repro_status repro_peers_id(repro_peers *p, unsigned char id[REPRO_PEERS_ID_BYTES], repro_error *err)
{
    (void)p, (void)id;
    return repro_fail(err, REPRO_ERR_UNSUPPORTED, "NCCL needs a build with CUDA (-DREPRO_CUDA=ON)");
}

repro_status repro_peers_join(repro_peers *p, const unsigned char id[REPRO_PEERS_ID_BYTES], int rank, int size,
                              double timeout_sec, repro_error *err)
{
    (void)p, (void)id, (void)rank, (void)size, (void)timeout_sec;
    return repro_fail(err, REPRO_ERR_UNSUPPORTED, "NCCL needs a build with CUDA (-DREPRO_CUDA=ON)");
}

const char *repro_peers_describe(const repro_peers *p)
{
    (void)p;
    return "none";
}

repro_status repro_peers_allgather(repro_peers *p, const float *send, float *const *recv, const int64_t *floats,
                                   int64_t step, repro_error *err)
{
    (void)p, (void)send, (void)recv, (void)floats, (void)step;
    return repro_fail(err, REPRO_ERR_UNSUPPORTED, "NCCL needs a build with CUDA (-DREPRO_CUDA=ON)");
}

void repro_peers_close(repro_peers *p, int abort)
{
    (void)p;
    (void)abort;
}

#else

#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <nccl.h>
#include <time.h>

#include "backend/dl_symbol.h"
#include "backend/kernel.h"

#define NCCL_SONAME "libnccl.so.2"

/* The NCCL functions repro calls, found with dlsym. */
typedef struct nccl_lib {
    void *handle;
    ncclResult_t (*get_unique_id)(ncclUniqueId *id);
    ncclResult_t (*comm_init_rank)(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank);
    ncclResult_t (*comm_destroy)(ncclComm_t comm);
    ncclResult_t (*comm_abort)(ncclComm_t comm);
    ncclResult_t (*comm_get_async_error)(ncclComm_t comm, ncclResult_t *result);
    ncclResult_t (*group_start)(void);
    ncclResult_t (*group_end)(void);
    ncclResult_t (*send)(const void *buf, size_t count, ncclDataType_t t, int peer, ncclComm_t comm,
                         cudaStream_t stream);
    ncclResult_t (*recv)(void *buf, size_t count, ncclDataType_t t, int peer, ncclComm_t comm, cudaStream_t stream);
    ncclResult_t (*get_version)(int *version);
    const char *(*error_string)(ncclResult_t r);
} nccl_lib;

struct repro_peers {
    nccl_lib lib;
    ncclComm_t comm;
    cudaStream_t stream;
    int rank, size;
    double timeout_sec;
    char describe[64];
};

static repro_status open_lib(nccl_lib *lib, repro_error *err)
{
    memset(lib, 0, sizeof *lib);
    /* point-to-point never uses NVLink multicast; keep NCCL from setting it up */
    setenv("NCCL_NVLS_ENABLE", "0", 1);
    char first_error[512];
    lib->handle = dlopen(NCCL_SONAME, RTLD_NOW | RTLD_LOCAL);
    snprintf(first_error, sizeof first_error, "%s", lib->handle ? "" : dlerror());
    const char *path = getenv("REPRO_NCCL_LIBRARY");
    if (!lib->handle && path && path[0])
        lib->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
#ifdef REPRO_CUDA_LIBRARY_DIR
    if (!lib->handle)
        lib->handle = dlopen(REPRO_CUDA_LIBRARY_DIR "/" NCCL_SONAME, RTLD_NOW | RTLD_LOCAL);
#endif
    if (!lib->handle)
        return repro_fail(err, REPRO_ERR_UNSUPPORTED, "GPUs exchange through NCCL, and %s cannot be opened (%s); "
                          "set REPRO_NCCL_LIBRARY to its path, or REPRO_WORLD_EXCHANGE=host",
                          NCCL_SONAME, first_error);
    const struct {
        const char *name;
        void *fn; /* where its address goes */
    } want[] = {
        {"ncclGetUniqueId", &lib->get_unique_id},
        {"ncclCommInitRank", &lib->comm_init_rank},
        {"ncclCommDestroy", &lib->comm_destroy},
        {"ncclCommAbort", &lib->comm_abort},
        {"ncclCommGetAsyncError", &lib->comm_get_async_error},
        {"ncclGroupStart", &lib->group_start},
        {"ncclGroupEnd", &lib->group_end},
        {"ncclSend", &lib->send},
        {"ncclRecv", &lib->recv},
        {"ncclGetVersion", &lib->get_version},
        {"ncclGetErrorString", &lib->error_string},
    };
    const char *missing = NULL;
    for (size_t i = 0; !missing && i < sizeof want / sizeof *want; i++)
        if (!repro_dl_symbol(lib->handle, want[i].name, want[i].fn))
            missing = want[i].name;
    if (missing) {
        dlclose(lib->handle);
        lib->handle = NULL;
        return repro_fail(err, REPRO_ERR_UNSUPPORTED, "%s has no %s", NCCL_SONAME, missing);
    }
    return REPRO_OK;
}

static repro_status nccl_fail(const nccl_lib *lib, ncclResult_t r, const char *what, repro_error *err)
{
    return repro_fail(err, REPRO_ERR_IO, "NCCL %s: %s", what, lib->error_string(r));
}

repro_status repro_peers_load(const repro_backend *be, repro_peers **out, repro_error *err)
{
    *out = NULL;
    if (repro_backend_device(be) != REPRO_DEVICE_CUDA)
        return repro_fail(err, REPRO_ERR_UNSUPPORTED, "NCCL moves GPU memory: the backend is not CUDA");
    repro_peers *p = calloc(1, sizeof *p);
    if (!p)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the NCCL peers");
    repro_status st = open_lib(&p->lib, err);
    if (st != REPRO_OK) {
        free(p);
        return st;
    }
    p->stream = (cudaStream_t)repro_backend_stream(be);
    int v = 0;
    p->lib.get_version(&v);
    snprintf(p->describe, sizeof p->describe, "NCCL %d.%d.%d", v / 10000, v / 100 % 100, v % 100);
    *out = p;
    return REPRO_OK;
}

repro_status repro_peers_id(repro_peers *p, unsigned char id[REPRO_PEERS_ID_BYTES], repro_error *err)
{
    _Static_assert(sizeof(ncclUniqueId) == REPRO_PEERS_ID_BYTES, "NCCL's id is 128 bytes");
    ncclUniqueId u;
    ncclResult_t r = p->lib.get_unique_id(&u);
    if (r != ncclSuccess)
        return nccl_fail(&p->lib, r, "ncclGetUniqueId", err);
    memcpy(id, u.internal, REPRO_PEERS_ID_BYTES);
    return REPRO_OK;
}

static repro_status warm_up(repro_peers *p, repro_error *err);

repro_status repro_peers_join(repro_peers *p, const unsigned char id[REPRO_PEERS_ID_BYTES], int rank, int size,
                              double timeout_sec, repro_error *err)
{
    p->rank = rank;
    p->size = size;
    p->timeout_sec = timeout_sec;
    ncclUniqueId u;
    memcpy(u.internal, id, REPRO_PEERS_ID_BYTES);
    ncclResult_t r = p->lib.comm_init_rank(&p->comm, size, u, rank);
    if (r != ncclSuccess) {
        p->comm = NULL;
        return nccl_fail(&p->lib, r, "ncclCommInitRank", err);
    }
    return warm_up(p, err);
}

const char *repro_peers_describe(const repro_peers *p)
{
    return p->describe;
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Waits for the stream, watching NCCL's errors and the deadline. */
static repro_status wait_exchange(repro_peers *p, int64_t step, repro_error *err)
{
    double deadline = now_sec() + p->timeout_sec;
    for (;;) {
        cudaError_t c = cudaStreamQuery(p->stream);
        if (c == cudaSuccess)
            return REPRO_OK;
        if (c != cudaErrorNotReady)
            return repro_fail(err, REPRO_ERR_IO, "step %lld: the GPU exchange failed: %s", (long long)step,
                              cudaGetErrorString(c));
        ncclResult_t async = ncclSuccess;
        p->lib.comm_get_async_error(p->comm, &async);
        if (async != ncclSuccess && async != ncclInProgress)
            return repro_fail(err, REPRO_ERR_IO, "step %lld: NCCL failed: %s (a peer GPU's process died or "
                              "failed)", (long long)step, p->lib.error_string(async));
        if (now_sec() > deadline)
            return repro_fail(err, REPRO_ERR_IO, "step %lld: the GPUs' exchange did not finish within %g s "
                              "(REPRO_WORLD_TIMEOUT): a peer hung or died", (long long)step, p->timeout_sec);
    }
}

repro_status repro_peers_allgather(repro_peers *p, const float *send, float *const *recv, const int64_t *floats,
                                   int64_t step, repro_error *err)
{
    if (!p->comm)
        return repro_fail(err, REPRO_ERR_STATE, "step %lld: the GPUs' exchange was aborted earlier", (long long)step);
    ncclResult_t r = p->lib.group_start();
    for (int k = 1; r == ncclSuccess && k < p->size; k++) {
        /* pairs in a ring order, so every rank posts its sends and receives
         * in an order that matches its peers' */
        int to = (p->rank + k) % p->size, from = (p->rank - k + p->size) % p->size;
        if (floats[p->rank] > 0)
            r = p->lib.send(send, (size_t)floats[p->rank], ncclFloat32, to, p->comm, p->stream);
        if (r == ncclSuccess && floats[from] > 0)
            r = p->lib.recv(recv[from], (size_t)floats[from], ncclFloat32, from, p->comm, p->stream);
    }
    ncclResult_t end = p->lib.group_end();
    if (r == ncclSuccess)
        r = end;
    if (r != ncclSuccess)
        return repro_fail(err, REPRO_ERR_IO, "step %lld: NCCL send/receive: %s", (long long)step,
                          p->lib.error_string(r));
    repro_status st = wait_exchange(p, step, err);
    if (st != REPRO_OK) { /* NCCL's kernels spin on a peer that is gone: abort them before anything syncs */
        p->lib.comm_abort(p->comm);
        p->comm = NULL;
    }
    return st;
}

/* NCCL connects a pair of GPUs at their first send (a quarter of a second
 * on an H200 pair): one float to every peer now, so that the steps'
 * exchanges (and run.json's exchange_sec) do not carry it. */
static repro_status warm_up(repro_peers *p, repro_error *err)
{
    float *buf = NULL;
    if (cudaMalloc((void **)&buf, (size_t)p->size * sizeof(float)) != cudaSuccess)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate NCCL's warm-up buffer on the GPU");
    float **recv = malloc((size_t)p->size * sizeof *recv);
    int64_t *floats = malloc((size_t)p->size * sizeof *floats);
    repro_status st = recv && floats ? REPRO_OK : repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate NCCL's warm-up");
    for (int r = 0; st == REPRO_OK && r < p->size; r++) {
        recv[r] = buf + r;
        floats[r] = 1;
    }
    if (st == REPRO_OK)
        st = repro_peers_allgather(p, buf + p->rank, recv, floats, 0, err);
    free(recv);
    free(floats);
    cudaFree(buf);
    return st;
}

void repro_peers_close(repro_peers *p, int abort)
{
    if (!p)
        return;
    if (p->comm && abort)
        p->lib.comm_abort(p->comm);
    else if (p->comm)
        p->lib.comm_destroy(p->comm);
    dlclose(p->lib.handle);
    free(p);
}

#endif /* REPRO_HAVE_CUDA */
