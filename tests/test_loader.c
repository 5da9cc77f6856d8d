/* The data loader hands out the same micro-batches, byte for byte and in the
 * same order, for every worker count, prefetch depth and thread timing; its
 * step and micro-batch boundaries are right (partial last step, resume at
 * first_position); it can be cancelled, restarted, interrupted and destroyed
 * at any point; a failure in a worker arrives as one message at the same
 * micro-batch whatever the timing.
 * ctest-labels: threads */
#include <pthread.h>
#include <time.h>

#include "data/batch.h"
#include "repro/loader.h"
#include "data/loader_pool.h"
#include "data/loader_test.h"
#include "testutil.h"

enum { N_ROWS = 53, N_FEAT = 5, N_TGT = 2, LEN = 50, EPOCH = 3 };

/* A small data set whose every value is distinct. */
static void make_dataset(repro_dataset *ds, float *x, int32_t *label, float *y)
{
    for (int i = 0; i < N_ROWS; i++) {
        for (int j = 0; j < N_FEAT; j++)
            x[i * N_FEAT + j] = (float)i + 0.125f * (float)j;
        label[i] = i % 7;
        for (int j = 0; j < N_TGT; j++)
            y[i * N_TGT + j] = -(float)i - 0.5f * (float)j;
    }
    *ds = (repro_dataset){.n = N_ROWS, .n_features = N_FEAT, .x = x, .label = label, .n_classes = 7,
                          .n_targets = N_TGT, .y = y};
}

/* An epoch's rows: a fixed scramble of [0, N_ROWS), some rows twice. */
static void make_rows(uint32_t *rows)
{
    for (uint32_t p = 0; p < LEN; p++)
        rows[p] = (p * 17u + 5u) % 47u;
}

/* The test transform: x[j] = x[j] * 0.5 + f(epoch, pos, j), a pure function
 * of its arguments; fails at fail_pos; sleeps slow_ms per sample from
 * pos >= slow_from (to be interrupted while slow). */
typedef struct transform_ctx {
    int64_t fail_pos;  /* -1 = never */
    int64_t also_fail; /* > 0: fails at this position too */
    int slow_ms;
    uint32_t slow_from;
} transform_ctx;

