/* Line charts as SVG: see svg_plot.h. The plot is drawn for people, never
 * read back for bits, so double arithmetic and libm are fine here. */
#include "cli/svg_plot.h"

#include <math.h>
#include <string.h>

enum { W = 720, H = 360, LEFT = 70, RIGHT = 170, TOP = 34, BOTTOM = 46 };

/* Eight colours that stay apart for most colour-blind readers (Okabe-Ito). */
static const char *const colours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                      "#E69F00", "#56B4E9", "#000000", "#F0E442"};

void html_escape(FILE *out, const char *text)
{
    for (const char *p = text; p && *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*p, out);
        }
    }
}

/* The legend shows at most LEGEND_CHARS bytes of a label (cut at a UTF-8
 * character's start) and "..."; the whole label is its tooltip. */
enum { LEGEND_CHARS = 30 };
static void legend_text(FILE *out, const char *label)
{
    size_t n = strlen(label);
    if (n <= LEGEND_CHARS) {
        html_escape(out, label);
        return;
    }
    char cut[LEGEND_CHARS + 1];
    size_t k = LEGEND_CHARS;
    while (k > 0 && ((unsigned char)label[k] & 0xC0) == 0x80)
        k--;
    memcpy(cut, label, k);
    cut[k] = '\0';
    html_escape(out, cut);
    fputs("...", out);
}

static int usable(const svg_chart *c, double y)
{
    return isfinite(y) && (!c->log_y || y > 0);
}

static double ty(const svg_chart *c, double y)
{
    return c->log_y ? log10(y) : y;
}

/* The data's range in plot units (log10 of y on a log axis). */
static int range(const svg_chart *c, double *x0, double *x1, double *y0, double *y1)
{
    int any = 0;
    for (int s = 0; s < c->n_series; s++)
        for (int i = 0; i < c->series[s].n; i++) {
            double x = c->series[s].x[i], y = c->series[s].y[i];
            if (!usable(c, y) || !isfinite(x))
                continue;
            y = ty(c, y);
            if (!any) {
                *x0 = *x1 = x;
                *y0 = *y1 = y;
                any = 1;
            }
            *x0 = fmin(*x0, x), *x1 = fmax(*x1, x), *y0 = fmin(*y0, y), *y1 = fmax(*y1, y);
        }
    if (!any)
        return 0;
    if (*x1 == *x0)
        *x0 -= 1, *x1 += 1;
    if (*y1 == *y0)
        *y0 -= 0.5, *y1 += 0.5;
    double pad = (*y1 - *y0) * 0.05;
    *y0 -= pad, *y1 += pad;
    return 1;
}

/* A tick spacing of 1, 2 or 5 times a power of ten giving about four
 * intervals over span (whole numbers when the axis counts steps or epochs). */
static double tick_step(double span, int whole)
{
    double raw = span / 4, p = pow(10, floor(log10(raw))), f = raw / p;
    double step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
    return whole && step < 1 ? 1 : step;
}

static void axes(FILE *out, const svg_chart *c, double x0, double x1, double y0, double y1)
{
    const double pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM;
    fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#999\"/>\n", LEFT, TOP,
            pw, ph);
    /* y: on a log axis the values are log10; ticks at the same spacing there */
    double dy = tick_step(y1 - y0, 0);
    for (double fy = ceil(y0 / dy) * dy; fy <= y1 + dy * 1e-9; fy += dy) {
        double py = TOP + ph - ph * (fy - y0) / (y1 - y0);
        fprintf(out, "<line x1=\"%d\" x2=\"%g\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n", LEFT, LEFT + pw, py,
                py);
        fprintf(out, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%.4g</text>\n", LEFT - 4,
                py + 4, c->log_y ? pow(10, fy) : (fabs(fy) < dy * 1e-9 ? 0.0 : fy));
    }
    double dx = tick_step(x1 - x0, 1);
    for (double fx = ceil(x0 / dx) * dx; fx <= x1 + dx * 1e-9; fx += dx)
        fprintf(out, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%.6g</text>\n",
                LEFT + pw * (fx - x0) / (x1 - x0), TOP + (int)ph + 15, fx);
    fprintf(out, "<text x=\"%g\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">", LEFT + pw / 2, H - 8);
    html_escape(out, c->x_label);
    fprintf(out, "</text>\n<text x=\"14\" y=\"%g\" font-size=\"12\" text-anchor=\"middle\" "
                 "transform=\"rotate(-90 14 %g)\">", TOP + ph / 2, TOP + ph / 2);
    html_escape(out, c->y_label);
    fputs(c->log_y ? " (log scale)</text>\n" : "</text>\n", out);
    fprintf(out, "<text x=\"%d\" y=\"20\" font-size=\"14\" font-weight=\"bold\">", LEFT);
    html_escape(out, c->title);
    fputs("</text>\n", out);
}

