/* The threaded data loader: see include/repro/loader.h and docs/loader.md.
 *
 * Why the output cannot depend on threads or timing: micro-batch k of an
 * epoch is a fixed list of positions (plan_micro), its contents are a pure
 * function of those positions (gather, then the pure transform), and it is
 * always written into slot k mod prefetch and handed out only when next()
 * asks for k. Workers merely decide *when* k gets filled, never *what* goes
 * in it; a failure is recorded in k's slot and reported when next() reaches
 * k, so even errors arrive at the same point of the sequence.
 *
 * Slots cycle FREE -> FILLING (a worker owns the memory) -> READY or FAILED
 * -> HELD (the consumer owns it, after next()) -> FREE (release). Micro-batch
 * k may only be assigned once slot k mod prefetch is FREE, i.e. once k -
 * prefetch was released: that is the memory bound. One mutex guards the
 * slot states and the counters; the batch memory itself is owned by whoever
 * the state says, so it is never touched under the lock.
 *
 * Cancellation (end_epoch, a failure, destroy) bumps `generation`; a worker
 * compares it with the one it started under after every sample and drops
 * stale work. end_epoch then waits, on a condition variable, until no worker
 * is inside a slot, so the next epoch can reuse them. */
#include "repro/loader.h"
#include "data/loader_test.h"
#include "data/loader_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/batch.h"

enum { LOADER_MAX_WORKERS = 256, LOADER_MAX_PREFETCH = 1024, LOADER_MAX_JITTER_US = 1000000 };

typedef enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_FAILED, SLOT_HELD } slot_state;

typedef struct slot {
    repro_batch batch;  /* [capacity] rows */
    int64_t k;          /* the micro-batch it holds (valid unless FREE) */
    slot_state state;
    repro_error err;    /* FAILED: the worker's message */
} slot;

/* The epoch's geometry; micro-batch k's rows follow from it (plan_micro).
 * Each step is cut into `shards` fixed shards (shard s of a step of c
 * positions: [s*c/shards, (s+1)*c/shards)); this loader delivers only
 * shards [shard_first, shard_first + shard_n), each cut into micro-batches.
 * Without shards: one shard, the whole step. */
typedef struct epoch_plan {
    uint32_t epoch;
    int64_t len, first, batch, micro;
    int64_t shards, shard_first, shard_n;
    int64_t micros_per_step; /* micro-batches of a full step */
    int64_t n_micro;         /* micro-batches from first to len */
} epoch_plan;

struct repro_loader {
    const repro_dataset *ds;
    repro_sample_fn transform;
    void *transform_ctx;
    repro_pool *pool;        /* workers = 0: next() fills on it (loader_pool.h); may be NULL */
    int workers, prefetch, jitter_us;
    int64_t capacity;
    slot *slots;             /* [prefetch] */
    pthread_t *threads;      /* [workers] */
    int n_threads;           /* started so far */
    uint32_t *rows;          /* [rows_cap] the epoch's rows, copied */
    int64_t rows_cap;
    int64_t shard[3];        /* shards, first, count: from set_shards, used by the next begin_epoch */

    pthread_mutex_t lock;
    pthread_cond_t work;     /* workers: a slot freed, an epoch begun, stop */
    pthread_cond_t ready;    /* consumer: a slot READY or FAILED, interrupt */
    pthread_cond_t idle;     /* end_epoch: a worker left its slot */
    /* under lock */
    epoch_plan plan;         /* written only while no worker is busy */
    int active;              /* an epoch is in progress */
    int64_t next_assign;     /* the next micro-batch a worker takes */
    int busy;                /* workers inside fill_micro */
    int stopping;            /* destroy: workers exit */
    int failed;              /* a failure was reported: only destroy is left */
    repro_error failure;
    _Atomic uint64_t generation; /* bumped (under lock) to cancel work in flight */
    atomic_int interrupted;

    /* the consumer's own */
    int64_t next_deliver;    /* the next micro-batch next() returns */
    double wait_sec;
};

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* ---- the epoch's plan ---- */

