/* The run record of a training run: see run_record.h. */
#include "train/run_record.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <glob.h>
#include <unistd.h>

#include "build_info.h"
#include "record/io.h"
#include "repro/data.h"
#include "train/determinism.h"

static void utc_now(char *buf, size_t n, const char *fmt)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, n, fmt, &tm);
}

/* runs/<config file stem>-<UTC time> */
static void default_run_dir(const repro_config *cfg, char *out, size_t n)
{
    const char *base = strrchr(cfg->source_path, '/');
    base = base ? base + 1 : cfg->source_path;
    char stem[REPRO_NAME_MAX];
    size_t len = strlen(base) < sizeof stem - 1 ? strlen(base) : sizeof stem - 1;
    memcpy(stem, base, len);
    stem[len] = '\0';
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem)
        *dot = '\0';
    char when[32];
    utc_now(when, sizeof when, "%Y%m%d-%H%M%S");
    snprintf(out, n, "runs/%s-%s", stem, when);
}

static cJSON *string_array(const char *const *items, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(items[i]));
    return a;
}

static repro_status add_file(cJSON *files, const char *path, repro_error *err)
{
    char hex[65];
    repro_status st = repro_sha256_file(path, hex, err);
    if (st != REPRO_OK)
        return st;
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "path", path);
    cJSON_AddStringToObject(f, "sha256", hex);
    cJSON_AddItemToArray(files, f);
    return REPRO_OK;
}

/* Text: every file the glob matches, in the order they were read. */
static repro_status text_files(const char *pattern, cJSON **out, repro_error *err)
{
    glob_t g;
    if (glob(pattern, GLOB_ERR, NULL, &g) != 0)
        return repro_fail(err, REPRO_ERR_IO, "cannot open '%s': no file matches", pattern);
    cJSON *files = cJSON_CreateArray();
    repro_status st = REPRO_OK;
    for (size_t i = 0; st == REPRO_OK && i < g.gl_pathc; i++)
        st = add_file(files, g.gl_pathv[i], err);
    globfree(&g);
    if (st != REPRO_OK)
        cJSON_Delete(files);
    else
        *out = files;
    return st;
}

repro_status repro_record_vocab(repro_run *run, const uint32_t *vocab, int32_t n, int32_t pad_id, repro_error *err)
{
    char *text = repro_vocab_json(vocab, n, pad_id), path[REPRO_PATH_MAX];
    if (!text)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot serialise the vocabulary");
    repro_atomic_file *w = NULL;
    repro_status st = repro_run_path(run, "vocab.json", path, sizeof path, err);
    if (st == REPRO_OK)
        st = repro_atomic_open(path, &w, err);
    if (st == REPRO_OK && (st = repro_atomic_write(w, text, strlen(text), err)) != REPRO_OK)
        repro_atomic_abort(w);
    else if (st == REPRO_OK)
        st = repro_atomic_commit(w, err);
    char hex[65];
    repro_sha256_hex(text, strlen(text), hex);
    free(text);
    if (st != REPRO_OK)
        return st;
    cJSON *v = cJSON_CreateObject();
    cJSON_AddStringToObject(v, "path", "vocab.json");
    cJSON_AddStringToObject(v, "kind", "characters");
    cJSON_AddNumberToObject(v, "size", n);
    if (pad_id >= 0)
        cJSON_AddNumberToObject(v, "pad_id", pad_id);
    cJSON_AddStringToObject(v, "sha256", hex);
    return repro_run_set_json(run, "vocab", v, err);
}

