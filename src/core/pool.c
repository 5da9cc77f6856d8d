/* Thread pool: see pool.h. One generation counter wakes the workers for each
 * loop. A loop's tasks are cut into one range per thread (range_of, a
 * function of the task count alone); each thread first claims the range of
 * its own index, so while every thread has a core a thread keeps the same
 * rows from loop to loop (its cache), then claims any range nobody has
 * started. So a worker that the kernel has not yet woken, or has switched
 * out, does not hold the loop up: the caller runs its range too. Which
 * thread runs a range never matters for the bits.
 *
 * Waking a sleeping thread through a condition variable takes tens of
 * microseconds (more in a virtual machine), longer than many of a training
 * step's loops run: a 256x10x256 product is about 15 us on one core. So a
 * worker that has just finished a loop, and a caller waiting for workers,
 * first spin for a short while (SPIN_NS) on the counters before sleeping;
 * loops that follow each other closely then start and end without a
 * system call, and an idle pool still sleeps.
 *
 * Spinning only pays while every thread has a core of its own. When other
 * programs want the cores too, spinners take time from the threads they
 * wait for (measured: the MLP step at 2 threads fell to a third beside a
 * build). The kernel says when that happens: it counts the time a thread
 * spent ready to run but waiting for a core (the second field of
 * /proc/thread-self/schedstat). Every thread of the pool looks at its own
 * every CHECK_NS of loops; waiting a WAIT_SHARE-th of that time or more
 * turns spinning off for the pool for the next quiet_loops loops, after
 * which it is tried again. Each try that meets contention again doubles
 * quiet_loops (from QUIET_MIN up to QUIET_MAX), so a machine that stays
 * loaded is spun on rarely; a look that sees none while spinning resets
 * it. Where the kernel keeps no such times, a thread counts its
 * involuntary context switches instead (CONTENDED of them in a look).
 * That count was the only signal until 2026-12-03, and it misread a
 * training run's own moments: the ledger's and the loader's threads take
 * a core for a moment now and then, two switches, so at 2 threads the
 * pool slept through 8-16 % of its loops on a quiet machine and the MLP
 * step ran 5-10 % slower than with spinning always on; those moments wait
 * well under 1 % of the time, a shared core half of it. (The spinners do
 * not sched_yield: beside other spinning threads, such as OpenBLAS's, a
 * yield handed the core away for a whole time slice.) */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include "core/pool.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

enum {
    SPIN_NS = 100000,    /* 0.1 ms: the gaps between a step's loops, bounded idle burn */
    CHECK_NS = 20000000, /* 20 ms of loops between two looks of a thread at its waiting */
    WAIT_SHARE = 8,      /* waiting for a core 1/8 of that time or more: the cores are shared */
    CONTENDED = 2,       /* without the kernel's wait times: involuntary switches that mean the same */
    QUIET_MIN = 256,     /* loops run without spinning after that: about ten training steps */
    QUIET_MAX = 65536    /* at most: thousands of steps, a minute or more */
};

/* A thread's look at its own waiting for a core. */
typedef struct contention_probe {
    int64_t at;      /* when the last look was (now_ns); 0: none yet */
    pid_t tid;       /* the thread that looked (the caller's may change) */
    int fd;          /* its /proc/thread-self/schedstat, or -1 */
    int64_t ran;     /* ns it had run, at the last look (0: the kernel keeps no times) */
    int64_t waited;  /* ns it had waited for a core, at the last look */
    long switches;   /* its involuntary context switches, at the last look */
} contention_probe;

/* The last generation in which a range was claimed; a cache line each, so
 * that claiming one's own range does not take the line from the others. */
typedef struct claim_line {
    _Atomic uint64_t gen;
    char pad[64 - sizeof(uint64_t)];
} claim_line;

