/* to_json.c: the resolved config as canonical JSON. Written by hand from
 * the key table (schema.c), not through cJSON, because the text must be
 * fixed to the byte: keys in table order, two-space indent (a layer on one line), floats as
 * "%.9g" (enough digits that strtof gives back the same bits), integers
 * in full (a 64-bit seed survives), enums by name. Layers carry only the
 * keys of their kind. The JSON is itself a valid config: loading it gives
 * the same struct. source_path is left out, so the config hash does not
 * depend on where the file was. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/schema.h"

typedef struct jbuf {
    char *data;
    size_t len, cap;
    bool failed;
} jbuf;

static void put(jbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void puts_(jbuf *b, const char *s) { put(b, s, strlen(s)); }

static void putf(jbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void putf(jbuf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void put_string(jbuf *b, const char *s)
{
    puts_(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            putf(b, "\\%c", c);
        else if (c < 0x20)
            putf(b, "\\u%04x", c);
        else
            put(b, s, 1);
    }
    puts_(b, "\"");
}

static void indent(jbuf *b, int depth)
{
    for (int i = 0; i < depth; i++)
        puts_(b, "  ");
}

static void put_float(jbuf *b, float v)
{
    if (isfinite(v))
        putf(b, "%.9g", (double)v);
    else
        puts_(b, "null"); /* never in a validated config; JSON has no inf or nan */
}

static void write_table(jbuf *b, const cfg_table *t, const char *base, int depth);
static void write_layer(jbuf *b, const repro_layer_config *layer);

static void write_list(jbuf *b, const cfg_field *f, const char *base, int depth)
{
    int n;
    memcpy(&n, base + f->count_offset, sizeof n);
    if (n == 0) {
        puts_(b, "[]");
        return;
    }
    if (f->type == CFG_STRLIST) { /* short names: one line */
        const char(*names)[REPRO_NAME_MAX] = (const char(*)[REPRO_NAME_MAX])(base + f->offset);
        puts_(b, "[");
        for (int i = 0; i < n; i++) {
            puts_(b, i ? ", " : "");
            put_string(b, names[i]);
        }
        puts_(b, "]");
        return;
    }
    if (f->type == CFG_INTLIST) { /* numbers: one line */
        const int *values = (const int *)(base + f->offset);
        puts_(b, "[");
        for (int i = 0; i < n; i++)
            putf(b, "%s%d", i ? ", " : "", values[i]);
        puts_(b, "]");
        return;
    }
    if (f->type == CFG_FLOATLIST) { /* numbers: one line */
        const float *values = (const float *)(base + f->offset);
        puts_(b, "[");
        for (int i = 0; i < n; i++) {
            puts_(b, i ? ", " : "");
            put_float(b, values[i]);
        }
        puts_(b, "]");
        return;
    }
    puts_(b, "[\n");
    for (int i = 0; i < n; i++) {
        indent(b, depth + 1);
        if (f->type == CFG_LAYERS) {
            write_layer(b, (const repro_layer_config *)(base + f->offset) + i);
        } else {
            const repro_head_config *head = (const repro_head_config *)(base + f->offset) + i;
            write_table(b, &cfg_head_table, (const char *)head, depth + 1);
        }
        puts_(b, i + 1 < n ? ",\n" : "\n");
    }
    indent(b, depth);
    puts_(b, "]");
}

static void write_value(jbuf *b, const cfg_field *f, const char *base, int depth)
{
    const char *src = base + f->offset;
    int i;
    int64_t i64;
    uint64_t u64;
    float x;
    bool flag;
    switch (f->type) {
    case CFG_INT: memcpy(&i, src, sizeof i); putf(b, "%d", i); break;
    case CFG_I64: memcpy(&i64, src, sizeof i64); putf(b, "%" PRId64, i64); break;
    case CFG_U64: memcpy(&u64, src, sizeof u64); putf(b, "%" PRIu64, u64); break;
    case CFG_FLOAT: memcpy(&x, src, sizeof x); put_float(b, x); break;
    case CFG_BOOL: memcpy(&flag, src, sizeof flag); puts_(b, flag ? "true" : "false"); break;
    case CFG_ENUM: {
        memcpy(&i, src, sizeof i);
        int count = 0;
        while (f->names[count])
            count++;
        put_string(b, i >= 0 && i < count ? f->names[i] : "unknown");
        break;
    }
    case CFG_STR:
    case CFG_PATH: put_string(b, src); break;
    case CFG_SECTION: write_table(b, f->sub, src, depth); break;
    case CFG_STRLIST:
    case CFG_FLOATLIST:
    case CFG_INTLIST:
    case CFG_LAYERS:
    case CFG_HEADS: write_list(b, f, base, depth); break;
    }
}