/* The micro-batches this loader delivers of a step of c positions. */
static int64_t step_micros(const epoch_plan *p, int64_t c)
{
    int64_t total = 0;
    for (int64_t s = p->shard_first; s < p->shard_first + p->shard_n; s++) {
        int64_t len = (s + 1) * c / p->shards - s * c / p->shards;
        total += (len + p->micro - 1) / p->micro;
    }
    return total;
}

static epoch_plan make_plan(uint32_t epoch, int64_t len, int64_t first, int64_t batch, int64_t micro,
                            const int64_t shard[3])
{
    epoch_plan p = {.epoch = epoch, .len = len, .first = first, .batch = batch, .micro = micro,
                    .shards = shard[0], .shard_first = shard[1], .shard_n = shard[2]};
    p.micros_per_step = step_micros(&p, batch);
    int64_t rest = len - first, tail = rest % batch;
    p.n_micro = rest / batch * p.micros_per_step + step_micros(&p, tail);
    return p;
}

/* Micro-batch k: positions [*start, *start + *n) of the step of *step_size
 * positions starting at first + (k / micros_per_step) * batch (the full
 * steps, then the shorter tail); *last: it closes this loader's part of
 * the step. */
static void plan_micro(const epoch_plan *p, int64_t k, int64_t *start, int64_t *n, int64_t *step_size, int *last)
{
    int64_t full_steps = (p->len - p->first) / p->batch;
    int64_t step = full_steps, j = k - full_steps * p->micros_per_step;
    if (p->micros_per_step > 0 && k < full_steps * p->micros_per_step) {
        step = k / p->micros_per_step;
        j = k % p->micros_per_step;
    }
    int64_t step_first = p->first + step * p->batch, c = min64(p->batch, p->len - step_first);
    int64_t left = step_micros(p, c) - j - 1; /* this loader's micro-batches of the step after k */
    *step_size = c;
    *last = left == 0;
    for (int64_t s = p->shard_first; s < p->shard_first + p->shard_n; s++) {
        int64_t lo = s * c / p->shards, hi = (s + 1) * c / p->shards, m = (hi - lo + p->micro - 1) / p->micro;
        if (j < m) {
            *start = step_first + lo + j * p->micro;
            *n = min64(p->micro, hi - (lo + j * p->micro));
            return;
        }
        j -= m;
    }
    *start = step_first; /* not reached: k < n_micro */
    *n = 0;
}

/* ---- filling one micro-batch ---- */

/* The test knob's sleep for a sample: a hash of (epoch, pos) (SplitMix64's
 * finaliser), so it is the same in every run but differs between samples. */
static void jitter_sleep(uint32_t epoch, uint32_t pos, int max_us)
{
    uint64_t h = (uint64_t)epoch << 32 | pos;
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    h ^= h >> 31;
    long us = (long)(h % (uint64_t)(max_us + 1));
    struct timespec ts = {us / 1000000, us % 1000000 * 1000};
    nanosleep(&ts, NULL);
}

static int cancelled(const repro_loader *l, uint64_t gen)
{
    return atomic_load(&l->generation) != gen || atomic_load(&l->interrupted);
}

/* Samples ahead whose rows are asked for while one is copied (batch.h).
 * With 2, the MLP's gather took about 0.7x the time (docs/performance.md);
 * 4 and 8 were no faster. */
#define PREFETCH_AHEAD 2

/* Samples [lo, hi) of a micro-batch whose sample i is at epoch position
 * start + i: per sample, the row is gathered (as repro_batch_fill does) and
 * transformed, in order. Returns REPRO_OK; a failure with err naming the
 * sample and *failed_at its index; or REPRO_ERR_STATE with *stopped = 1
 * when the work was cancelled (generation moved on, or an interrupt). */
