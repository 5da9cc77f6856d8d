/* Checkpoints: see checkpoint.h. Tensor names in the file:
 *   params.<tensor>, optim.m.<tensor>, optim.v.<tensor>, ema.<tensor>, best.<tensor>
 * (<tensor> as in model.safetensors, e.g. trunk.0.weight), and
 * buffers.<buffer> for running statistics (e.g. buffers.bn1.running_mean). */
#include "train/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_info.h"

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
            int64_t *bigger = realloc(*steps, (size_t)cap * sizeof **steps);
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
    repro_named_tensor *t = calloc((size_t)(GROUPS * nt) + 1, sizeof *t);
    char (*names)[224] = calloc((size_t)(GROUPS * nt) + 1, sizeof *names);
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
    const char *keys[] = {"format", "repro_version", "config_sha256", "payload_sha256", "step", "epoch",
                          "step_in_epoch", "optim_steps", "epoch_loss_sum", "epoch_seen", "es_has_best",
                          "es_best", "es_bad_epochs", "finished", "last_loss"};
    const char *values[] = {"repro-checkpoint/1", REPRO_VERSION_STRING, config_sha256, payload, step, epoch,
                            sie, ot, loss, seen, s->es_has_best ? "1" : "0",
                            best, bad, s->finished ? "1" : "0", last};
    char path[REPRO_PATH_MAX + 64];
    checkpoint_path(repro_run_dir(run), s->step, path, sizeof path);
    repro_status st = repro_safetensors_write(path, t, n, keys, values, (int)(sizeof keys / sizeof *keys), err);
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

/* Checks one file completely and, when whole, copies it into parts/s. */
static repro_status load_one(const char *path, const char *config_sha256, repro_ckpt_parts *parts,
                             repro_train_state *s, repro_error *err)
{
    repro_safetensors *f;
    repro_status st = repro_safetensors_read(path, &f, err);
    if (st != REPRO_OK)
        return st;
    const char *format = repro_safetensors_meta(f, "format");
    const char *cfg = repro_safetensors_meta(f, "config_sha256");
    const char *payload = repro_safetensors_meta(f, "payload_sha256");
    if (!format || strcmp(format, "repro-checkpoint/1") != 0)
        st = repro_fail(err, REPRO_ERR_FORMAT, "'%s' is not a repro checkpoint", path);
    else if (config_sha256 && (!cfg || strcmp(cfg, config_sha256) != 0))
        st = repro_fail(err, REPRO_ERR_STATE, "'%s' belongs to another config (config_sha256 %s, expected %s)",
                        path, cfg ? cfg : "missing", config_sha256);
    const repro_model *m = parts->model;
    float *buf[GROUPS];
    group_buffers(parts, buf);
    int idx[GROUPS][REPRO_MAX_TENSORS];
    repro_sha256 *h = repro_sha256_new();
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
    repro_sha256_final(h, sum);
    if (st == REPRO_OK && (!payload || strcmp(payload, sum) != 0))
        st = repro_fail(err, REPRO_ERR_FORMAT, "'%s': payload checksum mismatch (corrupt file)", path);
    repro_train_state t = {0};
    int64_t ot = 0, has_best = 0, bad = 0, fin = 0;
    if (st == REPRO_OK) st = meta_i64(f, path, "step", &t.step, err);
    if (st == REPRO_OK) st = meta_i64(f, path, "epoch", &t.epoch, err);
    if (st == REPRO_OK) st = meta_i64(f, path, "step_in_epoch", &t.step_in_epoch, err);
    if (st == REPRO_OK) st = meta_i64(f, path, "optim_steps", &ot, err);
    if (st == REPRO_OK) st = meta_i64(f, path, "epoch_seen", &t.epoch_seen, err);
    if (st == REPRO_OK) st = meta_i64(f, path, "es_has_best", &has_best, err);
    if (st == REPRO_OK) st = meta_i64(f, path, "es_bad_epochs", &bad, err);
    if (st == REPRO_OK) st = meta_i64(f, path, "finished", &fin, err);
    if (st == REPRO_OK) st = meta_float(f, path, "epoch_loss_sum", &t.epoch_loss_sum, err);
    if (st == REPRO_OK) st = meta_float(f, path, "es_best", &t.es_best, err);
    if (st == REPRO_OK) st = meta_float(f, path, "last_loss", &t.last_loss, err);
    if (st == REPRO_OK) {
        t.es_has_best = (int)has_best;
        t.es_bad_epochs = (int)bad;
        t.finished = (int)fin;
        for (int g = 0; g < GROUPS; g++) {
            if (!buf[g])
                continue;
            for (int i = 0; i < group_count(m, g); i++) {
                const repro_param_info *p = group_tensor(m, g, i);
                memcpy(buf[g] + p->offset, repro_safetensors_data(f, idx[g][i]), (size_t)p->numel * sizeof(float));
            }
        }
        parts->optim_steps = ot;
        *s = t;
    }
    repro_safetensors_free(f);
    return st;
}

repro_status repro_checkpoint_load_newest(const char *dir, const char *config_sha256,
                                          repro_ckpt_parts *parts, repro_train_state *s,
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
        repro_status one = load_one(path, config_sha256, parts, s, &e);
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
