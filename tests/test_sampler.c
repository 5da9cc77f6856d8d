/* Samplers (include/repro/sampler.h): each is a pure function of (seed,
 * epoch, position) — the same order from the same arguments, and any split
 * of the positions into ranges gives the same rows; random is the trainer's
 * epoch shuffle; blocks is a permutation that keeps a window's rows
 * together; balanced and weighted follow their documented formula and their
 * class frequencies are within 4 standard deviations of the expected ones. */
#include <math.h>

#include "repro/rng.h"
#include "repro/sampler.h"
#include "testutil.h"

static repro_sampler_config sampler(repro_sampler_kind name)
{
    repro_config cfg;
    repro_config_defaults(&cfg);
    cfg.sampler.name = name;
    return cfg.sampler;
}

/* The whole epoch in one call. */
static uint32_t *epoch_order(const repro_sampler_config *s, uint64_t seed, uint32_t epoch,
                             const int32_t *labels, int64_t n, int n_classes)
{
    int64_t len = repro_sampler_epoch_length(s, n);
    uint32_t *order = malloc((size_t)(len > 0 ? len : 1) * sizeof *order);
    repro_error err;
    repro_status st = repro_sampler_epoch(s, seed, epoch, labels, n, n_classes, order, len, &err);
    CHECK_MSG(st == REPRO_OK, "%s", err.message);
    return order;
}

/* The same arguments give the same order, and ranges in pieces give the
 * slices of the whole: [0, len) vs halves vs uneven thirds vs single
 * positions taken last to first. */
static void check_pure(const repro_sampler_config *s, const int32_t *labels, int64_t n, int n_classes,
                       const char *what)
{
    int64_t len = repro_sampler_epoch_length(s, n);
    uint32_t *a = epoch_order(s, 7, 2, labels, n, n_classes);
    uint32_t *b = epoch_order(s, 7, 2, labels, n, n_classes);
    uint32_t *c = calloc((size_t)len, sizeof *c);
    CHECK_MSG(memcmp(a, b, (size_t)len * sizeof *a) == 0, "%s: two calls differ", what);
    repro_error err;
    int64_t cuts[][4] = {{0, len / 2, len, len}, {0, len / 3, len / 3 + 17, len}};
    for (int k = 0; k < 2; k++) {
        memset(c, 0xff, (size_t)len * sizeof *c);
        for (int piece = 0; piece < 3; piece++) {
            int64_t lo = cuts[k][piece], hi = cuts[k][piece + 1];
            CHECK(repro_sampler_range(s, 7, 2, labels, n, n_classes, lo, c + lo, hi - lo, &err) == REPRO_OK);
        }
        CHECK_MSG(memcmp(a, c, (size_t)len * sizeof *a) == 0, "%s: split %d differs", what, k);
    }
    memset(c, 0xff, (size_t)len * sizeof *c);
    for (int64_t p = len - 1; p >= 0; p -= 97) /* every 97th position, last first */
        CHECK(repro_sampler_range(s, 7, 2, labels, n, n_classes, p, c + p, 1, &err) == REPRO_OK);
    int same = 1;
    for (int64_t p = len - 1; p >= 0; p -= 97)
        same = same && c[p] == a[p];
    CHECK_MSG(same, "%s: single positions differ", what);
    /* another epoch, another order (these sizes make a tie vanishingly unlikely) */
    uint32_t *d = epoch_order(s, 7, 3, labels, n, n_classes);
    if (s->name != REPRO_SAMPLER_SEQUENTIAL)
        CHECK_MSG(memcmp(a, d, (size_t)len * sizeof *a) != 0, "%s: epochs 2 and 3 agree", what);
    int in_range = 1;
    for (int64_t p = 0; p < len; p++)
        in_range = in_range && a[p] < (uint32_t)n;
    CHECK_MSG(in_range, "%s: a row outside [0, n)", what);
    free(a);
    free(b);
    free(c);
    free(d);
}

static int is_permutation(const uint32_t *order, int64_t n)
{
    char *seen = calloc((size_t)n + 1, 1);
    int ok = 1;
    for (int64_t i = 0; i < n && ok; i++) {
        ok = order[i] < (uint32_t)n && !seen[order[i]];
        if (ok)
            seen[order[i]] = 1;
    }
    free(seen);
    return ok;
}

