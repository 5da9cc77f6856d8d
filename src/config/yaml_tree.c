/* yaml_tree.c: libyaml's event stream -> a yt_node tree with marks.
 * See yaml_tree.h. Nesting is bounded so a hostile file cannot overflow the
 * stack; the tree is freed on every error path. */
#include "config/yaml_tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

enum { YT_MAX_DEPTH = 64 };

typedef struct parse_state {
    yaml_parser_t parser;
    yt_origin origin;
    repro_error *err;
} parse_state;

static repro_status fail_at(const parse_state *ps, yaml_mark_t mark, const char *what)
{
    if (ps->origin.is_override)
        return repro_fail(ps->err, REPRO_ERR_CONFIG, "--set %s: %s (at column %zu of the value)",
                          ps->origin.text, what, mark.column + 1);
    return repro_fail(ps->err, REPRO_ERR_CONFIG, "%s:%zu:%zu: %s", ps->origin.text,
                      mark.line + 1, mark.column + 1, what);
}

static repro_status syntax_error(const parse_state *ps)
{
    const yaml_parser_t *p = &ps->parser;
    if (p->error == YAML_MEMORY_ERROR)
        return repro_fail(ps->err, REPRO_ERR_NOMEM, "%s: out of memory while parsing YAML",
                          ps->origin.text);
    const char *problem = p->problem ? p->problem : "unknown problem";
    if (p->error == YAML_READER_ERROR) /* bad encoding: libyaml gives a byte offset only */
        return repro_fail(ps->err, REPRO_ERR_CONFIG, "%s%s: YAML syntax error: %s at byte %zu",
                          ps->origin.is_override ? "--set " : "", ps->origin.text, problem,
                          p->problem_offset);
    if (ps->origin.is_override)
        return repro_fail(ps->err, REPRO_ERR_CONFIG,
                          "--set %s: YAML syntax error at column %zu of the value: %s",
                          ps->origin.text, p->problem_mark.column + 1, problem);
    return repro_fail(ps->err, REPRO_ERR_CONFIG, "%s:%zu:%zu: YAML syntax error: %s",
                      ps->origin.text, p->problem_mark.line + 1, p->problem_mark.column + 1,
                      problem);
}

static repro_status next_event(parse_state *ps, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&ps->parser, ev))
        return syntax_error(ps);
    return REPRO_OK;
}

static yt_node *new_node(yt_kind kind, yt_origin origin, int line, int col)
{
    yt_node *node = calloc(1, sizeof *node);
    if (node) {
        node->kind = kind;
        node->origin = origin;
        node->line = line;
        node->col = col;
    }
    return node;
}

static yt_node *node_at(yt_kind kind, const parse_state *ps, yaml_mark_t mark)
{
    if (ps->origin.is_override)
        return new_node(kind, ps->origin, 0, 0);
    return new_node(kind, ps->origin, (int)mark.line + 1, (int)mark.column + 1);
}

yt_node *yt_new_map(yt_origin origin) { return new_node(YT_MAP, origin, 0, 0); }

yt_node *yt_new_scalar(yt_origin origin, const char *text)
{
    yt_node *node = new_node(YT_SCALAR, origin, 0, 0);
    if (node && !(node->text = strdup(text))) {
        free(node);
        return NULL;
    }
    if (node)
        node->plain = true;
    return node;
}

void yt_free(yt_node *node)
{
    if (!node)
        return;
    for (size_t i = 0; i < node->n; i++) {
        if (node->keys)
            yt_free(node->keys[i]);
        yt_free(node->items[i]);
    }
    free(node->keys);
    free(node->items);
    free(node->text);
    free(node);
}

/* Grows by one each time: configs hold a handful of items per level. */
static bool append_item(yt_node *parent, yt_node *key, yt_node *item)
{
    yt_node **items = realloc(parent->items, (parent->n + 1) * sizeof *items);
    if (!items)
        return false;
    parent->items = items;
    if (parent->kind == YT_MAP) {
        yt_node **keys = realloc(parent->keys, (parent->n + 1) * sizeof *keys);
        if (!keys)
            return false;
        parent->keys = keys;
        keys[parent->n] = key;
    }
    items[parent->n++] = item;
    return true;
}

bool yt_map_append(yt_node *map, yt_node *key, yt_node *value)
{
    return append_item(map, key, value);
}

static repro_status scalar_node(parse_state *ps, const yaml_event_t *ev, yt_node **out)
{
    const char *value = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (memchr(value, '\0', len))
        return fail_at(ps, ev->start_mark, "a scalar contains a NUL character");
    yt_node *node = node_at(YT_SCALAR, ps, ev->start_mark);
    if (!node || !(node->text = malloc(len + 1))) {
        free(node);
        return repro_fail(ps->err, REPRO_ERR_NOMEM, "%s: out of memory", ps->origin.text);
    }
    memcpy(node->text, value, len);
    node->text[len] = '\0';
    node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    *out = node;
    return REPRO_OK;
}

static repro_status parse_node(parse_state *ps, yaml_event_t *ev, int depth, yt_node **out);

