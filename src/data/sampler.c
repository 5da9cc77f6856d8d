/* sampler.c: the samplers of include/repro/sampler.h, each a pure function of
 * (seed, epoch, position). The formulas are written in docs/augmentation.md
 * ("Samplers"); the comments here say how the code follows them.
 *
 *   random      order = repro_rng_epoch_shuffle(seed, epoch, n_train) (what
 *               the trainer has always done, so older ledgers keep their bits)
 *   sequential  order[p] = p
 *   balanced    key = derive(seed, SAMPLER, epoch, 0); at position p:
 *               k = below(key, p, 0, 0, element 0, C') over the C' classes that
 *               have rows (in class order); the row is member
 *               below(key, p, 0, 0, element 1, n_c) of that class, members
 *               in ascending row order
 *   weighted    class = the first c with cn[c] > u, u = uniform(key, p, 0, 0,
 *               element 0), cn = the cumulative weights / their total, in
 *               float in class order; member as balanced (element 1)
 *   blocks      block order = permutation(derive(seed, SAMPLER, epoch, 1),
 *               n_blocks); window w (buffer_blocks consecutive blocks of that
 *               order) is permuted by permutation(derive(seed, SHUFFLE,
 *               epoch, 1 + w), its row count) */
#include "repro/sampler.h"

#include <float.h>
#include <stdlib.h>

#include "repro/rng.h"

int64_t repro_sampler_epoch_length(const repro_sampler_config *cfg, int64_t n_train)
{
    bool by_class = cfg->name == REPRO_SAMPLER_BALANCED || cfg->name == REPRO_SAMPLER_WEIGHTED;
    return by_class && cfg->samples_per_epoch > 0 ? cfg->samples_per_epoch : n_train;
}

int64_t repro_sampler_epoch_steps(const repro_sampler_config *cfg, int64_t n_train, int64_t batch_size)
{
    int64_t len = repro_sampler_epoch_length(cfg, n_train);
    if (batch_size < 1)
        return 0;
    return cfg->drop_last ? len / batch_size : (len + batch_size - 1) / batch_size;
}

/* ---- balanced and weighted: classes and their members ---------------------- */

/* Rows grouped by class: members[start[c] .. start[c + 1]) are the rows of
 * class c, ascending. start[n_classes + 1], members[n_train]. */
typedef struct class_index {
    int64_t *start;
    uint32_t *members;
} class_index;

static void class_index_free(class_index *ci)
{
    free(ci->start);
    free(ci->members);
}

static repro_status class_index_build(class_index *ci, const int32_t *labels, int64_t n, int n_classes,
                                      repro_error *err)
{
    ci->start = calloc((size_t)n_classes + 1, sizeof *ci->start);
    ci->members = malloc((size_t)(n > 0 ? n : 1) * sizeof *ci->members);
    if (!ci->start || !ci->members) {
        class_index_free(ci);
        return repro_fail(err, REPRO_ERR_NOMEM, "sampler: out of memory for a class index of %lld rows",
                          (long long)n);
    }
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= n_classes) {
            class_index_free(ci);
            return repro_fail(err, REPRO_ERR_FORMAT,
                              "sampler: training row %lld has label %d, outside [0, %d)", (long long)i,
                              (int)labels[i], n_classes);
        }
        ci->start[labels[i] + 1]++;
    }
    for (int c = 0; c < n_classes; c++)
        ci->start[c + 1] += ci->start[c];
    /* a stable counting sort: each class's rows stay ascending */
    int64_t *next = malloc((size_t)n_classes * sizeof *next);
    if (!next) {
        class_index_free(ci);
        return repro_fail(err, REPRO_ERR_NOMEM, "sampler: out of memory");
    }
    for (int c = 0; c < n_classes; c++)
        next[c] = ci->start[c];
    for (int64_t i = 0; i < n; i++)
        ci->members[next[labels[i]]++] = (uint32_t)i;
    free(next);
    return REPRO_OK;
}

