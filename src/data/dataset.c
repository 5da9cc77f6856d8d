/* Data sets in memory: loading as a config says, freeing, gathering a batch. */
#include "repro/data.h"

#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "data/idx.h"
#include "data/labels.h"
#include "data/map_guard.h"

void repro_dataset_free(repro_dataset *ds)
{
    if (!ds)
        return;
    free(ds->x);
    if (ds->mapped.map)
        munmap(ds->mapped.map, ds->mapped.map_bytes);
    free(ds->label);
    free(ds->y);
    free(ds->tokens);
    free(ds->vocab);
    memset(ds, 0, sizeof *ds);
}

static repro_status load_idx(const repro_data_config *cfg, repro_dataset *train,
                             repro_dataset *test, repro_error *err)
{
    if (!cfg->train_images[0] || !cfg->train_labels[0])
        return repro_fail(err, REPRO_ERR_CONFIG,
                          "data.format is idx but data.%s is empty",
                          cfg->train_images[0] ? "train_labels" : "train_images");
    if (test && !cfg->test_images[0] != !cfg->test_labels[0])
        return repro_fail(err, REPRO_ERR_CONFIG, "data.%s is set but data.%s is empty",
                          cfg->test_images[0] ? "test_images" : "test_labels",
                          cfg->test_images[0] ? "test_labels" : "test_images");
    repro_status st = repro_idx_read_set(cfg->train_images, cfg->train_labels, cfg->scale,
                                         cfg->limit_train, train, err);
    if (!st)
        st = repro_labels_check(cfg->train_labels, train->label, train->n, cfg->n_classes, err);
    if (!st && test && cfg->test_images[0]) {
        st = repro_idx_read_set(cfg->test_images, cfg->test_labels, cfg->scale, cfg->limit_test,
                                test, err);
        if (!st)
            st = repro_labels_check(cfg->test_labels, test->label, test->n, cfg->n_classes, err);
    }
    return st;
}

static repro_status load_csv(const repro_data_config *cfg, repro_dataset *train,
                             repro_dataset *test, repro_error *err)
{
    if (!cfg->train_csv[0])
        return repro_fail(err, REPRO_ERR_CONFIG, "data.format is csv but data.train_csv is empty");
    repro_status st = repro_csv_read(cfg->train_csv, cfg, cfg->limit_train, train, err);
    if (!st && test && cfg->test_csv[0])
        st = repro_csv_read(cfg->test_csv, cfg, cfg->limit_test, test, err);
    return st;
}

static repro_status load_npy(const repro_data_config *cfg, repro_dataset *train,
                             repro_dataset *test, repro_error *err)
{
    if (!cfg->train_x[0] || !cfg->train_y[0])
        return repro_fail(err, REPRO_ERR_CONFIG, "data.format is npy but data.%s is empty",
                          cfg->train_x[0] ? "train_y" : "train_x");
    if (test && !cfg->test_x[0] != !cfg->test_y[0])
        return repro_fail(err, REPRO_ERR_CONFIG, "data.%s is set but data.%s is empty",
                          cfg->test_x[0] ? "test_x" : "test_y", cfg->test_x[0] ? "test_y" : "test_x");
    repro_status st = repro_npy_read_set(cfg->train_x, cfg->train_y, cfg->y_is_label, cfg->scale,
                                         cfg->limit_train, train, err);
    if (!st && train->label)
        st = repro_labels_check(cfg->train_y, train->label, train->n, cfg->n_classes, err);
    if (!st && test && cfg->test_x[0]) {
        st = repro_npy_read_set(cfg->test_x, cfg->test_y, cfg->y_is_label, cfg->scale,
                                cfg->limit_test, test, err);
        if (!st && test->label)
            st = repro_labels_check(cfg->test_y, test->label, test->n, cfg->n_classes, err);
        if (!st && train->n_targets != test->n_targets)
            st = repro_fail(err, REPRO_ERR_FORMAT,
                            "train/test target count mismatch: '%s' has %lld targets per sample, "
                            "'%s' has %lld", cfg->train_y, (long long)train->n_targets,
                            cfg->test_y, (long long)test->n_targets);
    }
    return st;
}

repro_status repro_data_load(const repro_data_config *cfg, repro_dataset *train,
                             repro_dataset *test, repro_error *err)
{
    memset(train, 0, sizeof *train);
    if (test)
        memset(test, 0, sizeof *test);
    repro_status st;
    const char *train_path, *test_path;
    if (cfg->format == REPRO_DATA_IDX) {
        st = load_idx(cfg, train, test, err);
        train_path = cfg->train_images;
        test_path = cfg->test_images;
    } else if (cfg->format == REPRO_DATA_CSV) {
        st = load_csv(cfg, train, test, err);
        train_path = cfg->train_csv;
        test_path = cfg->test_csv;
    } else if (cfg->format == REPRO_DATA_NPY) {
        st = load_npy(cfg, train, test, err);
        train_path = cfg->train_x;
        test_path = cfg->test_x;
    } else if (cfg->format == REPRO_DATA_MEMORY) {
        return repro_fail(err, REPRO_ERR_CONFIG, "data.format is memory: the data sets are given by the caller "
                                                 "(repro_train_options.train_data, or repro.Dataset in Python), "
                                                 "not read from files");
    } else if (cfg->format == REPRO_DATA_TEXT) {
        /* one corpus: the held-out windows come from the split (val_fraction) */
        st = cfg->text_samples == REPRO_TEXT_DOCUMENTS
                 ? repro_text_read_documents(cfg->train_text, cfg->separator, cfg->context, cfg->limit_train, train,
                                             err)
                 : repro_text_read(cfg->train_text, cfg->context, cfg->limit_train, train, err);
        train_path = test_path = cfg->train_text;
    } else {
        return repro_fail(err, REPRO_ERR_CONFIG, "unknown data.format %d", (int)cfg->format);
    }
    if (!st && test && test->n > 0 && test->n_features != train->n_features)
        st = repro_fail(err, REPRO_ERR_FORMAT,
                        "train/test feature count mismatch: '%s' has %lld features per sample, "
                        "'%s' has %lld", train_path, (long long)train->n_features, test_path,
                        (long long)test->n_features);
    /* Image transforms use the training set's shape; a test set of other
       images (not flat rows) means the files do not belong together. */
    if (!st && test && test->image_h && train->image_h &&
        (test->image_h != train->image_h || test->image_w != train->image_w))
        st = repro_fail(err, REPRO_ERR_FORMAT,
                        "train/test image shape mismatch: '%s' holds %lldx%lld images, '%s' "
                        "holds %lldx%lld", train_path, (long long)train->image_h,
                        (long long)train->image_w, test_path, (long long)test->image_h,
                        (long long)test->image_w);
    if (st) {
        repro_dataset_free(train);
        repro_dataset_free(test);
        return st;
    }
    /* One class count for both sets: the configured one, else the largest seen. */
    int32_t n_classes = cfg->n_classes;
    if (n_classes <= 0) {
        n_classes = train->n_classes;
        if (test && test->n_classes > n_classes)
            n_classes = test->n_classes;
    }
    if (train->label)
        train->n_classes = n_classes;
    if (test && test->label)
        test->n_classes = n_classes;
    return REPRO_OK;
}

