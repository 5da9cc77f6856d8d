/* CSV files, plain or gzip: a small strict parser.
 *
 * One record per line ('\n' or "\r\n"), fields separated by ',', no quoting.
 * Empty lines are skipped (line numbers in messages still count them).
 * Spaces and tabs around a cell are ignored. Only the columns that are used
 * (features, label, targets) are parsed, so other columns may hold anything.
 * A feature or target cell must be a finite decimal number (strtof, the whole
 * cell consumed, correctly rounded to binary32); a label cell must be a
 * non-negative integer ("3" or "3.0"). Parsing uses the C locale's '.' (the
 * library never calls setlocale). */
#include "repro/data.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/gzio.h"
#include "data/labels.h"

typedef struct csv_reader {
    const char *path;
    char *buf;    /* the whole file, '\0'-terminated; lines are cut in place */
    size_t len;
    size_t pos;
    int64_t line; /* 1-based number of the line last returned */
    char *pending;        /* a line already read, handed out again next */
    int64_t pending_line; /* its number */
} csv_reader;

/* The next non-empty line, '\0'-terminated in place without its "\r\n";
 * NULL at the end of the file. */
static char *next_line(csv_reader *r)
{
    if (r->pending) {
        char *line = r->pending;
        r->pending = NULL;
        r->line = r->pending_line;
        return line;
    }
    while (r->pos < r->len) {
        char *start = r->buf + r->pos;
        char *nl = memchr(start, '\n', r->len - r->pos);
        char *end = nl ? nl : r->buf + r->len;
        r->pos = (size_t)(end - r->buf) + (nl ? 1 : 0);
        r->line++;
        if (end > start && end[-1] == '\r')
            end--;
        *end = '\0';
        if (end > start)
            return start;
    }
    return NULL;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *end = '\0';
    return s;
}

/* Cuts line in place at commas; stores up to max trimmed fields and returns
 * how many fields the line has. */
static int64_t split_fields(char *line, char **fields, int64_t max)
{
    int64_t count = 0;
    for (char *p = line;; p++) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (count < max)
            fields[count] = trim(p);
        count++;
        if (!comma)
            return count;
        p = comma;
    }
}

static int64_t count_lines(const char *buf, size_t len)
{
    int64_t n = 1;
    for (const char *p = buf; (p = memchr(p, '\n', len - (size_t)(p - buf))) != NULL; p++)
        n++;
    return n;
}

/* Which columns feed which outputs. Column j is named names[j] when the file
 * has a header, else by its position, "0", "1", ... */
typedef struct csv_plan {
    int64_t n_cols;
    char **names;      /* [n_cols] pointers into the buffer, or NULL without a header */
    int64_t n_features;
    int64_t *feature;  /* [n_features] column index of each feature */
    int64_t label;     /* column of the label, or -1 */
    int64_t n_targets;
    int64_t *target;   /* [n_targets] column index of each target */
} csv_plan;

static const char *column_name(const csv_plan *plan, int64_t j, char tmp[24])
{
    if (plan->names)
        return plan->names[j];
    snprintf(tmp, 24, "%lld", (long long)j);
    return tmp;
}

/* Lists the column names into buf (cut short with "..." if long). */
static void list_columns(const csv_plan *plan, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int64_t j = 0; j < plan->n_cols; j++) {
        const char *name = plan->names[j];
        size_t need = strlen(name) + (j ? 2 : 0);
        if (used + need + 4 >= size) {
            snprintf(buf + used, size - used, "%s...", j ? ", " : "");
            return;
        }
        used += (size_t)snprintf(buf + used, size - used, "%s%s", j ? ", " : "", name);
    }
}

/* Resolves a column name; `kind` ("feature", "label", "target") is for messages. */
static repro_status find_column(const char *path, const csv_plan *plan, const char *name,
                                const char *kind, int64_t *col, repro_error *err)
{
    if (!plan->names) {
        char *end;
        errno = 0;
        long long j = strtoll(name, &end, 10);
        if (errno || end == name || *end || j < 0 || j >= plan->n_cols)
            return repro_fail(err, REPRO_ERR_CONFIG,
                              "'%s': %s column '%s' is not a column number in [0, %lld) (the "
                              "file has no header row, so columns are named by position)",
                              path, kind, name, (long long)plan->n_cols);
        *col = j;
        return REPRO_OK;
    }
    *col = -1;
    for (int64_t j = 0; j < plan->n_cols; j++) {
        if (strcmp(plan->names[j], name) != 0)
            continue;
        if (*col >= 0)
            return repro_fail(err, REPRO_ERR_FORMAT,
                              "'%s': %s column '%s' appears twice in the header (columns %lld "
                              "and %lld)", path, kind, name, (long long)*col, (long long)j);
        *col = j;
    }
    if (*col < 0) {
        char list[384];
        list_columns(plan, list, sizeof list);
        return repro_fail(err, REPRO_ERR_CONFIG,
                          "'%s': %s column '%s' is not in the header (columns: %s)", path, kind,
                          name, list);
    }
    return REPRO_OK;
}

