/* repro report RUN... [-o FILE.html]: one self-contained HTML page (no
 * script, no network: the curves are inline SVG and the log-scale toggle is
 * a CSS checkbox) with every run's curves overlaid, its record as tables,
 * and, for several runs, what differs from the first: the record
 * differences and the first divergent step, with the tensor named by
 * re-running as `repro diff --trace` does (cli/diff_trace.c). Every string
 * from a run is HTML-escaped. Exit status 0 written, 2 error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/diff_trace.h"
#include "cli/run_curves.h"
#include "cli/svg_plot.h"
#include "repro/record.h"

static const char usage_text[] =
    "usage: repro report RUN_DIR... [-o FILE.html] [--no-trace]\n"
    "Writes one self-contained HTML page (no script, no network): the training\n"
    "loss per step and every loss and accuracy per epoch as inline SVG (the runs\n"
    "overlaid; a log-scale switch), each run's record as tables (config,\n"
    "environment, data hashes, determinism, final fingerprints), and for several\n"
    "runs what differs from the first: record differences and the first\n"
    "divergent step, with the operation and tensor (as `repro diff --trace`).\n"
    "  -o FILE      the page (default: report.html)\n"
    "  --no-trace   do not re-run diverging runs to name the tensor\n"
    "exit status: 0 written; 2 usage error or an unreadable run\n";

static const char style[] =
    "body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;font-size:13px;vertical-align:top}"
    "td.v{font-family:monospace;word-break:break-all}th{background:#f4f4f4}"
    ".charts{display:flex;flex-wrap:wrap;gap:12px}.chart.log{display:none}"
    "#logscale:checked~.charts .chart.lin{display:none}#logscale:checked~.charts .chart.log{display:block}"
    ".same{color:#080;font-weight:bold}.differ{color:#b00;font-weight:bold}";

static const char *str(const cJSON *o, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* A JSON value as a table cell's text. */
static void cell_value(FILE *out, const cJSON *v)
{
    if (!v) {
        fputs("<i>(absent)</i>", out);
    } else if (cJSON_IsString(v)) {
        html_escape(out, v->valuestring);
    } else {
        char *t = cJSON_PrintUnformatted(v);
        html_escape(out, t ? t : "?");
        free(t);
    }
}

/* One row per leaf of v, named by its dotted path. */
static void flat_rows(FILE *out, const char *path, const cJSON *v)
{
    if ((cJSON_IsObject(v) || cJSON_IsArray(v)) && cJSON_GetArraySize(v) > 0) {
        const cJSON *c;
        int i = 0;
        cJSON_ArrayForEach(c, v)
        {
            char sub[1024];
            if (cJSON_IsObject(v))
                snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", c->string);
            else
                snprintf(sub, sizeof sub, "%s.%d", path, i);
            flat_rows(out, sub, c);
            i++;
        }
        return;
    }
    fputs("<tr><td>", out);
    html_escape(out, path);
    fputs("</td><td class=\"v\">", out);
    cell_value(out, v);
    fputs("</td></tr>\n", out);
}

static void table(FILE *out, const char *title, const char *id, const cJSON *v)
{
    fprintf(out, "<h3>%s</h3>\n<table id=\"%s\"><tr><th>key</th><th>value</th></tr>\n", title, id);
    if (v)
        flat_rows(out, "", v);
    else
        fputs("<tr><td colspan=\"2\"><i>not recorded</i></td></tr>\n", out);
    fputs("</table>\n", out);
}

/* ---- charts ---- */

/* A chart of the given metrics of every run, linear and log; returns
 * whether any run had a point. */
static int chart(FILE *out, const run_curves *runs, int n, const char *title, const char *x_label,
                 const char *y_label, const char *const *metrics, int n_metrics)
{
    int cap = n * n_metrics, k = 0, points = 0;
    svg_series *s = calloc((size_t)cap, sizeof *s);
    double **buf = calloc((size_t)cap * 2, sizeof *buf);
    if (!s || !buf) {
        free(s), free(buf);
        return 0;
    }
    for (int r = 0; r < n; r++)
        for (int m = 0; m < n_metrics; m++) {
            int got = run_curves_series(&runs[r], metrics[m], &buf[2 * k], &buf[2 * k + 1]);
            if (got <= 0) {
                if (got == 0)
                    free(buf[2 * k]), free(buf[2 * k + 1]);
                buf[2 * k] = buf[2 * k + 1] = NULL;
                continue;
            }
            /* colour: the metric (the run when there is one metric); dashes: the run */
            s[k] = (svg_series){.x = buf[2 * k], .y = buf[2 * k + 1], .n = got,
                                .colour = n_metrics > 1 ? m : r, .dash = n_metrics > 1 ? r : 0};
            const char *base = strrchr(runs[r].dir, '/'); /* a short name for the legend */
            base = base && base[1] ? base + 1 : runs[r].dir;
            if (n > 1)
                snprintf(s[k].label, sizeof s[k].label, "%s %s", metrics[m], base);
            else
                snprintf(s[k].label, sizeof s[k].label, "%s", metrics[m]);
            points += got;
            k++;
        }
    if (points) {
        for (int log_y = 0; log_y <= 1; log_y++) {
            svg_chart c = {.title = title, .x_label = x_label, .y_label = y_label, .series = s, .n_series = k,
                           .log_y = log_y};
            fprintf(out, "<div class=\"chart %s\">\n", log_y ? "log" : "lin");
            svg_chart_write(out, &c);
            fputs("</div>\n", out);
        }
    }
    for (int i = 0; i < 2 * cap; i++)
        free(buf[i]);
    free(buf), free(s);
    return points > 0;
}