/* {"path": ..., "sha256": ...} for each data file the config names. */
static repro_status data_files(const repro_data_config *d, int rehash, const char *hash_log, cJSON **out,
                               repro_error *err)
{
    const char *paths[4];
    int n = 0;
    if (d->format == REPRO_DATA_IDX) {
        paths[n++] = d->train_images;
        paths[n++] = d->train_labels;
        if (d->test_images[0])
            paths[n++] = d->test_images;
        if (d->test_labels[0])
            paths[n++] = d->test_labels;
    } else if (d->format == REPRO_DATA_CSV) {
        paths[n++] = d->train_csv;
        if (d->test_csv[0])
            paths[n++] = d->test_csv;
    } else if (d->format == REPRO_DATA_TEXT) {
        return text_files(d->train_text, out, err);
    } else {
        paths[n++] = d->train_x;
        paths[n++] = d->train_y;
        if (d->test_x[0])
            paths[n++] = d->test_x;
        if (d->test_y[0])
            paths[n++] = d->test_y;
    }
    cJSON *files = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        char hex[65];
        int was_read;
        repro_status st = repro_sha256_file_cached(paths[i], rehash, hex, &was_read, err);
        if (st != REPRO_OK) {
            cJSON_Delete(files);
            return st;
        }
        if (was_read && hash_log)
            repro_test_hash_log(hash_log, paths[i]);
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "path", paths[i]);
        cJSON_AddStringToObject(f, "sha256", hex);
        cJSON_AddItemToArray(files, f);
    }
    *out = files;
    return REPRO_OK;
}

/* data.format: memory: {"path": "<memory:train>", "sha256": repro_dataset_sha256}
 * for each data set given, in the place of the files. */
static repro_status given_data(const repro_train_options *opts, cJSON **out, repro_error *err)
{
    const repro_dataset *sets[2] = {opts->train_data, opts->test_data};
    const char *names[2] = {"<memory:train>", "<memory:test>"};
    cJSON *files = cJSON_CreateArray();
    for (int i = 0; i < 2 && sets[i]; i++) {
        char hex[65];
        repro_status st = repro_dataset_sha256(sets[i], hex, err);
        if (st != REPRO_OK) {
            cJSON_Delete(files);
            return st;
        }
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "path", names[i]);
        cJSON_AddStringToObject(f, "sha256", hex);
        cJSON_AddNumberToObject(f, "samples", (double)sets[i]->n);
        cJSON_AddItemToArray(files, f);
    }
    *out = files;
    return REPRO_OK;
}

/* run.json's "init_from": {"path", "sha256"}. */
static repro_status init_from_record(repro_run *run, const char *path, repro_error *err)
{
    char hex[65];
    repro_status st = repro_sha256_file(path, hex, err);
    if (st != REPRO_OK)
        return repro_error_prefix(err, "init.from");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddStringToObject(o, "sha256", hex);
    return repro_run_set_json(run, "init_from", o, err);
}

/* Sets run.json's key unless an earlier step failed (then value is freed). */
static void set(repro_status *st, repro_run *run, const char *key, cJSON *value, repro_error *err)
{
    if (*st == REPRO_OK)
        *st = repro_run_set_json(run, key, value, err);
    else
        cJSON_Delete(value);
}

