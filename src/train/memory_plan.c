/* The memory estimate of a training run: see memory_plan.h. It follows what
 * nn/model.c, optim/optim.c, train/train.c, train/state_hasher.c and
 * data/loader.c allocate; a change there that allocates more should be
 * counted here too. */
#include "train/memory_plan.h"

#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "nn/model.h"

typedef struct walk {
    double params, act, masks, max_width;
    double largest;          /* parameters of the largest layer */
    double widest;
    repro_memory_plan *p;
} walk;

/* One stack of layers from `width` inputs; returns its output width.
 * Per layer: its output y [capacity][out], a dropout mask of bytes, a
 * layernorm's mean and rstd [capacity] (counted per row of capacity). */
static double walk_stack(walk *w, const char *prefix, const repro_layer_config *layers, int n, double width)
{
    for (int i = 0; i < n; i++) {
        const repro_layer_config *L = &layers[i];
        double out = width, params = 0;
        if (L->kind == REPRO_LAYER_LINEAR) {
            out = L->out;
            params = out * width + (L->bias ? out : 0);
            if (params > w->largest) {
                w->largest = params;
                snprintf(w->p->largest_key, sizeof w->p->largest_key, "%s.%d.out", prefix, i);
                snprintf(w->p->largest_what, sizeof w->p->largest_what, "%.0f x %.0f weights", width, out);
            }
        } else if (L->kind == REPRO_LAYER_LAYERNORM) {
            params = 2 * width;
            w->act += 2;
        } else if (L->kind == REPRO_LAYER_DROPOUT) {
            w->masks += out;
        }
        w->params += params;
        w->act += out;
        if (out > w->widest) {
            w->widest = out;
            snprintf(w->p->widest_key, sizeof w->p->widest_key, "%s.%d.out", prefix, i);
        }
        w->max_width = out > w->max_width ? out : w->max_width;
        width = out;
    }
    return width;
}

/* A graph (model.nodes): the model's own plan of shapes, parameters and
 * buffers (nothing allocated). A graph that does not fit is left for
 * repro_model_create to report with its file and line. */
static void graph_estimate(walk *w, const repro_config *cfg, int64_t n_features, double *head_out)
{
    repro_model_estimate e;
    repro_error ignored;
    if (n_features > INT32_MAX || repro_model_estimate_of(&cfg->model, (int)n_features, &e, &ignored) != REPRO_OK)
        return;
    w->params = (double)e.params;
    w->act = e.act_floats;
    w->masks = e.saved_bytes;
    w->max_width = e.widest > w->max_width ? e.widest : w->max_width;
    w->largest = (double)e.largest_params;
    snprintf(w->p->largest_key, sizeof w->p->largest_key, "%s", e.largest_where);
    snprintf(w->p->largest_what, sizeof w->p->largest_what, "%.60s: %lld parameters", e.largest_name,
             (long long)e.largest_params);
    snprintf(w->p->widest_key, sizeof w->p->widest_key, "%s", e.widest_where);
    for (int h = 0; h < cfg->model.n_heads; h++)
        *head_out += 16; /* a head's width is known once built; its loss gradients are small */
}

