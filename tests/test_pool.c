/* The pool runs every task exactly once, for any thread count, also over
 * many short loops back to back, where a worker that wakes late finds its
 * range already taken by another thread (pool.c): no task of one loop may
 * run twice, be lost, or run with another loop's context.
 * ctest-labels: threads */
#include "core/pool.h"
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

int main(void)
{
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
