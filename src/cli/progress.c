/* Progress display: see progress.h. */
#include "cli/progress.h"

#include <unistd.h>

static void progress_print(progress_state *ps, const repro_progress *p);

progress_mode progress_default_mode(void)
{
    return isatty(STDOUT_FILENO) ? PROGRESS_BAR : PROGRESS_LINES;
}

void progress_init(progress_state *ps, progress_mode mode, FILE *out)
{
    ps->mode = mode;
    ps->out = out;
    ps->last_draw = -1.0;
    ps->bar_open = 0;
}

void progress_end_line(progress_state *ps)
{
    if (ps->mode == PROGRESS_QUIET)
        return;
    if (ps->bar_open) {
        fputc('\n', ps->out);
        ps->bar_open = 0;
    }
    fflush(ps->out);
}

static void format_duration(double sec, char *buf, size_t n)
{
    long s = sec > 0 ? (long)(sec + 0.5) : 0;
    if (s >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, n, "%ld:%02ld", s / 60, s % 60);
}

static void draw_bar(progress_state *ps, const repro_progress *p)
{
    /* redraw at most ~10 times a second, and always at the epoch's end */
    if (p->step_in_epoch != p->steps_in_epoch && p->elapsed_sec - ps->last_draw < 0.1)
        return;
    ps->last_draw = p->elapsed_sec;
    enum { WIDTH = 24 };
    int filled = p->steps_in_epoch ? (int)(WIDTH * p->step_in_epoch / p->steps_in_epoch) : WIDTH;
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[WIDTH] = '\0';
    double per_step = p->samples_per_sec > 0 && p->step_in_epoch > 0
                          ? p->elapsed_sec / (double)p->step : 0.0;
    char eta[32];
    format_duration(per_step * (double)(p->steps_in_epoch - p->step_in_epoch), eta, sizeof eta);
    double wait_ms = p->step_in_epoch > 0 ? 1e3 * p->loader_wait_sec / (double)p->step_in_epoch : 0.0;
    fprintf(ps->out, "\repoch %d/%d [%s] %lld/%lld loss %.4f %.0f samples/s data wait %.1f ms/step ETA %s \033[K",
            p->epoch + 1, p->epochs, bar, (long long)p->step_in_epoch, (long long)p->steps_in_epoch,
            (double)p->loss, p->samples_per_sec, wait_ms, eta);
    fflush(ps->out);
    ps->bar_open = 1;
}

static void epoch_line(progress_state *ps, const repro_progress *p)
{
    progress_end_line(ps);
    fprintf(ps->out, "epoch %d/%d  step %lld  train_loss %.4f", p->epoch + 1, p->epochs, (long long)p->step,
            (double)p->loss);
    if (p->has_val) {
        fprintf(ps->out, "  val_loss %.4f", (double)p->val_loss);
        if (p->has_accuracy)
            fprintf(ps->out, "  val_acc %.4f", (double)p->val_accuracy);
        if (p->has_bits_per_char)
            fprintf(ps->out, "  val_bits_per_char %.4f", (double)p->val_bits_per_char);
    }
    if (p->has_test) {
        fprintf(ps->out, "  test_loss %.4f", (double)p->test_loss);
        if (p->has_accuracy)
            fprintf(ps->out, "  test_acc %.4f", (double)p->test_accuracy);
    }
    char el[32];
    format_duration(p->elapsed_sec, el, sizeof el);
    fprintf(ps->out, "  %.0f samples/s  data wait %.2f s  [%s]%s\n", p->samples_per_sec, p->loader_wait_sec, el,
            p->early_stop ? "  early stop" : "");
    fflush(ps->out);
}