void repro_memory_plan_make(const repro_config *cfg, int64_t n_features, int64_t epoch_len, int on_device,
                            int resuming, repro_memory_plan *p)
{
    memset(p, 0, sizeof *p);
    walk w = {.max_width = (double)n_features, .p = p};
    const repro_model_config *mc = &cfg->model;
    double trunk_out = 0, head_out = 0;
    if (mc->n_nodes > 0) {
        graph_estimate(&w, cfg, n_features, &head_out);
    } else {
        trunk_out = walk_stack(&w, "model.trunk", mc->trunk, mc->n_trunk, (double)n_features);
        for (int h = 0; h < mc->n_heads; h++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "model.heads.%d.layers", h);
            head_out += walk_stack(&w, prefix, mc->heads[h].layers, mc->heads[h].n_layers, trunk_out);
        }
    }
    double micro = (double)cfg->batch_size / cfg->accum_steps;
    double capacity = micro > cfg->eval_batch_size ? micro : cfg->eval_batch_size;
    const double f = sizeof(float);
    p->params = w.params;

    /* parameter-shaped buffers: params and grads; m (adam, momentum) and v
     * (adam); EMA; the best epoch; the host copy; the hasher's snapshot of
     * params, m and v; on a GPU also the checkpoint mirrors of m, v, EMA
     * and best on the host */
    int adam = cfg->optim.name != REPRO_OPTIM_SGD;
    double optim = (adam || cfg->optim.momentum != 0.0f) + adam;
    double extra = cfg->ema.enabled + cfg->early_stopping.enabled;
    double on_host = 1 + 3 + (on_device ? optim + extra : 0);
    double copies = on_device ? on_host : 2 + optim + extra + on_host;
    p->state_bytes = copies * w.params * f;

    /* activations: each layer's output and masks, the backward ping-pong
     * buffers [2][capacity][widest], the trunk's gradients [2][capacity][trunk
     * out], the heads' loss gradients [micro][out] and the step's losses */
    double act = capacity * ((w.act + 2 * w.max_width + 2 * trunk_out) * f + w.masks) + micro * head_out * f +
                 (double)cfg->batch_size * mc->n_heads * f;
    p->act_bytes = on_device ? 0 : act;

    /* the loader's prefetched micro-batches and the evaluation batch (rows
     * of features), the epoch order and rows, the training labels, and on
     * resume a checkpoint file read whole and its values */
    double batches = (cfg->loader.prefetch * micro + cfg->eval_batch_size) * ((double)n_features + 4) * f;
    double order = (double)epoch_len * 3 * 4;
    double ckpt = resuming ? 2 * (1 + optim + extra) * w.params * f : 0;
    p->data_bytes = batches + order + ckpt;
    p->total_bytes = p->state_bytes + p->act_bytes + p->data_bytes;
}

/* A number from a file such as memory.max ("max" or bytes); < 0 if none. */
static double read_number(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    double v = -1;
    char word[64];
    if (fscanf(fp, "%63s", word) == 1 && strcmp(word, "max") != 0)
        sscanf(word, "%lf", &v);
    fclose(fp);
    return v;
}

/* KEY's value in kB from a /proc file of "Key:   123 kB" lines, in bytes; < 0 if absent. */
static double read_kb(const char *path, const char *key)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    char line[256];
    double v = -1;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, fp))
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            v = 1024.0 * strtod(line + n + 1, NULL);
            break;
        }
    fclose(fp);
    return v;
}

static void least(double *best, double v)
{
    if (v >= 0 && (*best < 0 || v < *best))
        *best = v;
}

double repro_memory_available(void)
{
    double avail = read_kb("/proc/meminfo", "MemAvailable");
    double max = read_number("/sys/fs/cgroup/memory.max"), cur = read_number("/sys/fs/cgroup/memory.current");
    if (max >= 0 && cur >= 0)
        least(&avail, max > cur ? max - cur : 0);
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        double used = read_kb("/proc/self/status", "VmSize");
        least(&avail, used >= 0 && (double)rl.rlim_cur > used ? (double)rl.rlim_cur - used : 0);
    }
    if (getrlimit(RLIMIT_DATA, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        double used = read_kb("/proc/self/status", "VmData");
        least(&avail, used >= 0 && (double)rl.rlim_cur > used ? (double)rl.rlim_cur - used : 0);
    }
    return avail;
}

repro_status repro_memory_plan_check(const repro_memory_plan *p, const repro_config *cfg, double available,
                                     repro_error *err)
{
    const double gib = 1024.0 * 1024.0 * 1024.0, limit = 4611686018427387904.0; /* 2^62 bytes */
    if (p->total_bytes <= limit && (available < 0 || p->total_bytes <= available))
        return REPRO_OK;
    /* name what to make smaller: the activations' batch, or the largest layer */
    char change[320];
    if (p->act_bytes > p->state_bytes)
        snprintf(change, sizeof change, "make batch_size (%d) or eval_batch_size (%d) or %s smaller",
                 cfg->batch_size, cfg->eval_batch_size, p->widest_key);
    else
        snprintf(change, sizeof change, "make %s smaller (%s)", p->largest_key, p->largest_what);
    char have[96];
    if (p->total_bytes > limit)
        snprintf(have, sizeof have, "more than 64-bit sizes can count");
    else
        snprintf(have, sizeof have, "but this machine has %.1f GiB available", available / gib);
    return repro_fail(err, REPRO_ERR_CONFIG,
                      "the model needs about %.1f GiB of memory (%.0f parameters: %.1f GiB for them, their "
                      "gradients, optimiser state and copies; %.1f GiB of activations for batches of %d; "
                      "%.1f GiB for data), %s: %s",
                      p->total_bytes / gib, p->params, p->state_bytes / gib, p->act_bytes / gib, cfg->batch_size,
                      p->data_bytes / gib, have, change);
}
