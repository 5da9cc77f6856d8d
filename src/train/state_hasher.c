/* The ledger's hashes off the training thread: see state_hasher.h. */
#include "train/state_hasher.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "optim/optim.h"
#include "repro/record.h"

struct repro_state_hasher {
    const repro_backend *be;
    int64_t n;
    float *snap;            /* [3][n] host copies: params, m, v */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int job;                /* a snapshot waits to be hashed or is being hashed */
    int quit;
    /* the job */
    int has_m, has_v;
    int64_t t;
    char *params_hex, *optim_hex;
};

static void *hash_thread(void *arg)
{
    repro_state_hasher *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->job && !h->quit)
            pthread_cond_wait(&h->cv, &h->mu);
        if (!h->job) /* quit, nothing left */
            break;
        pthread_mutex_unlock(&h->mu);
        /* the snapshot is ours until job is cleared */
        const float *p = h->snap, *m = h->snap + h->n, *v = h->snap + 2 * h->n;
        repro_sha256_hex(p, (size_t)h->n * sizeof(float), h->params_hex);
        repro_optim_hash_host(h->t, h->has_m ? m : NULL, h->has_v ? v : NULL, h->n, h->optim_hex);
        pthread_mutex_lock(&h->mu);
        h->job = 0;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

repro_status repro_state_hasher_create(const repro_backend *be, int64_t n, repro_state_hasher **out,
                                       repro_error *err)
{
    *out = NULL;
    repro_state_hasher *h = calloc(1, sizeof *h);
    if (!h)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the ledger hasher");
    h->be = be;
    h->n = n;
    repro_status st = repro_be_host_alloc(be, (size_t)(3 * n) * sizeof(float), (void **)&h->snap, err);
    if (st != REPRO_OK) {
        free(h);
        return st;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    /* SHA-256 needs little stack: do not reserve the default 8 MiB (it counts
     * against a data-size limit such as `ulimit -d`) */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int rc = pthread_create(&h->thread, &attr, hash_thread, h);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
        repro_be_host_free(be, h->snap);
        free(h);
        return repro_fail(err, REPRO_ERR_INTERNAL, "cannot start the ledger hasher thread");
    }
    *out = h;
    return REPRO_OK;
}

void repro_state_hasher_finish(repro_state_hasher *h)
{
    pthread_mutex_lock(&h->mu);
    while (h->job)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
}

void repro_state_hasher_destroy(repro_state_hasher *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->quit = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    repro_be_host_free(h->be, h->snap);
    free(h);
}

repro_status repro_state_hasher_start(repro_state_hasher *h, const float *params, const float *m, const float *v,
                                      int64_t t, char *params_hex, char *optim_hex, repro_error *err)
{
    repro_state_hasher_finish(h); /* the snapshot buffer is free again */
    size_t bytes = (size_t)h->n * sizeof(float);
    const float *src[3] = {params, m, v};
    repro_status st = REPRO_OK;
    for (int i = 0; i < 3 && st == REPRO_OK; i++)
        if (src[i])
            st = repro_be_download(h->be, h->snap + (size_t)i * (size_t)h->n, src[i], bytes, err);
    if (st != REPRO_OK)
        return st;
    pthread_mutex_lock(&h->mu);
    h->has_m = m != NULL;
    h->has_v = v != NULL;
    h->t = t;
    h->params_hex = params_hex;
    h->optim_hex = optim_hex;
    h->job = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return REPRO_OK;
}
