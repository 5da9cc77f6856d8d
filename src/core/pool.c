/* Thread pool: see pool.h. One generation counter wakes the workers for each
 * loop; each worker takes the range of its own index, so which thread does
 * which range is fixed (that never matters for the bits, but it keeps
 * profiles readable). */
#include "core/pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct repro_pool {
    int threads;
    pthread_t *workers;
    pthread_mutex_t lock;
    pthread_cond_t wake;     /* workers wait here for a new generation */
    pthread_cond_t done;     /* the caller waits here for pending == 0 */
    uint64_t generation;
    int pending;             /* workers still running the current loop */
    int stopping;
    /* the current loop */
    repro_pool_fn fn;
    void *ctx;
    int64_t n_tasks;
};

typedef struct worker_arg {
    repro_pool *pool;
    int index; /* 1 .. threads-1; the caller is index 0 */
} worker_arg;

static void range_of(int64_t n_tasks, int threads, int index, int64_t *begin, int64_t *end)
{
    int64_t per = n_tasks / threads, extra = n_tasks % threads;
    *begin = index * per + (index < extra ? index : extra);
    *end = *begin + per + (index < extra ? 1 : 0);
}

static void *worker_main(void *p)
{
    worker_arg *arg = p;
    repro_pool *pool = arg->pool;
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        while (pool->generation == seen && !pool->stopping)
            pthread_cond_wait(&pool->wake, &pool->lock);
        if (pool->stopping) {
            pthread_mutex_unlock(&pool->lock);
            break;
        }
        seen = pool->generation;
        repro_pool_fn fn = pool->fn;
        void *ctx = pool->ctx;
        int64_t begin, end;
        range_of(pool->n_tasks, pool->threads, arg->index, &begin, &end);
        pthread_mutex_unlock(&pool->lock);

        if (begin < end)
            fn(ctx, begin, end);

        pthread_mutex_lock(&pool->lock);
        if (--pool->pending == 0)
            pthread_cond_signal(&pool->done);
        pthread_mutex_unlock(&pool->lock);
    }
    free(arg);
    return NULL;
}

repro_status repro_pool_create(int threads, repro_pool **out, repro_error *err)
{
    *out = NULL;
    if (threads < 1 || threads > 1024)
        return repro_fail(err, REPRO_ERR_ARG, "threads must be between 1 and 1024, got %d", threads);
    repro_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate a thread pool");
    pool->threads = threads;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->done, NULL);
    pool->workers = calloc((size_t)threads, sizeof *pool->workers);
    if (!pool->workers) {
        repro_pool_destroy(pool);
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate a thread pool");
    }
    for (int i = 1; i < threads; i++) {
        worker_arg *arg = malloc(sizeof *arg);
        if (arg) { /* filled before the thread starts: it reads them at once */
            arg->pool = pool;
            arg->index = i;
        }
        if (!arg || pthread_create(&pool->workers[i], NULL, worker_main, arg) != 0) {
            free(arg);
            pool->threads = i; /* only workers 1..i-1 exist */
            repro_pool_destroy(pool);
            return repro_fail(err, REPRO_ERR_NOMEM, "cannot start compute thread %d of %d", i + 1, threads);
        }
    }
    *out = pool;
    return REPRO_OK;
}

void repro_pool_destroy(repro_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 1; i < pool->threads; i++)
        pthread_join(pool->workers[i], NULL);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->wake);
    pthread_cond_destroy(&pool->done);
    free(pool->workers);
    free(pool);
}

int repro_pool_threads(const repro_pool *pool)
{
    return pool ? pool->threads : 1;
}

void repro_pool_run(repro_pool *pool, int64_t n_tasks, repro_pool_fn fn, void *ctx)
{
    if (n_tasks <= 0)
        return;
    if (!pool || pool->threads == 1 || n_tasks == 1) {
        fn(ctx, 0, n_tasks);
        return;
    }
    pthread_mutex_lock(&pool->lock);
    pool->fn = fn;
    pool->ctx = ctx;
    pool->n_tasks = n_tasks;
    pool->pending = pool->threads - 1;
    pool->generation++;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);

    int64_t begin, end;
    range_of(n_tasks, pool->threads, 0, &begin, &end);
    if (begin < end)
        fn(ctx, begin, end);

    pthread_mutex_lock(&pool->lock);
    while (pool->pending > 0)
        pthread_cond_wait(&pool->done, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
}