static void test_random_sequential(void)
{
    repro_sampler_config s = sampler(REPRO_SAMPLER_RANDOM);
    /* random is the trainer's epoch shuffle, bit for bit */
    for (uint32_t epoch = 0; epoch < 3; epoch++) {
        uint32_t *a = epoch_order(&s, 42, epoch, NULL, 1000, 0);
        uint32_t ref[1000];
        repro_rng_epoch_shuffle(42, epoch, ref, 1000);
        CHECK(memcmp(a, ref, sizeof ref) == 0);
        free(a);
    }
    uint32_t *pinned = epoch_order(&s, 42, 3, NULL, 10, 0); /* docs/rng.md */
    static const uint32_t want[10] = {5, 4, 1, 8, 9, 6, 0, 7, 2, 3};
    CHECK(memcmp(pinned, want, sizeof want) == 0);
    free(pinned);
    check_pure(&s, NULL, 1000, 0, "random");

    repro_sampler_config q = sampler(REPRO_SAMPLER_SEQUENTIAL);
    uint32_t *seq = epoch_order(&q, 42, 5, NULL, 300, 0);
    int identity = 1;
    for (int i = 0; i < 300; i++)
        identity = identity && seq[i] == (uint32_t)i;
    CHECK(identity);
    free(seq);
    check_pure(&q, NULL, 300, 0, "sequential");

    /* an empty training set has an empty epoch */
    repro_error err;
    CHECK(repro_sampler_epoch(&s, 1, 0, NULL, 0, 0, NULL, 0, &err) == REPRO_OK);
    CHECK(repro_sampler_epoch_length(&s, 0) == 0);
}

/* Walks order[] window by window: a window is K consecutive blocks (fewer at
 * the end) whose rows all come before any row of the next window. */
static int windows_hold_together(const uint32_t *order, int64_t n, int64_t bs, int64_t K)
{
    int64_t n_blocks = (n + bs - 1) / bs;
    char *in_window = calloc((size_t)n_blocks, 1);
    int64_t blocks = 0, need = 0, seen = 0;
    int ok = 1;
    for (int64_t p = 0; p < n && ok; p++) {
        int64_t b = order[p] / bs;
        if (!in_window[b]) {
            if (blocks == K) { /* a new window starts: the previous one must be complete */
                ok = seen == need;
                memset(in_window, 0, (size_t)n_blocks);
                blocks = need = seen = 0;
            }
            in_window[b] = 1;
            blocks++;
            need += (b + 1) * bs < n ? bs : n - b * bs;
        }
        seen++;
    }
    ok = ok && seen == need;
    free(in_window);
    return ok;
}

static void test_blocks(void)
{
    repro_sampler_config s = sampler(REPRO_SAMPLER_BLOCKS);
    const int64_t n = 1000;
    int64_t shapes[][2] = {{64, 3}, {64, 1}, {1, 1}, {7, 20}, {2000, 1}, {1000, 4}, {100, 10}};
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        s.block_size = shapes[k][0];
        s.buffer_blocks = shapes[k][1];
        uint32_t *o = epoch_order(&s, 7, 2, NULL, n, 0);
        CHECK_MSG(is_permutation(o, n), "blocks %lld x %lld: not a permutation", (long long)shapes[k][0],
                  (long long)shapes[k][1]);
        CHECK_MSG(windows_hold_together(o, n, s.block_size, s.buffer_blocks),
                  "blocks %lld x %lld: a window's rows are not together", (long long)shapes[k][0],
                  (long long)shapes[k][1]);
        check_pure(&s, NULL, n, 0, "blocks");
        free(o);
    }
    /* the property has teeth: a plain permutation breaks it */
    uint32_t shuffled[1000];
    repro_rng_epoch_shuffle(1, 0, shuffled, 1000);
    CHECK(!windows_hold_together(shuffled, n, 64, 3));
    /* within a window rows are shuffled, and the block order is not the file's */
    s.block_size = 64;
    s.buffer_blocks = 3;
    uint32_t *o = epoch_order(&s, 7, 2, NULL, n, 0);
    int64_t ascending = 0, first_block_changes = 0;
    for (int64_t p = 1; p < n; p++)
        ascending += o[p] > o[p - 1];
    CHECK(ascending < 600); /* a sorted window would give ~997; a shuffle ~500 */
    uint32_t *o2 = epoch_order(&s, 7, 5, NULL, n, 0);
    first_block_changes = o[0] / 64 != o2[0] / 64 || o[500] / 64 != o2[500] / 64;
    CHECK(first_block_changes);
    free(o);
    free(o2);
}

/* labels: class c has counts[c] rows, interleaved (row i's class cycles
 * through the classes still short of their count). */
static int32_t *make_labels(const int64_t *counts, int n_classes, int64_t *n)
{
    *n = 0;
    for (int c = 0; c < n_classes; c++)
        *n += counts[c];
    int32_t *labels = malloc((size_t)*n * sizeof *labels);
    int64_t left[16];
    memcpy(left, counts, (size_t)n_classes * sizeof *counts);
    for (int64_t i = 0; i < *n;)
        for (int c = 0; c < n_classes; c++)
            if (left[c] > 0) {
                labels[i++] = c;
                left[c]--;
            }
    return labels;
}

