/* libFuzzer: IDX files, plain or gzip (images n x rows x cols and labels n
 * of uint8): the header, the claimed sizes against the bytes there are, the
 * gzip stream and trailer. Input: one file, read as images and as labels,
 * and with a sample limit of 1. */
#include <stdlib.h>

#include "fuzz_util.h"
#include "repro/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    fuzz_write("data.idx", data, size, path, sizeof path);
    repro_error err;
    float *x = NULL;
    int64_t n, nf;
    if (repro_idx_read_images(path, 1.0f / 255.0f, 0, &x, &n, &nf, &err) == REPRO_OK)
        free(x);
    x = NULL;
    if (repro_idx_read_images(path, 1.0f, 1, &x, &n, &nf, &err) == REPRO_OK)
        free(x);
    int32_t *labels = NULL;
    if (repro_idx_read_labels(path, 0, &labels, &n, &err) == REPRO_OK)
        free(labels);
    return 0;
}
