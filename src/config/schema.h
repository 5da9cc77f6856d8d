/* schema.h: the table of config keys (names, types, ranges, where each
 * lands in repro_config). One table drives both reading (schema.c) and
 * writing (to_json.c), so the JSON has exactly the YAML's keys, in the
 * table's order. docs/config.md documents the same keys. Internal. */
#ifndef REPRO_CONFIG_SCHEMA_H
#define REPRO_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "config/yaml_tree.h"
#include "repro/config.h"

typedef enum cfg_type {
    CFG_INT,     /* int */
    CFG_I64,     /* int64_t */
    CFG_U64,     /* uint64_t (seed) */
    CFG_FLOAT,   /* float, finite */
    CFG_BOOL,    /* bool */
    CFG_ENUM,    /* an enum stored as int; names[] spells its values */
    CFG_STR,     /* char[cap] */
    CFG_PATH,    /* char[cap], relative paths resolved against the config's folder */
    CFG_STRLIST, /* char[cap][REPRO_NAME_MAX] with an int count */
    CFG_FLOATLIST, /* float[cap] with an int count; range applies to each item */
    CFG_INTLIST, /* int[cap] with an int count; range applies to each item */
    CFG_SECTION, /* a nested mapping described by sub */
    CFG_LAYERS,  /* repro_layer_config[REPRO_MAX_LAYERS] with an int count */
    CFG_HEADS    /* repro_head_config[REPRO_MAX_HEADS] with an int count */
} cfg_type;

enum { CFG_LO = 1, CFG_LO_OPEN = 2, CFG_HI = 4, CFG_HI_OPEN = 8 };

/* Allowed values: lo <= v (or lo < v with CFG_LO_OPEN), likewise for hi. */
typedef struct cfg_range {
    unsigned flags;
    double lo, hi;
} cfg_range;

typedef struct cfg_table cfg_table;

typedef struct cfg_field {
    const char *key;
    cfg_type type;
    size_t offset;            /* within the struct the table describes */
    size_t count_offset;      /* STRLIST, FLOATLIST, LAYERS, HEADS: the int count */
    size_t cap;               /* STR, PATH: buffer size; lists: max items */
    const char *const *names; /* ENUM: value names, NULL-terminated */
    cfg_range range;
    uint64_t kinds;           /* layer keys: bit (1 << kind) for each layer kind that has it */
    const cfg_table *sub;     /* SECTION */
} cfg_field;

struct cfg_table {
    const cfg_field *fields;
    size_t n;
};

extern const cfg_table cfg_root_table;  /* repro_config */
extern const cfg_table cfg_layer_table; /* repro_layer_config; "type" first */
extern const cfg_table cfg_head_table;  /* repro_head_config */
extern const cfg_table cfg_data_table;  /* repro_data_config */

/* Whether a layer of this kind has key f. */
bool cfg_field_applies(const cfg_field *f, repro_layer_kind kind);

/* Reading state shared by schema.c, validate.c and config.c. */
typedef struct cfg_ctx {
    const char *path;         /* the config file as given, for messages with no node */
    char dir[REPRO_PATH_MAX]; /* its folder with a trailing '/', or "" */
    const yt_node *root;
    repro_error *err;
} cfg_ctx;

/* REPRO_ERR_CONFIG with "WHERE: MESSAGE", WHERE from node (or the file). */
repro_status cfg_fail(const cfg_ctx *ctx, const yt_node *node, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The same, placed at the node for a dotted path ("data.train_csv"), or at
 * the file alone when that key is absent. */
repro_status cfg_fail_path(const cfg_ctx *ctx, const char *dotted, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Fills cfg from ctx->root (a mapping): keys, types, ranges, enum names,
 * path resolution. Cross-key rules are checked by cfg_validate. */
repro_status cfg_read(const cfg_ctx *ctx, repro_config *cfg);

/* Rules that involve more than one key (accum_steps | batch_size, data
 * format vs keys, heads vs data, ...). */
repro_status cfg_validate(const cfg_ctx *ctx, const repro_config *cfg);

/* init.default: torch_default: every linear and conv2d layer's weight_init
 * and bias_init still `default` becomes torch_default (init_default.c), so
 * the resolved config says what each layer draws. */
void repro_config_resolve_torch_default(repro_config *cfg);

/* Applies one "key=value" override to root (a mapping). */
repro_status cfg_apply_override(yt_node *root, const char *override, repro_error *err);

/* The candidate nearest to word by edit distance if it is close enough to
 * be a likely typo, else NULL. */
const char *cfg_nearest(const char *word, const char *const *candidates, size_t n);

void cfg_layer_defaults(repro_layer_config *layer);
void cfg_head_defaults(repro_head_config *head, int index);

#endif