static uint32_t class_size(const class_index *ci, int c)
{
    return (uint32_t)(ci->start[c + 1] - ci->start[c]);
}

/* balanced: classes[n_nonempty] = the classes that have rows, ascending. */
static repro_status sample_balanced(const class_index *ci, int n_classes, repro_rng_key key, int64_t first,
                                    uint32_t *order, int64_t count, repro_error *err)
{
    int *classes = malloc((size_t)n_classes * sizeof *classes);
    if (!classes)
        return repro_fail(err, REPRO_ERR_NOMEM, "sampler: out of memory");
    uint32_t n_nonempty = 0;
    for (int c = 0; c < n_classes; c++)
        if (class_size(ci, c) > 0)
            classes[n_nonempty++] = c;
    for (int64_t i = 0; i < count; i++) {
        uint32_t p = (uint32_t)(first + i);
        int c = classes[repro_rng_below(key, p, 0, 0, 0, n_nonempty)];
        order[i] = ci->members[ci->start[c] + repro_rng_below(key, p, 0, 0, 1, class_size(ci, c))];
    }
    free(classes);
    return REPRO_OK;
}

/* weighted: cn[c] = (w[0] + ... + w[c]) / total, each sum one float addition
 * in class order from +0, total = the last sum. cn[n - 1] = total / total = 1
 * > u always, and a zero weight repeats the previous cn, so its class is
 * never the first to exceed u. */
static void sample_weighted(const class_index *ci, const float *w, int n_classes, repro_rng_key key,
                            int64_t first, uint32_t *order, int64_t count)
{
    float cum[REPRO_MAX_CLASSES], cn[REPRO_MAX_CLASSES], total = 0.0f;
    for (int c = 0; c < n_classes; c++) {
        total = total + w[c];
        cum[c] = total;
    }
    for (int c = 0; c < n_classes; c++)
        cn[c] = cum[c] / total;
    for (int64_t i = 0; i < count; i++) {
        uint32_t p = (uint32_t)(first + i);
        float u = repro_rng_uniform(key, p, 0, 0, 0);
        int c = 0;
        while (!(cn[c] > u))
            c++;
        order[i] = ci->members[ci->start[c] + repro_rng_below(key, p, 0, 0, 1, class_size(ci, c))];
    }
}

static repro_status check_weights(const repro_sampler_config *cfg, const class_index *ci, int n_classes,
                                  repro_error *err)
{
    if (cfg->n_class_weights != n_classes)
        return repro_fail(err, REPRO_ERR_CONFIG,
                          "sampler.class_weights: has %d weights but the data has %d classes",
                          cfg->n_class_weights, n_classes);
    bool any = false;
    float total = 0.0f; /* the same sum as sample_weighted's: it must stay finite */
    for (int c = 0; c < n_classes; c++) {
        float w = cfg->class_weights[c];
        total = total + w;
        if (!(w >= 0.0f) || !(total <= FLT_MAX))
            return repro_fail(err, REPRO_ERR_CONFIG,
                              "sampler.class_weights.%d: weights must be >= 0 with a finite sum", c);
        if (w > 0.0f && class_size(ci, c) == 0)
            return repro_fail(err, REPRO_ERR_CONFIG,
                              "sampler.class_weights.%d: weight %.9g but class %d has no training rows",
                              c, (double)w, c);
        any = any || w > 0.0f;
    }
    if (!any)
        return repro_fail(err, REPRO_ERR_CONFIG, "sampler.class_weights: at least one weight must be > 0");
    return REPRO_OK;
}