/* |observed - N p| <= 4 sqrt(N p (1 - p)): a binomial count within four
 * standard deviations (fails by chance with probability ~6e-5 per check,
 * and the draws are fixed by the seed, so a pass is a pass for good). */
static int within_4sigma(int64_t observed, int64_t N, double p)
{
    double sd = sqrt((double)N * p * (1.0 - p));
    return fabs((double)observed - (double)N * p) <= 4.0 * sd;
}

static void test_balanced(void)
{
    static const int64_t counts[5] = {1, 10, 0, 100, 1000};
    int64_t n;
    int32_t *labels = make_labels(counts, 5, &n);
    repro_sampler_config s = sampler(REPRO_SAMPLER_BALANCED);
    s.samples_per_epoch = 40000;
    CHECK(repro_sampler_epoch_length(&s, n) == 40000);
    uint32_t *o = epoch_order(&s, 11, 0, labels, n, 5);
    int64_t per_class[5] = {0}, per_member[1111] = {0};
    for (int64_t p = 0; p < 40000; p++) {
        per_class[labels[o[p]]]++;
        per_member[o[p]]++;
    }
    /* 4 classes have rows: each is drawn with probability 1/4, class 2 never */
    CHECK(per_class[2] == 0);
    for (int c = 0; c < 5; c++)
        if (c != 2)
            CHECK_MSG(within_4sigma(per_class[c], 40000, 0.25), "class %d drawn %lld times of 40000", c,
                      (long long)per_class[c]);
    /* within class 1 (10 rows) each row is drawn uniformly */
    for (int64_t i = 0; i < n; i++)
        if (labels[i] == 1)
            CHECK_MSG(within_4sigma(per_member[i], per_class[1], 0.1), "row %lld: %lld of %lld",
                      (long long)i, (long long)per_member[i], (long long)per_class[1]);
    /* the documented formula, position by position */
    repro_rng_key key = repro_rng_derive(11, REPRO_RNG_SAMPLER, 0, 0);
    static const int nonempty[4] = {0, 1, 3, 4};
    int formula = 1;
    for (uint32_t p = 0; p < 2000; p++) {
        int c = nonempty[repro_rng_below(key, p, 0, 0, 0, 4)];
        uint32_t m = repro_rng_below(key, p, 0, 0, 1, (uint32_t)counts[c]);
        uint32_t row = 0; /* the m-th row of class c, ascending */
        for (uint32_t i = 0, seen = 0; i < n; i++)
            if (labels[i] == c && seen++ == m) {
                row = i;
                break;
            }
        formula = formula && o[p] == row;
    }
    CHECK(formula);
    check_pure(&s, labels, n, 5, "balanced");
    s.samples_per_epoch = 0; /* default: as many draws as rows */
    CHECK(repro_sampler_epoch_length(&s, n) == n);
    free(o);
    free(labels);
}

static void test_weighted(void)
{
    static const int64_t counts[4] = {50, 60, 70, 80};
    int64_t n;
    int32_t *labels = make_labels(counts, 4, &n);
    repro_sampler_config s = sampler(REPRO_SAMPLER_WEIGHTED);
    static const float w[4] = {1.0f, 0.5f, 0.0f, 2.5f};
    s.n_class_weights = 4;
    memcpy(s.class_weights, w, sizeof w);
    s.samples_per_epoch = 40000;
    uint32_t *o = epoch_order(&s, 12, 1, labels, n, 4);
    int64_t per_class[4] = {0};
    for (int64_t p = 0; p < 40000; p++)
        per_class[labels[o[p]]]++;
    CHECK(per_class[2] == 0); /* weight 0: never */
    static const double want[4] = {0.25, 0.125, 0.0, 0.625};
    for (int c = 0; c < 4; c++)
        if (c != 2)
            CHECK_MSG(within_4sigma(per_class[c], 40000, want[c]), "class %d drawn %lld times of 40000",
                      c, (long long)per_class[c]);
    /* the documented formula: cumulative float sums / total, first cn > u */
    repro_rng_key key = repro_rng_derive(12, REPRO_RNG_SAMPLER, 1, 0);
    const float cn[4] = {1.0f / 4.0f, 1.5f / 4.0f, 1.5f / 4.0f, 4.0f / 4.0f};
    int formula = 1;
    for (uint32_t p = 0; p < 2000; p++) {
        float u = repro_rng_uniform(key, p, 0, 0, 0);
        int c = 0;
        while (!(cn[c] > u))
            c++;
        uint32_t m = repro_rng_below(key, p, 0, 0, 1, (uint32_t)counts[c]);
        uint32_t row = 0;
        for (uint32_t i = 0, seen = 0; i < n; i++)
            if (labels[i] == c && seen++ == m) {
                row = i;
                break;
            }
        formula = formula && o[p] == row;
    }
    CHECK(formula);
    check_pure(&s, labels, n, 4, "weighted");
    free(o);
    free(labels);
}

