/* The pool runs every task exactly once, for any thread count, also over
 * many short loops back to back, where a worker that wakes late finds its
 * range already taken by another thread (pool.c): no task of one loop may
 * run twice, be lost, or run with another loop's context. Switches the
 * calling thread took before the pool existed do not count as contention;
 * two threads sharing one core do.
 * ctest-labels: threads */
#define _GNU_SOURCE /* pthread affinity, RUSAGE_THREAD */
#include "core/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <time.h>

#include "testutil.h"

typedef struct { int *hits; } ctx_t;

static void mark(void *p, int64_t begin, int64_t end)
{
    ctx_t *c = p;
    for (int64_t i = begin; i < end; i++)
        c->hits[i]++;
}

enum { LOOPS = 20000, WIDTH = 7 };

typedef struct {
    int loop;     /* which loop this context belongs to */
    int *current; /* the loop the test is in */
    int *hits;    /* [WIDTH] */
    int *wrong;   /* tasks run with a context not of the current loop */
} loop_ctx;

static void mark_loop(void *p, int64_t begin, int64_t end)
{
    loop_ctx *c = p;
    for (int64_t i = begin; i < end; i++) {
        c->hits[i]++;
        if (c->loop != *c->current)
            (*c->wrong)++; /* only ever written when broken; the bad counts tell */
    }
}

static void test_short_loops(int threads)
{
    repro_pool *pool;
    repro_error err;
    CHECK(repro_pool_create(threads, &pool, &err) == REPRO_OK);
    int current = 0, wrong = 0, bad_loops = 0;
    for (int loop = 0; loop < LOOPS; loop++) {
        int hits[WIDTH] = {0};
        loop_ctx c = {loop, &current, hits, &wrong};
        current = loop;
        int64_t n = 2 + loop % (WIDTH - 1);
        repro_pool_run(pool, n, mark_loop, &c);
        for (int64_t i = 0; i < WIDTH; i++)
            bad_loops += hits[i] != (i < n ? 1 : 0);
    }
    CHECK_MSG(bad_loops == 0 && wrong == 0, "threads=%d: %d loops with a task run other than once, %d tasks "
              "with another loop's context", threads, bad_loops, wrong);
    repro_pool_destroy(pool);
}

#if defined(__linux__) && defined(RUSAGE_THREAD)
static long involuntary_switches(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nivcsw : -1;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *burn(void *p)
{
    atomic_int *stop = p;
    while (!atomic_load(stop))
        ;
    return NULL;
}

/* Pins the calling thread to the first CPU it may run on; *old, *one:
 * its affinity before, and the one-CPU set. */
static void pin_to_one_cpu(cpu_set_t *old, cpu_set_t *one)
{
    CHECK(pthread_getaffinity_np(pthread_self(), sizeof *old, old) == 0);
    int cpu = 0;
    while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, old))
        cpu++;
    CPU_ZERO(one);
    CPU_SET(cpu, one);
    CHECK(pthread_setaffinity_np(pthread_self(), sizeof *one, one) == 0);
}

/* The calling thread takes involuntary context switches before any pool
 * exists (here: a busy thread pinned to its CPU; in a run, start-up beside
 * other programs). The pool's first loop only takes the count to start
 * from: pool.c once judged that whole count as the first loop's, and
 * turned spinning off at the first loop of nearly every run. One loop, so
 * no later look can judge anything whatever the machine is doing. */
static void test_earlier_switches_are_not_contention(void)
{
    cpu_set_t old, one;
    pin_to_one_cpu(&old, &one);
    atomic_int stop = 0;
    pthread_attr_t attr;
    pthread_t burner;
    pthread_attr_init(&attr);
    pthread_attr_setaffinity_np(&attr, sizeof one, &one);
    CHECK(pthread_create(&burner, &attr, burn, &stop) == 0);
    long start = involuntary_switches(), now = start;
    for (double t0 = seconds(); now - start < 3 && seconds() - t0 < 5.0;)
        now = involuntary_switches();
    atomic_store(&stop, 1);
    pthread_join(burner, NULL);
    pthread_attr_destroy(&attr);
    CHECK(pthread_setaffinity_np(pthread_self(), sizeof old, &old) == 0);
    CHECK_MSG(now - start >= 3, "the set-up took %ld involuntary switches, not 3", now - start);

    repro_pool *pool;
    repro_error err;
    CHECK(repro_pool_create(2, &pool, &err) == REPRO_OK);
    int hits[2] = {0};
    ctx_t c = {hits};
    repro_pool_run(pool, 2, mark, &c);
    CHECK(hits[0] == 1 && hits[1] == 1);
    CHECK_MSG(repro_pool_spinning(pool), "spinning turned off by %ld switches taken before the pool existed",
              now - start);
    repro_pool_destroy(pool);
}

/* Both threads of a pool on one core (its worker inherits the caller's
 * affinity): whichever spins keeps the other waiting for the core, the
 * contention the pool must see and stop spinning for (pool.c), within a
 * few of its 20 ms looks. Loops for at most 5 s. */
static void test_a_shared_core_stops_spinning(void)
{
    cpu_set_t old, one;
    pin_to_one_cpu(&old, &one);
    repro_pool *pool;
    repro_error err;
    CHECK(repro_pool_create(2, &pool, &err) == REPRO_OK);
    int hits[2] = {0}, spinning = 1;
    ctx_t c = {hits};
    long loops = 0;
    for (double t0 = seconds(); spinning && seconds() - t0 < 5.0; loops++) {
        repro_pool_run(pool, 2, mark, &c);
        spinning = repro_pool_spinning(pool);
    }
    CHECK_MSG(!spinning, "two threads on one core still spin after %ld loops (5 s)", loops);
    CHECK(hits[0] == loops && hits[1] == loops);
    repro_pool_destroy(pool);
    CHECK(pthread_setaffinity_np(pthread_self(), sizeof old, &old) == 0);
}
#endif

int main(void)
{
#if defined(__linux__) && defined(RUSAGE_THREAD)
    test_earlier_switches_are_not_contention();
    test_a_shared_core_stops_spinning();
#endif
    for (int threads = 2; threads <= 4; threads++)
        test_short_loops(threads);
    for (int threads = 1; threads <= 5; threads++) {
        repro_pool *pool;
        repro_error err;
        CHECK(repro_pool_create(threads, &pool, &err) == REPRO_OK);
        CHECK(repro_pool_threads(pool) == threads);
        for (int64_t n = 0; n < 40; n += 3) {
            int hits[40] = {0};
            ctx_t c = {hits};
            for (int round = 0; round < 3; round++)
                repro_pool_run(pool, n, mark, &c);
            int ok = 1;
            for (int64_t i = 0; i < 40; i++)
                ok &= hits[i] == (i < n ? 3 : 0);
            CHECK_MSG(ok, "threads=%d n=%lld", threads, (long long)n);
        }
        repro_pool_destroy(pool);
    }
    repro_pool *pool;
    repro_error err;
    CHECK(repro_pool_create(0, &pool, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "threads must be between 1 and 1024");
    return test_finish("test_pool");
}
