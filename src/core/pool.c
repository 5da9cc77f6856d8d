/* Thread pool: see pool.h. One generation counter wakes the workers for each
 * loop; each worker takes the range of its own index, so which thread does
 * which range is fixed (that never matters for the bits, but it keeps
 * profiles readable).
 *
 * Waking a sleeping thread through a condition variable takes tens of
 * microseconds (more in a virtual machine), longer than many of a training
 * step's loops run: a 256x10x256 product is about 15 us on one core. So a
 * worker that has just finished a loop, and a caller waiting for workers,
 * first spin for a short while (SPIN_NS) on the counters before sleeping;
 * loops that follow each other closely then start and end without a
 * system call, and an idle pool still sleeps.
 *
 * Spinning only pays while every thread has a core. When other programs
 * load the machine, a worker may lose its core in the middle of a loop, and
 * spinners then take time from the threads they wait for (measured: the
 * MLP step at 2 threads fell to a third beside a build). The caller sees
 * this as a spin that ran out before its workers finished their equal
 * share; the pool then sleeps at once for the next COOLDOWN_JOBS loops
 * before it tries spinning again. */
#include "core/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    SPIN_NS = 50000,      /* the caller's wait for its workers' equal share: 0.05 ms at most */
    WORKER_SPIN_NS = 5000, /* a worker's wait for the next loop: back-to-back loops only */
    COOLDOWN_JOBS = 64  /* loops run without spinning after a spin ran out: a few training steps */
};

struct repro_pool {
    int threads;
    pthread_t *workers;
    pthread_mutex_t lock;
    pthread_cond_t wake;     /* workers wait here for a new generation */
    pthread_cond_t done;     /* the caller waits here for pending == 0 */
    /* Written under lock (so a thread about to sleep cannot miss them) and
     * read without it while spinning. The loop's fields below are written
     * before generation (release) and read after it (acquire). */
    _Atomic uint64_t generation;
    _Atomic int pending;     /* workers still running the current loop */
    _Atomic int stopping;
    _Atomic int cooldown;    /* loops left to run without spinning (the caller counts them down) */
    /* the current loop */
    repro_pool_fn fn;
    void *ctx;
    int64_t n_tasks;
};

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spins until *word differs from `from` (or pool->stopping) for at most
 * SPIN_NS; returns whether it did. */
static int spin_while_u64(repro_pool *pool, _Atomic uint64_t *word, uint64_t from, int64_t spin_ns)
{
    int64_t until = 0;
    for (int i = 0;; i++) {
        if (atomic_load_explicit(word, memory_order_acquire) != from ||
            atomic_load_explicit(&pool->stopping, memory_order_relaxed))
            return 1;
        cpu_relax();
        if ((i & 15) == 15) { /* the clock now and then: a pause is 10 to 150 cycles */
            if ((i & 63) == 63)
                sched_yield(); /* lets the thread we wait for have this core, when it shares it */
            int64_t t = now_ns();
            if (until == 0)
                until = t + spin_ns;
            else if (t > until)
                return 0;
        }
    }
}

static int spin_while_pending(repro_pool *pool)
{
    int64_t until = 0;
    for (int i = 0;; i++) {
        if (atomic_load_explicit(&pool->pending, memory_order_acquire) == 0)
            return 1;
        cpu_relax();
        if ((i & 15) == 15) {
            if ((i & 63) == 63)
                sched_yield();
            int64_t t = now_ns();
            if (until == 0)
                until = t + SPIN_NS;
            else if (t > until)
                return 0;
        }
    }
}

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
        int spin = atomic_load_explicit(&pool->cooldown, memory_order_relaxed) == 0;
        if (!spin || !spin_while_u64(pool, &pool->generation, seen, WORKER_SPIN_NS)) {
            pthread_mutex_lock(&pool->lock);
            while (atomic_load_explicit(&pool->generation, memory_order_acquire) == seen &&
                   !atomic_load_explicit(&pool->stopping, memory_order_relaxed))
                pthread_cond_wait(&pool->wake, &pool->lock);
            pthread_mutex_unlock(&pool->lock);
        }
        if (atomic_load_explicit(&pool->stopping, memory_order_relaxed))
            break;
        seen = atomic_load_explicit(&pool->generation, memory_order_acquire);
        int64_t begin, end;
        range_of(pool->n_tasks, pool->threads, arg->index, &begin, &end);
        if (begin < end)
            pool->fn(pool->ctx, begin, end);

        /* the last one out wakes the caller if it went to sleep; the lock
         * orders this after the caller's check of pending */
        if (atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool->lock);
            pthread_cond_signal(&pool->done);
            pthread_mutex_unlock(&pool->lock);
        }
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
        /* arg is filled before the thread starts: the worker reads it at once */
        worker_arg *arg = malloc(sizeof *arg);
        if (arg) {
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
    atomic_store_explicit(&pool->stopping, 1, memory_order_relaxed);
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
    /* no worker reads these now: the last loop's pending reached 0 */
    pool->fn = fn;
    pool->ctx = ctx;
    pool->n_tasks = n_tasks;
    atomic_store_explicit(&pool->pending, pool->threads - 1, memory_order_relaxed);
    pthread_mutex_lock(&pool->lock);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);

    int64_t begin, end;
    range_of(n_tasks, pool->threads, 0, &begin, &end);
    if (begin < end)
        fn(ctx, begin, end);

    int cooldown = atomic_load_explicit(&pool->cooldown, memory_order_relaxed);
    int arrived = 0;
    if (cooldown > 0)
        atomic_store_explicit(&pool->cooldown, cooldown - 1, memory_order_relaxed);
    else if (!(arrived = spin_while_pending(pool)))
        atomic_store_explicit(&pool->cooldown, COOLDOWN_JOBS, memory_order_relaxed);
    if (!arrived) {
        pthread_mutex_lock(&pool->lock);
        while (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0)
            pthread_cond_wait(&pool->done, &pool->lock);
        pthread_mutex_unlock(&pool->lock);
    }
}
