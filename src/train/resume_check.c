/* The logs a resume continues: see resume_check.h. */
#include "train/resume_check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "repro/record.h"

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* The line of the checkpoint's step against the checkpoint itself. */
static repro_status check_step_line(const char *path, const repro_ledger_entry *e, const repro_resume_point *p,
                                    repro_error *err)
{
    if (e->loss_bits != float_bits(p->state->last_loss))
        return repro_fail(err, REPRO_ERR_STATE, "%s:%d: loss 0x%08x does not match the checkpoint's last_loss 0x%08x",
                          path, e->line, (unsigned)e->loss_bits, (unsigned)float_bits(p->state->last_loss));
    if (e->params_sha256[0] && strcmp(e->params_sha256, p->params_sha256) != 0)
        return repro_fail(err, REPRO_ERR_STATE, "%s:%d: params_sha256 does not match the checkpoint (%s)", path,
                          e->line, p->params_sha256);
    if (e->optim_sha256[0] && strcmp(e->optim_sha256, p->optim_sha256) != 0)
        return repro_fail(err, REPRO_ERR_STATE, "%s:%d: optim_sha256 does not match the checkpoint (%s)", path,
                          e->line, p->optim_sha256);
    return REPRO_OK;
}

static repro_status check_ledger(const char *dir, const repro_resume_point *p, repro_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/ledger.jsonl", dir);
    const repro_train_state *s = p->state;
    repro_ledger_entry *v;
    int64_t n;
    int cut;
    repro_status st = repro_ledger_read_whole(path, &v, &n, &cut, err);
    if (st != REPRO_OK)
        return st;
    float sum = 0.0f; /* the epoch's losses, added as the trainer adds them */
    int64_t epoch_start = s->step - s->step_in_epoch;
    for (int64_t i = 0; st == REPRO_OK && i < n; i++) {
        const repro_ledger_entry *e = &v[i];
        int64_t epoch = i / p->steps_per_epoch;
        if (e->step != i + 1)
            st = repro_fail(err, REPRO_ERR_STATE, "%s:%d: step %lld, expected step %lld", path, e->line,
                            (long long)e->step, (long long)(i + 1));
        else if (e->epoch != epoch)
            st = repro_fail(err, REPRO_ERR_STATE, "%s:%d: epoch %lld, expected epoch %lld", path, e->line,
                            (long long)e->epoch, (long long)epoch);
        else if (i >= epoch_start && i < s->step)
            sum = sum + bits_float(e->loss_bits);
        if (st == REPRO_OK && i + 1 == s->step)
            st = check_step_line(path, e, p, err);
    }
    if (st == REPRO_OK && n < s->step)
        st = repro_fail(err, REPRO_ERR_STATE, "%s ends at step %lld, before the checkpoint's step %lld", path,
                        (long long)n, (long long)s->step);
    if (st == REPRO_OK && float_bits(sum) != float_bits(s->epoch_loss_sum))
        st = repro_fail(err, REPRO_ERR_STATE, "%s: the losses of steps %lld..%lld add up to 0x%08x, not the "
                        "checkpoint's epoch_loss_sum 0x%08x", path, (long long)epoch_start + 1, (long long)s->step,
                        (unsigned)float_bits(sum), (unsigned)float_bits(s->epoch_loss_sum));
    free(v);
    return st;
}

/* One metrics line: a JSON object with the integer "epoch" and "step".
 * want_epoch < 0: a line past the checkpoint, checked for its shape only. */
static repro_status check_metrics_line(const char *path, int line, const cJSON *o, int64_t want_epoch,
                                       int64_t want_step, repro_error *err)
{
    const cJSON *epoch = cJSON_GetObjectItemCaseSensitive(o, "epoch");
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(o, "step");
    if (!cJSON_IsObject(o) || !cJSON_IsNumber(epoch) || !cJSON_IsNumber(step))
        return repro_fail(err, REPRO_ERR_STATE, "%s:%d: not a metrics line (a JSON object with \"epoch\" and "
                          "\"step\")", path, line);
    if (want_epoch >= 0 && epoch->valuedouble != (double)want_epoch)
        return repro_fail(err, REPRO_ERR_STATE, "%s:%d: epoch %.17g, expected epoch %lld", path, line,
                          epoch->valuedouble, (long long)want_epoch);
    if (want_epoch >= 0 && step->valuedouble != (double)want_step)
        return repro_fail(err, REPRO_ERR_STATE, "%s:%d: step %.17g, expected step %lld (the end of epoch %lld)",
                          path, line, step->valuedouble, (long long)want_step, (long long)want_epoch);
    return REPRO_OK;
}

/* Epochs in metrics.jsonl count from 0, as in the ledger; runs written
 * before that counted them from 1, which their first line shows (epoch 1
 * there, 0 now): such a run still resumes, numbered as it began. */
static repro_status check_metrics(const char *dir, const repro_resume_point *p, repro_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    int64_t epochs = p->state->epoch; /* epochs ended before the checkpoint */
    FILE *f = fopen(path, "r");
    if (!f)
        return repro_fail(err, REPRO_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    char *text = NULL;
    size_t cap = 0;
    int64_t n = 0, base = 0;
    repro_status st = REPRO_OK;
    while (st == REPRO_OK && getline(&text, &cap, f) >= 0) {
        if (!strchr(text, '\n'))
            break; /* the last line, cut short by a crash */
        n++;
        cJSON *o = cJSON_Parse(text);
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "epoch");
        if (n == 1 && cJSON_IsNumber(e) && e->valuedouble == 1)
            base = 1; /* written by a repro that counted epochs from 1 */
        int64_t epoch = n <= epochs ? n - 1 + base : -1; /* lines past the checkpoint: only whole */
        int64_t end = n * p->steps_per_epoch < p->total_steps ? n * p->steps_per_epoch : p->total_steps;
        st = check_metrics_line(path, (int)n, o, epoch, end, err);
        cJSON_Delete(o);
    }
    free(text);
    fclose(f);
    if (st == REPRO_OK && n < epochs)
        st = repro_fail(err, REPRO_ERR_STATE, "%s has %lld lines, fewer than the %lld epochs the checkpoint has "
                        "ended", path, (long long)n, (long long)epochs);
    return st;
}

repro_status repro_resume_check_logs(const char *dir, const repro_resume_point *p, repro_error *err)
{
    repro_status st = check_ledger(dir, p, err);
    return st == REPRO_OK ? check_metrics(dir, p, err) : st;
}