struct repro_pool {
    int threads;
    pthread_t *workers;
    pthread_mutex_t lock;
    pthread_cond_t wake;     /* workers wait here for a new generation */
    pthread_cond_t done_cv;  /* the caller waits here for done == threads */
    /* Written under lock (so a thread about to sleep cannot miss them) and
     * read without it while spinning. The loop's fields below are written
     * before generation (release) and read after it (acquire). */
    _Atomic uint64_t generation;
    _Atomic int done;        /* ranges of the current loop finished */
    _Atomic int unclaimed;   /* ranges of the current loop nobody has taken yet */
    claim_line *claimed;     /* [threads] */
    _Atomic int stopping;
    _Atomic uint64_t no_spin_until; /* generation up to which nobody spins (contention seen) */
    _Atomic int quiet_loops;         /* how long the next quiet spell is */
    /* the current loop */
    repro_pool_fn fn;
    void *ctx;
    int64_t n_tasks;
    contention_probe caller_probe; /* the caller's own look at its waiting */
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

static int may_spin(repro_pool *pool)
{
    return atomic_load_explicit(&pool->generation, memory_order_relaxed) >=
           atomic_load_explicit(&pool->no_spin_until, memory_order_relaxed);
}

#ifdef RUSAGE_THREAD
/* The thread's time on a core and waiting for one, in ns, from its
 * schedstat (open at fd); 0 if it cannot be read. */
static int read_schedstat(int fd, int64_t *ran, int64_t *waited)
{
    char buf[96];
    ssize_t n = fd >= 0 ? pread(fd, buf, sizeof buf - 1, 0) : -1;
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *end;
    unsigned long long r = strtoull(buf, &end, 10), w = strtoull(end, &end, 10);
    *ran = (int64_t)r;
    *waited = (int64_t)w;
    return 1;
}

/* Whether the thread waited for a core since the last look (now: t): a
 * WAIT_SHARE-th of the time or more where the kernel keeps the times (they
 * moved), else CONTENDED involuntary switches or more. Takes the new
 * counts. A thread other than the last to look starts again (it cannot
 * be judged by another's counts). */
static int waited_for_a_core(contention_probe *probe, int64_t t, int *first)
{
    pid_t tid = gettid();
    *first = probe->at == 0 || tid != probe->tid;
    if (tid != probe->tid) {
        if (probe->fd >= 0)
            close(probe->fd);
        probe->fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
        probe->tid = tid;
    }
    int64_t ran = 0, waited = 0;
    int timed = read_schedstat(probe->fd, &ran, &waited) && ran > probe->ran;
    struct rusage ru;
    long switches = getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nivcsw : probe->switches;
    int contended = timed ? (waited - probe->waited) * WAIT_SHARE >= t - probe->at
                          : switches - probe->switches >= CONTENDED;
    probe->at = t;
    probe->ran = timed ? ran : 0;
    probe->waited = waited;
    probe->switches = switches;
    return contended;
}
#endif

/* Called by a thread of the pool once per loop it runs; every CHECK_NS,
 * whether it waited for a core since its last look. (Several threads may
 * update the fields below at once: they only steer spinning, so a lost
 * update costs a little speed at most.) */
static void probe_contention(repro_pool *pool, contention_probe *probe)
{
#ifdef RUSAGE_THREAD
    int64_t t = now_ns();
    if (probe->at != 0 && t - probe->at < CHECK_NS)
        return;
    int first;
    int contended = waited_for_a_core(probe, t, &first);
    /* The first look only takes the counts to start from: they hold all of
     * the thread's life before its first loop (the caller's start-up,
     * reading data), which says nothing about the cores now. Judged as one
     * more look, they turned spinning off at the first loop of nearly
     * every run. */
    if (first)
        return;
    int spinning = may_spin(pool);
    int quiet = atomic_load_explicit(&pool->quiet_loops, memory_order_relaxed);
    if (!contended) {
        if (spinning)
            atomic_store_explicit(&pool->quiet_loops, QUIET_MIN, memory_order_relaxed);
        return;
    }
    if (spinning) /* spinning was tried again and met contention again */
        atomic_store_explicit(&pool->quiet_loops, quiet = quiet < QUIET_MAX / 2 ? 2 * quiet : QUIET_MAX,
                              memory_order_relaxed);
    atomic_store_explicit(&pool->no_spin_until,
                          atomic_load_explicit(&pool->generation, memory_order_relaxed) + (uint64_t)quiet,
                          memory_order_relaxed);
#else
    (void)pool;
    (void)probe; /* no per-thread count here: spin always */
#endif
}

static void probe_close(contention_probe *probe)
{
#ifdef RUSAGE_THREAD
    if (probe->fd >= 0)
        close(probe->fd);
#endif
    probe->fd = -1;
}

/* Spins while *word == from (and !pool->stopping) for at most SPIN_NS;
 * returns whether it changed. */
static int spin_while_u64(repro_pool *pool, _Atomic uint64_t *word, uint64_t from)
{
    int64_t until = 0;
    for (int i = 1;; i++) {
        if (atomic_load_explicit(word, memory_order_acquire) != from ||
            atomic_load_explicit(&pool->stopping, memory_order_relaxed))
            return 1;
        cpu_relax();
        if (i % 16 == 0) { /* the clock now and then: a pause is 10 to 150 cycles */
            int64_t t = now_ns();
            if (until == 0)
                until = t + SPIN_NS;
            else if (t > until)
                return 0;
        }
    }
}

/* The same for the caller waiting for every range to be done. */
static int spin_while_undone(repro_pool *pool)
{
    int64_t until = 0;
    for (int i = 1;; i++) {
        if (atomic_load_explicit(&pool->done, memory_order_acquire) == pool->threads)
            return 1;
        cpu_relax();
        if (i % 16 == 0) {
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

/* Takes range r of loop `gen` if nobody has: claimed[r] moves from an
 * earlier generation to gen once. Range r of gen is only claimable while
 * gen is the current loop (its caller waits for every range), so a
 * successful claim also means the loop's fields are gen's. */
static int claim(repro_pool *pool, int r, uint64_t gen)
{
    uint64_t c = atomic_load_explicit(&pool->claimed[r].gen, memory_order_acquire);
    while (c < gen)
        if (atomic_compare_exchange_weak_explicit(&pool->claimed[r].gen, &c, gen, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            atomic_fetch_sub_explicit(&pool->unclaimed, 1, memory_order_relaxed);
            return 1;
        }
    return 0;
}

/* Runs range r (claimed), then counts it done; the last one wakes the
 * caller if it went to sleep (the lock orders this after its check). */
static void run_range(repro_pool *pool, int r)
{
    int64_t begin, end;
    range_of(pool->n_tasks, pool->threads, r, &begin, &end);
    if (begin < end)
        pool->fn(pool->ctx, begin, end);
    if (atomic_fetch_add_explicit(&pool->done, 1, memory_order_acq_rel) == pool->threads - 1) {
        pthread_mutex_lock(&pool->lock);
        pthread_cond_signal(&pool->done_cv);
        pthread_mutex_unlock(&pool->lock);
    }
}

/* Thread `self`'s part of loop gen: its own range first (so a thread keeps
 * the same rows from loop to loop while every thread has a core), then any
 * range nobody has started: a thread that the kernel left waiting does not
 * hold the loop up, the others take its range. Which thread runs a range
 * never changes what the range computes. */
static void run_claims(repro_pool *pool, int self, uint64_t gen)
{
    for (int i = 0; i < pool->threads; i++) {
        /* all taken: stop looking (a big pool is not scanned by every thread) */
        if (i > 0 && atomic_load_explicit(&pool->unclaimed, memory_order_relaxed) <= 0)
            break;
        int r = (self + i) % pool->threads;
        if (claim(pool, r, gen))
            run_range(pool, r);
    }
}

static void *worker_main(void *p)
{
    worker_arg *arg = p;
    repro_pool *pool = arg->pool;
    contention_probe probe = {.fd = -1};
    uint64_t seen = 0;
    for (;;) {
        if (!may_spin(pool) || !spin_while_u64(pool, &pool->generation, seen)) {
            pthread_mutex_lock(&pool->lock);
            while (atomic_load_explicit(&pool->generation, memory_order_acquire) == seen &&
                   !atomic_load_explicit(&pool->stopping, memory_order_relaxed))
                pthread_cond_wait(&pool->wake, &pool->lock);
            pthread_mutex_unlock(&pool->lock);
        }
        if (atomic_load_explicit(&pool->stopping, memory_order_relaxed))
            break;
        seen = atomic_load_explicit(&pool->generation, memory_order_acquire);
        run_claims(pool, arg->index, seen);
        probe_contention(pool, &probe);
    }
    probe_close(&probe);
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
    pool->caller_probe.fd = -1;
    atomic_init(&pool->quiet_loops, QUIET_MIN);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->done_cv, NULL);
    pool->workers = calloc((size_t)threads, sizeof *pool->workers);
    pool->claimed = aligned_alloc(64, (size_t)threads * sizeof *pool->claimed);
    for (int i = 0; pool->claimed && i < threads; i++)
        atomic_init(&pool->claimed[i].gen, 0); /* generation 0: before any loop */
    if (!pool->workers || !pool->claimed) {
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
    pthread_cond_destroy(&pool->done_cv);
    probe_close(&pool->caller_probe);
    free(pool->workers);
    free(pool->claimed);
    free(pool);
}

int repro_pool_threads(const repro_pool *pool)
{
    return pool ? pool->threads : 1;
}

int repro_pool_spinning(const repro_pool *pool)
{
    return pool && may_spin((repro_pool *)pool);
}

void repro_pool_run(repro_pool *pool, int64_t n_tasks, repro_pool_fn fn, void *ctx)
{
    if (n_tasks <= 0)
        return;
    if (!pool || pool->threads == 1 || n_tasks == 1) {
        fn(ctx, 0, n_tasks);
        return;
    }
    /* no worker reads these now: every range of the last loop is done, and
     * a late worker reads them only after claiming a range of this one */
    pool->fn = fn;
    pool->ctx = ctx;
    pool->n_tasks = n_tasks;
    atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
    atomic_store_explicit(&pool->unclaimed, pool->threads, memory_order_relaxed);
    pthread_mutex_lock(&pool->lock);
    uint64_t gen = atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release) + 1;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);

    run_claims(pool, 0, gen);

    probe_contention(pool, &pool->caller_probe);
    if (!may_spin(pool) || !spin_while_undone(pool)) {
        pthread_mutex_lock(&pool->lock);
        while (atomic_load_explicit(&pool->done, memory_order_acquire) < pool->threads)
            pthread_cond_wait(&pool->done_cv, &pool->lock);
        pthread_mutex_unlock(&pool->lock);
    }
}
