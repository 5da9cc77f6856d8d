/* Reading ledger.jsonl back (for `repro diff` and resume checks). Each line
 * is one JSON object as written by repro_run_ledger; anything else is an
 * error naming the file and line. */
#include "repro/record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/io.h"

/* A JSON number that is a whole value an int64_t holds. The range comes
 * first: converting a double out of it is undefined (found by
 * fuzz/fuzz_ledger.c: "epoch":0888...8, 8.9e124). */
static int json_int(const cJSON *v, int64_t *out)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= -9223372036854775808.0 && v->valuedouble < 9223372036854775808.0) ||
        v->valuedouble != (double)(int64_t)v->valuedouble)
        return 0;
    *out = (int64_t)v->valuedouble;
    return 1;
}

/* "0x" and exactly 8 hex digits. */
static int json_bits(const cJSON *v, uint32_t *out)
{
    const char *s = cJSON_GetStringValue(v);
    if (!s || strlen(s) != 10 || s[0] != '0' || s[1] != 'x' ||
        strspn(s + 2, "0123456789abcdefABCDEF") != 8)
        return 0;
    *out = (uint32_t)strtoul(s + 2, NULL, 16);
    return 1;
}

/* An optional fingerprint: absent is "", present must be 64 hex digits. */
static int json_hash(const cJSON *obj, const char *key, char out[65])
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    out[0] = '\0';
    if (!v)
        return 1;
    const char *s = cJSON_GetStringValue(v);
    if (!s || strlen(s) != 64 || strspn(s, "0123456789abcdef") != 64)
        return 0;
    memcpy(out, s, 65);
    return 1;
}

static repro_status parse_line(const char *path, int line, const char *text,
                               repro_ledger_entry *e, repro_error *err)
{
    cJSON *o = cJSON_Parse(text);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return repro_fail(err, REPRO_ERR_FORMAT, "%s:%d: not a JSON object", path, line);
    }
    const char *bad = NULL;
    if (!json_int(cJSON_GetObjectItemCaseSensitive(o, "step"), &e->step))
        bad = "\"step\" (an integer)";
    else if (!json_int(cJSON_GetObjectItemCaseSensitive(o, "epoch"), &e->epoch))
        bad = "\"epoch\" (an integer)";
    else if (!json_bits(cJSON_GetObjectItemCaseSensitive(o, "loss"), &e->loss_bits))
        bad = "\"loss\" (a \"0x%08x\" bit pattern)";
    else if (!json_bits(cJSON_GetObjectItemCaseSensitive(o, "lr"), &e->lr_bits))
        bad = "\"lr\" (a \"0x%08x\" bit pattern)";
    else if (!json_hash(o, "params_sha256", e->params_sha256))
        bad = "\"params_sha256\" (64 lowercase hex digits)";
    else if (!json_hash(o, "optim_sha256", e->optim_sha256))
        bad = "\"optim_sha256\" (64 lowercase hex digits)";
    cJSON_Delete(o);
    e->line = line;
    if (bad)
        return repro_fail(err, REPRO_ERR_FORMAT, "%s:%d: missing or invalid %s", path, line, bad);
    return REPRO_OK;
}

/* Every line of path; a last line without a newline is an error, or (cut
 * non-NULL) left out with its number in *cut. */
static repro_status read_ledger(const char *path, repro_ledger_entry **entries, int64_t *count, int *cut,
                                repro_error *err)
{
    if (cut)
        *cut = 0;
    *entries = NULL;
    *count = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return repro_fail(err, REPRO_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    repro_ledger_entry *v = NULL;
    int64_t n = 0, cap = 0;
    char *text = NULL;
    size_t text_cap = 0;
    repro_status st = REPRO_OK;
    for (int line = 1; st == REPRO_OK && getline(&text, &text_cap, f) >= 0; line++) {
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            repro_ledger_entry *bigger = repro_io_realloc(v, (size_t)cap * sizeof *v);
            if (!bigger) {
                st = repro_fail(err, REPRO_ERR_NOMEM, "out of memory reading '%s'", path);
                break;
            }
            v = bigger;
        }
        if (cut && !strchr(text, '\n')) { /* the last line, cut short */
            *cut = line;
            break;
        }
        st = parse_line(path, line, text, &v[n], err);
        if (st == REPRO_OK)
            n++;
        else if (!strchr(text, '\n'))
            st = repro_fail(err, REPRO_ERR_FORMAT,
                            "%s:%d: the last line is cut short (did the run crash while writing it?)",
                            path, line);
    }
    if (st == REPRO_OK && ferror(f))
        st = repro_fail(err, REPRO_ERR_IO, "error reading '%s'", path);
    free(text);
    fclose(f);
    if (st != REPRO_OK) {
        free(v);
        return st;
    }
    *entries = v;
    *count = n;
    return REPRO_OK;
}

repro_status repro_ledger_read(const char *path, repro_ledger_entry **entries, int64_t *count,
                               repro_error *err)
{
    return read_ledger(path, entries, count, NULL, err);
}

repro_status repro_ledger_read_whole(const char *path, repro_ledger_entry **entries, int64_t *count, int *cut,
                                     repro_error *err)
{
    return read_ledger(path, entries, count, cut, err);
}