static repro_status fill_samples(const repro_loader *l, repro_batch *b, int64_t start, int64_t lo, int64_t hi,
                                 uint64_t gen, int jitter_us, int *stopped, int64_t *failed_at, repro_error *err)
{
    const epoch_plan *p = &l->plan;
    size_t nf = (size_t)b->n_features, nt = (size_t)b->n_targets;
    *stopped = 0;
    for (int64_t i = lo; i < hi; i++) {
        if (cancelled(l, gen)) {
            *stopped = 1;
            return REPRO_ERR_STATE;
        }
        *failed_at = i;
        uint32_t pos = (uint32_t)(start + i);
        b->pos[i] = pos;
        b->index[i] = l->rows[start + i];
        float *x = b->x + (size_t)i * nf;
        if (i + PREFETCH_AHEAD < hi)
            repro_batch_prefetch_row(l->ds, l->rows[start + i + PREFETCH_AHEAD]);
        repro_status gst = repro_dataset_gather_checked(l->ds, &b->index[i], 1, x, b->label ? b->label + i : NULL,
                                                        b->y ? b->y + (size_t)i * nt : NULL, err);
        if (gst != REPRO_OK)
            return gst;
        if (jitter_us > 0)
            jitter_sleep(p->epoch, pos, jitter_us);
        if (!l->transform)
            continue;
        repro_error_clear(err);
        repro_status st = l->transform(l->transform_ctx, p->epoch, pos, x, b->n_features, err);
        if (st != REPRO_OK) {
            err->status = st;
            if (!err->message[0])
                repro_fail(err, st, "the transform failed without a message");
            return repro_error_prefix(err, "epoch %u, position %u (data row %u)", (unsigned)p->epoch,
                                      (unsigned)pos, (unsigned)b->index[i]);
        }
    }
    return REPRO_OK;
}

/* A micro-batch's samples split over the compute pool (loader_pool.h):
 * each range runs fill_samples; of the ranges that failed, the lowest
 * failing sample wins (each range stops at its first, so that is the first
 * failure in order, the one the serial loop reports); a cancellation wins
 * over a failure. */
typedef struct pooled_fill {
    const repro_loader *l;
    repro_batch *b;
    int64_t start;
    uint64_t gen;
    pthread_mutex_t lock; /* guards the outcome below */
    int stopped;
    int64_t failed_at;    /* -1: none */
    repro_status st;
    repro_error err;
} pooled_fill;

static void fill_range(void *ctx, int64_t begin, int64_t end)
{
    pooled_fill *f = ctx;
    repro_error err;
    int stopped;
    int64_t at = -1;
    repro_status st = fill_samples(f->l, f->b, f->start, begin, end, f->gen, 0, &stopped, &at, &err);
    if (st == REPRO_OK)
        return;
    pthread_mutex_lock(&f->lock);
    if (stopped) {
        f->stopped = 1;
    } else if (f->failed_at < 0 || at < f->failed_at) {
        f->failed_at = at;
        f->st = st;
        f->err = err;
    }
    pthread_mutex_unlock(&f->lock);
}

/* Features a micro-batch needs before the pool's wake-up pays for itself. */
enum { POOLED_FILL_MIN_FLOATS = 16384 };

/* Fills b with micro-batch k of the plan (fill_samples over all of it, on
 * the compute pool when the loader has one and the batch is big enough). */
static repro_status fill_micro(repro_loader *l, repro_batch *b, int64_t k, uint64_t gen, int jitter_us,
                               int *stopped, repro_error *err)
{
    int64_t start, n, step_size, at;
    int last;
    plan_micro(&l->plan, k, &start, &n, &step_size, &last);
    if (!l->pool || l->workers > 0 || repro_pool_threads(l->pool) == 1 ||
        n * b->n_features < POOLED_FILL_MIN_FLOATS)
        return fill_samples(l, b, start, 0, n, gen, jitter_us, stopped, &at, err);
    pooled_fill f = {.l = l, .b = b, .start = start, .gen = gen, .failed_at = -1, .st = REPRO_OK};
    pthread_mutex_init(&f.lock, NULL);
    repro_pool_run(l->pool, n, fill_range, &f);
    pthread_mutex_destroy(&f.lock);
    *stopped = f.stopped;
    if (f.stopped)
        return REPRO_ERR_STATE;
    if (f.st != REPRO_OK)
        *err = f.err;
    return f.st;
}

/* ---- workers ---- */

static int work_available(const repro_loader *l)
{
    return l->active && !l->failed && !atomic_load(&l->interrupted) && l->next_assign < l->plan.n_micro &&
           l->slots[l->next_assign % l->prefetch].state == SLOT_FREE;
}