static repro_status sample_by_class(const repro_sampler_config *cfg, uint64_t seed, uint32_t epoch,
                                    const int32_t *labels, int64_t n_train, int n_classes, int64_t first,
                                    uint32_t *order, int64_t count, repro_error *err)
{
    const char *name = repro_sampler_kind_name(cfg->name);
    if (!labels || n_classes < 1)
        return repro_fail(err, REPRO_ERR_ARG, "sampler %s needs class labels", name);
    if (n_classes > REPRO_MAX_CLASSES)
        return repro_fail(err, REPRO_ERR_ARG, "sampler %s: %d classes, at most %d", name, n_classes,
                          REPRO_MAX_CLASSES);
    if (n_train == 0)
        return repro_fail(err, REPRO_ERR_ARG, "sampler %s: the training set is empty", name);
    class_index ci = {0};
    repro_status st = class_index_build(&ci, labels, n_train, n_classes, err);
    if (st)
        return st;
    repro_rng_key key = repro_rng_derive(seed, REPRO_RNG_SAMPLER, epoch, 0);
    if (cfg->name == REPRO_SAMPLER_BALANCED) {
        st = sample_balanced(&ci, n_classes, key, first, order, count, err);
    } else {
        st = check_weights(cfg, &ci, n_classes, err);
        if (!st)
            sample_weighted(&ci, cfg->class_weights, n_classes, key, first, order, count);
    }
    class_index_free(&ci);
    return st;
}

/* ---- random ------------------------------------------------------------------ */

static repro_status sample_random(uint64_t seed, uint32_t epoch, int64_t n_train, int64_t first,
                                  uint32_t *order, int64_t count, repro_error *err)
{
    if (first == 0 && count == n_train) { /* the whole epoch: straight into order */
        repro_rng_epoch_shuffle(seed, epoch, order, (uint32_t)n_train);
        return REPRO_OK;
    }
    uint32_t *perm = malloc((size_t)(n_train > 0 ? n_train : 1) * sizeof *perm);
    if (!perm)
        return repro_fail(err, REPRO_ERR_NOMEM, "sampler random: out of memory for %lld rows",
                          (long long)n_train);
    repro_rng_epoch_shuffle(seed, epoch, perm, (uint32_t)n_train);
    for (int64_t i = 0; i < count; i++)
        order[i] = perm[first + i];
    free(perm);
    return REPRO_OK;
}

/* ---- blocks ------------------------------------------------------------------ */

/* Rows of data block b: [b * bs, min((b + 1) * bs, n)). */
static int64_t block_rows(int64_t b, int64_t bs, int64_t n)
{
    int64_t end = (b + 1) * bs < n ? (b + 1) * bs : n;
    return end - b * bs;
}

/* Fills order[] for the positions of window w that fall in [first, first +
 * count); the window holds positions [start, start + len) and the blocks
 * border[w * K .. w * K + nb). */
static repro_status fill_window(const repro_sampler_config *cfg, uint64_t seed, uint32_t epoch,
                                int64_t n, const uint32_t *border, int64_t w, int64_t nb, int64_t start,
                                int64_t len, int64_t first, uint32_t *order, int64_t count,
                                repro_error *err)
{
    int64_t bs = cfg->block_size, K = cfg->buffer_blocks;
    uint32_t *rows = malloc((size_t)len * sizeof *rows), *perm = malloc((size_t)len * sizeof *perm);
    if (!rows || !perm) {
        free(rows);
        free(perm);
        return repro_fail(err, REPRO_ERR_NOMEM, "sampler blocks: out of memory for a window of %lld rows",
                          (long long)len);
    }
    /* rows: the window's blocks in block order, each block's rows ascending */
    int64_t j = 0;
    for (int64_t k = 0; k < nb; k++) {
        int64_t b = border[w * K + k];
        for (int64_t r = 0; r < block_rows(b, bs, n); r++)
            rows[j++] = (uint32_t)(b * bs + r);
    }
    repro_rng_permutation(repro_rng_derive(seed, REPRO_RNG_SHUFFLE, epoch, (uint32_t)(1 + w)), perm,
                          (uint32_t)len);
    int64_t lo = first > start ? first : start;
    int64_t hi = first + count < start + len ? first + count : start + len;
    for (int64_t p = lo; p < hi; p++)
        order[p - first] = rows[perm[p - start]];
    free(rows);
    free(perm);
    return REPRO_OK;
}

