/* data.format: memory: the trainer's copy of the data sets its caller gave
 * (repro_train_options.train_data / test_data), in place of repro_data_load. */
#ifndef REPRO_TRAIN_GIVEN_DATA_H
#define REPRO_TRAIN_GIVEN_DATA_H

#include "repro/train.h"

/* Copies opts->train_data (and test_data, when given) into train and test,
 * which the trainer then owns. Refuses (REPRO_ERR_CONFIG) data given under
 * a file format, or memory format without data. Labels: n_classes is
 * cfg->data.n_classes when set (a label at or above it is an error), else
 * max label + 1 over both sets, as repro_data_load does for files. */
repro_status repro_given_data_copy(const repro_config *cfg, const repro_train_options *opts, repro_dataset *train,
                                   repro_dataset *test, repro_error *err);

#endif
