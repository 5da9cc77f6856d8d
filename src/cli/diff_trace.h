/* `repro diff --trace`: re-runs both runs of a comparison up to their first
 * divergent step with per-operation tracing (src/train/trace.h) and
 * compares the traces (repro_trace_compare). */
#ifndef REPRO_CLI_DIFF_TRACE_H
#define REPRO_CLI_DIFF_TRACE_H

#include <cjson/cJSON.h>

/* The most steps one --trace re-run records (the steps before the first
 * divergent one back to where the parameters last matched; each traced step
 * writes every activation, gradient and parameter of a batch). */
enum { DIFF_TRACE_MAX_STEPS = 8 };

/* Adds "trace" to report (a repro_run_compare report):
 *   {"status": "identical"}   the runs agree: nothing to trace;
 *   {"status": "no_step"}     the ledgers agree on every common step;
 *   {"status": "traced", "first_step", "last_step", "last_params_match",
 *    "capped": bool, "comparison": repro_trace_compare's report}.
 * The re-runs go to keep_dir/a and keep_dir/b (each a run directory with
 * its trace in trace/), or to a temporary folder removed afterwards
 * (keep_dir NULL). Returns 0, or 2 after printing why to stderr. */
int diff_trace_run(cJSON *report, const char *keep_dir);

/* The text form of report["trace"]. */
void diff_trace_print(const cJSON *trace);

#endif