repro_status repro_record_start(repro_run **run, const repro_config *cfg, const repro_train_options *opts,
                                const repro_test_hooks *hooks,
                                const char *isa, int64_t n_train, int64_t n_val, int64_t n_test,
                                int64_t n_params, repro_error *err)
{
    char dir[REPRO_PATH_MAX];
    if (opts->out_dir)
        snprintf(dir, sizeof dir, "%s", opts->out_dir);
    else
        default_run_dir(cfg, dir, sizeof dir);

    cJSON *files = NULL;
    repro_status st = opts->train_data ? given_data(opts, &files, err)
                                       : data_files(&cfg->data, opts->rehash, hooks->hash_log, &files, err);
    if (st != REPRO_OK)
        return st;
    char *config_text = repro_config_to_json(cfg);
    if (!config_text) {
        cJSON_Delete(files);
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot serialise the config");
    }
    st = repro_run_create(dir, opts->force, run, err);
    if (st != REPRO_OK) {
        cJSON_Delete(files);
        free(config_text);
        return st;
    }
    char config_hash[65];
    repro_sha256_hex(config_text, strlen(config_text), config_hash);

    cJSON *repro = cJSON_CreateObject();
    cJSON_AddStringToObject(repro, "version", REPRO_VERSION_STRING);
    cJSON_AddStringToObject(repro, "git_commit", REPRO_GIT_COMMIT);

    cJSON *data = cJSON_CreateObject();
    cJSON_AddItemToObject(data, "files", files);
    cJSON_AddNumberToObject(data, "n_train", (double)n_train);
    cJSON_AddNumberToObject(data, "n_val", (double)n_val);
    cJSON_AddNumberToObject(data, "n_test", (double)n_test);

    cJSON *execution = cJSON_CreateObject();
    cJSON_AddStringToObject(execution, "device", cfg->device == REPRO_DEVICE_CUDA ? "cuda" : "cpu");
    cJSON_AddStringToObject(execution, "isa", isa);
    cJSON_AddNumberToObject(execution, "threads", repro_config_threads(cfg)); /* threads: 0 resolved */
    cJSON_AddNumberToObject(execution, "loader_workers", cfg->loader.workers);
    cJSON_AddNumberToObject(execution, "loader_prefetch", cfg->loader.prefetch);
    cJSON_AddStringToObject(execution, "sampler", repro_sampler_kind_name(cfg->sampler.name));
    cJSON_AddNumberToObject(execution, "n_params", (double)n_params);

    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)cfg->seed);
    set(&st, *run, "repro", repro, err);
    set(&st, *run, "seed", cJSON_CreateRaw(seed), err);
    char abs_config[4096];
    set(&st, *run, "config_path",
        cJSON_CreateString(realpath(cfg->source_path, abs_config) ? abs_config : cfg->source_path), err);
    set(&st, *run, "overrides", string_array(opts->overrides, opts->n_overrides), err);
    /* where relative --set paths were resolved: a resume loads the
     * overrides from there again, wherever it is started */
    char cwd[4096];
    set(&st, *run, "cwd", getcwd(cwd, sizeof cwd) ? cJSON_CreateString(cwd) : cJSON_CreateNull(), err);
    set(&st, *run, "config_sha256", cJSON_CreateString(config_hash), err);
    set(&st, *run, "config", cJSON_Parse(config_text), err);
    set(&st, *run, "execution", execution, err);
    set(&st, *run, "data", data, err);
    if (st == REPRO_OK && cfg->init.from[0]) /* the starting weights are an input like the data */
        st = init_from_record(*run, cfg->init.from, err);
    set(&st, *run, "env", repro_env_capture(isa), err);
    set(&st, *run, "determinism", repro_determinism_json(cfg), err);
    if (hooks->perturb.step > 0) {
        cJSON *perturb = cJSON_CreateObject();
        cJSON_AddNumberToObject(perturb, "step", (double)hooks->perturb.step);
        cJSON_AddStringToObject(perturb, "tensor", hooks->perturb.tensor);
        cJSON_AddNumberToObject(perturb, "index", (double)hooks->perturb.index);
        set(&st, *run, "test_perturb", perturb, err);
    }
    if (hooks->loader_jitter_us > 0)
        set(&st, *run, "test_loader_jitter_us", cJSON_CreateNumber(hooks->loader_jitter_us), err);
    cJSON *git = repro_git_info(cfg->source_path);
    set(&st, *run, "git", git ? git : cJSON_CreateNull(), err);
    free(config_text);
    if (st != REPRO_OK) {
        repro_error ignored;
        repro_run_finish(*run, "failed", err->message, &ignored);
        *run = NULL;
    }
    return st;
}

static void add_eval(cJSON *o, const char *prefix, const repro_eval_result *r)
{
    if (!r || r->n == 0)
        return;
    char key[64];
    snprintf(key, sizeof key, "%s_loss", prefix);
    cJSON_AddNumberToObject(o, key, r->loss);
    if (r->has_accuracy) {
        snprintf(key, sizeof key, "%s_accuracy", prefix);
        cJSON_AddNumberToObject(o, key, r->accuracy);
        /* the fraction's parts, exact: what a PyTorch loop counts */
        snprintf(key, sizeof key, "%s_correct", prefix);
        cJSON_AddNumberToObject(o, key, (double)r->correct);
        snprintf(key, sizeof key, "%s_total", prefix);
        cJSON_AddNumberToObject(o, key, (double)r->n);
    }
    if (r->has_bits_per_char) {
        snprintf(key, sizeof key, "%s_bits_per_char", prefix);
        cJSON_AddNumberToObject(o, key, r->bits_per_char);
    }
}

