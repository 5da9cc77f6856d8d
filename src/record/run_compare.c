/* Comparing two run directories: the engine behind `repro diff`.
 *
 * Two runs are identical when their ledgers have the same lines (step,
 * epoch, loss and lr bits, and every fingerprint that both lines carry) and
 * their records' final params_sha256 agree. Differences between the other
 * sections of the records (config, env, ...) are listed as information:
 * runs with 1 and 8 threads are supposed to differ there and nowhere else. */
#include "repro/record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void add_difference(cJSON *out, const char *path, const cJSON *a, const cJSON *b)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "path", path);
    if (a)
        cJSON_AddItemToObject(d, "a", cJSON_Duplicate(a, 1));
    if (b)
        cJSON_AddItemToObject(d, "b", cJSON_Duplicate(b, 1));
    cJSON_AddItemToArray(out, d);
}

/* Appends every leaf where a and b differ to out, with dotted key paths and
 * [i] for array items; a missing side is NULL. */
static void diff_json(const char *path, const cJSON *a, const cJSON *b, cJSON *out)
{
    char sub[1024];
    if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
        const cJSON *x;
        cJSON_ArrayForEach(x, a) {
            snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", x->string);
            diff_json(sub, x, cJSON_GetObjectItemCaseSensitive(b, x->string), out);
        }
        cJSON_ArrayForEach(x, b) {
            if (cJSON_GetObjectItemCaseSensitive(a, x->string))
                continue;
            snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", x->string);
            add_difference(out, sub, NULL, x);
        }
    } else if (cJSON_IsArray(a) && cJSON_IsArray(b) &&
               cJSON_GetArraySize(a) == cJSON_GetArraySize(b)) {
        for (int i = 0; i < cJSON_GetArraySize(a); i++) {
            snprintf(sub, sizeof sub, "%s[%d]", path, i);
            diff_json(sub, cJSON_GetArrayItem(a, i), cJSON_GetArrayItem(b, i), out);
        }
    } else if (!a || !b || !cJSON_Compare(a, b, 1)) {
        add_difference(out, path, a, b);
    }
}

static cJSON *record_differences(const cJSON *ra, const cJSON *rb)
{
    cJSON *out = cJSON_CreateArray();
    cJSON *a = cJSON_Duplicate(ra, 1), *b = cJSON_Duplicate(rb, 1);
    /* Keys that differ between any two runs, or are compared on their own. */
    static const char *const drop[] = {"start_time", "end_time", "pid", "final", NULL};
    for (const char *const *k = drop; *k; k++) {
        cJSON_DeleteItemFromObjectCaseSensitive(a, *k);
        cJSON_DeleteItemFromObjectCaseSensitive(b, *k);
    }
    diff_json("", a, b, out);
    cJSON_Delete(a);
    cJSON_Delete(b);
    return out;
}

/* One ledger entry as JSON, for the report. */
static cJSON *entry_json(const repro_ledger_entry *e)
{
    char buf[32];
    float loss;
    memcpy(&loss, &e->loss_bits, 4);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "step", (double)e->step);
    cJSON_AddNumberToObject(o, "epoch", (double)e->epoch);
    snprintf(buf, sizeof buf, "0x%08x", (unsigned)e->loss_bits);
    cJSON_AddStringToObject(o, "loss", buf);
    snprintf(buf, sizeof buf, "%.9g", (double)loss);
    cJSON_AddStringToObject(o, "loss_dec", buf);
    snprintf(buf, sizeof buf, "0x%08x", (unsigned)e->lr_bits);
    cJSON_AddStringToObject(o, "lr", buf);
    if (e->params_sha256[0])
        cJSON_AddStringToObject(o, "params_sha256", e->params_sha256);
    if (e->optim_sha256[0])
        cJSON_AddStringToObject(o, "optim_sha256", e->optim_sha256);
    return o;
}

static int hash_differs(const char *a, const char *b) { return a[0] && b[0] && strcmp(a, b) != 0; }
static int hash_matches(const char *a, const char *b) { return a[0] && b[0] && strcmp(a, b) == 0; }

/* The fields in which two ledger lines disagree, as a JSON array of names
 * (empty when they agree). */
static cJSON *line_differences(const repro_ledger_entry *a, const repro_ledger_entry *b)
{
    cJSON *d = cJSON_CreateArray();
    if (a->step != b->step)
        cJSON_AddItemToArray(d, cJSON_CreateString("step"));
    if (a->epoch != b->epoch)
        cJSON_AddItemToArray(d, cJSON_CreateString("epoch"));
    if (a->loss_bits != b->loss_bits)
        cJSON_AddItemToArray(d, cJSON_CreateString("loss"));
    if (a->lr_bits != b->lr_bits)
        cJSON_AddItemToArray(d, cJSON_CreateString("lr"));
    if (hash_differs(a->params_sha256, b->params_sha256))
        cJSON_AddItemToArray(d, cJSON_CreateString("params_sha256"));
    if (hash_differs(a->optim_sha256, b->optim_sha256))
        cJSON_AddItemToArray(d, cJSON_CreateString("optim_sha256"));
    return d;
}

