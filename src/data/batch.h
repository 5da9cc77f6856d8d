/* A batch of samples gathered for one forward pass. */
#ifndef REPRO_DATA_BATCH_H
#define REPRO_DATA_BATCH_H

#include <stdint.h>

#include "repro/data.h"
#include "repro/status.h"

typedef struct repro_batch {
    int64_t capacity;  /* rows allocated */
    int64_t n_features, n_targets;
    uint32_t *index;   /* [capacity] data set row of each sample */
    uint32_t *pos;     /* [capacity] position of each sample in its epoch (dropout's coordinate) */
    float *x;          /* [capacity][n_features] */
    int32_t *label;    /* [capacity] or NULL when the data has no labels */
    float *y;          /* [capacity][n_targets] or NULL when it has no targets */
} repro_batch;

repro_status repro_batch_alloc(repro_batch *b, const repro_dataset *ds, int64_t capacity, repro_error *err);
void repro_batch_free(repro_batch *b);

/* Fills rows [0, count) from ds rows index[0..count) (set b->index and
 * b->pos first). Fails only when a mapped file changed under the run
 * (repro_dataset_gather_checked). */
repro_status repro_batch_fill(repro_batch *b, const repro_dataset *ds, int64_t count, repro_error *err);

/* Asks for data set row `row`'s features and label to be brought into the
 * cache. The loader copies samples from all over a set larger than the
 * caches (Fashion-MNIST's training images: 47 MB as bytes, 188 MB as
 * floats), so each row's first lines waited on memory; it now asks for a
 * later sample's row while it copies this one. A hint: it changes no value
 * and never faults, not even on a mapped file that shrank. */
void repro_batch_prefetch_row(const repro_dataset *ds, uint32_t row);

#endif
