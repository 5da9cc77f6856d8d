/* The pool runs every task exactly once, for any thread count.
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

int main(void)
{
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
