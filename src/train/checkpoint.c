/* Checkpoints: see checkpoint.h. Tensor names in the file:
 *   params.<tensor>, optim.m.<tensor>, optim.v.<tensor>, ema.<tensor>, best.<tensor>
 * (<tensor> as in model.safetensors, e.g. trunk.0.weight), and
 * buffers.<buffer> for running statistics (e.g. buffers.bn1.running_mean). */
#include "train/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_info.h"
#include "record/io.h"

enum { GROUPS = 6, BUFFER_GROUP = 5 };
static const char *const group_names[GROUPS] = {"params", "optim.m", "optim.v", "ema", "best", "buffers"};

/* The buffers of each group (NULL when absent): [n_params] each, and the
 * model's running statistics [n_buffers]. */
static void group_buffers(const repro_ckpt_parts *p, float *buf[GROUPS])
{
    buf[0] = p->params;
    buf[1] = p->m;
    buf[2] = p->v;
    buf[3] = p->ema;
    buf[4] = p->best;
    buf[5] = p->buffers;
}

/* The tensors of group g: the parameters' for all but the buffers. */
static int group_count(const repro_model *m, int g)
{
    return g == BUFFER_GROUP ? repro_model_n_buffer_tensors(m) : repro_model_n_tensors(m);
}

static const repro_param_info *group_tensor(const repro_model *m, int g, int i)
{
    return g == BUFFER_GROUP ? repro_model_buffer_tensor(m, i) : repro_model_tensor(m, i);
}

static void float_hex(float f, char out[16])
{
    uint32_t u;
    memcpy(&u, &f, 4);
    snprintf(out, 16, "0x%08" PRIx32, u);
}

static int hex_float(const char *s, float *f)
{
    char *end;
    if (!s || strncmp(s, "0x", 2) != 0)
        return 0;
    unsigned long u = strtoul(s + 2, &end, 16);
    if (*end || u > 0xffffffffUL)
        return 0;
    uint32_t v = (uint32_t)u;
    memcpy(f, &v, 4);
    return 1;
}

static int parse_i64(const char *s, int64_t *v)
{
    char *end;
    if (!s || !*s)
        return 0;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || *end)
        return 0;
    *v = x;
    return 1;
}

/* ---- the metadata checksum ---- */

typedef struct meta_pair {
    const char *key, *value;
} meta_pair;

static int pair_order(const void *a, const void *b)
{
    return strcmp(((const meta_pair *)a)->key, ((const meta_pair *)b)->key);
}

/* meta_sha256: SHA-256 of "KEY=VALUE\n" for every metadata pair but
 * meta_sha256 itself, keys in byte order. The metadata holds
 * payload_sha256, so this covers the whole file. Sorts pairs in place. */
static repro_status meta_digest(meta_pair *pairs, int n, char hex[65], repro_error *err)
{
    qsort(pairs, (size_t)n, sizeof *pairs, pair_order);
    repro_sha256 *h = repro_sha256_new();
    if (!h)
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory hashing checkpoint metadata");
    for (int i = 0; i < n; i++) {
        if (strcmp(pairs[i].key, "meta_sha256") == 0)
            continue;
        repro_sha256_update(h, pairs[i].key, strlen(pairs[i].key));
        repro_sha256_update(h, "=", 1);
        repro_sha256_update(h, pairs[i].value, strlen(pairs[i].value));
        repro_sha256_update(h, "\n", 1);
    }
    repro_sha256_final(h, hex);
    return REPRO_OK;
}

/* ---- listing ---- */

