/* data.format: memory: copies of the caller's data sets (given_data.h). */
#include <stdlib.h>
#include <string.h>

#include "train/given_data.h"

/* The features as floats: x itself, or (stored elements, such as an IDX
 * set's bytes or a mapped NPY file) all rows read into *owned. */
static const float *features_of(const repro_dataset *src, float **owned, repro_error *err)
{
    *owned = NULL;
    if (src->x || !src->mapped.data)
        return src->x;
    *owned = malloc((size_t)src->n * (size_t)src->n_features * sizeof(float));
    repro_status st = *owned ? repro_dataset_read_rows(src, 0, src->n, *owned, err)
                             : repro_fail(err, REPRO_ERR_NOMEM, "out of memory for its features as floats");
    if (st != REPRO_OK) {
        free(*owned);
        *owned = NULL;
    }
    return *owned;
}

static repro_status copy_set(const char *which, const repro_dataset *src, repro_dataset *dst, repro_error *err)
{
    repro_error_clear(err);
    float *owned;
    const float *x = features_of(src, &owned, err);
    if (!x)
        return err->message[0] ? repro_error_prefix(err, "the %s data", which)
                               : repro_fail(err, REPRO_ERR_ARG, "the %s data given in memory has no features in "
                                            "memory", which);
    repro_array_set a = {.x = x, .n = src->n, .n_features = src->n_features, .image_h = src->image_h,
                         .image_w = src->image_w, .label = src->label, .n_classes = src->n_classes,
                         .y = src->y, .n_targets = src->y ? src->n_targets : 0};
    repro_status st = repro_dataset_from_arrays(&a, dst, err);
    free(owned);
    return st ? repro_error_prefix(err, "the %s data", which) : REPRO_OK;
}

static repro_status check_classes(const char *which, const repro_dataset *ds, int32_t n_classes, repro_error *err)
{
    if (ds->label && ds->n_classes > n_classes)
        return repro_fail(err, REPRO_ERR_CONFIG, "the %s data has class label %d but data.n_classes is %d", which,
                          ds->n_classes - 1, n_classes);
    return REPRO_OK;
}

static repro_status copy_both(const repro_config *cfg, const repro_train_options *opts, repro_dataset *train,
                              repro_dataset *test, repro_error *err)
{
    repro_status st = copy_set("training", opts->train_data, train, err);
    if (!st && opts->test_data)
        st = copy_set("test", opts->test_data, test, err);
    if (st)
        return st;
    if (test->n > 0 && (test->n_features != train->n_features || !test->label != !train->label ||
                        test->n_targets != train->n_targets))
        return repro_fail(err, REPRO_ERR_ARG,
                          "the test data (%lld features, %s) does not match the training data (%lld features, %s)",
                          (long long)test->n_features, test->label ? "labels" : "targets",
                          (long long)train->n_features, train->label ? "labels" : "targets");
    int32_t n_classes = cfg->data.n_classes;
    if (n_classes > 0) {
        if ((st = check_classes("training", train, n_classes, err)) || (st = check_classes("test", test, n_classes, err)))
            return st;
    } else {
        n_classes = train->n_classes > test->n_classes ? train->n_classes : test->n_classes;
    }
    if (train->label)
        train->n_classes = n_classes;
    if (test->label)
        test->n_classes = n_classes;
    return REPRO_OK;
}

repro_status repro_given_data_copy(const repro_config *cfg, const repro_train_options *opts, repro_dataset *train,
                                   repro_dataset *test, repro_error *err)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (cfg->data.format != REPRO_DATA_MEMORY)
        return repro_fail(err, REPRO_ERR_CONFIG, "data sets were given in memory but data.format is not memory");
    if (!opts->train_data)
        return repro_fail(err, REPRO_ERR_CONFIG,
                          "data.format is memory but no data was given (repro_train_options.train_data; "
                          "in Python, repro.train(..., data=repro.Dataset.from_arrays(X, y)))");
    repro_status st = copy_both(cfg, opts, train, test, err);
    if (st) {
        repro_dataset_free(train);
        repro_dataset_free(test);
    }
    return st;
}
