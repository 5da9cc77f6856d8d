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
#include "cli/diff_print.h"
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
        diff_print_report(report);
    }
    cJSON_Delete(report);
    return identical ? 0 : 1;
}