static int is_used(const csv_plan *plan, int64_t j)
{
    if (plan->label == j)
        return 1;
    for (int64_t t = 0; t < plan->n_targets; t++)
        if (plan->target[t] == j)
            return 1;
    return 0;
}

/* Fills plan's feature, label and target columns from cfg. */
static repro_status plan_columns(const char *path, const repro_data_config *cfg, csv_plan *plan,
                                 repro_error *err)
{
    repro_status st;
    plan->label = -1;
    if (cfg->label_column[0]) {
        st = find_column(path, plan, cfg->label_column, "label", &plan->label, err);
        if (st)
            return st;
    }
    plan->target = malloc(((size_t)cfg->n_target_columns + 1) * sizeof(int64_t));
    int64_t max_features = cfg->n_feature_columns > 0 ? cfg->n_feature_columns : plan->n_cols;
    plan->feature = malloc((size_t)max_features * sizeof(int64_t));
    if (!plan->target || !plan->feature)
        return repro_fail(err, REPRO_ERR_NOMEM, "'%s': out of memory", path);
    for (int t = 0; t < cfg->n_target_columns; t++) {
        st = find_column(path, plan, cfg->target_columns[t], "target", &plan->target[t], err);
        if (st)
            return st;
        plan->n_targets++;
    }
    if (cfg->n_feature_columns > 0) {
        for (int f = 0; f < cfg->n_feature_columns; f++) {
            st = find_column(path, plan, cfg->feature_columns[f], "feature", &plan->feature[f],
                             err);
            if (st)
                return st;
            plan->n_features++;
        }
    } else {
        for (int64_t j = 0; j < plan->n_cols; j++)
            if (!is_used(plan, j))
                plan->feature[plan->n_features++] = j;
    }
    if (plan->n_features == 0)
        return repro_fail(err, REPRO_ERR_CONFIG,
                          "'%s': no feature columns (every column is a label or target)", path);
    return REPRO_OK;
}

/* Where a cell sits, for messages. */
typedef struct cell_at {
    const char *path;
    int64_t line;
    const char *column;
} cell_at;

static repro_status parse_float(const char *cell, cell_at at, float *out, repro_error *err)
{
    if (!*cell)
        return repro_fail(err, REPRO_ERR_FORMAT, "'%s' line %lld, column '%s': empty cell",
                          at.path, (long long)at.line, at.column);
    char *end;
    float v = strtof(cell, &end);
    if (end == cell || *end)
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s' line %lld, column '%s': '%.40s' is not a number", at.path,
                          (long long)at.line, at.column, cell);
    if (!isfinite(v))
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s' line %lld, column '%s': '%.40s' is not a finite binary32 number",
                          at.path, (long long)at.line, at.column, cell);
    *out = v;
    return REPRO_OK;
}

static repro_status parse_label(const char *cell, cell_at at, int32_t *out, repro_error *err)
{
    char *end;
    double v = strtod(cell, &end);
    if (!*cell || end == cell || *end || !isfinite(v) || v != floor(v) || v > INT32_MAX)
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s' line %lld, column '%s': label '%.40s' is not an integer", at.path,
                          (long long)at.line, at.column, cell);
    if (v < 0)
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s' line %lld, column '%s': label '%.40s' is negative", at.path,
                          (long long)at.line, at.column, cell);
    *out = (int32_t)v;
    return REPRO_OK;
}

/* Parses one data row (its fields already split) into sample i of out. */
static repro_status parse_row(const csv_plan *plan, char **fields, cell_at at, int64_t i,
                              repro_dataset *out, repro_error *err)
{
    char tmp[24];
    repro_status st = REPRO_OK;
    for (int64_t f = 0; f < plan->n_features; f++) {
        at.column = column_name(plan, plan->feature[f], tmp);
        st = parse_float(fields[plan->feature[f]], at, &out->x[i * plan->n_features + f], err);
        if (st)
            return st;
    }
    for (int64_t t = 0; t < plan->n_targets; t++) {
        at.column = column_name(plan, plan->target[t], tmp);
        st = parse_float(fields[plan->target[t]], at, &out->y[i * plan->n_targets + t], err);
        if (st)
            return st;
    }
    if (plan->label >= 0) {
        at.column = column_name(plan, plan->label, tmp);
        st = parse_label(fields[plan->label], at, &out->label[i], err);
    }
    return st;
}

/* Reads the header (or, without one, counts the first row's fields) into
 * plan. Leaves the reader before the first data row. */