/* Steps of the checkpoints in dir, newest first. Caller frees. */
static repro_status list_checkpoints(const char *dir, int64_t **steps, int *n, repro_error *err)
{
    *steps = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return repro_fail(err, REPRO_ERR_IO, "cannot read run directory '%s': %s", dir, strerror(errno));
    int cap = 0;
    struct dirent *e;
    repro_status st = REPRO_OK;
    while ((e = readdir(d)) != NULL) {
        long long step;
        char tail[32];
        if (sscanf(e->d_name, "ckpt-%8lld%31s", &step, tail) != 2 || strcmp(tail, ".safetensors") != 0 ||
            strlen(e->d_name) != strlen("ckpt-00000000.safetensors"))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t *bigger = repro_io_realloc(*steps, (size_t)cap * sizeof **steps);
            if (!bigger) {
                st = repro_fail(err, REPRO_ERR_NOMEM, "out of memory listing checkpoints");
                break;
            }
            *steps = bigger;
        }
        (*steps)[(*n)++] = step;
    }
    closedir(d);
    /* newest first (insertion sort: a run keeps a handful) */
    for (int i = 1; i < *n; i++)
        for (int j = i; j > 0 && (*steps)[j] > (*steps)[j - 1]; j--) {
            int64_t t = (*steps)[j];
            (*steps)[j] = (*steps)[j - 1];
            (*steps)[j - 1] = t;
        }
    return st;
}

static void checkpoint_path(const char *dir, int64_t step, char *out, size_t n)
{
    snprintf(out, n, "%s/ckpt-%08lld.safetensors", dir, (long long)step);
}

/* ---- saving ---- */

repro_status repro_checkpoint_save(repro_run *run, int keep, const char *config_sha256,
                                   const repro_ckpt_parts *parts, const repro_train_state *s,
                                   repro_error *err)
{
    const repro_model *m = parts->model;
    int nt = repro_model_n_tensors(m);
    float *buf[GROUPS];
    group_buffers(parts, buf);
    nt = nt > repro_model_n_buffer_tensors(m) ? nt : repro_model_n_buffer_tensors(m);
    repro_named_tensor *t = repro_io_calloc((size_t)(GROUPS * nt) + 1, sizeof *t);
    char (*names)[224] = repro_io_calloc((size_t)(GROUPS * nt) + 1, sizeof *names);
    if (!t || !names) {
        free(t);
        free(names);
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory writing a checkpoint");
    }
    int n = 0;
    repro_sha256 *h = repro_sha256_new();
    for (int g = 0; g < GROUPS; g++) {
        if (!buf[g])
            continue;
        for (int i = 0; i < group_count(m, g); i++) {
            const repro_param_info *p = group_tensor(m, g, i);
            snprintf(names[n], sizeof names[n], "%s.%s", group_names[g], p->name);
            t[n].name = names[n];
            t[n].ndim = p->ndim;
            for (int d = 0; d < p->ndim; d++)
                t[n].shape[d] = p->shape[d];
            t[n].data = buf[g] + p->offset;
            repro_sha256_update(h, t[n].data, (size_t)p->numel * sizeof(float));
            n++;
        }
    }
    char payload[65];
    repro_sha256_final(h, payload);

    char step[24], epoch[24], sie[24], ot[24], seen[24], bad[24], loss[16], best[16], last[16];
    snprintf(step, sizeof step, "%lld", (long long)s->step);
    snprintf(epoch, sizeof epoch, "%lld", (long long)s->epoch);
    snprintf(sie, sizeof sie, "%lld", (long long)s->step_in_epoch);
    snprintf(ot, sizeof ot, "%lld", (long long)parts->optim_steps);
    snprintf(seen, sizeof seen, "%lld", (long long)s->epoch_seen);
    snprintf(bad, sizeof bad, "%d", s->es_bad_epochs);
    float_hex(s->epoch_loss_sum, loss);
    float_hex(s->es_best, best);
    float_hex(s->last_loss, last);
    char meta[65];
    const char *keys[] = {"format", "repro_version", "config_sha256", "payload_sha256", "step", "epoch",
                          "step_in_epoch", "optim_steps", "epoch_loss_sum", "epoch_seen", "es_has_best",
                          "es_best", "es_bad_epochs", "finished", "last_loss", "meta_sha256"};
    const char *values[] = {"repro-checkpoint/2", REPRO_VERSION_STRING, config_sha256, payload, step, epoch,
                            sie, ot, loss, seen, s->es_has_best ? "1" : "0",
                            best, bad, s->finished ? "1" : "0", last, meta};
    enum { N_META = sizeof keys / sizeof *keys };
    meta_pair pairs[N_META];
    for (int i = 0; i < N_META; i++)
        pairs[i] = (meta_pair){keys[i], values[i]};
    char path[REPRO_PATH_MAX + 64];
    checkpoint_path(repro_run_dir(run), s->step, path, sizeof path);
    repro_status st = meta_digest(pairs, N_META - 1, meta, err);
    if (st == REPRO_OK)
        st = repro_safetensors_write(path, t, n, keys, values, N_META, err);
    free(t);
    free(names);
    if (st != REPRO_OK)
        return st;

    /* keep the newest `keep` */
    int64_t *steps;
    int count;
    st = list_checkpoints(repro_run_dir(run), &steps, &count, err);
    for (int i = keep; st == REPRO_OK && i < count; i++) {
        checkpoint_path(repro_run_dir(run), steps[i], path, sizeof path);
        if (unlink(path) != 0 && errno != ENOENT)
            st = repro_fail(err, REPRO_ERR_IO, "cannot remove old checkpoint '%s': %s", path, strerror(errno));
    }
    free(steps);
    return st;
}