static void *worker_main(void *arg)
{
    repro_loader *l = arg;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        while (!l->stopping && !work_available(l))
            pthread_cond_wait(&l->work, &l->lock);
        if (l->stopping)
            break;
        int64_t k = l->next_assign++;
        slot *s = &l->slots[k % l->prefetch];
        s->k = k;
        s->state = SLOT_FILLING;
        l->busy++;
        uint64_t gen = atomic_load(&l->generation);
        pthread_mutex_unlock(&l->lock);

        int stopped;
        repro_status st = fill_micro(l, &s->batch, k, gen, l->jitter_us, &stopped, &s->err);

        pthread_mutex_lock(&l->lock);
        l->busy--;
        if (!stopped && atomic_load(&l->generation) == gen) {
            s->state = st == REPRO_OK ? SLOT_READY : SLOT_FAILED;
            pthread_cond_broadcast(&l->ready);
        }
        if (l->busy == 0)
            pthread_cond_broadcast(&l->idle);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

/* ---- the consumer's side ---- */

repro_status repro_loader_create(const repro_loader_config *cfg, const repro_dataset *ds, int64_t micro_capacity,
                                 repro_sample_fn transform, void *transform_ctx, repro_loader **out,
                                 repro_error *err)
{
    *out = NULL;
    if (cfg->workers < 0 || cfg->workers > LOADER_MAX_WORKERS)
        return repro_fail(err, REPRO_ERR_ARG, "loader.workers must be between 0 and %d, got %d",
                          LOADER_MAX_WORKERS, cfg->workers);
    if (cfg->prefetch < 1 || cfg->prefetch > LOADER_MAX_PREFETCH)
        return repro_fail(err, REPRO_ERR_ARG, "loader.prefetch must be between 1 and %d, got %d",
                          LOADER_MAX_PREFETCH, cfg->prefetch);
    if (micro_capacity < 1)
        return repro_fail(err, REPRO_ERR_ARG, "the loader's micro-batch capacity must be >= 1, got %lld",
                          (long long)micro_capacity);
    repro_loader *l = calloc(1, sizeof *l);
    if (!l)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the data loader");
    l->ds = ds;
    l->transform = transform;
    l->transform_ctx = transform_ctx;
    l->workers = cfg->workers;
    l->prefetch = cfg->prefetch;
    l->capacity = micro_capacity;
    l->shard[0] = 1; /* one shard: the whole step */
    l->shard[2] = 1;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->work, NULL);
    pthread_cond_init(&l->ready, NULL);
    pthread_cond_init(&l->idle, NULL);
    atomic_init(&l->generation, 0);
    atomic_init(&l->interrupted, 0);
    l->slots = calloc((size_t)l->prefetch, sizeof *l->slots);
    l->threads = calloc((size_t)(l->workers > 0 ? l->workers : 1), sizeof *l->threads);
    repro_status st = l->slots && l->threads ? REPRO_OK
                                             : repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the data loader");
    for (int i = 0; st == REPRO_OK && i < l->prefetch; i++)
        st = repro_batch_alloc(&l->slots[i].batch, ds, micro_capacity, err);
    while (st == REPRO_OK && l->n_threads < l->workers) {
        if (pthread_create(&l->threads[l->n_threads], NULL, worker_main, l) != 0)
            st = repro_fail(err, REPRO_ERR_INTERNAL, "cannot start data loader worker %d of %d",
                            l->n_threads + 1, l->workers);
        else
            l->n_threads++;
    }
    if (st != REPRO_OK) {
        repro_loader_destroy(l);
        return st;
    }
    *out = l;
    return REPRO_OK;
}

/* A refusal once the loader failed or was interrupted; REPRO_OK otherwise. */
static repro_status refused(repro_loader *l, repro_error *err)
{
    if (atomic_load(&l->interrupted))
        return repro_fail(err, REPRO_ERR_STATE, "interrupted");
    if (l->failed)
        return repro_fail(err, REPRO_ERR_STATE, "the data loader failed earlier: %s", l->failure.message);
    return REPRO_OK;
}

repro_status repro_loader_set_shards(repro_loader *l, int64_t shards, int64_t first, int64_t n, repro_error *err)
{
    if (shards < 1 || first < 0 || n < 1 || first + n > shards)
        return repro_fail(err, REPRO_ERR_ARG, "set_shards: shards [%lld, %lld) are not within [0, %lld)",
                          (long long)first, (long long)(first + n), (long long)shards);
    l->shard[0] = shards;
    l->shard[1] = first;
    l->shard[2] = n;
    return REPRO_OK;
}

