/* Comparing two traces (src/train/trace.h): the engine behind
 * `repro diff --trace`. The lines are walked in order; the first whose
 * fingerprint differs is opened in both trace.bin files and its elements
 * compared bit by bit. */
#include "repro/record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t repro_ulp_distance(float a, float b)
{
    if (a != a || b != b)
        return UINT64_MAX;
    uint32_t ua, ub;
    memcpy(&ua, &a, 4);
    memcpy(&ub, &b, 4);
    /* Ordered integers: positives keep their bits, negatives count down from 0. */
    int64_t ia = (ua >> 31) ? -(int64_t)(ua & 0x7fffffffu) : (int64_t)ua;
    int64_t ib = (ub >> 31) ? -(int64_t)(ub & 0x7fffffffu) : (int64_t)ub;
    return ia > ib ? (uint64_t)(ia - ib) : (uint64_t)(ib - ia);
}

/* One side of the comparison: the open files and the line just read. */
typedef struct side {
    const char *dir;
    FILE *lines, *data;
    char *buf;
    size_t cap;
    int line_no;
    cJSON *line;
} side;

static repro_status open_side(side *s, const char *dir, repro_error *err)
{
    char path[4200];
    s->dir = dir;
    snprintf(path, sizeof path, "%s/trace.jsonl", dir);
    if (!(s->lines = fopen(path, "r")))
        return repro_fail(err, REPRO_ERR_IO, "cannot open trace '%s': %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/trace.bin", dir);
    if (!(s->data = fopen(path, "rb")))
        return repro_fail(err, REPRO_ERR_IO, "cannot open trace '%s': %s", path, strerror(errno));
    return REPRO_OK;
}

static void close_side(side *s)
{
    if (s->lines)
        fclose(s->lines);
    if (s->data)
        fclose(s->data);
    free(s->buf);
    cJSON_Delete(s->line);
}

static int has_number(const cJSON *o, const char *key)
{
    return cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, key));
}

static int has_string(const cJSON *o, const char *key)
{
    return cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* Reads the next line into s->line (NULL at the end of the file). */
static repro_status next_line(side *s, repro_error *err)
{
    cJSON_Delete(s->line);
    s->line = NULL;
    ssize_t got = getline(&s->buf, &s->cap, s->lines);
    if (got < 0)
        return REPRO_OK;
    s->line_no++;
    s->line = cJSON_Parse(s->buf);
    if (!s->line || !has_number(s->line, "step") || !has_string(s->line, "op") || !has_string(s->line, "tensor") ||
        !has_number(s->line, "n") || !has_number(s->line, "offset") || !has_string(s->line, "sha256"))
        return repro_fail(err, REPRO_ERR_FORMAT, "%s/trace.jsonl:%d: not a trace line", s->dir, s->line_no);
    return REPRO_OK;
}

static double num(const cJSON *o, const char *key)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static const char *str(const cJSON *o, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* Whether two lines name the same tensor of the same step. */
static int same_place(const cJSON *a, const cJSON *b)
{
    return num(a, "step") == num(b, "step") && num(a, "n") == num(b, "n") && !strcmp(str(a, "op"), str(b, "op")) &&
           !strcmp(str(a, "tensor"), str(b, "tensor"));
}

/* The tensor of s's current line: [n] floats (caller frees). */
static repro_status read_values(side *s, float **out, repro_error *err)
{
    int64_t n = (int64_t)num(s->line, "n");
    double offset = num(s->line, "offset");
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!v)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate %lld floats for a trace tensor", (long long)n);
    if (fseeko(s->data, (off_t)offset, SEEK_SET) != 0 || fread(v, sizeof(float), (size_t)n, s->data) != (size_t)n) {
        free(v);
        return repro_fail(err, REPRO_ERR_FORMAT, "%s/trace.bin: tensor '%s' (line %d) lies beyond the end of the file",
                          s->dir, str(s->line, "tensor"), s->line_no);
    }
    *out = v;
    return REPRO_OK;
}

static cJSON *value_json(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    char hex[16], dec[32];
    snprintf(hex, sizeof hex, "0x%08x", (unsigned)u);
    snprintf(dec, sizeof dec, "%.9g", (double)x);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "hex", hex);
    cJSON_AddStringToObject(o, "dec", dec);
    return o;
}

/* The place of a line (step, op, tensor, shape, n) as a new object. */
static cJSON *place_json(const cJSON *line, int line_no)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "line", line_no);
    cJSON_AddNumberToObject(o, "step", num(line, "step"));
    cJSON_AddStringToObject(o, "op", str(line, "op"));
    cJSON_AddStringToObject(o, "tensor", str(line, "tensor"));
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(line, "shape");
    if (shape)
        cJSON_AddItemToObject(o, "shape", cJSON_Duplicate(shape, 1));
    cJSON_AddNumberToObject(o, "n", num(line, "n"));
    return o;
}

