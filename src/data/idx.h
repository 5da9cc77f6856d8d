/* An IDX image file and its label file read as one data set. Internal to
 * src/data (repro_data_load uses it). */
#ifndef REPRO_DATA_IDX_H
#define REPRO_DATA_IDX_H

#include "repro/data.h"

/* Reads images and labels (first `limit` samples, 0 = all) into out;
 * out->n_classes = max label + 1. The two headers must claim the same count. */
repro_status repro_idx_read_set(const char *images, const char *labels, float scale,
                                int64_t limit, repro_dataset *out, repro_error *err);

#endif