repro_status repro_record_epoch(repro_run *run, int epoch, int64_t step, float train_loss, float lr,
                                const repro_eval_result *val, const repro_eval_result *test,
                                double samples_per_sec, double loader_wait_sec, repro_error *err)
{
    cJSON *line = cJSON_CreateObject();
    cJSON_AddNumberToObject(line, "epoch", epoch); /* from 0, as in the ledger */
    cJSON_AddNumberToObject(line, "step", (double)step);
    cJSON_AddNumberToObject(line, "train_loss", train_loss);
    add_eval(line, "val", val);
    add_eval(line, "test", test);
    cJSON_AddNumberToObject(line, "lr", lr);
    cJSON_AddNumberToObject(line, "samples_per_sec", samples_per_sec);
    cJSON_AddNumberToObject(line, "loader_wait_sec", loader_wait_sec);
    return repro_run_metrics(run, line, err);
}

repro_status repro_record_model(repro_run *run, const repro_model *model, const float *params,
                                const float *buffers, const repro_config *cfg, int64_t step, repro_error *err)
{
    int np = repro_model_n_tensors(model), nb = buffers ? repro_model_n_buffer_tensors(model) : 0, n = np + nb;
    repro_named_tensor *t = calloc((size_t)n + 1, sizeof *t);
    if (!t)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the tensor list");
    for (int i = 0; i < n; i++) {
        const repro_param_info *p = i < np ? repro_model_tensor(model, i) : repro_model_buffer_tensor(model, i - np);
        t[i].name = p->name;
        t[i].ndim = p->ndim;
        for (int d = 0; d < p->ndim; d++)
            t[i].shape[d] = p->shape[d];
        t[i].data = (i < np ? params : buffers) + p->offset;
    }
    char *config_text = repro_config_to_json(cfg);
    char config_hash[65] = "";
    if (config_text)
        repro_sha256_hex(config_text, strlen(config_text), config_hash);
    free(config_text);
    char steps[32], seed[32];
    snprintf(steps, sizeof steps, "%lld", (long long)step);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)cfg->seed);
    const char *keys[] = {"format", "repro_version", "config_sha256", "step", "seed"};
    const char *values[] = {"pt", REPRO_VERSION_STRING, config_hash, steps, seed};
    char path[REPRO_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/model.safetensors", repro_run_dir(run));
    repro_status st = repro_safetensors_write(path, t, n, keys, values, 5, err);
    free(t);
    return st;
}

repro_status repro_record_final(repro_run *run, const repro_train_result *res, const repro_eval_result *val,
                                const repro_eval_result *test, int restored_best, repro_error *err)
{
    cJSON *f = cJSON_CreateObject();
    cJSON_AddNumberToObject(f, "step", (double)res->steps);
    cJSON_AddNumberToObject(f, "epochs", res->epochs_run);
    cJSON_AddBoolToObject(f, "stopped_early", res->stopped_early);
    cJSON_AddBoolToObject(f, "restored_best", restored_best);
    char bits[16];
    uint32_t u;
    memcpy(&u, &res->final_loss, 4);
    snprintf(bits, sizeof bits, "0x%08x", u);
    cJSON_AddStringToObject(f, "final_loss", bits);
    cJSON_AddStringToObject(f, "params_sha256", res->params_sha256);
    cJSON_AddStringToObject(f, "optim_sha256", res->optim_sha256);
    cJSON_AddStringToObject(f, "model_sha256", res->model_sha256);
    add_eval(f, "val", val);
    add_eval(f, "test", test);
    cJSON_AddNumberToObject(f, "train_seconds", res->train_seconds);
    cJSON_AddNumberToObject(f, "samples_per_sec", res->samples_per_sec);
    repro_status st = repro_run_set_json(run, "final", f, err);
    if (st == REPRO_OK)
        st = repro_run_set_json(run, "params_sha256", cJSON_CreateString(res->params_sha256), err);
    return st;
}