static void epoch_json(progress_state *ps, const repro_progress *p)
{
    fprintf(ps->out, "{\"event\":\"epoch\",\"epoch\":%d,\"step\":%lld,\"train_loss\":%.9g", p->epoch,
            (long long)p->step, (double)p->loss);
    if (p->has_val)
        fprintf(ps->out, ",\"val_loss\":%.9g", (double)p->val_loss);
    if (p->has_val && p->has_accuracy)
        fprintf(ps->out, ",\"val_accuracy\":%.9g", (double)p->val_accuracy);
    if (p->has_val && p->has_bits_per_char)
        fprintf(ps->out, ",\"val_bits_per_char\":%.9g", (double)p->val_bits_per_char);
    if (p->has_test)
        fprintf(ps->out, ",\"test_loss\":%.9g", (double)p->test_loss);
    if (p->has_test && p->has_accuracy)
        fprintf(ps->out, ",\"test_accuracy\":%.9g", (double)p->test_accuracy);
    fprintf(ps->out, ",\"samples_per_sec\":%.1f,\"early_stop\":%s}\n", p->samples_per_sec,
            p->early_stop ? "true" : "false");
    fflush(ps->out);
}

/* Output that cannot be written (a pipe whose reader went away: SIGPIPE is
 * ignored, so writes fail with EPIPE) stops the display, never training. */
static void stop_if_broken(progress_state *ps)
{
    if (ps->mode != PROGRESS_QUIET && ferror(ps->out)) {
        ps->mode = PROGRESS_QUIET;
        ps->bar_open = 0;
    }
}

void progress_report(void *ctx, const repro_progress *p)
{
    progress_state *ps = ctx;
    progress_print(ps, p);
    stop_if_broken(ps);
}

static void progress_print(progress_state *ps, const repro_progress *p)
{
    switch (ps->mode) {
    case PROGRESS_QUIET:
        return;
    case PROGRESS_JSON:
        if (p->kind == REPRO_PROGRESS_EPOCH)
            epoch_json(ps, p);
        return;
    case PROGRESS_BAR:
    case PROGRESS_LINES:
        if (p->kind == REPRO_PROGRESS_START)
            fprintf(ps->out, "run %s: %d epochs, %lld steps\n", p->run_dir, p->epochs, (long long)p->total_steps);
        else if (p->kind == REPRO_PROGRESS_STEP && ps->mode == PROGRESS_BAR)
            draw_bar(ps, p);
        else if (p->kind == REPRO_PROGRESS_EPOCH)
            epoch_line(ps, p);
        return;
    }
}

void progress_summary(progress_state *ps, const repro_train_result *r)
{
    stop_if_broken(ps);
    if (ps->mode == PROGRESS_QUIET)
        return;
    if (ps->mode == PROGRESS_JSON) {
        fprintf(ps->out, "{\"event\":\"done\",\"run_dir\":\"%s\",\"steps\":%lld,\"epochs\":%d,"
                         "\"params_sha256\":\"%s\",\"train_seconds\":%.3f,\"samples_per_sec\":%.1f",
                r->run_dir, (long long)r->steps, r->epochs_run, r->params_sha256, r->train_seconds,
                r->samples_per_sec);
        if (r->has_test)
            fprintf(ps->out, ",\"test_loss\":%.9g", (double)r->test_loss);
        if (r->has_test && r->has_accuracy)
            fprintf(ps->out, ",\"test_accuracy\":%.9g", (double)r->test_accuracy);
        fprintf(ps->out, "}\n");
        return;
    }
    fprintf(ps->out, "done: %lld steps, %d epochs in %.1f s (%.0f samples/s)%s\n", (long long)r->steps,
            r->epochs_run, r->train_seconds, r->samples_per_sec, r->stopped_early ? ", stopped early" : "");
    if (r->has_val)
        fprintf(ps->out, "final val_loss %.4f%s", (double)r->val_loss, r->has_accuracy ? "" : "\n");
    if (r->has_val && r->has_accuracy)
        fprintf(ps->out, "  val_accuracy %.4f\n", (double)r->val_accuracy);
    if (r->has_test)
        fprintf(ps->out, "final test_loss %.4f%s", (double)r->test_loss, r->has_accuracy ? "" : "\n");
    if (r->has_test && r->has_accuracy)
        fprintf(ps->out, "  test_accuracy %.4f\n", (double)r->test_accuracy);
    fprintf(ps->out, "params_sha256 %s\nrun directory %s\n", r->params_sha256, r->run_dir);
}
