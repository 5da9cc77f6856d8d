/* repro plot RUN... --metric NAME [-o FILE] [--log]: one figure as a
 * self-contained SVG file, the runs overlaid. Exit status 0, or 2 on a
 * usage error, an unreadable run or a metric no run has. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/run_curves.h"
#include "cli/svg_plot.h"

static const char usage_text[] =
    "usage: repro plot RUN_DIR... --metric NAME [-o FILE.svg] [--log]\n"
    "Draws one metric of one or more runs as an SVG line chart (no script, no\n"
    "external reference), the runs overlaid.\n"
    "  --metric NAME  loss: the training loss of every step (ledger.jsonl, x = step);\n"
    "                 any numeric field of metrics.jsonl: train_loss, val_loss,\n"
    "                 val_accuracy, test_loss, test_accuracy, lr, ... (x = epoch)\n"
    "  -o FILE        write the SVG there (default: standard output)\n"
    "  --log          a logarithmic y axis\n"
    "exit status: 0 written; 2 usage error, unreadable run, or no run has the metric\n";

static int usage_error(const char *fmt, const char *arg)
{
    fputs("repro plot: ", stderr);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage_text);
    return 2;
}

/* Draws the chart of runs[0..n) to out. Returns 0, or 2 after saying why. */
static int draw(const char **dirs, int n, const char *metric, int log_y, FILE *out)
{
    run_curves *runs = calloc((size_t)n, sizeof *runs);
    svg_series *series = calloc((size_t)n, sizeof *series);
    double **xs = calloc((size_t)n, sizeof *xs), **ys = calloc((size_t)n, sizeof *ys);
    int rc = runs && series && xs && ys ? 0 : 2, points = 0;
    for (int i = 0; i < n && !rc; i++) {
        rc = run_curves_load(dirs[i], "repro plot", &runs[i]);
        int k = rc ? 0 : run_curves_series(&runs[i], metric, &xs[i], &ys[i]);
        if (k < 0)
            rc = 2;
        series[i] = (svg_series){.x = xs[i], .y = ys[i], .n = k > 0 ? k : 0, .colour = i};
        snprintf(series[i].label, sizeof series[i].label, "%s", dirs[i]);
        points += k > 0 ? k : 0;
    }
    if (!rc && points == 0) {
        fprintf(stderr, "repro plot: no run has metric '%s' (loss, or a numeric field of metrics.jsonl)\n", metric);
        rc = 2;
    }
    if (!rc) {
        int per_step = strcmp(metric, "loss") == 0;
        svg_chart chart = {.title = per_step ? "training loss per step" : metric,
                           .x_label = per_step ? "step" : "epoch",
                           .y_label = metric,
                           .series = series,
                           .n_series = n,
                           .log_y = log_y};
        svg_chart_write(out, &chart);
    }
    for (int i = 0; i < n; i++) {
        if (runs)
            run_curves_free(&runs[i]);
        if (xs)
            free(xs[i]);
        if (ys)
            free(ys[i]);
    }
    free(runs), free(series), free(xs), free(ys);
    return rc;
}

int repro_cmd_plot(int argc, char **argv)
{
    const char *metric = NULL, *out_path = NULL;
    const char **dirs = calloc((size_t)argc, sizeof *dirs);
    int n = 0, log_y = 0;
    if (!dirs)
        return usage_error("%s", "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            free(dirs);
            return 0;
        } else if (!strcmp(a, "--metric") || !strcmp(a, "-o") || !strcmp(a, "--out")) {
            if (i + 1 == argc) {
                free(dirs);
                return usage_error("%s needs a value", a);
            }
            *(!strcmp(a, "--metric") ? &metric : &out_path) = argv[++i];
        } else if (!strcmp(a, "--log")) {
            log_y = 1;
        } else if (a[0] == '-' && a[1]) {
            free(dirs);
            return usage_error("unknown option '%s'", a);
        } else {
            dirs[n++] = a;
        }
    }
    if (!n || !metric) {
        free(dirs);
        return usage_error("%s", !n ? "need a run directory" : "need --metric NAME");
    }
    FILE *out = out_path ? fopen(out_path, "w") : stdout;
    if (!out) {
        free(dirs);
        perror(out_path);
        return 2;
    }
    int rc = draw(dirs, n, metric, log_y, out);
    if (out_path && fclose(out) != 0 && !rc) {
        perror(out_path);
        rc = 2;
    }
    if (rc && out_path)
        remove(out_path);
    free(dirs);
    return rc;
}
