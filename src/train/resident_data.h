/* A data set kept in backend memory (GPU memory on CUDA), and the batches
 * assembled from it there: the trainer's alternative to the host loader
 * when augmentation is off (loader.on_device). A batch holds the same bits
 * either way: rows gathered by the same epoch order, positions first + i.
 *
 * The features, labels and targets are uploaded once; each epoch uploads
 * its order (4 bytes a sample); each batch is two or three gathers on the
 * device and no transfer. */
#ifndef REPRO_TRAIN_RESIDENT_DATA_H
#define REPRO_TRAIN_RESIDENT_DATA_H

#include "backend/backend.h"
#include "data/batch.h"

typedef struct repro_resident_data {
    const repro_backend *be;
    int64_t n, n_features, n_targets;
    float *x;        /* [n][n_features] backend memory */
    int32_t *label;  /* [n] or NULL */
    float *y;        /* [n][n_targets] or NULL */
    uint32_t *rows;  /* [rows_cap] the current order: data row at each position */
    int64_t rows_len, rows_cap;
} repro_resident_data;

/* Why ds cannot be kept on the device ("" when it can): text, or features
 * in a file mapping (IDX images' bytes in memory go up as floats). */
const char *repro_resident_unsupported(const repro_dataset *ds);

/* Uploads ds (its features must be in memory) with room for an order of
 * up to rows_cap positions. */
repro_status repro_resident_data_init(repro_resident_data *r, const repro_backend *be, const repro_dataset *ds,
                                      int64_t rows_cap, repro_error *err);
void repro_resident_data_free(repro_resident_data *r);

/* The order batches are cut from: rows[p] is the data row at position p
 * (len <= rows_cap, each < n). */
repro_status repro_resident_set_order(repro_resident_data *r, const uint32_t *rows, int64_t len,
                                      repro_error *err);

/* Positions [first, first + count) of the order into dev (backend buffers of
 * capacity >= count): x, label, y gathered, pos[i] = first + i. */
repro_status repro_resident_batch(const repro_resident_data *r, int64_t first, int64_t count, repro_batch *dev,
                                  repro_error *err);
/* The same from another order: rows (backend memory) [count] are the data
 * rows, first the position of rows[0]. */
repro_status repro_resident_gather(const repro_resident_data *r, const uint32_t *rows, int64_t first,
                                   int64_t count, repro_batch *dev, repro_error *err);

/* A batch of backend buffers (pos, x, and label / y where r has them) for
 * up to capacity rows; free with repro_resident_batch_free. */
repro_status repro_resident_batch_alloc(const repro_resident_data *r, int64_t capacity, repro_batch *dev,
                                        repro_error *err);
void repro_resident_batch_free(const repro_resident_data *r, repro_batch *dev);

#endif
