/* A fixed pool of worker threads for data-parallel loops.
 *
 * repro splits work over *output elements only*: a parallel loop hands each
 * thread a contiguous range of independent tasks, and every task computes
 * its outputs exactly as the single-threaded code would. So the number of
 * threads changes how fast a result arrives, never its bits.
 *
 * The pool is owned by whoever creates it (one per training run); nothing
 * here is global. A pool of 1 thread runs every loop inline. */
#ifndef REPRO_POOL_H
#define REPRO_POOL_H

#include <stdint.h>

#include "repro/status.h"

typedef struct repro_pool repro_pool;

/* fn(ctx, begin, end) processes tasks [begin, end). */
typedef void (*repro_pool_fn)(void *ctx, int64_t begin, int64_t end);

/* Starts threads-1 workers (the caller is the last one). threads >= 1. */
repro_status repro_pool_create(int threads, repro_pool **out, repro_error *err);
void repro_pool_destroy(repro_pool *pool);
int repro_pool_threads(const repro_pool *pool);

/* Whether the pool's threads now spin between loops (1) or go to sleep at
 * once (0: other programs were seen taking the cores; pool.c). Only speed
 * depends on it; tests/test_pool.c checks when it turns off. */
int repro_pool_spinning(const repro_pool *pool);

/* Runs fn over tasks [0, n_tasks), split into at most one contiguous range
 * per thread (the same ranges whatever the timing), and returns when all are
 * done. Any thread of the pool may run any range, one thread several (when
 * another is slow to start). pool may be NULL (inline).
 * Not reentrant: fn must not call repro_pool_run on the same pool. */
void repro_pool_run(repro_pool *pool, int64_t n_tasks, repro_pool_fn fn, void *ctx);

#endif
