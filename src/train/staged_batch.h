/* A batch as the backend sees it. The data loader fills batches in host
 * memory; on the CPU backend the kernels read them where they are, on a GPU
 * they are copied to device buffers first (x, label, y and the positions). */
#ifndef REPRO_TRAIN_STAGED_BATCH_H
#define REPRO_TRAIN_STAGED_BATCH_H

#include "backend/backend.h"
#include "data/batch.h"

/* A batch of backend buffers for up to capacity rows: pos, x [capacity][n_features],
 * label when with_label, y [capacity][n_targets] when n_targets > 0 (the others
 * NULL). Free with repro_be_batch_free (NULL-safe members). */
repro_status repro_be_batch_alloc(const repro_backend *be, int64_t capacity, int64_t n_features, int with_label,
                                  int64_t n_targets, repro_batch *out, repro_error *err);
void repro_be_batch_free(const repro_backend *be, repro_batch *b);

typedef struct repro_staged_batch {
    const repro_backend *be;
    repro_batch dev; /* backend buffers (GPU only; unused on the CPU) */
} repro_staged_batch;

repro_status repro_staged_batch_init(repro_staged_batch *s, const repro_backend *be, const repro_dataset *ds,
                                     int64_t capacity, repro_error *err);
void repro_staged_batch_free(repro_staged_batch *s);

/* Rows [0, n) of host as backend memory: host itself on the CPU, else a copy. */
repro_status repro_staged_batch_put(repro_staged_batch *s, const repro_batch *host, int64_t n,
                                    const repro_batch **out, repro_error *err);

#endif