static repro_status read_header(csv_reader *r, const repro_data_config *cfg, csv_plan *plan,
                                int64_t *header_line, repro_error *err)
{
    char *line = next_line(r);
    if (!line)
        return repro_fail(err, REPRO_ERR_FORMAT, "'%s' is empty", r->path);
    *header_line = r->line;
    /* Count first, then split: the count sizes the names array. */
    int64_t n_cols = 1;
    for (const char *p = line; (p = strchr(p, ',')) != NULL; p++)
        n_cols++;
    plan->n_cols = n_cols;
    if (!cfg->header) {
        /* That was the first data row: hand it out again. */
        *header_line = 0;
        r->pending = line;
        r->pending_line = r->line;
        return REPRO_OK;
    }
    plan->names = malloc((size_t)n_cols * sizeof(char *));
    if (!plan->names)
        return repro_fail(err, REPRO_ERR_NOMEM, "'%s': out of memory", r->path);
    split_fields(line, plan->names, n_cols);
    return REPRO_OK;
}

static repro_status read_rows(csv_reader *r, const csv_plan *plan, int64_t header_line,
                              int64_t limit, repro_dataset *out, repro_error *err)
{
    char **fields = malloc((size_t)plan->n_cols * sizeof(char *));
    if (!fields)
        return repro_fail(err, REPRO_ERR_NOMEM, "'%s': out of memory", r->path);
    repro_status st = REPRO_OK;
    int64_t first_line = 0;
    char *line;
    while ((limit == 0 || out->n < limit) && (line = next_line(r)) != NULL) {
        int64_t count = split_fields(line, fields, plan->n_cols);
        if (!first_line)
            first_line = r->line;
        if (count != plan->n_cols) {
            char where[48];
            snprintf(where, sizeof where, header_line ? "as in the header" : "as in line %lld",
                     (long long)first_line);
            st = repro_fail(err, REPRO_ERR_FORMAT, "'%s' line %lld: %lld fields, expected %lld (%s)",
                            r->path, (long long)r->line, (long long)count,
                            (long long)plan->n_cols, where);
            break;
        }
        cell_at at = {r->path, r->line, NULL};
        st = parse_row(plan, fields, at, out->n, out, err);
        if (st)
            break;
        out->n++;
    }
    free(fields);
    if (!st && out->n == 0)
        st = repro_fail(err, REPRO_ERR_FORMAT, "'%s' holds no data rows", r->path);
    return st;
}

static repro_status allocate(const char *path, const csv_plan *plan, int64_t rows,
                             repro_dataset *out, repro_error *err)
{
    out->n_features = plan->n_features;
    out->n_targets = plan->n_targets;
    out->x = malloc((size_t)rows * (size_t)plan->n_features * sizeof(float));
    if (plan->n_targets)
        out->y = malloc((size_t)rows * (size_t)plan->n_targets * sizeof(float));
    if (plan->label >= 0)
        out->label = malloc((size_t)rows * sizeof(int32_t));
    if (!out->x || (plan->n_targets && !out->y) || (plan->label >= 0 && !out->label))
        return repro_fail(err, REPRO_ERR_NOMEM, "'%s': out of memory for %lld rows", path,
                          (long long)rows);
    return REPRO_OK;
}

repro_status repro_csv_read(const char *path, const repro_data_config *cfg, int64_t limit,
                            repro_dataset *out, repro_error *err)
{
    memset(out, 0, sizeof *out);
    if (limit < 0 || cfg->n_feature_columns < 0 || cfg->n_feature_columns > REPRO_MAX_COLUMNS ||
        cfg->n_target_columns < 0 || cfg->n_target_columns > REPRO_MAX_COLUMNS)
        return repro_fail(err, REPRO_ERR_ARG,
                          "'%s': bad CSV options (limit %lld, %d feature columns, %d target "
                          "columns)", path, (long long)limit, cfg->n_feature_columns,
                          cfg->n_target_columns);
    csv_reader r = {path, NULL, 0, 0, 0, NULL, 0};
    csv_plan plan = {0, NULL, 0, NULL, -1, 0, NULL};
    repro_status st = repro_gz_read_all(path, &r.buf, &r.len, err);
    /* Count before any line is cut in place: an upper bound on the rows. */
    int64_t header_line = 0, rows = st ? 0 : count_lines(r.buf, r.len);
    if (!st)
        st = read_header(&r, cfg, &plan, &header_line, err);
    if (!st)
        st = plan_columns(path, cfg, &plan, err);
    if (!st)
        st = allocate(path, &plan, limit && limit < rows ? limit : rows, out, err);
    if (!st)
        st = read_rows(&r, &plan, header_line, limit, out, err);
    if (!st && out->label) {
        st = repro_labels_check(path, out->label, out->n, cfg->n_classes, err);
        out->n_classes = cfg->n_classes > 0 ? cfg->n_classes
                                            : repro_labels_count_classes(out->label, out->n);
    }
    free(plan.names);
    free(plan.feature);
    free(plan.target);
    free(r.buf);
    if (st)
        repro_dataset_free(out);
    return st;
}