/* ---- loading ---- */

static repro_status meta_i64(const repro_safetensors *f, const char *path, const char *key, int64_t *v,
                             repro_error *err)
{
    if (!parse_i64(repro_safetensors_meta(f, key), v))
        return repro_fail(err, REPRO_ERR_FORMAT, "'%s': metadata '%s' is missing or not an integer", path, key);
    return REPRO_OK;
}

static repro_status meta_float(const repro_safetensors *f, const char *path, const char *key, float *v,
                               repro_error *err)
{
    if (!hex_float(repro_safetensors_meta(f, key), v))
        return repro_fail(err, REPRO_ERR_FORMAT, "'%s': metadata '%s' is missing or malformed", path, key);
    return REPRO_OK;
}

/* Whether the metadata checksum holds: checkpoints of the first format have
 * none (their fields are still checked by check_bounds); for the others it
 * must match. */
static repro_status check_meta_digest(const repro_safetensors *f, const char *path, int v1, repro_error *err)
{
    const char *want = repro_safetensors_meta(f, "meta_sha256");
    if (v1 && !want)
        return REPRO_OK;
    int n = repro_safetensors_meta_count(f);
    meta_pair *pairs = repro_io_malloc((size_t)(n > 0 ? n : 1) * sizeof *pairs);
    if (!pairs)
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory reading '%s'", path);
    for (int i = 0; i < n; i++)
        pairs[i] = (meta_pair){repro_safetensors_meta_key(f, i), repro_safetensors_meta_value(f, i)};
    char have[65];
    repro_status st = meta_digest(pairs, n, have, err);
    free(pairs);
    if (st == REPRO_OK && (!want || strcmp(want, have) != 0))
        st = repro_fail(err, REPRO_ERR_FORMAT, "'%s': metadata checksum mismatch (corrupt or edited file)", path);
    return st;
}

/* The integer metadata of a checkpoint, read before they are checked. */
typedef struct ckpt_fields {
    int64_t optim_steps, es_has_best, es_bad_epochs, finished;
} ckpt_fields;

static repro_status out_of_range(const char *path, const char *key, int64_t v, repro_error *err, const char *fmt,
                                 ...) __attribute__((format(printf, 5, 6)));

/* "'PATH': metadata 'KEY' is V; <why>" as a refusal: the checksums held, so
 * the file was made (or edited and re-hashed) to pass. */