/* The init section while unset (no init.from, init.default) is left out, which keeps the
 * JSON and hash of every config from before it existed. */
static bool unset_section(const cfg_field *f, const char *base)
{
    const repro_init_config *init = (const repro_init_config *)(base + f->offset);
    return f->type == CFG_SECTION && !strcmp(f->key, "init") && !init->from[0] && !init->torch_default;
}

/* The text format's keys appear only when data.format is text, and
 * text_samples and separator only with text_samples documents: leaving them
 * out keeps every other config's JSON (and its config hash) as it was before
 * the keys existed. */
static bool unset_text_key(const cfg_table *t, const cfg_field *f, const char *base)
{
    if (t != &cfg_data_table)
        return false;
    const repro_data_config *d = (const repro_data_config *)(const void *)base;
    if (!strcmp(f->key, "text_samples") || !strcmp(f->key, "separator"))
        return d->format != REPRO_DATA_TEXT || d->text_samples != REPRO_TEXT_DOCUMENTS;
    if (strcmp(f->key, "train_text") && strcmp(f->key, "context"))
        return false;
    return d->format != REPRO_DATA_TEXT;
}

/* A head's ignore_index appears only when set (an lm_cross_entropy head
 * that skips a target): every other head's JSON, and its config hash, stay
 * as they were before the key existed. */
static bool unset_head_key(const cfg_table *t, const cfg_field *f, const char *base)
{
    if (t != &cfg_head_table || strcmp(f->key, "ignore_index"))
        return false;
    return ((const repro_head_config *)(const void *)base)->ignore_index < 0;
}

static void write_table(jbuf *b, const cfg_table *t, const char *base, int depth)
{
    puts_(b, "{\n");
    bool first = true;
    for (size_t k = 0; k < t->n; k++) {
        const cfg_field *f = &t->fields[k];
        if (unset_section(f, base) || unset_text_key(t, f, base) || unset_head_key(t, f, base))
            continue;
        puts_(b, first ? "" : ",\n");
        first = false;
        indent(b, depth + 1);
        put_string(b, f->key);
        puts_(b, ": ");
        write_value(b, f, base, depth + 1);
    }
    puts_(b, "\n");
    indent(b, depth);
    puts_(b, "}");
}

/* name and inputs belong to model.nodes; a trunk or head layer has neither,
 * and leaving them out keeps such a layer's JSON (and the config hash) as
 * it was before nodes existed. */
static bool unset_node_key(const cfg_field *f, const repro_layer_config *layer)
{
    if (!strcmp(f->key, "name"))
        return !layer->name[0];
    if (!strcmp(f->key, "inputs"))
        return layer->n_inputs == 0;
    return false;
}

/* A layer on one line: {"type": "linear", "out": 256, ...}, its kind's keys only. */
static void write_layer(jbuf *b, const repro_layer_config *layer)
{
    puts_(b, "{");
    bool first = true;
    for (size_t k = 0; k < cfg_layer_table.n; k++) {
        const cfg_field *f = &cfg_layer_table.fields[k];
        if (!cfg_field_applies(f, layer->kind) || unset_node_key(f, layer))
            continue;
        puts_(b, first ? "" : ", ");
        first = false;
        put_string(b, f->key);
        puts_(b, ": ");
        write_value(b, f, (const char *)layer, 0);
    }
    puts_(b, "}");
}

char *repro_config_to_json(const repro_config *cfg)
{
    if (!cfg)
        return NULL;
    jbuf b = {0};
    write_table(&b, &cfg_root_table, (const char *)cfg, 0);
    puts_(&b, "\n");
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    return b.data;
}
