/* repro diff RUN_A RUN_B [--json] [--quiet] [--trace [--trace-dir DIR]]:
 * compares two run directories (src/record/run_compare.c does the work) and
 * prints what differs: first the record sections (informative), then the
 * first divergent ledger step, then the final parameter fingerprints. With
 * --trace it then re-runs both up to that step with per-operation tracing
 * (cli/diff_trace.c) and names the first tensor and element that differ.
 * Exit status: 0 identical, 1 different, 2 error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/diff_trace.h"
#include "repro/record.h"

static const char usage_text[] =
    "usage: repro diff RUN_A RUN_B [--json] [--quiet] [--trace [--trace-dir DIR]]\n"
    "Compares two run directories. Exit status 0: the ledgers agree on every\n"
    "step (loss bits and every fingerprint both carry) and the final parameter\n"
    "fingerprints agree; 1: they differ; 2: error.\n"
    "  --json       print one JSON object instead of text\n"
    "  --quiet      print nothing; the exit status is the answer\n"
    "  --trace      re-run both runs' configurations up to the first divergent step,\n"
    "               recording every forward and backward tensor and every gradient,\n"
    "               and name the first operation, tensor and element that differ\n"
    "               (both values in hex and decimal, and their distance in ulps)\n"
    "  --trace-dir DIR  keep the re-runs and their traces in DIR/a and DIR/b\n"
    "               (default: a temporary folder, removed afterwards)\n";

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

static void print_report(const cJSON *r)
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

int repro_cmd_diff(int argc, char **argv)
{
    int json = 0, quiet = 0, trace = 0, n_dirs = 0;
    const char *dirs[2] = {NULL, NULL}, *trace_dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--trace") == 0) {
            trace = 1;
        } else if (strcmp(argv[i], "--trace-dir") == 0) {
            if (i + 1 == argc) {
                fprintf(stderr, "repro diff: --trace-dir needs a value\n%s", usage_text);
                return 2;
            }
            trace_dir = argv[++i];
        } else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
            quiet = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "repro diff: unknown option '%s'\n%s", argv[i], usage_text);
            return 2;
        } else if (n_dirs < 2) {
            dirs[n_dirs++] = argv[i];
        } else {
            fprintf(stderr, "repro diff: too many arguments ('%s')\n%s", argv[i], usage_text);
            return 2;
        }
    }
    if (trace_dir && !trace) {
        fprintf(stderr, "repro diff: --trace-dir goes with --trace\n%s", usage_text);
        return 2;
    }
    if (n_dirs != 2) {
        fprintf(stderr, "repro diff: need two run directories\n%s", usage_text);
        return 2;
    }
    cJSON *report;
    repro_error err;
    repro_error_clear(&err);
    if (repro_run_compare(dirs[0], dirs[1], &report, &err) != REPRO_OK) {
        fprintf(stderr, "repro diff: %s\n", err.message);
        return 2;
    }
    if (trace && diff_trace_run(report, trace_dir) != 0) {
        cJSON_Delete(report);
        return 2;
    }
    int identical = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(report, "identical"));
    for (int i = 0; i < 2 && !quiet; i++) { /* a run left "running" by a process that is gone */
        char note[2048];
        if (repro_run_stale_note(dirs[i], note, sizeof note))
            fprintf(stderr, "repro diff: note: %s\n", note);
    }
    if (json && !quiet) {
        char *text = cJSON_Print(report);
        puts(text ? text : "null");
        free(text);
    } else if (!quiet) {
        print_report(report);
    }
    cJSON_Delete(report);
    return identical ? 0 : 1;
}