/* The first element whose bits differ, both values, their distance in
 * ulps, and how many elements differ in all. */
static repro_status values_difference(side *a, side *b, cJSON *out, repro_error *err)
{
    float *va = NULL, *vb = NULL;
    repro_status st = read_values(a, &va, err);
    if (st == REPRO_OK)
        st = read_values(b, &vb, err);
    if (st == REPRO_OK) {
        int64_t n = (int64_t)num(a->line, "n"), first = -1, count = 0;
        uint64_t max_ulps = 0;
        for (int64_t i = 0; i < n; i++) {
            if (memcmp(&va[i], &vb[i], 4) == 0)
                continue;
            if (first < 0)
                first = i;
            count++;
            uint64_t d = repro_ulp_distance(va[i], vb[i]);
            max_ulps = d > max_ulps ? d : max_ulps;
        }
        if (first < 0) {
            st = repro_fail(err, REPRO_ERR_FORMAT, "%s and %s: tensor '%s' (line %d) has different fingerprints "
                            "but the same values: a trace file was changed", a->dir, b->dir,
                            str(a->line, "tensor"), a->line_no);
        } else {
            cJSON_AddStringToObject(out, "kind", "values");
            cJSON_AddNumberToObject(out, "index", (double)first);
            const cJSON *shape = cJSON_GetObjectItemCaseSensitive(a->line, "shape");
            if (cJSON_GetArraySize(shape) == 2) {
                double cols = cJSON_GetArrayItem(shape, 1)->valuedouble;
                cJSON *at = cJSON_AddArrayToObject(out, "coords");
                cJSON_AddItemToArray(at, cJSON_CreateNumber((double)(first / (int64_t)cols)));
                cJSON_AddItemToArray(at, cJSON_CreateNumber((double)(first % (int64_t)cols)));
            }
            cJSON_AddItemToObject(out, "a", value_json(va[first]));
            cJSON_AddItemToObject(out, "b", value_json(vb[first]));
            uint64_t ulps = repro_ulp_distance(va[first], vb[first]);
            if (ulps == UINT64_MAX)
                cJSON_AddNullToObject(out, "ulps");
            else
                cJSON_AddNumberToObject(out, "ulps", (double)ulps);
            cJSON_AddNumberToObject(out, "elements_differing", (double)count);
            if (max_ulps == UINT64_MAX)
                cJSON_AddNullToObject(out, "max_ulps");
            else
                cJSON_AddNumberToObject(out, "max_ulps", (double)max_ulps);
        }
    }
    free(va);
    free(vb);
    return st;
}

repro_status repro_trace_compare(const char *dir_a, const char *dir_b, cJSON **report, repro_error *err)
{
    *report = NULL;
    side a = {0}, b = {0};
    repro_status st = open_side(&a, dir_a, err);
    if (st == REPRO_OK)
        st = open_side(&b, dir_b, err);
    cJSON *first = NULL;
    int compared = 0;
    while (st == REPRO_OK && !first) {
        if ((st = next_line(&a, err)) != REPRO_OK || (st = next_line(&b, err)) != REPRO_OK)
            break;
        if (!a.line || !b.line) {
            if (a.line || b.line) { /* one trace ends before the other */
                first = place_json(a.line ? a.line : b.line, a.line ? a.line_no : b.line_no);
                cJSON_AddStringToObject(first, "kind", "length");
                cJSON_AddStringToObject(first, "only_in", a.line ? "a" : "b");
            }
            break;
        }
        if (!same_place(a.line, b.line)) {
            first = cJSON_CreateObject();
            cJSON_AddStringToObject(first, "kind", "structure");
            cJSON_AddItemToObject(first, "a_place", place_json(a.line, a.line_no));
            cJSON_AddItemToObject(first, "b_place", place_json(b.line, b.line_no));
        } else if (strcmp(str(a.line, "sha256"), str(b.line, "sha256")) != 0) {
            first = place_json(a.line, a.line_no);
            st = values_difference(&a, &b, first, err);
        } else {
            compared++;
        }
    }
    if (st == REPRO_OK) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "a", dir_a);
        cJSON_AddStringToObject(r, "b", dir_b);
        cJSON_AddBoolToObject(r, "identical", first == NULL);
        cJSON_AddNumberToObject(r, "tensors_equal", compared);
        cJSON_AddItemToObject(r, "first_difference", first ? first : cJSON_CreateNull());
        *report = r;
    } else {
        cJSON_Delete(first);
    }
    close_side(&a);
    close_side(&b);
    return st;
}