static void charts(FILE *out, const run_curves *runs, int n)
{
    static const char *const step[] = {"loss"};
    static const char *const losses[] = {"train_loss", "val_loss", "test_loss"};
    static const char *const accuracy[] = {"val_accuracy", "test_accuracy"};
    fputs("<h2>Curves</h2>\n<input type=\"checkbox\" id=\"logscale\"><label for=\"logscale\"> log scale</label>\n"
          "<div class=\"charts\">\n", out);
    chart(out, runs, n, "training loss per step (ledger, exact)", "step", "loss", step, 1);
    chart(out, runs, n, "loss per epoch", "epoch", "loss", losses, 3);
    chart(out, runs, n, "accuracy per epoch", "epoch", "accuracy", accuracy, 2);
    fputs("</div>\n", out);
}

/* ---- differences ---- */

static void ledger_line_cell(FILE *out, const cJSON *line)
{
    fputs("<td class=\"v\">", out);
    cell_value(out, line);
    fputs("</td>", out);
}

static void trace_section(FILE *out, const cJSON *trace)
{
    const char *status = str(trace, "status");
    if (!status)
        return;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(trace, "comparison"),
                                                      "first_difference");
    if (strcmp(status, "traced") != 0 || !cJSON_IsObject(d)) {
        fprintf(out, "<p>trace: %s</p>\n",
                !strcmp(status, "traced") ? "the re-runs agree on every traced tensor: the difference does not "
                                            "reproduce on this machine"
                                          : "nothing to trace");
        return;
    }
    fputs("<table class=\"trace\"><tr><th>first differing tensor</th><th>value</th></tr>\n", out);
    static const char *const keys[] = {"step", "op", "tensor", "index", "elements_differing", "ulps"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        fprintf(out, "<tr><td>%s</td><td class=\"v\">", keys[i]);
        cell_value(out, cJSON_GetObjectItemCaseSensitive(d, keys[i]));
        fputs("</td></tr>\n", out);
    }
    for (int side = 0; side < 2; side++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, side ? "b" : "a");
        fprintf(out, "<tr><td>value in %s</td><td class=\"v\">", side ? "B" : "A");
        html_escape(out, str(v, "hex"));
        fputs(" (", out);
        html_escape(out, str(v, "dec"));
        fputs(")</td></tr>\n", out);
    }
    fputs("</table>\n", out);
}

static int difference(FILE *out, const char *a, const char *b, int trace)
{
    cJSON *r = NULL;
    repro_error err;
    if (repro_run_compare(a, b, &r, &err) != REPRO_OK) {
        fprintf(stderr, "repro report: %s\n", err.message);
        return 2;
    }
    int identical = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "identical"));
    if (trace && !identical && diff_trace_run(r, NULL) != 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(r, "trace");
        fputs("repro report: could not trace the divergent step (above); the page says so\n", stderr);
    }
    fputs("<h3>A: ", out);
    html_escape(out, a);
    fputs(" &mdash; B: ", out);
    html_escape(out, b);
    fprintf(out, "</h3>\n<p>result: <span class=\"%s\">%s</span></p>\n", identical ? "same" : "differ",
            identical ? "identical bits" : "different");
    fputs("<table class=\"record-diff\"><tr><th>record field</th><th>A</th><th>B</th></tr>\n", out);
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(r, "record_differences"))
    {
        fputs("<tr><td>", out);
        html_escape(out, str(d, "path"));
        fputs("</td><td class=\"v\">", out);
        cell_value(out, cJSON_GetObjectItemCaseSensitive(d, "a"));
        fputs("</td><td class=\"v\">", out);
        cell_value(out, cJSON_GetObjectItemCaseSensitive(d, "b"));
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
    const cJSON *ledger = cJSON_GetObjectItemCaseSensitive(r, "ledger");
    const cJSON *first = cJSON_GetObjectItemCaseSensitive(ledger, "first_divergence");
    if (cJSON_IsObject(first)) {
        const cJSON *la = cJSON_GetObjectItemCaseSensitive(first, "a");
        fprintf(out, "<p class=\"divergence\">first divergent step: <b>%.0f</b></p>\n<table><tr><th>A</th><th>B</th>"
                     "</tr><tr>", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(la, "step")));
        ledger_line_cell(out, la);
        ledger_line_cell(out, cJSON_GetObjectItemCaseSensitive(first, "b"));
        fputs("</tr></table>\n", out);
    } else {
        fprintf(out, "<p>ledgers agree on all %.0f compared lines</p>\n",
                cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ledger, "compared")));
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "trace");
    if (t)
        trace_section(out, t);
    cJSON_Delete(r);
    return 0;
}