static void curve(FILE *out, const svg_chart *c, int s, double x0, double x1, double y0, double y1)
{
    const double pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM;
    const svg_series *se = &c->series[s];
    static const char *const dashes[] = {"none", "6 3", "2 2", "8 3 2 3"};
    const char *colour = colours[se->colour % (int)(sizeof colours / sizeof *colours)];
    const char *dash = dashes[se->dash % (int)(sizeof dashes / sizeof *dashes)];
    fprintf(out, "<path class=\"curve\" fill=\"none\" stroke=\"%s\" stroke-dasharray=\"%s\" stroke-width=\"1.5\" "
                 "data-label=\"", colour, dash);
    html_escape(out, se->label);
    fprintf(out, "\" data-points=\"%d\" d=\"", se->n);
    int pen_down = 0, single = 0;
    for (int i = 0; i < se->n; i++) {
        if (!usable(c, se->y[i]) || !isfinite(se->x[i])) {
            pen_down = 0;
            continue;
        }
        double px = LEFT + pw * (se->x[i] - x0) / (x1 - x0);
        double py = TOP + ph - ph * (ty(c, se->y[i]) - y0) / (y1 - y0);
        fprintf(out, "%c%.2f %.2f ", pen_down ? 'L' : 'M', px, py);
        pen_down = 1;
        single = se->n == 1;
    }
    fputs("\"/>\n", out);
    if (single) /* one point draws no line: mark it */
        for (int i = 0; i < se->n; i++)
            if (usable(c, se->y[i]))
                fprintf(out, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n",
                        LEFT + pw * (se->x[i] - x0) / (x1 - x0),
                        TOP + ph - ph * (ty(c, se->y[i]) - y0) / (y1 - y0), colour);
    double ly = TOP + 8 + 16 * s;
    fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-dasharray=\"%s\" "
                 "stroke-width=\"2\"/>\n", W - RIGHT + 8, W - RIGHT + 26, ly, ly, colour, dash);
    fprintf(out, "<text x=\"%d\" y=\"%g\" font-size=\"11\"><title>", W - RIGHT + 30, ly + 4);
    html_escape(out, se->label);
    fputs("</title>", out);
    legend_text(out, se->label);
    fputs("</text>\n", out);
}

void svg_chart_write(FILE *out, const svg_chart *c)
{
    fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                 "font-family=\"sans-serif\" role=\"img\">\n<title>", W, H, W, H);
    html_escape(out, c->title);
    fputs("</title>\n", out);
    double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
    if (!range(c, &x0, &x1, &y0, &y1)) {
        axes(out, c, 0, 1, 0, 1);
        fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"12\">no %s values to plot</text>\n", LEFT + 10, TOP + 20,
                c->log_y ? "positive" : "finite");
    } else {
        axes(out, c, x0, x1, y0, y1);
        for (int s = 0; s < c->n_series; s++)
            curve(out, c, s, x0, x1, y0, y1);
    }
    fputs("</svg>\n", out);
}
