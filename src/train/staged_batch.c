/* Staged batches: see staged_batch.h. */
#include "train/staged_batch.h"

#include <string.h>

static int on_cpu(const repro_staged_batch *s)
{
    return repro_backend_device(s->be) == REPRO_DEVICE_CPU;
}

repro_status repro_be_batch_alloc(const repro_backend *be, int64_t capacity, int64_t n_features, int with_label,
                                  int64_t n_targets, repro_batch *d, repro_error *err)
{
    memset(d, 0, sizeof *d);
    d->capacity = capacity;
    d->n_features = n_features;
    d->n_targets = n_targets;
    size_t cap = (size_t)capacity;
    repro_status st = repro_be_alloc(be, cap * sizeof *d->pos, (void **)&d->pos, err);
    if (st == REPRO_OK)
        st = repro_be_alloc(be, cap * (size_t)n_features * sizeof *d->x, (void **)&d->x, err);
    if (st == REPRO_OK && with_label)
        st = repro_be_alloc(be, cap * sizeof *d->label, (void **)&d->label, err);
    if (st == REPRO_OK && n_targets > 0)
        st = repro_be_alloc(be, cap * (size_t)n_targets * sizeof *d->y, (void **)&d->y, err);
    if (st != REPRO_OK)
        repro_be_batch_free(be, d);
    return st;
}

void repro_be_batch_free(const repro_backend *be, repro_batch *b)
{
    repro_be_free(be, b->pos);
    repro_be_free(be, b->x);
    repro_be_free(be, b->label);
    repro_be_free(be, b->y);
    memset(b, 0, sizeof *b);
}

repro_status repro_staged_batch_init(repro_staged_batch *s, const repro_backend *be, const repro_dataset *ds,
                                     int64_t capacity, repro_error *err)
{
    memset(s, 0, sizeof *s);
    s->be = be;
    if (on_cpu(s))
        return REPRO_OK;
    return repro_be_batch_alloc(be, capacity, ds->n_features, ds->label != NULL, ds->y || ds->tokens ? ds->n_targets : 0,
                                &s->dev, err);
}

void repro_staged_batch_free(repro_staged_batch *s)
{
    if (!s->be || on_cpu(s))
        return;
    repro_be_batch_free(s->be, &s->dev);
}

repro_status repro_staged_batch_put(repro_staged_batch *s, const repro_batch *host, int64_t n,
                                    const repro_batch **out, repro_error *err)
{
    if (on_cpu(s)) {
        *out = host;
        return REPRO_OK;
    }
    repro_batch *d = &s->dev;
    repro_status st = repro_be_upload(s->be, d->pos, host->pos, (size_t)n * sizeof *d->pos, err);
    if (st == REPRO_OK)
        st = repro_be_upload(s->be, d->x, host->x, (size_t)(n * d->n_features) * sizeof *d->x, err);
    if (st == REPRO_OK && d->label)
        st = repro_be_upload(s->be, d->label, host->label, (size_t)n * sizeof *d->label, err);
    if (st == REPRO_OK && d->y)
        st = repro_be_upload(s->be, d->y, host->y, (size_t)(n * d->n_targets) * sizeof *d->y, err);
    *out = d;
    return st;
}