repro_status repro_loader_begin_epoch(repro_loader *l, uint32_t epoch, const uint32_t *rows, int64_t len,
                                      int64_t first_position, int64_t batch_size, int64_t micro_size,
                                      repro_error *err)
{
    repro_status st = refused(l, err);
    if (st != REPRO_OK)
        return st;
    if (len < 0 || len > (int64_t)UINT32_MAX + 1 || (len > 0 && !rows))
        return repro_fail(err, REPRO_ERR_ARG, "begin_epoch: bad epoch length %lld", (long long)len);
    if (batch_size < 1)
        return repro_fail(err, REPRO_ERR_ARG, "begin_epoch: batch_size must be >= 1, got %lld",
                          (long long)batch_size);
    if (micro_size < 1 || micro_size > batch_size || micro_size > l->capacity)
        return repro_fail(err, REPRO_ERR_ARG,
                          "begin_epoch: micro_size %lld is not in [1, min(batch_size %lld, capacity %lld)]",
                          (long long)micro_size, (long long)batch_size, (long long)l->capacity);
    if (first_position < 0 || first_position > len || first_position % batch_size != 0)
        return repro_fail(err, REPRO_ERR_ARG,
                          "begin_epoch: first_position %lld must be a multiple of batch_size %lld in [0, %lld]",
                          (long long)first_position, (long long)batch_size, (long long)len);
    for (int64_t p = 0; p < len; p++)
        if (rows[p] >= (uint64_t)l->ds->n)
            return repro_fail(err, REPRO_ERR_ARG, "begin_epoch: position %lld names row %u of a data set of %lld",
                              (long long)p, (unsigned)rows[p], (long long)l->ds->n);

    repro_loader_end_epoch(l); /* no worker is inside a slot from here on */
    if (len > l->rows_cap) {
        uint32_t *r = realloc(l->rows, (size_t)len * sizeof *r);
        if (!r)
            return repro_fail(err, REPRO_ERR_NOMEM, "cannot copy an epoch of %lld rows", (long long)len);
        l->rows = r;
        l->rows_cap = len;
    }
    if (len > 0)
        memcpy(l->rows, rows, (size_t)len * sizeof *rows);
    pthread_mutex_lock(&l->lock);
    l->plan = make_plan(epoch, len, first_position, batch_size, micro_size, l->shard);
    l->active = 1;
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->lock);
    l->wait_sec = 0.0;
    return REPRO_OK;
}

/* next() with workers: waits for slot s to hold micro-batch k, READY or
 * FAILED (then err gets the worker's message), or for an interrupt. */
static repro_status wait_for(repro_loader *l, slot *s, int64_t k, repro_error *err)
{
    pthread_mutex_lock(&l->lock);
    while (!(s->k == k && (s->state == SLOT_READY || s->state == SLOT_FAILED)) && !atomic_load(&l->interrupted))
        pthread_cond_wait(&l->ready, &l->lock);
    repro_status st = REPRO_OK;
    if (atomic_load(&l->interrupted)) {
        st = repro_fail(err, REPRO_ERR_STATE, "interrupted");
    } else if (s->state == SLOT_FAILED) {
        st = s->err.status;
        *err = s->err;
    }
    pthread_mutex_unlock(&l->lock);
    return st;
}

/* Records a failure at the consumer's position and cancels all other work. */
static repro_status fail_loader(repro_loader *l, repro_status st, const repro_error *cause, repro_error *err)
{
    pthread_mutex_lock(&l->lock);
    l->failed = 1;
    l->failure = *cause;
    atomic_fetch_add(&l->generation, 1);
    pthread_mutex_unlock(&l->lock);
    if (err)
        *err = *cause;
    return st;
}

