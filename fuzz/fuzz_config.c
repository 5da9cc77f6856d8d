/* libFuzzer: the YAML config loader (repro_config_load: libyaml's events
 * into a tree, the key table, the cross-key rules) and --set overrides.
 * Input: the config file's text, optionally followed by a NUL byte and one
 * override "KEY=VALUE" applied to it. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "repro/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t file_len = nul ? (size_t)(nul - data) : size;
    char path[512];
    fuzz_write("config.yaml", data, file_len, path, sizeof path);
    char *override = NULL;
    if (nul) {
        size_t n = size - file_len - 1;
        override = malloc(n + 1);
        memcpy(override, nul + 1, n);
        override[n] = '\0'; /* an override is a C string: it ends at its first NUL */
    }
    const char *overrides[1] = {override};
    repro_config *cfg = malloc(sizeof *cfg);
    repro_error err;
    repro_config_load(path, overrides, override ? 1 : 0, cfg, &err);
    free(cfg);
    free(override);
    return 0;
}