/* Reads a sequence's or mapping's children up to its end event. */
static repro_status parse_children(parse_state *ps, yt_node *node, yaml_event_type_t end,
                                   int depth)
{
    for (;;) {
        yaml_event_t ev;
        repro_status st = next_event(ps, &ev);
        if (st)
            return st;
        if (ev.type == end) {
            yaml_event_delete(&ev);
            return REPRO_OK;
        }
        yt_node *key = NULL;
        if (node->kind == YT_MAP) {
            if (ev.type != YAML_SCALAR_EVENT) {
                st = fail_at(ps, ev.start_mark, "a mapping key must be a plain scalar");
                yaml_event_delete(&ev);
                return st;
            }
            st = scalar_node(ps, &ev, &key);
            yaml_event_delete(&ev);
            if (st)
                return st;
            if ((st = next_event(ps, &ev))) {
                yt_free(key);
                return st;
            }
        }
        yt_node *child = NULL;
        st = parse_node(ps, &ev, depth + 1, &child);
        if (st) {
            yt_free(key);
            return st;
        }
        if (!append_item(node, key, child)) {
            yt_free(key);
            yt_free(child);
            return repro_fail(ps->err, REPRO_ERR_NOMEM, "%s: out of memory", ps->origin.text);
        }
    }
}

/* Takes ownership of *ev (deletes it). */
static repro_status parse_node(parse_state *ps, yaml_event_t *ev, int depth, yt_node **out)
{
    repro_status st = REPRO_OK;
    yaml_mark_t mark = ev->start_mark;
    *out = NULL;
    if (depth > YT_MAX_DEPTH) {
        st = fail_at(ps, mark, "YAML nested too deeply");
    } else if (ev->type == YAML_SCALAR_EVENT) {
        st = scalar_node(ps, ev, out);
    } else if (ev->type == YAML_ALIAS_EVENT) {
        st = fail_at(ps, mark, "YAML aliases (*name) are not supported in a config");
    } else if (ev->type == YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT) {
        bool map = ev->type == YAML_MAPPING_START_EVENT;
        yaml_event_delete(ev);
        yt_node *node = node_at(map ? YT_MAP : YT_SEQ, ps, mark);
        if (!node)
            return repro_fail(ps->err, REPRO_ERR_NOMEM, "%s: out of memory", ps->origin.text);
        st = parse_children(ps, node, map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT,
                           depth);
        if (st)
            yt_free(node);
        else
            *out = node;
        return st;
    } else {
        st = fail_at(ps, mark, "unexpected YAML event");
    }
    yaml_event_delete(ev);
    return st;
}

/* Expects an event of type want (deleting it); anything else is an error. */
static repro_status expect(parse_state *ps, yaml_event_type_t want, const char *problem)
{
    yaml_event_t ev;
    repro_status st = next_event(ps, &ev);
    if (st)
        return st;
    if (ev.type != want)
        st = fail_at(ps, ev.start_mark, problem);
    yaml_event_delete(&ev);
    return st;
}

static repro_status parse_stream(parse_state *ps, yt_node **out)
{
    repro_status st = expect(ps, YAML_STREAM_START_EVENT, "expected the start of a YAML stream");
    if (st)
        return st;
    yaml_event_t ev;
    if ((st = next_event(ps, &ev)))
        return st;
    if (ev.type == YAML_STREAM_END_EVENT) { /* empty file: no document */
        yaml_event_delete(&ev);
        return REPRO_OK;
    }
    yaml_event_delete(&ev); /* DOCUMENT_START: the parser guarantees it here */
    if ((st = next_event(ps, &ev)))
        return st;
    if ((st = parse_node(ps, &ev, 0, out)))
        return st;
    st = expect(ps, YAML_DOCUMENT_END_EVENT, "expected the end of the YAML document");
    if (!st)
        st = expect(ps, YAML_STREAM_END_EVENT,
                    "a config holds one YAML document; found a second ('---')");
    if (st) {
        yt_free(*out);
        *out = NULL;
    }
    return st;
}

repro_status yt_parse(const char *text, size_t len, yt_origin origin, yt_node **out,
                      repro_error *err)
{
    parse_state ps = {.origin = origin, .err = err};
    *out = NULL;
    if (!yaml_parser_initialize(&ps.parser))
        return repro_fail(err, REPRO_ERR_NOMEM, "%s: out of memory", origin.text);
    yaml_parser_set_input_string(&ps.parser, (const unsigned char *)text, len);
    repro_status st = parse_stream(&ps, out);
    yaml_parser_delete(&ps.parser);
    return st;
}

long yt_map_find(const yt_node *map, const char *key)
{
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->text, key) == 0)
            return (long)i;
    return -1;
}

bool yt_is_null(const yt_node *node)
{
    if (node->kind != YT_SCALAR || !node->plain)
        return false;
    const char *t = node->text;
    return !*t || !strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") ||
           !strcmp(t, "NULL");
}

void yt_where(const yt_node *node, char *buf, size_t size)
{
    if (node->origin.is_override)
        snprintf(buf, size, "--set %s", node->origin.text);
    else
        snprintf(buf, size, "%s:%d:%d", node->origin.text, node->line, node->col);
}

void yt_describe(const yt_node *node, char *buf, size_t size)
{
    if (node->kind == YT_MAP)
        snprintf(buf, size, "a mapping");
    else if (node->kind == YT_SEQ)
        snprintf(buf, size, "a list");
    else
        snprintf(buf, size, "'%s'", node->text);
}
