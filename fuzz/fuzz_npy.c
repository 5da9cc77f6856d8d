/* libFuzzer: NPY files (numpy's format 1.0 to 3.0): the magic, the header
 * dict, the shape against the file's size, the mapping. Input: one file,
 * opened, then used as features (rows gathered through the mapping) and as
 * labels and targets of a fixed feature file of the same length. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "repro/data.h"
#include "repro/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    fuzz_write("data.npy", data, size, path, sizeof path);
    repro_error err;
    repro_npy f;
    if (repro_npy_open(path, &f, &err) == REPRO_OK) {
        float row[64];
        int64_t n = f.count < 64 ? f.count : 64;
        repro_npy_convert_row(f.data, f.dtype, 0.5f, n, row);
        int64_t count = f.ndim >= 1 ? f.shape[0] : 0;
        repro_npy_close(&f);

        /* as features: every row through the checked gather */
        repro_dataset ds;
        if (repro_npy_read_set(path, NULL, true, 1.0f, 0, &ds, &err) == REPRO_OK) {
            float *x = malloc((size_t)ds.n_features * sizeof(float));
            for (int64_t i = 0; x && i < ds.n && i < 16; i++) {
                uint32_t idx = (uint32_t)i;
                repro_dataset_gather_checked(&ds, &idx, 1, x, NULL, NULL, &err);
            }
            free(x);
            repro_dataset_free(&ds);
        }
        /* as labels, then targets, of `count` one-feature samples */
        if (count > 0 && count <= 4096) {
            char x_path[512], header[128];
            int h = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (%lld, 1), }",
                             (long long)count);
            size_t hlen = ((size_t)h + 10 + 1 + 63) / 64 * 64 - 10; /* padded, ends in '\n' */
            size_t total = 10 + hlen + 4 * (size_t)count;
            unsigned char *blob = calloc(1, total);
            memcpy(blob, "\x93NUMPY\x01\x00", 8);
            blob[8] = (unsigned char)(hlen & 0xff);
            blob[9] = (unsigned char)(hlen >> 8);
            memset(blob + 10, ' ', hlen);
            memcpy(blob + 10, header, (size_t)h);
            blob[10 + hlen - 1] = '\n';
            fuzz_write("x.npy", blob, total, x_path, sizeof x_path);
            free(blob);
            if (repro_npy_read_set(x_path, path, true, 1.0f, 0, &ds, &err) == REPRO_OK)
                repro_dataset_free(&ds);
            if (repro_npy_read_set(x_path, path, false, 1.0f, 0, &ds, &err) == REPRO_OK)
                repro_dataset_free(&ds);
        }
    }
    return 0;
}
