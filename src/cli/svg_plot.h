/* Line charts as self-contained SVG (no script, no external reference),
 * for `repro plot` and the curves of `repro report`. */
#ifndef REPRO_CLI_SVG_PLOT_H
#define REPRO_CLI_SVG_PLOT_H

#include <stdio.h>

/* One curve: n points (x[i], y[i]); points whose y is not finite (or not
 * positive on a log axis) are left out, breaking the line. */
typedef struct svg_series {
    char label[256]; /* shown in the legend, escaped on output */
    const double *x, *y;
    int n;
    int colour; /* an index into a fixed palette */
    int dash;   /* 0 solid, else a dash pattern: tells runs apart when colours name metrics */
} svg_series;

typedef struct svg_chart {
    const char *title, *x_label, *y_label; /* escaped on output */
    const svg_series *series;
    int n_series;
    int log_y; /* a log10 y axis */
} svg_chart;

/* Writes "&lt;"-style text: & < > " ' escaped; safe in element text and in
 * attribute values. NULL writes nothing. */
void html_escape(FILE *out, const char *text);

/* Writes one <svg> element (with the xmlns, so the same text is a whole
 * .svg file). Each curve is a <path class="curve" data-label="..."> whose
 * d attribute holds its points. */
void svg_chart_write(FILE *out, const svg_chart *chart);

#endif