static repro_status out_of_range(const char *path, const char *key, int64_t v, repro_error *err, const char *fmt,
                                 ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return repro_fail(err, REPRO_ERR_STATE, "'%s': metadata '%s' is %lld; %s", path, key, (long long)v, why);
}

static int float_is_zero_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u == 0;
}

/* Every field in range and consistent with the others, the config and the
 * data. Checked in an order that keeps every later expression free of
 * overflow (steps, epochs and step_in_epoch are bounded first). */
static repro_status check_bounds(const char *path, const repro_train_state *t, const ckpt_fields *f,
                                 const repro_ckpt_bounds *b, repro_error *err)
{
    if (t->step < 0 || t->step > b->total_steps)
        return out_of_range(path, "step", t->step, err, "it must be in [0, %lld] (the planned steps)",
                            (long long)b->total_steps);
    if (t->epoch < 0 || t->epoch > b->epochs)
        return out_of_range(path, "epoch", t->epoch, err, "it must be in [0, %lld] (epochs)", (long long)b->epochs);
    if (t->step_in_epoch < 0 || t->step_in_epoch >= b->steps_per_epoch)
        return out_of_range(path, "step_in_epoch", t->step_in_epoch, err,
                            "it must be in [0, %lld) (the steps of an epoch)", (long long)b->steps_per_epoch);
    /* the position after step `step`; the last step ends its epoch even
     * when max_steps cuts it short */
    int64_t at = t->epoch * b->steps_per_epoch + t->step_in_epoch;
    if (t->step == b->total_steps && t->step_in_epoch == 0)
        at = t->epoch == (b->total_steps + b->steps_per_epoch - 1) / b->steps_per_epoch ? t->step : -1;
    if (t->step != at)
        return out_of_range(path, "step", t->step, err, "it does not fall at epoch %lld, step_in_epoch %lld "
                            "(%lld steps an epoch)", (long long)t->epoch, (long long)t->step_in_epoch,
                            (long long)b->steps_per_epoch);
    if (f->optim_steps != t->step)
        return out_of_range(path, "optim_steps", f->optim_steps, err, "it must equal step %lld",
                            (long long)t->step);
    int64_t seen = t->step_in_epoch * b->batch_size < b->epoch_len ? t->step_in_epoch * b->batch_size : b->epoch_len;
    if (t->epoch_seen != seen)
        return out_of_range(path, "epoch_seen", t->epoch_seen, err,
                            "step_in_epoch %lld of batch_size %lld makes %lld samples", (long long)t->step_in_epoch,
                            (long long)b->batch_size, (long long)seen);
    if (f->es_has_best != 0 && f->es_has_best != 1)
        return out_of_range(path, "es_has_best", f->es_has_best, err, "it must be 0 or 1");
    if (!b->early_stopping && f->es_has_best)
        return out_of_range(path, "es_has_best", f->es_has_best, err, "early stopping is off");
    if (b->early_stopping && f->es_has_best != (t->epoch > 0))
        return out_of_range(path, "es_has_best", f->es_has_best, err,
                            "early stopping has a best epoch exactly when an epoch ended (epoch %lld)",
                            (long long)t->epoch);
    int64_t max_bad = b->early_stopping ? (t->epoch < b->patience ? t->epoch : b->patience) : 0;
    if (f->es_bad_epochs < 0 || f->es_bad_epochs > max_bad)
        return out_of_range(path, "es_bad_epochs", f->es_bad_epochs, err, "it must be in [0, %lld]%s",
                            (long long)max_bad, b->early_stopping ? " (patience, epochs ended)" : " (early stopping is off)");
    int es_stop = b->early_stopping && t->step_in_epoch == 0 && f->es_bad_epochs >= b->patience;
    int64_t want_finished = t->step == b->total_steps || es_stop;
    if (f->finished != want_finished)
        return out_of_range(path, "finished", f->finished, err,
                            "step %lld of %lld%s means %s", (long long)t->step, (long long)b->total_steps,
                            es_stop ? " after early stopping" : "", want_finished ? "finished (1)" : "not finished (0)");
    if (!isfinite(t->epoch_loss_sum) || (t->step_in_epoch == 0 && !float_is_zero_bits(t->epoch_loss_sum)))
        return repro_fail(err, REPRO_ERR_STATE, "'%s': metadata 'epoch_loss_sum' is %g; it must be finite, and "
                          "+0 at the start of an epoch", path, (double)t->epoch_loss_sum);
    if (!isfinite(t->last_loss) || (t->step == 0 && !float_is_zero_bits(t->last_loss)))
        return repro_fail(err, REPRO_ERR_STATE, "'%s': metadata 'last_loss' is %g; it must be finite (+0 before "
                          "the first step)", path, (double)t->last_loss);
    if (!isfinite(t->es_best) || (!f->es_has_best && !float_is_zero_bits(t->es_best)))
        return repro_fail(err, REPRO_ERR_STATE, "'%s': metadata 'es_best' is %g; it must be finite (+0 without a "
                          "best epoch)", path, (double)t->es_best);
    return REPRO_OK;
}

