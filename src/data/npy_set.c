/* A data set from NPY files: features left in their mapping, labels or
 * targets loaded into memory (they are small: n or n * t values). */
#include "repro/data.h"

#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

static repro_status open_features(const char *path, float scale, int64_t limit,
                                  repro_npy *file, repro_dataset *out, repro_error *err)
{
    repro_status st = repro_npy_open(path, file, err);
    if (st)
        return st;
    bool ok = file->ndim == 2 || file->ndim == 3;
    for (int i = 0; ok && i < file->ndim; i++)
        ok = file->shape[i] > 0;
    if (!ok)
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': features must have shape [n][d] or [n][h][w], every size > 0; "
                          "the file has %d dimensions (%lld samples)", path, file->ndim,
                          (long long)(file->ndim ? file->shape[0] : 0));
    out->n = limit > 0 && limit < file->shape[0] ? limit : file->shape[0];
    out->n_features = file->shape[1] * (file->ndim == 3 ? file->shape[2] : 1);
    if (file->ndim == 3) {
        out->image_h = file->shape[1];
        out->image_w = file->shape[2];
    }
    /* what "unchanged" means for the rest of the run */
    struct stat sb;
    if (stat(path, &sb) == 0) {
        snprintf(out->mapped.path, sizeof out->mapped.path, "%s", path);
        out->mapped.dev = (uint64_t)sb.st_dev;
        out->mapped.ino = (uint64_t)sb.st_ino;
        out->mapped.size = (int64_t)sb.st_size;
        out->mapped.mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    }
    out->mapped.data = file->data;
    out->mapped.row_bytes = (size_t)out->n_features * repro_npy_dtype_size(file->dtype);
    out->mapped.dtype = file->dtype;
    out->mapped.scale = scale;
    return REPRO_OK;
}

/* Element i of a float array as a double (float32 widened exactly). */
static double float_element(const repro_npy *f, int64_t i)
{
    if (f->dtype == REPRO_NPY_F32) {
        float v;
        memcpy(&v, f->data + 4 * (size_t)i, 4);
        return v;
    }
    double v;
    memcpy(&v, f->data + 8 * (size_t)i, 8);
    return v;
}

/* Element i of an integer array. */
static int64_t int_element(const repro_npy *f, int64_t i)
{
    if (f->dtype == REPRO_NPY_U8)
        return f->data[i];
    if (f->dtype == REPRO_NPY_I32) {
        int32_t v;
        memcpy(&v, f->data + 4 * (size_t)i, 4);
        return v;
    }
    int64_t v;
    memcpy(&v, f->data + 8 * (size_t)i, 8);
    return v;
}

static bool is_float(repro_npy_dtype dtype)
{
    return dtype == REPRO_NPY_F32 || dtype == REPRO_NPY_F64;
}

/* Labels [n]: every one is checked (a limit cannot hide a bad file), the
 * first `keep` kept. */
static repro_status read_labels(const char *path, const repro_npy *f, int64_t keep,
                                repro_dataset *out, repro_error *err)
{
    out->label = malloc((size_t)keep * sizeof(int32_t));
    if (!out->label)
        return repro_fail(err, REPRO_ERR_NOMEM, "'%s': out of memory for %lld labels", path,
                          (long long)keep);
    int32_t max = -1;
    for (int64_t i = 0; i < f->count; i++) {
        int64_t label;
        if (is_float(f->dtype)) {
            double v = float_element(f, i);
            if (!(v == floor(v)) || v < 0 || v >= (double)INT32_MAX)
                return repro_fail(err, REPRO_ERR_FORMAT,
                                  "'%s': sample %lld has label %.17g; labels must be integers "
                                  "in [0, 2^31 - 1)", path, (long long)i, v);
            label = (int64_t)v;
        } else {
            label = int_element(f, i);
            if (label < 0 || label >= INT32_MAX)
                return repro_fail(err, REPRO_ERR_FORMAT,
                                  "'%s': sample %lld has label %lld; labels must be integers "
                                  "in [0, 2^31 - 1)", path, (long long)i, (long long)label);
        }
        if (i < keep) {
            out->label[i] = (int32_t)label;
            max = (int32_t)label > max ? (int32_t)label : max;
        }
    }
    out->n_classes = max + 1;
    return REPRO_OK;
}

