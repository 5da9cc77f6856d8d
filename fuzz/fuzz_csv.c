/* libFuzzer: the CSV reader, plain or gzip: lines, fields, numbers, labels,
 * the header's column names. Input: one file, read with a header (features
 * a and b, target t, label label) and, when its first byte is odd, without
 * one (columns by position: features 0 and 1, label 2) too. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "repro/data.h"

static repro_data_config with_header, by_position;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    repro_data_config *c = &with_header;
    c->format = REPRO_DATA_CSV;
    c->header = true;
    c->n_feature_columns = 2;
    strcpy(c->feature_columns[0], "a");
    strcpy(c->feature_columns[1], "b");
    strcpy(c->label_column, "label");
    c->n_target_columns = 1;
    strcpy(c->target_columns[0], "t");
    c = &by_position;
    c->format = REPRO_DATA_CSV;
    c->header = false;
    c->n_feature_columns = 2;
    strcpy(c->feature_columns[0], "0");
    strcpy(c->feature_columns[1], "1");
    strcpy(c->label_column, "2");
    c->n_classes = 5;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    fuzz_write("data.csv", data, size, path, sizeof path);
    repro_error err;
    repro_dataset ds;
    if (repro_csv_read(path, &with_header, 0, &ds, &err) == REPRO_OK)
        repro_dataset_free(&ds);
    if (size > 0 && (data[0] & 1) && repro_csv_read(path, &by_position, 2, &ds, &err) == REPRO_OK)
        repro_dataset_free(&ds);
    return 0;
}