/* Checks one file completely and, when whole, copies it into parts/s. */
static repro_status load_one(const char *path, const char *config_sha256, const repro_ckpt_bounds *bounds,
                             repro_ckpt_parts *parts, repro_train_state *s, repro_error *err)
{
    repro_safetensors *f;
    repro_status st = repro_safetensors_read(path, &f, err);
    if (st != REPRO_OK)
        return st;
    const char *format = repro_safetensors_meta(f, "format");
    const char *cfg = repro_safetensors_meta(f, "config_sha256");
    const char *payload = repro_safetensors_meta(f, "payload_sha256");
    int v1 = format && strcmp(format, "repro-checkpoint/1") == 0;
    if (!format || (!v1 && strcmp(format, "repro-checkpoint/2") != 0))
        st = repro_fail(err, REPRO_ERR_FORMAT, "'%s' is not a repro checkpoint", path);
    else if (config_sha256 && (!cfg || strcmp(cfg, config_sha256) != 0))
        st = repro_fail(err, REPRO_ERR_STATE, "'%s' belongs to another config (config_sha256 %s, expected %s)",
                        path, cfg ? cfg : "missing", config_sha256);
    const repro_model *m = parts->model;
    float *buf[GROUPS];
    group_buffers(parts, buf);
    int idx[GROUPS][REPRO_MAX_TENSORS];
    repro_sha256 *h = repro_sha256_new();
    if (!h && st == REPRO_OK)
        st = repro_fail(err, REPRO_ERR_NOMEM, "out of memory reading '%s'", path);
    /* every expected tensor present with the right shape, in file order for the checksum */
    for (int g = 0; st == REPRO_OK && g < GROUPS; g++) {
        if (!buf[g])
            continue;
        for (int i = 0; st == REPRO_OK && i < group_count(m, g); i++) {
            const repro_param_info *p = group_tensor(m, g, i);
            char name[224];
            snprintf(name, sizeof name, "%s.%s", group_names[g], p->name);
            int k = repro_safetensors_find(f, name);
            if (k < 0 || repro_safetensors_numel(f, k) != p->numel)
                st = repro_fail(err, REPRO_ERR_FORMAT, "'%s': tensor '%s' is %s", path, name,
                                k < 0 ? "missing" : "of the wrong size");
            else {
                idx[g][i] = k;
                repro_sha256_update(h, repro_safetensors_data(f, k), (size_t)p->numel * sizeof(float));
            }
        }
    }
    char sum[65];
    if (h)
        repro_sha256_final(h, sum);
    if (st == REPRO_OK && (!payload || strcmp(payload, sum) != 0))
        st = repro_fail(err, REPRO_ERR_FORMAT, "'%s': payload checksum mismatch (corrupt file)", path);
    if (st == REPRO_OK)
        st = check_meta_digest(f, path, v1, err);
    repro_train_state t = {0};
    ckpt_fields fl = {0};
    if (st == REPRO_OK) st = meta_i64(f, path, "step", &t.step, err);
    if (st == REPRO_OK) st = meta_i64(f, path, "epoch", &t.epoch, err);
    if (st == REPRO_OK) st = meta_i64(f, path, "step_in_epoch", &t.step_in_epoch, err);
    if (st == REPRO_OK) st = meta_i64(f, path, "optim_steps", &fl.optim_steps, err);
    if (st == REPRO_OK) st = meta_i64(f, path, "epoch_seen", &t.epoch_seen, err);
    if (st == REPRO_OK) st = meta_i64(f, path, "es_has_best", &fl.es_has_best, err);
    if (st == REPRO_OK) st = meta_i64(f, path, "es_bad_epochs", &fl.es_bad_epochs, err);
    if (st == REPRO_OK) st = meta_i64(f, path, "finished", &fl.finished, err);
    if (st == REPRO_OK) st = meta_float(f, path, "epoch_loss_sum", &t.epoch_loss_sum, err);
    if (st == REPRO_OK) st = meta_float(f, path, "es_best", &t.es_best, err);
    if (st == REPRO_OK) st = meta_float(f, path, "last_loss", &t.last_loss, err);
    if (st == REPRO_OK)
        st = check_bounds(path, &t, &fl, bounds, err);
    if (st == REPRO_OK) {
        t.es_has_best = (int)fl.es_has_best;
        t.es_bad_epochs = (int)fl.es_bad_epochs;
        t.finished = (int)fl.finished;
        for (int g = 0; g < GROUPS; g++) {
            if (!buf[g])
                continue;
            for (int i = 0; i < group_count(m, g); i++) {
                const repro_param_info *p = group_tensor(m, g, i);
                memcpy(buf[g] + p->offset, repro_safetensors_data(f, idx[g][i]), (size_t)p->numel * sizeof(float));
            }
        }
        parts->optim_steps = fl.optim_steps;
        *s = t;
    }
    repro_safetensors_free(f);
    return st;
}