static repro_status transform(void *p, uint32_t epoch, uint32_t pos, float *x, int64_t n_features,
                              repro_error *err)
{
    transform_ctx *c = p;
    if (c && ((int64_t)pos == c->fail_pos || (c->also_fail > 0 && (int64_t)pos == c->also_fail)))
        return repro_fail(err, REPRO_ERR_FORMAT, "bad value in 'fake.npy' sample %u", (unsigned)pos);
    if (c && c->slow_ms > 0 && pos >= c->slow_from) {
        struct timespec ts = {0, c->slow_ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    for (int64_t j = 0; j < n_features; j++) {
        uint32_t h = (epoch * 2654435761u) ^ (pos * 40503u) ^ ((uint32_t)j * 97u);
        x[j] = x[j] * 0.5f + (float)(h % 1000u) / 1024.0f;
    }
    return REPRO_OK;
}

/* What a loader delivered in an epoch, as bytes, for memcmp. */
typedef struct record {
    unsigned char *bytes;
    size_t len, cap;
    int n_micro;
} record;

static void put(record *r, const void *p, size_t n)
{
    if (r->len + n > r->cap) {
        r->cap = 2 * (r->len + n);
        r->bytes = realloc(r->bytes, r->cap);
    }
    memcpy(r->bytes + r->len, p, n);
    r->len += n;
}

static void put_batch(record *r, const repro_batch *b, int64_t n, int64_t step, int last)
{
    put(r, &n, sizeof n);
    put(r, &step, sizeof step);
    put(r, &last, sizeof last);
    put(r, b->pos, (size_t)n * sizeof *b->pos);
    put(r, b->index, (size_t)n * sizeof *b->index);
    put(r, b->x, (size_t)(n * b->n_features) * sizeof *b->x);
    put(r, b->label, (size_t)n * sizeof *b->label);
    put(r, b->y, (size_t)(n * N_TGT) * sizeof *b->y);
    r->n_micro++;
}

/* Runs one epoch to its end, holding up to `hold` batches at a time (<= prefetch). */
static repro_status run_epoch(repro_loader *l, const uint32_t *rows, int64_t first, int64_t batch,
                              int64_t micro, int hold, record *r, repro_error *err)
{
    memset(r, 0, sizeof *r);
    repro_status st = repro_loader_begin_epoch(l, EPOCH, rows, LEN, first, batch, micro, err);
    const repro_batch *held[4] = {0};
    int n_held = 0;
    while (st == REPRO_OK) {
        const repro_batch *b;
        int64_t n, step;
        int last;
        if (n_held == hold) {
            repro_loader_release(l, held[0]);
            memmove(held, held + 1, (size_t)(--n_held) * sizeof *held);
        }
        st = repro_loader_next(l, &b, &n, &step, &last, err);
        if (st != REPRO_OK || !b)
            break;
        put_batch(r, b, n, step, last);
        held[n_held++] = b;
    }
    for (int i = 0; i < n_held; i++)
        repro_loader_release(l, held[i]);
    return st;
}

static repro_loader *make_loader(const repro_dataset *ds, int workers, int prefetch, int jitter,
                                 transform_ctx *ctx)
{
    repro_loader_config cfg = {.workers = workers, .prefetch = prefetch};
    repro_loader *l = NULL;
    repro_error err;
    repro_status st = repro_loader_create(&cfg, ds, 8, transform, ctx, &l, &err);
    if (st == REPRO_OK)
        st = repro_loader_set_test_jitter(l, jitter, &err);
    CHECK_MSG(st == REPRO_OK, "%s", err.message);
    return l;
}

/* The reference, built without the loader: repro_batch_fill (what the
 * trainer does today) and the transform, micro-batch by micro-batch. */
static void reference(const repro_dataset *ds, const uint32_t *rows, int64_t first, int64_t batch, int64_t micro,
                      record *r)
{
    memset(r, 0, sizeof *r);
    repro_batch b;
    repro_error err;
    CHECK(repro_batch_alloc(&b, ds, micro, &err) == REPRO_OK);
    for (int64_t s = first; s < LEN; s += batch) {
        int64_t count = LEN - s < batch ? LEN - s : batch;
        for (int64_t done = 0; done < count; done += micro) {
            int64_t n = count - done < micro ? count - done : micro;
            for (int64_t i = 0; i < n; i++) {
                b.pos[i] = (uint32_t)(s + done + i);
                b.index[i] = rows[s + done + i];
            }
            repro_batch_fill(&b, ds, n, NULL);
            for (int64_t i = 0; i < n; i++)
                transform(NULL, EPOCH, b.pos[i], b.x + i * ds->n_features, ds->n_features, &err);
            put_batch(r, &b, n, count, done + n == count);
        }
    }
    repro_batch_free(&b);
}

static int same(const record *a, const record *b)
{
    return a->n_micro == b->n_micro && a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* The boundaries of batch 16, micro 5 over 50 positions: steps 16, 16, 16, 2. */
static void test_boundaries(const repro_dataset *ds, const uint32_t *rows)
{
    repro_loader *l = make_loader(ds, 0, 1, 0, NULL);
    repro_error err;
    for (int resume = 0; resume < 2; resume++) {
        int64_t first = resume ? 32 : 0;
        CHECK(repro_loader_begin_epoch(l, EPOCH, rows, LEN, first, 16, 5, &err) == REPRO_OK);
        static const int64_t want[][3] = {{5, 16, 0}, {5, 16, 0}, {5, 16, 0}, {1, 16, 1}, {5, 16, 0}, {5, 16, 0},
                                          {5, 16, 0}, {1, 16, 1}, {5, 16, 0}, {5, 16, 0}, {5, 16, 0}, {1, 16, 1},
                                          {2, 2, 1}};
        int64_t k = resume ? 8 : 0, pos = first;
        for (;; k++) {
            const repro_batch *b;
            int64_t n, step;
            int last;
            CHECK(repro_loader_next(l, &b, &n, &step, &last, &err) == REPRO_OK);
            if (!b)
                break;
            CHECK_MSG(k < 13 && n == want[k][0] && step == want[k][1] && last == want[k][2],
                      "first %lld micro %lld: n %lld step %lld last %d", (long long)first, (long long)k,
                      (long long)n, (long long)step, last);
            CHECK_EQ_U64(b->pos[0], pos);
            pos += n;
            repro_loader_release(l, b);
        }
        CHECK_EQ_U64(k, 13);
        CHECK_EQ_U64(pos, LEN);
    }
    /* An epoch that starts at its end is empty. */
    repro_batch dummy;
    const repro_batch *b = &dummy;
    CHECK(repro_loader_begin_epoch(l, EPOCH, rows, LEN, 50, 10, 5, &err) == REPRO_OK);
    CHECK(repro_loader_next(l, &b, NULL, NULL, NULL, &err) == REPRO_OK && b == NULL);
    repro_loader_destroy(l);
}

/* Every workers x prefetch x jitter gives the reference's bytes, for a
 * whole epoch and for one resumed at position 32. */
static void test_matrix(const repro_dataset *ds, const uint32_t *rows)
{
    record ref[2];
    reference(ds, rows, 0, 16, 5, &ref[0]);
    reference(ds, rows, 32, 16, 5, &ref[1]);
    CHECK_EQ_U64(ref[0].n_micro, 13);
    CHECK_EQ_U64(ref[1].n_micro, 5);
    static const int workers[] = {0, 1, 2, 3, 8}, prefetch[] = {1, 2, 4}, jitter[] = {0, 200};
    for (int w = 0; w < 5; w++)
        for (int p = 0; p < 3; p++)
            for (int j = 0; j < 2; j++) {
                repro_loader *l = make_loader(ds, workers[w], prefetch[p], jitter[j], NULL);
                for (int resume = 0; resume < 2; resume++) {
                    record got;
                    repro_error err;
                    int hold = prefetch[p] < 2 ? prefetch[p] : 2;
                    repro_status st = run_epoch(l, rows, resume ? 32 : 0, 16, 5, hold, &got, &err);
                    CHECK_MSG(st == REPRO_OK && same(&got, &ref[resume]),
                              "workers %d prefetch %d jitter %d first %d: %s", workers[w], prefetch[p],
                              jitter[j], resume ? 32 : 0, st ? err.message : "bytes differ");
                    free(got.bytes);
                }
                CHECK(repro_loader_wait_seconds(l) >= 0.0);
                repro_loader_destroy(l);
            }
    free(ref[0].bytes);
    free(ref[1].bytes);
}

/* end_epoch mid-way, then the same epoch again from the start; destroy mid-epoch. */
static void test_cancel(const repro_dataset *ds, const uint32_t *rows)
{
    record ref;
    reference(ds, rows, 0, 16, 5, &ref);
    static const int workers[] = {0, 3, 8};
    for (int w = 0; w < 3; w++) {
        repro_loader *l = make_loader(ds, workers[w], 4, 200, NULL);
        repro_error err;
        const repro_batch *b;
        CHECK(repro_loader_begin_epoch(l, EPOCH, rows, LEN, 0, 16, 5, &err) == REPRO_OK);
        for (int k = 0; k < 3; k++) {
            CHECK(repro_loader_next(l, &b, NULL, NULL, NULL, &err) == REPRO_OK && b);
            if (k < 2)
                repro_loader_release(l, b);
        }
        repro_loader_end_epoch(l); /* holding one */
        CHECK(repro_loader_next(l, &b, NULL, NULL, NULL, &err) == REPRO_ERR_STATE);
        CHECK_CONTAINS(err.message, "no epoch in progress");
        record got;
        CHECK(run_epoch(l, rows, 0, 16, 5, 1, &got, &err) == REPRO_OK);
        CHECK_MSG(same(&got, &ref), "workers %d: restarted epoch differs", workers[w]);
        free(got.bytes);
        /* begin_epoch while another is in flight ends it first. */
        CHECK(repro_loader_begin_epoch(l, EPOCH, rows, LEN, 0, 16, 5, &err) == REPRO_OK);
        CHECK(repro_loader_next(l, &b, NULL, NULL, NULL, &err) == REPRO_OK && b);
        CHECK(run_epoch(l, rows, 0, 16, 5, 1, &got, &err) == REPRO_OK);
        CHECK(same(&got, &ref));
        free(got.bytes);
        /* Destroy mid-epoch with a batch held and workers busy. */
        CHECK(repro_loader_begin_epoch(l, EPOCH, rows, LEN, 0, 16, 5, &err) == REPRO_OK);
        CHECK(repro_loader_next(l, &b, NULL, NULL, NULL, &err) == REPRO_OK && b);
        repro_loader_destroy(l);
    }
    /* Destroy right after begin_epoch, before any next(). */
    repro_loader *l = make_loader(ds, 8, 4, 200, NULL);
    repro_error err;
    CHECK(repro_loader_begin_epoch(l, EPOCH, rows, LEN, 0, 16, 5, &err) == REPRO_OK);
    repro_loader_destroy(l);
    repro_loader_destroy(NULL);
    free(ref.bytes);
}

/* A transform failure at position 23 (micro-batch 5: positions 21..25)
 * arrives after the same five micro-batches, as one message, whatever the
 * workers; then the loader refuses everything but destroy. */
static void test_worker_error(const repro_dataset *ds, const uint32_t *rows)
{
    record ref;
    reference(ds, rows, 0, 16, 5, &ref);
    static const int workers[] = {0, 1, 3, 8};
    for (int w = 0; w < 4; w++)
        for (int j = 0; j < 2; j++) {
            transform_ctx ctx = {.fail_pos = 23};
            repro_loader *l = make_loader(ds, workers[w], 4, j ? 200 : 0, &ctx);
            record got;
            repro_error err;
            repro_status st = run_epoch(l, rows, 0, 16, 5, 1, &got, &err);
            CHECK(st == REPRO_ERR_FORMAT);
            char want[200];
            snprintf(want, sizeof want, "epoch 3, position 23 (data row %u): bad value in 'fake.npy' sample 23",
                     rows[23]);
            CHECK_MSG(strcmp(err.message, want) == 0, "workers %d: \"%s\"", workers[w], err.message);
            CHECK_EQ_U64(got.n_micro, 5);
            CHECK(got.n_micro == 5 && memcmp(got.bytes, ref.bytes, got.len) == 0);
            free(got.bytes);
            const repro_batch *b;
            CHECK(repro_loader_next(l, &b, NULL, NULL, NULL, &err) == REPRO_ERR_STATE && !b);
            CHECK_CONTAINS(err.message, "the data loader failed earlier: epoch 3, position 23");
            CHECK(repro_loader_begin_epoch(l, EPOCH, rows, LEN, 0, 16, 5, &err) == REPRO_ERR_STATE);
            repro_loader_end_epoch(l);
            repro_loader_destroy(l);
        }
    free(ref.bytes);
}

typedef struct interrupter {
    repro_loader *l;
    int delay_ms;
} interrupter;

static void *interrupt_later(void *p)
{
    interrupter *it = p;
    struct timespec ts = {0, it->delay_ms * 1000000L};
    nanosleep(&ts, NULL);
    repro_loader_interrupt(it->l);
    return NULL;
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* An interrupt from another thread ends a blocked next() promptly: from
 * position 10 on the transform takes 100 ms a sample, and the loader gives
 * up between samples (4 s for the 40 slow samples otherwise). */
static void test_interrupt(const repro_dataset *ds, const uint32_t *rows)
{
    static const int workers[] = {0, 1, 3};
    for (int w = 0; w < 3; w++) {
        transform_ctx ctx = {.fail_pos = -1, .slow_ms = 100, .slow_from = 10};
        repro_loader *l = make_loader(ds, workers[w], 2, 0, &ctx);
        repro_error err;
        const repro_batch *b;
        CHECK(repro_loader_begin_epoch(l, EPOCH, rows, LEN, 0, 50, 5, &err) == REPRO_OK);
        for (int k = 0; k < 2; k++) {
            CHECK(repro_loader_next(l, &b, NULL, NULL, NULL, &err) == REPRO_OK && b);
            repro_loader_release(l, b);
        }
        interrupter it = {l, 30};
        pthread_t th;
        double t0 = now_sec();
        CHECK(pthread_create(&th, NULL, interrupt_later, &it) == 0);
        repro_status st = repro_loader_next(l, &b, NULL, NULL, NULL, &err);
        double waited = now_sec() - t0;
        pthread_join(th, NULL);
        CHECK(st == REPRO_ERR_STATE && !b);
        CHECK(strcmp(err.message, "interrupted") == 0);
        CHECK_MSG(waited < 1.0, "workers %d: next() returned %.3f s after an interrupt at 0.03 s", workers[w],
                  waited);
        CHECK(repro_loader_next(l, &b, NULL, NULL, NULL, &err) == REPRO_ERR_STATE);
        CHECK(strcmp(err.message, "interrupted") == 0);
        CHECK(repro_loader_begin_epoch(l, EPOCH, rows, LEN, 0, 50, 5, &err) == REPRO_ERR_STATE);
        repro_loader_destroy(l);
    }
}

static void test_misuse(const repro_dataset *ds, const uint32_t *rows)
{
    repro_loader_config cfg = {.workers = 2, .prefetch = 0};
    repro_loader *l;
    repro_error err;
    CHECK(repro_loader_create(&cfg, ds, 8, NULL, NULL, &l, &err) == REPRO_ERR_ARG && !l);
    CHECK_CONTAINS(err.message, "loader.prefetch must be between 1 and 1024, got 0");
    cfg = (repro_loader_config){.workers = -1, .prefetch = 2};
    CHECK(repro_loader_create(&cfg, ds, 8, NULL, NULL, &l, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "loader.workers must be between 0 and 256, got -1");

    for (int workers = 0; workers < 3; workers += 2) {
        l = make_loader(ds, workers, 1, 0, NULL);
        const repro_batch *b, *b2;
        CHECK(repro_loader_next(l, &b, NULL, NULL, NULL, &err) == REPRO_ERR_STATE);
        CHECK_CONTAINS(err.message, "no epoch in progress");
        CHECK(repro_loader_begin_epoch(l, 0, rows, LEN, 5, 16, 5, &err) == REPRO_ERR_ARG);
        CHECK_CONTAINS(err.message, "first_position 5 must be a multiple of batch_size 16 in [0, 50]");
        CHECK(repro_loader_begin_epoch(l, 0, rows, LEN, 0, 16, 9, &err) == REPRO_ERR_ARG);
        CHECK_CONTAINS(err.message, "micro_size 9 is not in [1, min(batch_size 16, capacity 8)]");
        uint32_t bad[3] = {0, 1, N_ROWS};
        CHECK(repro_loader_begin_epoch(l, 0, bad, 3, 0, 3, 3, &err) == REPRO_ERR_ARG);
        CHECK_CONTAINS(err.message, "position 2 names row 53 of a data set of 53");
        /* prefetch 1: a second batch before releasing the first is refused, not a deadlock. */
        CHECK(repro_loader_begin_epoch(l, 0, rows, LEN, 0, 16, 5, &err) == REPRO_OK);
        CHECK(repro_loader_next(l, &b, NULL, NULL, NULL, &err) == REPRO_OK && b);
        CHECK(repro_loader_next(l, &b2, NULL, NULL, NULL, &err) == REPRO_ERR_STATE);
        CHECK_CONTAINS(err.message, "1 micro-batches are held (loader.prefetch); release one first");
        repro_loader_release(l, b);
        CHECK(repro_loader_next(l, &b2, NULL, NULL, NULL, &err) == REPRO_OK && b2 && b2->pos[0] == 5);
        repro_loader_destroy(l);
    }
}

/* workers = 0 with the compute pool (data/loader_pool.h): each micro-batch's
 * samples split over 2 or 3 threads give the reference's bytes; with two
 * failing samples in one micro-batch, in different threads' ranges, the
 * first in order is the one reported, as without the pool. The rows are
 * wide enough (WIDE_FEAT x 5 samples) for the loader to use the pool. */
enum { WIDE_FEAT = 4096 };

static void test_pooled(const uint32_t *rows)
{
    static float x[N_ROWS * WIDE_FEAT], y[N_ROWS * N_TGT];
    static int32_t label[N_ROWS];
    for (int i = 0; i < N_ROWS; i++) {
        for (int j = 0; j < WIDE_FEAT; j++)
            x[i * WIDE_FEAT + j] = (float)i + (float)j / 8192.0f;
        label[i] = i % 7;
        for (int j = 0; j < N_TGT; j++)
            y[i * N_TGT + j] = -(float)i - 0.5f * (float)j;
    }
    repro_dataset ds = {.n = N_ROWS, .n_features = WIDE_FEAT, .x = x, .label = label, .n_classes = 7,
                        .n_targets = N_TGT, .y = y};
    record ref;
    reference(&ds, rows, 0, 16, 5, &ref);
    for (int threads = 1; threads <= 3; threads++) {
        repro_pool *pool;
        repro_error err;
        CHECK(repro_pool_create(threads, &pool, &err) == REPRO_OK);
        repro_loader *l = make_loader(&ds, 0, 2, 0, NULL);
        repro_loader_use_pool(l, pool);
        record got;
        repro_status st = run_epoch(l, rows, 0, 16, 5, 2, &got, &err);
        CHECK_MSG(st == REPRO_OK && same(&got, &ref), "pool of %d: %s", threads, st ? err.message : "bytes differ");
        free(got.bytes);
        repro_loader_destroy(l);

        transform_ctx ctx = {.fail_pos = 24, .also_fail = 22}; /* micro-batch 5: positions 21..25 */
        l = make_loader(&ds, 0, 2, 0, &ctx);
        repro_loader_use_pool(l, pool);
        st = run_epoch(l, rows, 0, 16, 5, 1, &got, &err);
        char want[200];
        snprintf(want, sizeof want, "epoch 3, position 22 (data row %u): bad value in 'fake.npy' sample 22",
                 rows[22]);
        CHECK_MSG(st == REPRO_ERR_FORMAT && strcmp(err.message, want) == 0, "pool of %d: \"%s\"", threads,
                  err.message);
        CHECK(got.n_micro == 5 && memcmp(got.bytes, ref.bytes, got.len) == 0);
        free(got.bytes);
        repro_loader_destroy(l);
        repro_pool_destroy(pool);
    }
    free(ref.bytes);
}

int main(void)
{
    static float x[N_ROWS * N_FEAT], y[N_ROWS * N_TGT];
    static int32_t label[N_ROWS];
    repro_dataset ds;
    make_dataset(&ds, x, label, y);
    uint32_t rows[LEN];
    make_rows(rows);
    test_boundaries(&ds, rows);
    test_matrix(&ds, rows);
    test_cancel(&ds, rows);
    test_worker_error(&ds, rows);
    test_interrupt(&ds, rows);
    test_misuse(&ds, rows);
    test_pooled(rows);
    return test_finish("test_loader");
}
