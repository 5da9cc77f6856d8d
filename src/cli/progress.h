/* What `repro train` prints while it works: a progress bar per epoch on a
 * terminal, plain lines when piped, JSON lines with --json, nothing with
 * --quiet. Display only: nothing here feeds back into training. */
#ifndef REPRO_CLI_PROGRESS_H
#define REPRO_CLI_PROGRESS_H

#include <stdio.h>

#include "repro/train.h"

typedef enum progress_mode { PROGRESS_BAR = 0, PROGRESS_LINES, PROGRESS_JSON, PROGRESS_QUIET } progress_mode;

typedef struct progress_state {
    progress_mode mode;
    FILE *out;
    double last_draw;  /* elapsed seconds at the last bar redraw */
    int bar_open;      /* a bar line is on screen without its newline */
} progress_state;

/* PROGRESS_BAR when stdout is a terminal, else PROGRESS_LINES. */
progress_mode progress_default_mode(void);
void progress_init(progress_state *ps, progress_mode mode, FILE *out);
void progress_report(void *ctx, const repro_progress *p); /* a repro_progress_fn */
void progress_end_line(progress_state *ps);
void progress_summary(progress_state *ps, const repro_train_result *res);

#endif