void repro_dataset_gather(const repro_dataset *ds, const uint32_t *idx, int64_t count, float *x,
                          int32_t *label, float *y)
{
    size_t nf = (size_t)ds->n_features, nt = (size_t)ds->n_targets;
    if (ds->tokens) { /* text windows or padded rows, float-coded ids (exact below 2^24) */
        for (int64_t i = 0; i < count; i++) {
            const int32_t *s = ds->tokens + (ds->padded ? (size_t)idx[i] * (nf + 1) : idx[i]);
            for (size_t t = 0; t < nf; t++) {
                if (x)
                    x[(size_t)i * nf + t] = (float)s[t];
                if (y)
                    y[(size_t)i * nf + t] = (float)s[t + 1];
            }
        }
        return;
    }
    for (int64_t i = 0; i < count; i++) {
        size_t row = idx[i];
        if (x && ds->x)
            memcpy(x + (size_t)i * nf, ds->x + row * nf, nf * sizeof(float));
        else if (x)
            repro_npy_convert_row(ds->mapped.data + row * ds->mapped.row_bytes, ds->mapped.dtype,
                                  ds->mapped.scale, ds->n_features, x + (size_t)i * nf);
        if (label)
            label[i] = ds->label[row];
        if (y)
            memcpy(y + (size_t)i * nt, ds->y + row * nt, nt * sizeof(float));
    }
}

typedef struct gather_args {
    const repro_dataset *ds;
    const uint32_t *idx;
    int64_t count;
    float *x;
    int32_t *label;
    float *y;
} gather_args;

static void gather_copy(void *ctx)
{
    const gather_args *a = ctx;
    repro_dataset_gather(a->ds, a->idx, a->count, a->x, a->label, a->y);
}

static repro_status changed(const repro_dataset *ds, const char *what, repro_error *err)
{
    return repro_fail(err, REPRO_ERR_IO, "'%s' changed on disk while training (%s): the run cannot go on with "
                      "other data than it started with; restore the file, then repro train --resume",
                      ds->mapped.path, what);
}

repro_status repro_dataset_gather_checked(const repro_dataset *ds, const uint32_t *idx, int64_t count, float *x,
                                          int32_t *label, float *y, repro_error *err)
{
    if (!x || ds->x || !ds->mapped.data || !ds->mapped.path[0]) { /* no file that could shrink */
        repro_dataset_gather(ds, idx, count, x, label, y);
        return REPRO_OK;
    }
    gather_args a = {ds, idx, count, x, label, y};
    if (repro_map_guarded(gather_copy, &a) != 0)
        return changed(ds, "it was cut short under its mapping: SIGBUS reading it", err);
    return REPRO_OK;
}

repro_status repro_dataset_read_rows(const repro_dataset *ds, int64_t first, int64_t count, float *x,
                                    repro_error *err)
{
    enum { BLOCK = 256 };
    uint32_t idx[BLOCK];
    for (int64_t r = 0; r < count; r += BLOCK) {
        int64_t k = count - r < BLOCK ? count - r : BLOCK;
        for (int64_t i = 0; i < k; i++)
            idx[i] = (uint32_t)(first + r + i);
        repro_status st = repro_dataset_gather_checked(ds, idx, k, x + (size_t)r * (size_t)ds->n_features, NULL,
                                                       NULL, err);
        if (st != REPRO_OK)
            return st;
    }
    return REPRO_OK;
}

repro_status repro_dataset_check_unchanged(const repro_dataset *ds, repro_error *err)
{
    if (!ds || !ds->mapped.data || !ds->mapped.path[0])
        return REPRO_OK;
    const repro_mapped_features *m = &ds->mapped;
    struct stat sb;
    if (stat(m->path, &sb) != 0)
        return changed(ds, strerror(errno), err);
    int64_t mtime = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    if ((uint64_t)sb.st_dev != m->dev || (uint64_t)sb.st_ino != m->ino)
        return changed(ds, "another file is at its path now", err);
    if ((int64_t)sb.st_size != m->size)
        return changed(ds, "its size changed", err);
    if (mtime != m->mtime_ns)
        return changed(ds, "it was modified", err);
    return REPRO_OK;
}