/* ---- the page ---- */

static void run_tables(FILE *out, const run_curves *rc, int index)
{
    const cJSON *r = rc->record;
    fputs("<h2>Run ", out);
    html_escape(out, rc->dir);
    fputs("</h2>\n", out);
    static const char *const summary[] = {"status", "message", "start_time", "end_time", "hostname",
                                          "config_path", "config_sha256", "params_sha256"};
    fprintf(out, "<table id=\"summary-%d\"><tr><th>field</th><th>value</th></tr>\n", index);
    for (size_t i = 0; i < sizeof summary / sizeof *summary; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, summary[i]);
        if (!v)
            continue;
        fprintf(out, "<tr><td>%s</td><td class=\"v\">", summary[i]);
        cell_value(out, v);
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
    static const char *const sections[][2] = {{"final", "Final results and fingerprints"},
                                              {"config", "Config"},
                                              {"determinism", "Determinism"},
                                              {"data", "Data files and their SHA-256"},
                                              {"execution", "Execution"},
                                              {"backend", "Backend"},
                                              {"env", "Environment"},
                                              {"git", "Your repository"}};
    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s-%d", sections[i][0], index);
        table(out, sections[i][1], id, cJSON_GetObjectItemCaseSensitive(r, sections[i][0]));
    }
}

static int write_page(FILE *out, run_curves *runs, int n, int trace)
{
    fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                 "<title>repro report</title>\n<style>%s</style></head><body>\n<h1>repro report</h1>\n<p>",
            style);
    for (int i = 0; i < n; i++) {
        fputs(i ? ", " : "runs: ", out);
        html_escape(out, runs[i].dir);
    }
    fputs("</p>\n", out);
    charts(out, runs, n);
    if (n > 1) {
        fputs("<h2>Differences from the first run</h2>\n", out);
        for (int i = 1; i < n; i++)
            if (difference(out, runs[0].dir, runs[i].dir, trace))
                return 2;
    }
    for (int i = 0; i < n; i++)
        run_tables(out, &runs[i], i);
    fputs("</body></html>\n", out);
    return 0;
}

int repro_cmd_report(int argc, char **argv)
{
    const char *out_path = "report.html";
    int n = 0, trace = 1, rc = 0;
    run_curves *runs = calloc((size_t)argc, sizeof *runs);
    const char **dirs = calloc((size_t)argc, sizeof *dirs);
    if (!runs || !dirs) {
        free(runs), free(dirs);
        fputs("repro report: out of memory\n", stderr);
        return 2;
    }
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            free(runs), free(dirs);
            return 0;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
            if (i + 1 == argc) {
                fprintf(stderr, "repro report: %s needs a value\n%s", a, usage_text);
                rc = 2;
            } else {
                out_path = argv[++i];
            }
        } else if (!strcmp(a, "--no-trace")) {
            trace = 0;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "repro report: unknown option '%s'\n%s", a, usage_text);
            rc = 2;
        } else {
            dirs[n++] = a;
        }
    }
    if (!rc && !n) {
        fprintf(stderr, "repro report: need a run directory\n%s", usage_text);
        rc = 2;
    }
    for (int i = 0; i < n && !rc; i++)
        rc = run_curves_load(dirs[i], "repro report", &runs[i]);
    FILE *out = rc ? NULL : fopen(out_path, "w");
    if (!rc && !out) {
        perror(out_path);
        rc = 2;
    }
    if (out) {
        rc = write_page(out, runs, n, trace);
        if (fclose(out) != 0 && !rc) {
            perror(out_path);
            rc = 2;
        }
        if (rc)
            remove(out_path);
        else
            fprintf(stderr, "repro report: wrote %s\n", out_path);
    }
    for (int i = 0; i < n; i++)
        run_curves_free(&runs[i]);
    free(runs), free(dirs);
    return rc;
}
