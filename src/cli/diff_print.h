/* The text form of a `repro diff` report, on stdout. */
#ifndef REPRO_CLI_DIFF_PRINT_H
#define REPRO_CLI_DIFF_PRINT_H

#include <cjson/cJSON.h>

/* Prints report (a repro_run_compare report, "trace" included when
 * diff_trace_run added it) as `repro diff` does. */
void diff_print_report(const cJSON *report);

#endif
