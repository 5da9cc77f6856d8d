/* override.c: `--set KEY=VALUE` applied to the parsed tree, before the
 * tree is read. KEY is a dotted path (`optim.lr`, `model.trunk.2.p`) whose
 * all-digit parts index existing list items; missing mapping keys are
 * created (an unknown one is then reported by the reader, naming the
 * --set). VALUE is parsed as a YAML document, so `1e-4`, `true`, `[a, b]`
 * and `{name: sgd}` all work; an empty VALUE is null. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/schema.h"

static bool is_index(const char *s) { return s[0] && strspn(s, "0123456789") == strlen(s); }

/* The value of key in map, created as an empty mapping when absent (or when
 * null, as in `ema:` with nothing under it). NULL when out of memory. */
static yt_node *descend_map(yt_node *map, const char *key, yt_origin origin)
{
    long i = yt_map_find(map, key);
    if (i >= 0 && !yt_is_null(map->items[i]))
        return map->items[i];
    yt_node *fresh = yt_new_map(origin);
    if (!fresh)
        return NULL;
    if (i >= 0) {
        yt_free(map->items[i]);
        map->items[i] = fresh;
        return fresh;
    }
    yt_node *k = yt_new_scalar(origin, key);
    if (!k || !yt_map_append(map, k, fresh)) {
        yt_free(k);
        yt_free(fresh);
        return NULL;
    }
    return fresh;
}

/* Puts value at key in map or at index key in list; takes value. */
static bool place(yt_node *node, const char *key, yt_node *value, yt_origin origin)
{
    if (node->kind == YT_SEQ) {
        size_t i = strtoul(key, NULL, 10);
        yt_free(node->items[i]);
        node->items[i] = value;
        return true;
    }
    long i = yt_map_find(node, key);
    if (i >= 0) {
        yt_free(node->items[i]);
        node->items[i] = value;
        return true;
    }
    yt_node *k = yt_new_scalar(origin, key);
    if (k && yt_map_append(node, k, value))
        return true;
    yt_free(k);
    return false;
}

/* Checks that part can be looked up in node; path names node. */
static repro_status check_step(const yt_node *node, const char *path, const char *part,
                               const char *next, const char *ov, repro_error *err)
{
    const char *shown = path[0] ? path : "the config";
    if (node->kind == YT_SEQ) {
        if (!is_index(part))
            return repro_fail(err, REPRO_ERR_CONFIG, "--set %s: '%s' is a list; '%s' is not an index",
                              ov, shown, part);
        size_t i = strtoul(part, NULL, 10);
        if (i >= node->n || strlen(part) > 9)
            return repro_fail(err, REPRO_ERR_CONFIG,
                              "--set %s: '%s' has %zu item%s; there is no item %s", ov, shown,
                              node->n, node->n == 1 ? "" : "s", part);
        return REPRO_OK;
    }
    if (node->kind != YT_MAP)
        return repro_fail(err, REPRO_ERR_CONFIG, "--set %s: '%s' is a single value, not a mapping",
                          ov, shown);
    if (next && is_index(next)) {
        long i = yt_map_find(node, part);
        if (i < 0 || yt_is_null(node->items[i]))
            return repro_fail(err, REPRO_ERR_CONFIG, "--set %s: '%s%s%s' is not set, so it has no item %s",
                              ov, path, path[0] ? "." : "", part, next);
    }
    return REPRO_OK;
}

static repro_status apply(yt_node *root, char *key, yt_node *value, const char *ov,
                          repro_error *err)
{
    yt_origin origin = {ov, true};
    char path[512] = "";
    char *save = NULL;
    char *part = strtok_r(key, ".", &save);
    yt_node *node = root;
    for (;;) {
        char *next = strtok_r(NULL, ".", &save);
        repro_status st = check_step(node, path, part, next, ov, err);
        if (st)
            return st;
        if (!next)
            break;
        if (node->kind == YT_SEQ)
            node = node->items[strtoul(part, NULL, 10)];
        else if (!(node = descend_map(node, part, origin)))
            return repro_fail(err, REPRO_ERR_NOMEM, "--set %s: out of memory", ov);
        size_t len = strlen(path);
        snprintf(path + len, sizeof path - len, "%s%s", len ? "." : "", part);
        part = next;
    }
    if (!place(node, part, value, origin))
        return repro_fail(err, REPRO_ERR_NOMEM, "--set %s: out of memory", ov);
    return REPRO_OK;
}

static repro_status check_key(const char *key, size_t len, const char *ov, repro_error *err)
{
    bool empty_part = len == 0 || key[0] == '.' || key[len - 1] == '.';
    for (size_t i = 1; i < len && !empty_part; i++)
        empty_part = key[i] == '.' && key[i - 1] == '.';
    if (!memchr(ov, '=', strlen(ov)) || empty_part)
        return repro_fail(err, REPRO_ERR_CONFIG,
                          "--set %s: expected KEY=VALUE with a dotted KEY such as optim.lr=1e-4",
                          ov);
    if (len >= 512)
        return repro_fail(err, REPRO_ERR_CONFIG, "--set %s: key longer than 511 bytes", ov);
    return REPRO_OK;
}

repro_status cfg_apply_override(yt_node *root, const char *ov, repro_error *err)
{
    const char *eq = strchr(ov, '=');
    size_t key_len = eq ? (size_t)(eq - ov) : strlen(ov);
    repro_status st = check_key(ov, key_len, ov, err);
    if (st)
        return st;
    char key[512];
    memcpy(key, ov, key_len);
    key[key_len] = '\0';

    yt_origin origin = {ov, true};
    yt_node *value = NULL;
    const char *text = eq + 1;
    if ((st = yt_parse(text, strlen(text), origin, &value, err)))
        return st;
    if (!value && !(value = yt_new_scalar(origin, "")))
        return repro_fail(err, REPRO_ERR_NOMEM, "--set %s: out of memory", ov);
    st = apply(root, key, value, ov, err);
    if (st)
        yt_free(value);
    return st;
}
