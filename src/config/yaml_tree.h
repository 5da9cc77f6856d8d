/* yaml_tree.h: a YAML document as a small tree that remembers where each
 * node came from, so that every config error can name a file, line and
 * column (or the `--set` override that put the node there).
 *
 * Only what a config needs: scalars (kept as text), mappings with scalar
 * keys, sequences. Anchors are ignored, aliases and multi-document streams
 * are refused. Internal to src/config. */
#ifndef REPRO_CONFIG_YAML_TREE_H
#define REPRO_CONFIG_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "repro/status.h"

typedef enum yt_kind { YT_SCALAR, YT_MAP, YT_SEQ } yt_kind;

/* Where a node came from: a file (with a 1-based line and column) or an
 * override string "key=value" (line and column 0). The text is borrowed:
 * it must outlive the tree (the config path and the caller's overrides). */
typedef struct yt_origin {
    const char *text;
    bool is_override;
} yt_origin;

typedef struct yt_node yt_node;
struct yt_node {
    yt_kind kind;
    yt_origin origin;
    int line, col;
    char *text;      /* scalar: its value, NUL-terminated */
    bool plain;      /* scalar: written without quotes (so `null`, `~` mean null) */
    size_t n;        /* map: number of pairs; seq: number of items */
    yt_node **keys;  /* map: key scalars, [n] */
    yt_node **items; /* map: values, [n]; seq: items, [n] */
};

/* Parses text[0..len) as one YAML document. *out is NULL for an empty
 * stream (no document). Syntax errors read "FILE:LINE:COL: YAML syntax
 * error: PROBLEM" (or "--set KEY=VALUE: YAML syntax error at column C: ..."). */
repro_status yt_parse(const char *text, size_t len, yt_origin origin, yt_node **out,
                      repro_error *err);

void yt_free(yt_node *node);

/* A new empty mapping or a new scalar (text copied); NULL when out of memory. */
yt_node *yt_new_map(yt_origin origin);
yt_node *yt_new_scalar(yt_origin origin, const char *text);

/* Appends key -> value to map (both owned by the map from then on). */
bool yt_map_append(yt_node *map, yt_node *key, yt_node *value);

/* The index of the first pair with this key in map, or -1. */
long yt_map_find(const yt_node *map, const char *key);

/* A plain scalar spelled as YAML's null: empty, `~`, `null`, `Null`, `NULL`. */
bool yt_is_null(const yt_node *node);

/* "FILE:LINE:COL" or "--set KEY=VALUE", for the front of a message. */
void yt_where(const yt_node *node, char *buf, size_t size);

/* "a mapping", "a list" or "'TEXT'": what a node is, for "got ..." messages. */
void yt_describe(const yt_node *node, char *buf, size_t size);

#endif