/* Targets [n] or [n][t], float32 or float64, finite as float32; the first
 * `keep` rows. */
static repro_status read_targets(const char *path, const repro_npy *f, int64_t keep,
                                 repro_dataset *out, repro_error *err)
{
    if (!is_float(f->dtype))
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': targets must be float32 ('<f4') or float64 ('<f8'), not '%s' "
                          "(for class labels set data.y_is_label: true)", path,
                          repro_npy_dtype_descr(f->dtype));
    int64_t t = f->ndim == 2 ? f->shape[1] : 1;
    size_t count = (size_t)keep * (size_t)t;
    out->y = malloc(count * sizeof(float));
    if (!out->y)
        return repro_fail(err, REPRO_ERR_NOMEM, "'%s': out of memory for %lld targets", path,
                          (long long)keep);
    out->n_targets = t;
    repro_npy_convert_row(f->data, f->dtype, 1.0f, (int64_t)count, out->y);
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(out->y[i])) {
            double v = float_element(f, (int64_t)i);
            return repro_fail(err, REPRO_ERR_FORMAT, "'%s': sample %lld, target %lld is %.17g%s",
                              path, (long long)(i / (size_t)t), (long long)(i % (size_t)t), v,
                              isfinite(v) ? ", beyond float32's range" : "");
        }
    }
    return REPRO_OK;
}

static repro_status read_y(const char *path, bool y_is_label, int64_t n_x, const char *x_path,
                           int64_t keep, repro_dataset *out, repro_error *err)
{
    repro_npy f;
    repro_status st = repro_npy_open(path, &f, err);
    if (st)
        return st;
    const char *what = y_is_label ? "labels" : "targets";
    if (y_is_label ? f.ndim != 1 : f.ndim != 1 && f.ndim != 2)
        st = repro_fail(err, REPRO_ERR_FORMAT, "'%s': %s must have shape [n]%s; the file has %d "
                        "dimensions", path, what, y_is_label ? "" : " or [n][t]", f.ndim);
    else if (f.shape[0] != n_x)
        st = repro_fail(err, REPRO_ERR_FORMAT,
                        "sample count mismatch: '%s' holds %lld samples, '%s' holds %lld %s",
                        x_path, (long long)n_x, path, (long long)f.shape[0], what);
    else if (!y_is_label && f.ndim == 2 && f.shape[1] == 0)
        st = repro_fail(err, REPRO_ERR_FORMAT, "'%s': targets of shape [n][0]", path);
    else if (y_is_label)
        st = read_labels(path, &f, keep, out, err);
    else
        st = read_targets(path, &f, keep, out, err);
    repro_npy_close(&f);
    return st;
}

repro_status repro_npy_read_set(const char *x_path, const char *y_path, bool y_is_label,
                                float scale, int64_t limit, repro_dataset *out, repro_error *err)
{
    memset(out, 0, sizeof *out);
    if (limit < 0)
        return repro_fail(err, REPRO_ERR_ARG, "'%s': negative sample limit %lld", x_path,
                          (long long)limit);
    repro_npy x;
    repro_status st = open_features(x_path, scale, limit, &x, out, err);
    /* From here the data set owns the mapping, so freeing it unmaps. */
    out->mapped.map = x.map;
    out->mapped.map_bytes = x.map_bytes;
    if (!st && y_path && y_path[0])
        st = read_y(y_path, y_is_label, x.shape[0], x_path, out->n, out, err);
    if (st)
        repro_dataset_free(out);
    return st;
}
