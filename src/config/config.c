/* config.c: repro_config_load: read the file, parse it to a tree, apply the
 * overrides in order, read the tree against the key table, check the rules
 * that span keys. The tree is freed on every path. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/schema.h"

/* A config is a page or two of YAML; anything this large is not one (and
 * /dev/zero would be read until memory ran out). */
enum { CONFIG_MAX_BYTES = 1 << 20 };

static repro_status read_file(const char *path, char **text, size_t *len, repro_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return repro_fail(err, REPRO_ERR_IO, "cannot read config '%s': %s", path, strerror(errno));
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n > CONFIG_MAX_BYTES) {
            free(buf);
            fclose(f);
            return repro_fail(err, REPRO_ERR_CONFIG, "config '%s' is larger than %d MiB: not a config file", path,
                              CONFIG_MAX_BYTES >> 20);
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            char *grown = realloc(buf, cap + 1);
            if (!grown) {
                free(buf);
                fclose(f);
                return repro_fail(err, REPRO_ERR_NOMEM, "cannot read config '%s': out of memory",
                                  path);
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int failed = ferror(f), saved = errno;
    fclose(f);
    if (failed) {
        free(buf);
        return repro_fail(err, REPRO_ERR_IO, "cannot read config '%s': %s", path, strerror(saved));
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return REPRO_OK;
}

/* The folder of path as an absolute, canonical path with a trailing '/'
 * (relative data paths in the file are joined to it, so the resolved
 * config is the same whatever the working directory and however the config
 * was named: `repro train examples/x.yaml` and its resume, which names the
 * config by its absolute path, hash alike). "" when it cannot be resolved
 * (then the file cannot be read either). */
static repro_status folder_of(const char *path, char *dir, size_t size, repro_error *err)
{
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) + 1 : 0;
    if (len >= REPRO_PATH_MAX || strlen(path) >= REPRO_PATH_MAX)
        return repro_fail(err, REPRO_ERR_ARG, "config path '%.100s...' is too long", path);
    char folder[REPRO_PATH_MAX], real[PATH_MAX];
    memcpy(folder, path, len);
    snprintf(folder + len, sizeof folder - len, "%s", len ? "" : ".");
    dir[0] = '\0';
    if (!realpath(folder, real))
        return REPRO_OK;
    size_t rlen = strlen(real);
    if (rlen + 2 > size)
        return repro_fail(err, REPRO_ERR_ARG, "config folder '%.100s...' is too long", real);
    snprintf(dir, size, "%s%s", real, real[rlen - 1] == '/' ? "" : "/");
    return REPRO_OK;
}

static repro_status load_tree(const char *path, const char *const *overrides, int n_overrides,
                              yt_node **root, repro_error *err)
{
    char *text = NULL;
    size_t len = 0;
    repro_status st = read_file(path, &text, &len, err);
    if (st)
        return st;
    yt_origin origin = {path, false};
    st = yt_parse(text, len, origin, root, err);
    free(text);
    if (st)
        return st;
    if (!*root || yt_is_null(*root)) { /* an empty file: every default */
        yt_free(*root);
        if (!(*root = yt_new_map(origin)))
            return repro_fail(err, REPRO_ERR_NOMEM, "%s: out of memory", path);
        (*root)->line = (*root)->col = 1;
    }
    if ((*root)->kind != YT_MAP) {
        char got[64];
        yt_describe(*root, got, sizeof got);
        return repro_fail(err, REPRO_ERR_CONFIG, "%s:%d:%d: the config must be a mapping of keys, got %.40s",
                          path, (*root)->line, (*root)->col, got);
    }
    for (int i = 0; i < n_overrides && !st; i++)
        st = cfg_apply_override(*root, overrides[i], err);
    return st;
}

repro_status repro_config_load(const char *path, const char *const *overrides, int n_overrides,
                               repro_config *cfg, repro_error *err)
{
    if (!path || !cfg || n_overrides < 0 || (n_overrides > 0 && !overrides))
        return repro_fail(err, REPRO_ERR_ARG, "repro_config_load: invalid arguments");
    repro_config_defaults(cfg);
    cfg_ctx ctx = {.path = path, .err = err};
    repro_status st = folder_of(path, ctx.dir, sizeof ctx.dir, err);
    if (st)
        return st;
    snprintf(cfg->source_path, sizeof cfg->source_path, "%s", path);
    yt_node *root = NULL;
    st = load_tree(path, overrides, n_overrides, &root, err);
    if (!st) {
        ctx.root = root;
        st = cfg_read(&ctx, cfg);
    }
    /* determinism defaults to strict, but to warn in mode fast (which asks
     * for operations that are not bit-exact) unless the file says otherwise */
    if (!st && cfg->mode == REPRO_MODE_FAST && yt_map_find(root, "determinism") < 0)
        cfg->determinism = REPRO_DETERMINISM_WARN;
    if (!st)
        st = cfg_validate(&ctx, cfg);
    if (!st && cfg->init.torch_default)
        repro_config_resolve_torch_default(cfg);
    yt_free(root);
    if (!st)
        repro_error_clear(err);
    return st;
}