repro_status repro_checkpoint_load_newest(const char *dir, const char *config_sha256,
                                          const repro_ckpt_bounds *bounds, repro_ckpt_parts *parts, repro_train_state *s,
                                          char *notes, size_t notes_size, char *path_out,
                                          size_t path_size, repro_error *err)
{
    if (notes && notes_size)
        notes[0] = '\0';
    int64_t *steps;
    int count;
    repro_status st = list_checkpoints(dir, &steps, &count, err);
    if (st != REPRO_OK)
        return st;
    if (count == 0) {
        free(steps);
        return repro_fail(err, REPRO_ERR_STATE, "'%s' has no checkpoint to resume from "
                          "(set checkpoint.every_steps to write them)", dir);
    }
    for (int i = 0; i < count; i++) {
        char path[REPRO_PATH_MAX + 64];
        checkpoint_path(dir, steps[i], path, sizeof path);
        repro_error e;
        repro_status one = load_one(path, config_sha256, bounds, parts, s, &e);
        if (one == REPRO_OK) {
            snprintf(path_out, path_size, "%s", path);
            free(steps);
            return REPRO_OK;
        }
        if (one == REPRO_ERR_STATE || one == REPRO_ERR_NOMEM) { /* another config: no older one will do */
            free(steps);
            *err = e;
            return one;
        }
        if (notes) {
            size_t used = strlen(notes);
            snprintf(notes + used, notes_size - used, "%sskipped %s", used ? "; " : "", e.message);
        }
        if (i + 1 == count) {
            free(steps);
            return repro_fail(err, REPRO_ERR_FORMAT, "no usable checkpoint in '%s': %s", dir,
                              notes ? notes : e.message);
        }
    }
    free(steps);
    return REPRO_ERR_INTERNAL;
}
