/* Data sets given as arrays (data.format: memory) and the content hash that
 * stands in a run record for their files' hashes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repro/data.h"
#include "repro/record.h"

/* NaN or infinity anywhere in m[rows][cols]: an error naming the place. */
static repro_status check_finite(const char *what, const float *m, int64_t rows, int64_t cols, repro_error *err)
{
    for (int64_t i = 0; i < rows * cols; i++)
        if (!isfinite(m[i]))
            return repro_fail(err, REPRO_ERR_ARG, "%s[%lld][%lld] is %s: features and targets must be finite",
                              what, (long long)(i / cols), (long long)(i % cols), isnan(m[i]) ? "NaN" : "infinite");
    return REPRO_OK;
}

static repro_status check_labels(const repro_array_set *a, int32_t *n_classes, repro_error *err)
{
    int32_t max = -1;
    for (int64_t i = 0; i < a->n; i++) {
        int32_t v = a->label[i];
        if (v < 0)
            return repro_fail(err, REPRO_ERR_ARG, "label[%lld] is %d: class labels must be >= 0", (long long)i, v);
        if (a->n_classes > 0 && v >= a->n_classes)
            return repro_fail(err, REPRO_ERR_ARG, "label[%lld] is %d but there are %d classes", (long long)i, v,
                              a->n_classes);
        if (v > max)
            max = v;
    }
    *n_classes = a->n_classes > 0 ? a->n_classes : max + 1;
    return REPRO_OK;
}

static repro_status check_shape(const repro_array_set *a, repro_error *err)
{
    if (!a->x || a->n < 1 || a->n_features < 1)
        return repro_fail(err, REPRO_ERR_ARG, "a data set needs at least one sample and one feature (got %lld x %lld)",
                          (long long)a->n, (long long)a->n_features);
    if (a->n > UINT32_MAX)
        return repro_fail(err, REPRO_ERR_ARG, "a data set holds at most 2^32 - 1 samples (got %lld)", (long long)a->n);
    if ((a->image_h || a->image_w) &&
        (a->image_h < 1 || a->image_w < 1 || a->image_h * a->image_w != a->n_features))
        return repro_fail(err, REPRO_ERR_ARG, "image shape %lldx%lld does not hold %lld features",
                          (long long)a->image_h, (long long)a->image_w, (long long)a->n_features);
    if (!a->label == !a->y)
        return repro_fail(err, REPRO_ERR_ARG, "a data set needs either class labels or regression targets (got %s)",
                          a->label ? "both" : "neither");
    if (a->y && a->n_targets < 1)
        return repro_fail(err, REPRO_ERR_ARG, "targets need at least one column");
    return REPRO_OK;
}

static void *copy_of(const void *src, size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (p)
        memcpy(p, src, bytes);
    return p;
}

repro_status repro_dataset_from_arrays(const repro_array_set *a, repro_dataset *out, repro_error *err)
{
    memset(out, 0, sizeof *out);
    int32_t n_classes = 0;
    repro_status st = check_shape(a, err);
    if (!st)
        st = check_finite("x", a->x, a->n, a->n_features, err);
    if (!st && a->y)
        st = check_finite("y", a->y, a->n, a->n_targets, err);
    if (!st && a->label)
        st = check_labels(a, &n_classes, err);
    if (st)
        return st;
    out->n = a->n;
    out->n_features = a->n_features;
    out->image_h = a->image_h;
    out->image_w = a->image_w;
    out->x = copy_of(a->x, (size_t)a->n * (size_t)a->n_features * sizeof(float));
    if (a->label) {
        out->label = copy_of(a->label, (size_t)a->n * sizeof(int32_t));
        out->n_classes = n_classes;
    } else {
        out->y = copy_of(a->y, (size_t)a->n * (size_t)a->n_targets * sizeof(float));
        out->n_targets = a->n_targets;
    }
    if (!out->x || (a->label && !out->label) || (a->y && !out->y)) {
        repro_dataset_free(out);
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory copying a %lld x %lld data set", (long long)a->n,
                          (long long)a->n_features);
    }
    return REPRO_OK;
}

/* Features not in x, a block of rows at a time (repro_dataset_read_rows). */
static repro_status hash_mapped(repro_sha256 *h, const repro_dataset *ds, repro_error *err)
{
    enum { ROWS = 256 };
    float *x = malloc((size_t)ROWS * (size_t)ds->n_features * sizeof(float));
    if (!x)
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory hashing a data set");
    repro_status st = REPRO_OK;
    for (int64_t r = 0; r < ds->n && !st; r += ROWS) {
        int64_t count = ds->n - r < ROWS ? ds->n - r : ROWS;
        st = repro_dataset_read_rows(ds, r, count, x, err);
        if (!st)
            repro_sha256_update(h, x, (size_t)count * (size_t)ds->n_features * sizeof(float));
    }
    free(x);
    return st;
}

repro_status repro_dataset_sha256(const repro_dataset *ds, char hex[65], repro_error *err)
{
    repro_sha256 *h = repro_sha256_new();
    if (!h)
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory hashing a data set");
    char line[256];
    int len = snprintf(line, sizeof line, "repro-dataset-v1 n=%lld features=%lld image=%lldx%lld classes=%d targets=%lld\n",
                       (long long)ds->n, (long long)ds->n_features, (long long)ds->image_h, (long long)ds->image_w,
                       ds->n_classes, (long long)ds->n_targets);
    repro_sha256_update(h, line, (size_t)len);
    repro_status st = REPRO_OK;
    if (ds->x)
        repro_sha256_update(h, ds->x, (size_t)ds->n * (size_t)ds->n_features * sizeof(float));
    else
        st = hash_mapped(h, ds, err);
    if (ds->label)
        repro_sha256_update(h, ds->label, (size_t)ds->n * sizeof(int32_t));
    if (ds->y)
        repro_sha256_update(h, ds->y, (size_t)ds->n * (size_t)ds->n_targets * sizeof(float));
    repro_sha256_final(h, hex);
    return st;
}
