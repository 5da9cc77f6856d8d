/* Class labels: the range check and n_classes inference shared by the IDX
 * and CSV paths. Internal to src/data. */
#ifndef REPRO_DATA_LABELS_H
#define REPRO_DATA_LABELS_H

#include <stdint.h>

#include "repro/status.h"

/* With n_classes > 0: every label must be < n_classes, else an error naming
 * path, the sample index and the value. Labels are already known >= 0. */
repro_status repro_labels_check(const char *path, const int32_t *labels, int64_t n,
                                int32_t n_classes, repro_error *err);

/* max(labels) + 1, or 0 when n == 0. */
int32_t repro_labels_count_classes(const int32_t *labels, int64_t n);

#endif