static void expect_error(const repro_sampler_config *s, const int32_t *labels, int64_t n, int n_classes,
                         int64_t first, int64_t count, repro_status want, const char *msg)
{
    uint32_t order[64];
    repro_error err;
    repro_error_clear(&err);
    repro_status st = repro_sampler_range(s, 1, 0, labels, n, n_classes, first, order, count, &err);
    CHECK_MSG(st == want, "status %d, want %d for \"%s\"", st, want, msg);
    CHECK_CONTAINS(err.message, msg);
}

static void test_errors(void)
{
    static const int32_t labels[6] = {0, 1, 0, 1, 0, 1};
    repro_sampler_config b = sampler(REPRO_SAMPLER_BALANCED);
    expect_error(&b, NULL, 6, 2, 0, 6, REPRO_ERR_ARG, "sampler balanced needs class labels");
    expect_error(&b, labels, 6, 0, 0, 6, REPRO_ERR_ARG, "sampler balanced needs class labels");
    expect_error(&b, labels, 6, 1, 0, 6, REPRO_ERR_FORMAT,
                 "sampler: training row 1 has label 1, outside [0, 1)");
    expect_error(&b, labels, 6, 2, 0, 7, REPRO_ERR_ARG,
                 "sampler: positions [0, 7) are outside the epoch's [0, 6)");
    expect_error(&b, labels, 6, 2, -1, 2, REPRO_ERR_ARG, "are outside the epoch's [0, 6)");
    b.samples_per_epoch = 4;
    expect_error(&b, labels, 0, 2, 0, 4, REPRO_ERR_ARG, "sampler balanced: the training set is empty");
    repro_sampler_config w = sampler(REPRO_SAMPLER_WEIGHTED);
    expect_error(&w, NULL, 6, 2, 0, 6, REPRO_ERR_ARG, "sampler weighted needs class labels");
    w.n_class_weights = 3;
    w.class_weights[0] = w.class_weights[1] = w.class_weights[2] = 1.0f;
    expect_error(&w, labels, 6, 2, 0, 6, REPRO_ERR_CONFIG,
                 "sampler.class_weights: has 3 weights but the data has 2 classes");
    w.class_weights[0] = w.class_weights[1] = w.class_weights[2] = 0.0f;
    expect_error(&w, labels, 6, 3, 0, 6, REPRO_ERR_CONFIG,
                 "sampler.class_weights: at least one weight must be > 0");
    w.class_weights[2] = 0.5f;
    expect_error(&w, labels, 6, 3, 0, 6, REPRO_ERR_CONFIG,
                 "sampler.class_weights.2: weight 0.5 but class 2 has no training rows");
    w.class_weights[0] = 3e38f;
    w.class_weights[1] = 3e38f;
    expect_error(&w, labels, 6, 3, 0, 6, REPRO_ERR_CONFIG,
                 "sampler.class_weights.1: weights must be >= 0 with a finite sum");
    repro_sampler_config r = sampler(REPRO_SAMPLER_RANDOM);
    expect_error(&r, NULL, (int64_t)1 << 32, 0, 0, 1, REPRO_ERR_ARG, "repro_sampler_range: invalid arguments");
}

static void test_steps(void)
{
    repro_sampler_config s = sampler(REPRO_SAMPLER_RANDOM);
    CHECK(repro_sampler_epoch_steps(&s, 1000, 256) == 4);
    CHECK(repro_sampler_epoch_steps(&s, 1024, 256) == 4);
    s.drop_last = true;
    CHECK(repro_sampler_epoch_steps(&s, 1000, 256) == 3);
    CHECK(repro_sampler_epoch_steps(&s, 1024, 256) == 4);
    CHECK(repro_sampler_epoch_steps(&s, 100, 256) == 0);
    s.name = REPRO_SAMPLER_BALANCED;
    s.samples_per_epoch = 600;
    CHECK(repro_sampler_epoch_steps(&s, 1000, 256) == 2);
    s.drop_last = false;
    CHECK(repro_sampler_epoch_steps(&s, 1000, 256) == 3);
    CHECK(strcmp(repro_sampler_kind_name(REPRO_SAMPLER_BLOCKS), "blocks") == 0);
}

int main(void)
{
    test_random_sequential();
    test_blocks();
    test_balanced();
    test_weighted();
    test_errors();
    test_steps();
    return test_finish("test_sampler");
}
