/* libFuzzer: the safetensors reader (repro_safetensors_read): the length
 * prefix, the JSON header, dtypes, shapes, offsets tiling the data, the
 * metadata; then every accessor on what it accepted. */
#include <string.h>

#include "fuzz_util.h"
#include "repro/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    fuzz_write("data.safetensors", data, size, path, sizeof path);
    repro_error err;
    repro_safetensors *st;
    if (repro_safetensors_read(path, &st, &err) != REPRO_OK)
        return 0;
    volatile float sink = 0;
    for (int i = 0; i < repro_safetensors_count(st); i++) {
        const char *name = repro_safetensors_name(st, i);
        if (repro_safetensors_find(st, name) < 0)
            __builtin_trap(); /* a name it listed must be found */
        int64_t n = repro_safetensors_numel(st, i);
        const float *x = repro_safetensors_data(st, i);
        if (n > 0)
            sink += x[0] + x[n - 1];
        (void)repro_safetensors_shape(st, i);
        (void)repro_safetensors_ndim(st, i);
    }
    for (int i = 0; i < repro_safetensors_meta_count(st); i++)
        if (repro_safetensors_meta(st, repro_safetensors_meta_key(st, i)) == NULL)
            __builtin_trap();
    (void)sink;
    repro_safetensors_free(st);
    return 0;
}
