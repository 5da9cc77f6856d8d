/* Batches: see batch.h. */
#include "data/batch.h"

#include <stdlib.h>
#include <string.h>

repro_status repro_batch_alloc(repro_batch *b, const repro_dataset *ds, int64_t capacity, repro_error *err)
{
    memset(b, 0, sizeof *b);
    b->capacity = capacity;
    b->n_features = ds->n_features;
    b->n_targets = ds->y || ds->tokens ? ds->n_targets : 0;
    size_t cap = (size_t)capacity;
    b->index = calloc(cap, sizeof *b->index);
    b->pos = calloc(cap, sizeof *b->pos);
    b->x = calloc(cap * (size_t)ds->n_features, sizeof *b->x);
    b->label = ds->label ? calloc(cap, sizeof *b->label) : NULL;
    b->y = ds->y || ds->tokens ? calloc(cap * (size_t)ds->n_targets, sizeof *b->y) : NULL;
    if (!b->index || !b->pos || !b->x || (ds->label && !b->label) || ((ds->y || ds->tokens) && !b->y)) {
        repro_batch_free(b);
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate a batch of %lld samples", (long long)capacity);
    }
    return REPRO_OK;
}

void repro_batch_free(repro_batch *b)
{
    free(b->index);
    free(b->pos);
    free(b->x);
    free(b->label);
    free(b->y);
    memset(b, 0, sizeof *b);
}

repro_status repro_batch_fill(repro_batch *b, const repro_dataset *ds, int64_t count, repro_error *err)
{
    return repro_dataset_gather_checked(ds, b->index, count, b->x, b->label, b->y, err);
}

void repro_batch_prefetch_row(const repro_dataset *ds, uint32_t row)
{
    if (ds->label) /* 4 bytes of a table too large to stay cached beside the step's work */
        __builtin_prefetch(ds->label + row, 0, 3);
    const char *p;
    size_t bytes;
    if (ds->x) {
        p = (const char *)(ds->x + (size_t)row * (size_t)ds->n_features);
        bytes = (size_t)ds->n_features * sizeof(float);
    } else if (ds->mapped.data) {
        p = (const char *)ds->mapped.data + (size_t)row * ds->mapped.row_bytes;
        bytes = ds->mapped.row_bytes;
    } else {
        return; /* text: windows of a token array, read in order */
    }
    for (size_t off = 0; off < bytes; off += 64)
        __builtin_prefetch(p + off, 0, 3);
}