static cJSON *divergence_json(const repro_ledger_entry *a, const repro_ledger_entry *b, cJSON *fields)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "line", a->line);
    cJSON_AddItemToObject(o, "fields", fields);
    cJSON_AddItemToObject(o, "a", entry_json(a));
    cJSON_AddItemToObject(o, "b", entry_json(b));
    return o;
}

/* Walks the common part of two ledgers; *same says whether they are
 * identical (same length, no divergence). */
static cJSON *ledger_comparison(const repro_ledger_entry *a, int64_t na,
                                const repro_ledger_entry *b, int64_t nb, int *same)
{
    int64_t n = na < nb ? na : nb;
    cJSON *first = NULL, *first_hash = NULL;
    int64_t last_match = -1;
    for (int64_t i = 0; i < n && !first_hash; i++) {
        cJSON *fields = line_differences(&a[i], &b[i]);
        int differs = cJSON_GetArraySize(fields) > 0;
        int hash = hash_differs(a[i].params_sha256, b[i].params_sha256) ||
                   hash_differs(a[i].optim_sha256, b[i].optim_sha256);
        if (differs && !first)
            first = divergence_json(&a[i], &b[i], cJSON_Duplicate(fields, 1));
        if (hash)
            first_hash = divergence_json(&a[i], &b[i], cJSON_Duplicate(fields, 1));
        else if (!first && hash_matches(a[i].params_sha256, b[i].params_sha256))
            last_match = i;
        cJSON_Delete(fields);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "a_steps", (double)na);
    cJSON_AddNumberToObject(o, "b_steps", (double)nb);
    cJSON_AddNumberToObject(o, "compared", (double)n);
    if (!first && na != nb)
        cJSON_AddStringToObject(o, "prefix", na < nb ? "a" : "b");
    else
        cJSON_AddNullToObject(o, "prefix");
    cJSON_AddItemToObject(o, "first_divergence", first ? first : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "first_hash_divergence", first_hash ? first_hash : cJSON_CreateNull());
    if (last_match >= 0)
        cJSON_AddNumberToObject(o, "last_hash_match_step", (double)a[last_match].step);
    else
        cJSON_AddNullToObject(o, "last_hash_match_step");
    *same = !first && na == nb;
    return o;
}

/* record["final"]["params_sha256"], or NULL. */
static const char *final_params_hash(const cJSON *record)
{
    const cJSON *final = cJSON_GetObjectItemCaseSensitive(record, "final");
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(final, "params_sha256"));
}

static cJSON *final_comparison(const cJSON *ra, const cJSON *rb, int *same)
{
    const char *a = final_params_hash(ra), *b = final_params_hash(rb);
    *same = (!a && !b) || (a && b && strcmp(a, b) == 0);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "a", a ? cJSON_CreateString(a) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "b", b ? cJSON_CreateString(b) : cJSON_CreateNull());
    cJSON_AddBoolToObject(o, "equal", *same);
    return o;
}

typedef struct run_files {
    cJSON *record;
    repro_ledger_entry *ledger;
    int64_t n;
} run_files;

static repro_status load_run(const char *dir, run_files *r, repro_error *err)
{
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return repro_fail(err, REPRO_ERR_IO, "cannot open run directory '%s': %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return repro_fail(err, REPRO_ERR_ARG, "'%s' is not a directory", dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/run.json", dir);
    repro_status st = repro_json_read_file(path, &r->record, err);
    if (st == REPRO_OK && !cJSON_IsObject(r->record))
        st = repro_fail(err, REPRO_ERR_FORMAT, "'%s' is not a JSON object", path);
    if (st != REPRO_OK)
        return st;
    snprintf(path, sizeof path, "%s/ledger.jsonl", dir);
    return repro_ledger_read(path, &r->ledger, &r->n, err);
}

repro_status repro_run_compare(const char *dir_a, const char *dir_b, cJSON **report,
                               repro_error *err)
{
    *report = NULL;
    run_files a = {0}, b = {0};
    repro_status st = load_run(dir_a, &a, err);
    if (st == REPRO_OK)
        st = load_run(dir_b, &b, err);
    if (st == REPRO_OK) {
        int ledgers_same, finals_same;
        cJSON *ledger = ledger_comparison(a.ledger, a.n, b.ledger, b.n, &ledgers_same);
        cJSON *final = final_comparison(a.record, b.record, &finals_same);
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "a", dir_a);
        cJSON_AddStringToObject(r, "b", dir_b);
        cJSON_AddBoolToObject(r, "identical", ledgers_same && finals_same);
        cJSON_AddItemToObject(r, "record_differences", record_differences(a.record, b.record));
        cJSON_AddItemToObject(r, "ledger", ledger);
        cJSON_AddItemToObject(r, "final_params_sha256", final);
        *report = r;
    }
    cJSON_Delete(a.record);
    cJSON_Delete(b.record);
    free(a.ledger);
    free(b.ledger);
    return st;
}
