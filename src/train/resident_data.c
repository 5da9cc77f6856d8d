/* A data set in backend memory: see resident_data.h. */
#include "train/resident_data.h"
#include "train/staged_batch.h"

#include <stdlib.h>
#include <string.h>

const char *repro_resident_unsupported(const repro_dataset *ds)
{
    if (ds->tokens)
        return "its windows are gathered from the text on the host (data.format: text)";
    if (!ds->x && (ds->mapped.path[0] || !ds->mapped.data))
        return "its features stay in a file mapping (data.format: npy)";
    return "";
}

/* Features kept as stored elements (IDX images' bytes) go up as the floats
 * a gather makes of them, a block of rows at a time through host memory. */
static repro_status upload_gathered(const repro_backend *be, float *dst, const repro_dataset *ds, repro_error *err)
{
    enum { ROWS = 4096 };
    size_t nf = (size_t)ds->n_features;
    int64_t block = ds->n < ROWS ? ds->n : ROWS;
    float *x = malloc((size_t)block * nf * sizeof(float));
    if (!x)
        return repro_fail(err, REPRO_ERR_NOMEM, "no host memory to convert %lld rows", (long long)block);
    repro_status st = REPRO_OK;
    for (int64_t r0 = 0; st == REPRO_OK && r0 < ds->n; r0 += block) {
        int64_t count = ds->n - r0 < block ? ds->n - r0 : block;
        st = repro_dataset_read_rows(ds, r0, count, x, err);
        if (st == REPRO_OK)
            st = repro_be_upload(be, dst + (size_t)r0 * nf, x, (size_t)count * nf * sizeof(float), err);
    }
    free(x);
    return st;
}

repro_status repro_resident_data_init(repro_resident_data *r, const repro_backend *be, const repro_dataset *ds,
                                      int64_t rows_cap, repro_error *err)
{
    memset(r, 0, sizeof *r);
    r->be = be;
    if (repro_resident_unsupported(ds)[0])
        return repro_fail(err, REPRO_ERR_ARG, "the data set cannot be kept on the device: %s",
                          repro_resident_unsupported(ds));
    r->n = ds->n;
    r->n_features = ds->n_features;
    r->n_targets = ds->y ? ds->n_targets : 0;
    r->rows_cap = rows_cap > 0 ? rows_cap : 1;
    size_t xbytes = (size_t)(ds->n * ds->n_features) * sizeof(float);
    repro_status st = repro_be_alloc(be, xbytes, (void **)&r->x, err);
    if (st == REPRO_OK)
        st = ds->x ? repro_be_upload(be, r->x, ds->x, xbytes, err) : upload_gathered(be, r->x, ds, err);
    if (st == REPRO_OK && ds->label) {
        st = repro_be_alloc(be, (size_t)ds->n * sizeof(int32_t), (void **)&r->label, err);
        if (st == REPRO_OK)
            st = repro_be_upload(be, r->label, ds->label, (size_t)ds->n * sizeof(int32_t), err);
    }
    if (st == REPRO_OK && ds->y) {
        size_t ybytes = (size_t)(ds->n * ds->n_targets) * sizeof(float);
        st = repro_be_alloc(be, ybytes, (void **)&r->y, err);
        if (st == REPRO_OK)
            st = repro_be_upload(be, r->y, ds->y, ybytes, err);
    }
    if (st == REPRO_OK)
        st = repro_be_alloc(be, (size_t)r->rows_cap * sizeof(uint32_t), (void **)&r->rows, err);
    if (st != REPRO_OK) {
        repro_resident_data_free(r);
        return repro_error_prefix(err, "keeping the data set on the device (loader.on_device: off avoids it)");
    }
    return REPRO_OK;
}

void repro_resident_data_free(repro_resident_data *r)
{
    if (!r->be)
        return;
    repro_be_free(r->be, r->x);
    repro_be_free(r->be, r->label);
    repro_be_free(r->be, r->y);
    repro_be_free(r->be, r->rows);
    memset(r, 0, sizeof *r);
}

repro_status repro_resident_set_order(repro_resident_data *r, const uint32_t *rows, int64_t len, repro_error *err)
{
    if (len < 0 || len > r->rows_cap)
        return repro_fail(err, REPRO_ERR_INTERNAL, "resident data: an order of %lld positions (room for %lld)",
                          (long long)len, (long long)r->rows_cap);
    for (int64_t p = 0; p < len; p++)
        if (rows[p] >= r->n)
            return repro_fail(err, REPRO_ERR_INTERNAL, "resident data: position %lld names row %u of %lld",
                              (long long)p, rows[p], (long long)r->n);
    r->rows_len = len;
    return repro_be_upload(r->be, r->rows, rows, (size_t)len * sizeof(uint32_t), err);
}

repro_status repro_resident_batch(const repro_resident_data *r, int64_t first, int64_t count, repro_batch *dev,
                                  repro_error *err)
{
    if (first < 0 || count < 0 || first + count > r->rows_len)
        return repro_fail(err, REPRO_ERR_INTERNAL, "resident data: positions [%lld, %lld) of an order of %lld",
                          (long long)first, (long long)(first + count), (long long)r->rows_len);
    return repro_resident_gather(r, r->rows + first, first, count, dev, err);
}

repro_status repro_resident_gather(const repro_resident_data *r, const uint32_t *rows, int64_t first,
                                   int64_t count, repro_batch *dev, repro_error *err)
{
    if (count > dev->capacity || first < 0 || first + count > (int64_t)UINT32_MAX + 1)
        return repro_fail(err, REPRO_ERR_INTERNAL, "resident data: %lld rows at %lld into a batch of %lld",
                          (long long)count, (long long)first, (long long)dev->capacity);
    repro_status st = repro_be_fill_positions(r->be, dev->pos, (uint32_t)first, count, err);
    if (st == REPRO_OK)
        st = repro_be_gather_rows(r->be, dev->x, r->x, (size_t)r->n_features * sizeof(float), rows, count, err);
    if (st == REPRO_OK && r->label && dev->label)
        st = repro_be_gather_rows(r->be, dev->label, r->label, sizeof(int32_t), rows, count, err);
    if (st == REPRO_OK && r->y && dev->y)
        st = repro_be_gather_rows(r->be, dev->y, r->y, (size_t)r->n_targets * sizeof(float), rows, count, err);
    return st;
}

repro_status repro_resident_batch_alloc(const repro_resident_data *r, int64_t capacity, repro_batch *dev,
                                        repro_error *err)
{
    return repro_be_batch_alloc(r->be, capacity, r->n_features, r->label != NULL, r->n_targets, dev, err);
}

void repro_resident_batch_free(const repro_resident_data *r, repro_batch *dev)
{
    if (r->be)
        repro_be_batch_free(r->be, dev);
    else
        memset(dev, 0, sizeof *dev);
}