static repro_status sample_blocks(const repro_sampler_config *cfg, uint64_t seed, uint32_t epoch,
                                  int64_t n, int64_t first, uint32_t *order, int64_t count,
                                  repro_error *err)
{
    int64_t bs = cfg->block_size, K = cfg->buffer_blocks;
    if (bs < 1 || K < 1)
        return repro_fail(err, REPRO_ERR_ARG, "sampler blocks: block_size and buffer_blocks must be >= 1");
    if (count == 0)
        return REPRO_OK;
    int64_t n_blocks = n / bs + (n % bs != 0);
    uint32_t *border = malloc((size_t)n_blocks * sizeof *border);
    if (!border)
        return repro_fail(err, REPRO_ERR_NOMEM, "sampler blocks: out of memory");
    repro_rng_permutation(repro_rng_derive(seed, REPRO_RNG_SAMPLER, epoch, 1), border, (uint32_t)n_blocks);
    repro_status st = REPRO_OK;
    int64_t start = 0;
    for (int64_t w = 0; w * K < n_blocks && start < first + count && !st; w++) {
        int64_t nb = n_blocks - w * K < K ? n_blocks - w * K : K, len = 0;
        for (int64_t k = 0; k < nb; k++)
            len += block_rows(border[w * K + k], bs, n);
        if (start + len > first)
            st = fill_window(cfg, seed, epoch, n, border, w, nb, start, len, first, order, count, err);
        start += len;
    }
    free(border);
    return st;
}

/* ---- entry points ---------------------------------------------------------- */

repro_status repro_sampler_range(const repro_sampler_config *cfg, uint64_t seed, uint32_t epoch,
                                 const int32_t *labels, int64_t n_train, int n_classes,
                                 int64_t first, uint32_t *order, int64_t count, repro_error *err)
{
    if (!cfg || n_train < 0 || n_train > (int64_t)UINT32_MAX || (count > 0 && !order))
        return repro_fail(err, REPRO_ERR_ARG, "repro_sampler_range: invalid arguments");
    int64_t len = repro_sampler_epoch_length(cfg, n_train);
    if (len > (int64_t)UINT32_MAX)
        return repro_fail(err, REPRO_ERR_ARG, "sampler: %lld positions per epoch, at most 2^32 - 1",
                          (long long)len);
    if (first < 0 || count < 0 || first > len || count > len - first)
        return repro_fail(err, REPRO_ERR_ARG,
                          "sampler: positions [%lld, %lld) are outside the epoch's [0, %lld)",
                          (long long)first, (long long)(first + count), (long long)len);
    switch (cfg->name) {
    case REPRO_SAMPLER_RANDOM: return sample_random(seed, epoch, n_train, first, order, count, err);
    case REPRO_SAMPLER_SEQUENTIAL:
        for (int64_t i = 0; i < count; i++)
            order[i] = (uint32_t)(first + i);
        return REPRO_OK;
    case REPRO_SAMPLER_BALANCED:
    case REPRO_SAMPLER_WEIGHTED:
        return sample_by_class(cfg, seed, epoch, labels, n_train, n_classes, first, order, count, err);
    case REPRO_SAMPLER_BLOCKS: return sample_blocks(cfg, seed, epoch, n_train, first, order, count, err);
    }
    return repro_fail(err, REPRO_ERR_ARG, "sampler: unknown sampler %d", (int)cfg->name);
}

repro_status repro_sampler_epoch(const repro_sampler_config *cfg, uint64_t seed, uint32_t epoch,
                                 const int32_t *labels, int64_t n_train, int n_classes,
                                 uint32_t *order, int64_t len, repro_error *err)
{
    return repro_sampler_range(cfg, seed, epoch, labels, n_train, n_classes, 0, order, len, err);
}
