/* The text form of a `repro diff` report (repro_run_compare's, with
 * "trace" when --trace ran), shared by `repro diff` and `repro replay`. */
#include "cli/diff_print.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/diff_trace.h"

/* A JSON value for a person: strings bare, absent as "(absent)". */
static void print_value(const cJSON *v)
{
    if (!v) {
        fputs("(absent)", stdout);
    } else if (cJSON_IsString(v)) {
        fputs(v->valuestring, stdout);
    } else {
        char *text = cJSON_PrintUnformatted(v);
        fputs(text ? text : "?", stdout);
        free(text);
    }
}

static const char *str(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return s ? s : "-";
}

static double num(const cJSON *o, const char *key)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static void print_record_differences(const cJSON *diffs)
{
    if (cJSON_GetArraySize(diffs) == 0) {
        puts("run records: no differences in config or environment");
        return;
    }
    puts("run records differ (informative):");
    const cJSON *d;
    cJSON_ArrayForEach(d, diffs) {
        printf("  %s: ", str(d, "path"));
        print_value(cJSON_GetObjectItemCaseSensitive(d, "a"));
        fputs(" vs ", stdout);
        print_value(cJSON_GetObjectItemCaseSensitive(d, "b"));
        putchar('\n');
    }
}

/* The fields of a divergence, A then B. */
static void print_divergence(const char *title, const cJSON *div)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(div, "a");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(div, "b");
    printf("%s: %.0f (ledger line %.0f)\n", title, num(a, "step"), num(div, "line"));
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(div, "fields")) {
        const char *field = f->valuestring;
        if (strcmp(field, "loss") == 0)
            printf("  loss: A %s (%s) vs B %s (%s)\n", str(a, "loss"), str(a, "loss_dec"),
                   str(b, "loss"), str(b, "loss_dec"));
        else if (strcmp(field, "step") == 0 || strcmp(field, "epoch") == 0)
            printf("  %s: A %.0f vs B %.0f\n", field, num(a, field), num(b, field));
        else
            printf("  %s: A %s vs B %s\n", field, str(a, field), str(b, field));
    }
}

static void print_ledger(const cJSON *ledger)
{
    double na = num(ledger, "a_steps"), nb = num(ledger, "b_steps");
    printf("ledgers: A has %.0f lines, B has %.0f\n", na, nb);
    const cJSON *first = cJSON_GetObjectItemCaseSensitive(ledger, "first_divergence");
    const cJSON *hash = cJSON_GetObjectItemCaseSensitive(ledger, "first_hash_divergence");
    const char *prefix = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ledger, "prefix"));
    if (cJSON_IsObject(first))
        print_divergence("first divergent step", first);
    if (cJSON_IsObject(hash) && !cJSON_Compare(first, hash, 1))
        print_divergence("first fingerprint difference", hash);
    const cJSON *match = cJSON_GetObjectItemCaseSensitive(ledger, "last_hash_match_step");
    if (cJSON_IsObject(first) && cJSON_IsNumber(match))
        printf("last step with matching params_sha256: %.0f\n", match->valuedouble);
    if (prefix)
        printf("ledger %s is a prefix of ledger %s: the first %.0f lines agree\n",
               strcmp(prefix, "a") == 0 ? "A" : "B", strcmp(prefix, "a") == 0 ? "B" : "A",
               num(ledger, "compared"));
    else if (!cJSON_IsObject(first))
        printf("ledgers agree on all %.0f lines\n", na);
}

static void print_final(const cJSON *final)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(final, "a");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(final, "b");
    if (cJSON_IsNull(a) && cJSON_IsNull(b))
        puts("final params_sha256: recorded in neither run");
    else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(final, "equal")))
        printf("final params_sha256: equal (%s)\n", a->valuestring);
    else
        printf("final params_sha256: A %s vs B %s\n", cJSON_IsString(a) ? a->valuestring : "(absent)",
               cJSON_IsString(b) ? b->valuestring : "(absent)");
}

void diff_print_report(const cJSON *r)
{
    printf("A: %s\nB: %s\n", str(r, "a"), str(r, "b"));
    print_record_differences(cJSON_GetObjectItemCaseSensitive(r, "record_differences"));
    print_ledger(cJSON_GetObjectItemCaseSensitive(r, "ledger"));
    print_final(cJSON_GetObjectItemCaseSensitive(r, "final_params_sha256"));
    const cJSON *trace = cJSON_GetObjectItemCaseSensitive(r, "trace");
    if (trace)
        diff_trace_print(trace);
    puts(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "identical")) ? "result: identical"
                                                                        : "result: different");
}