repro_status repro_loader_next(repro_loader *l, const repro_batch **batch, int64_t *n_rows, int64_t *step_size,
                               int *last_of_step, repro_error *err)
{
    *batch = NULL;
    if (n_rows)
        *n_rows = 0;
    if (step_size)
        *step_size = 0;
    if (last_of_step)
        *last_of_step = 0;
    repro_status st = refused(l, err);
    if (st != REPRO_OK)
        return st;
    if (!l->active)
        return repro_fail(err, REPRO_ERR_STATE, "repro_loader_next: no epoch in progress");
    int64_t k = l->next_deliver;
    if (k == l->plan.n_micro)
        return REPRO_OK;
    slot *s = &l->slots[k % l->prefetch];
    pthread_mutex_lock(&l->lock);
    int held = s->state == SLOT_HELD;
    pthread_mutex_unlock(&l->lock);
    if (held)
        return repro_fail(err, REPRO_ERR_STATE,
                          "repro_loader_next: %d micro-batches are held (loader.prefetch); release one first",
                          l->prefetch);

    double t0 = now_sec();
    repro_error cause;
    if (l->workers == 0) {
        int stopped;
        s->k = k;
        st = fill_micro(l, &s->batch, k, atomic_load(&l->generation), 0, &stopped, &cause);
        if (stopped)
            st = repro_fail(&cause, REPRO_ERR_STATE, "interrupted");
    } else {
        st = wait_for(l, s, k, &cause);
    }
    l->wait_sec += now_sec() - t0;
    if (st != REPRO_OK) {
        if (atomic_load(&l->interrupted)) {
            if (err)
                *err = cause;
            return st;
        }
        return fail_loader(l, st, &cause, err);
    }

    pthread_mutex_lock(&l->lock);
    s->state = SLOT_HELD;
    pthread_mutex_unlock(&l->lock);
    l->next_deliver++;
    int64_t start, n, size;
    int last;
    plan_micro(&l->plan, k, &start, &n, &size, &last);
    *batch = &s->batch;
    if (n_rows)
        *n_rows = n;
    if (step_size)
        *step_size = size;
    if (last_of_step)
        *last_of_step = last;
    return REPRO_OK;
}

void repro_loader_release(repro_loader *l, const repro_batch *batch)
{
    if (!l || !batch)
        return;
    pthread_mutex_lock(&l->lock);
    for (int i = 0; i < l->prefetch; i++) {
        slot *s = &l->slots[i];
        if (&s->batch == batch && s->state == SLOT_HELD) {
            s->state = SLOT_FREE;
            pthread_cond_broadcast(&l->work);
        }
    }
    pthread_mutex_unlock(&l->lock);
}

void repro_loader_end_epoch(repro_loader *l)
{
    pthread_mutex_lock(&l->lock);
    l->active = 0;
    atomic_fetch_add(&l->generation, 1);
    while (l->busy > 0)
        pthread_cond_wait(&l->idle, &l->lock);
    for (int i = 0; i < l->prefetch; i++)
        l->slots[i].state = SLOT_FREE;
    l->next_assign = 0;
    l->plan.n_micro = 0;
    pthread_mutex_unlock(&l->lock);
    l->next_deliver = 0;
}

void repro_loader_interrupt(repro_loader *l)
{
    pthread_mutex_lock(&l->lock);
    atomic_store(&l->interrupted, 1);
    pthread_cond_broadcast(&l->ready);
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->lock);
}

void repro_loader_destroy(repro_loader *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    l->stopping = 1;
    l->active = 0;
    atomic_fetch_add(&l->generation, 1);
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->lock);
    for (int i = 0; i < l->n_threads; i++)
        pthread_join(l->threads[i], NULL);
    if (l->slots)
        for (int i = 0; i < l->prefetch; i++)
            repro_batch_free(&l->slots[i].batch);
    free(l->slots);
    free(l->threads);
    free(l->rows);
    pthread_cond_destroy(&l->idle);
    pthread_cond_destroy(&l->ready);
    pthread_cond_destroy(&l->work);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

double repro_loader_wait_seconds(const repro_loader *l)
{
    return l->wait_sec;
}

void repro_loader_use_pool(repro_loader *l, repro_pool *pool)
{
    l->pool = pool;
}

repro_status repro_loader_set_test_jitter(repro_loader *l, int us, repro_error *err)
{
    if (us < 0 || us > LOADER_MAX_JITTER_US)
        return repro_fail(err, REPRO_ERR_ARG, "the loader's test jitter must be between 0 and %d us, got %d",
                          LOADER_MAX_JITTER_US, us);
    l->jitter_us = us;
    return REPRO_OK;
}
