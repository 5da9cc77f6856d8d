/* Class labels: see labels.h. */
#include "data/labels.h"

repro_status repro_labels_check(const char *path, const int32_t *labels, int64_t n,
                                int32_t n_classes, repro_error *err)
{
    if (n_classes <= 0)
        return REPRO_OK;
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] >= n_classes)
            return repro_fail(err, REPRO_ERR_FORMAT,
                              "'%s': sample %lld has label %d, out of range for n_classes = %d",
                              path, (long long)i, labels[i], n_classes);
    }
    return REPRO_OK;
}

int32_t repro_labels_count_classes(const int32_t *labels, int64_t n)
{
    int32_t max = -1;
    for (int64_t i = 0; i < n; i++)
        max = labels[i] > max ? labels[i] : max;
    return max + 1;
}
