/* Reading a whole JSON file, with an error that names the file and the line
 * and column where parsing stopped. */
#include "repro/record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/io.h"

enum { JSON_MAX_BYTES = 256 << 20 };

repro_status repro_json_read_file(const char *path, cJSON **out, repro_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return repro_fail(err, REPRO_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *text = repro_io_malloc(cap);
    size_t got;
    while (text && (got = fread(text + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len > JSON_MAX_BYTES) { /* a run record is kilobytes; /dev/zero would never end */
            free(text);
            fclose(f);
            return repro_fail(err, REPRO_ERR_FORMAT, "'%s' is larger than %d MiB: not a repro JSON file", path,
                              JSON_MAX_BYTES >> 20);
        }
        if (len == cap) {
            char *bigger = repro_io_realloc(text, cap *= 2);
            if (!bigger)
                free(text);
            text = bigger;
        }
    }
    int failed = ferror(f);
    fclose(f);
    if (!text)
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory reading '%s'", path);
    if (failed) {
        free(text);
        return repro_fail(err, REPRO_ERR_IO, "error reading '%s'", path);
    }
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!json) {
        int line = 1, col = 1;
        for (const char *p = text; end && p < end && p < text + len; p++, col++)
            if (*p == '\n')
                line++, col = 0;
        free(text);
        return repro_fail(err, REPRO_ERR_FORMAT, "'%s':%d:%d: malformed JSON", path, line, col);
    }
    free(text);
    *out = json;
    return REPRO_OK;
}
