/* repro_export_torch: a run's weights under the names of a PyTorch
 * nn.Sequential, and the module's code (repro/export.h). The model's layers
 * are walked in order; each becomes one module (two for global_avg_pool
 * and reshape), numbered from 0, and its tensors "<module>.weight", ... */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "repro/config.h"
#include "repro/export.h"
#include "repro/record.h"
#include "record/torch_names.h"

/* A growing string; oom latches so callers check once at the end. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    int oom;
} sbuf;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
}

typedef struct exporter {
    const repro_safetensors *st; /* NULL: a dry walk, collecting names only (repro_torch_names) */
    int n_st;                    /* dry: room in out, names and repro */
    char (*repro)[REPRO_NAME_MAX * 3]; /* dry: the repro name of each out */
    repro_named_tensor *out; /* [n_st] */
    char (*names)[REPRO_NAME_MAX * 3];
    int *used;               /* [n_st] */
    int n_out;
    int module;              /* the next module's index */
    sbuf code;
} exporter;

static const char *jstr(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return s ? s : "";
}

static int jint(const cJSON *o, const char *key)
{
    return (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static double jnum(const cJSON *o, const char *key)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* prefix.what as module.what; *shape its shape (NULL when absent and optional). */
static repro_status take(exporter *x, const char *prefix, const char *what, int required, const int64_t **shape,
                         int *ndim, repro_error *err)
{
    char name[REPRO_NAME_MAX * 3];
    snprintf(name, sizeof name, "%s.%s", prefix, what);
    if (!x->st) { /* dry: weight and bias both, whether or not the layer has a bias */
        static const int64_t ones[REPRO_SAFETENSORS_MAX_DIMS] = {1, 1, 1, 1};
        if (x->n_out >= x->n_st)
            return repro_fail(err, REPRO_ERR_INTERNAL, "more than %d parameter tensors", x->n_st);
        snprintf(x->names[x->n_out], sizeof x->names[0], "%d.%s", x->module, what);
        snprintf(x->repro[x->n_out], sizeof x->repro[0], "%s", name);
        x->n_out++;
        *shape = ones;
        *ndim = REPRO_SAFETENSORS_MAX_DIMS;
        return REPRO_OK;
    }
    int i = repro_safetensors_find(x->st, name);
    *shape = NULL;
    if (i < 0)
        return required ? repro_fail(err, REPRO_ERR_FORMAT, "model.safetensors has no tensor '%s'", name) : REPRO_OK;
    if (x->used[i] || x->n_out >= x->n_st)
        return repro_fail(err, REPRO_ERR_FORMAT, "model.safetensors tensor '%s' belongs to two layers", name);
    repro_named_tensor *t = &x->out[x->n_out];
    snprintf(x->names[x->n_out], sizeof x->names[0], "%d.%s", x->module, what);
    t->name = x->names[x->n_out];
    t->ndim = repro_safetensors_ndim(x->st, i);
    memcpy(t->shape, repro_safetensors_shape(x->st, i), (size_t)t->ndim * sizeof(int64_t));
    t->data = repro_safetensors_data(x->st, i);
    x->used[i] = 1;
    x->n_out++;
    *shape = t->shape;
    *ndim = t->ndim;
    return REPRO_OK;
}

/* One module line: "    nn.X(...),  # N <- where". */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void module(exporter *x, const char *where, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    sb_printf(&x->code, "    %s,  # %d <- %s\n", text, x->module++, where);
}

static repro_status emit_linear(exporter *x, const char *prefix, repro_error *err)
{
    const int64_t *w, *b;
    int nd;
    repro_status st = take(x, prefix, "weight", 1, &w, &nd, err);
    if (!st)
        st = take(x, prefix, "bias", 0, &b, &nd, err);
    if (!st)
        module(x, prefix, "nn.Linear(%lld, %lld, bias=%s)", (long long)w[1], (long long)w[0], b ? "True" : "False");
    return st;
}

static repro_status emit_conv(exporter *x, const cJSON *l, const char *prefix, repro_error *err)
{
    const int64_t *w, *b;
    int nd;
    repro_status st = take(x, prefix, "weight", 1, &w, &nd, err);
    if (!st)
        st = take(x, prefix, "bias", 0, &b, &nd, err);
    if (st)
        return st;
    int groups = jint(l, "groups") > 0 ? jint(l, "groups") : 1, stride = jint(l, "stride") > 0 ? jint(l, "stride") : 1;
    int dilation = jint(l, "dilation") > 0 ? jint(l, "dilation") : 1;
    module(x, prefix,
           "nn.Conv2d(%lld, %lld, kernel_size=(%lld, %lld), stride=%d, padding=%d, dilation=%d, groups=%d, bias=%s)",
           (long long)w[1] * groups, (long long)w[0], (long long)w[2], (long long)w[3], stride, jint(l, "padding"),
           dilation, groups, b ? "True" : "False");
    return REPRO_OK;
}

static void emit_pool(exporter *x, const cJSON *l, const char *prefix, const char *kind)
{
    int kh = jint(l, "kernel"), kw = jint(l, "kernel_w") > 0 ? jint(l, "kernel_w") : kh;
    int stride = jint(l, "stride");
    char s[64];
    if (stride > 0)
        snprintf(s, sizeof s, "(%d, %d)", stride, stride);
    else
        snprintf(s, sizeof s, "(%d, %d)", kh, kw); /* default: the kernel */
    if (!strcmp(kind, "max_pool2d"))
        module(x, prefix, "nn.MaxPool2d(kernel_size=(%d, %d), stride=%s, padding=%d)", kh, kw, s, jint(l, "padding"));
    else /* repro divides by the whole window, padding included */
        module(x, prefix, "nn.AvgPool2d(kernel_size=(%d, %d), stride=%s, padding=%d, count_include_pad=True)", kh, kw,
               s, jint(l, "padding"));
}

/* layernorm / group_norm: weight and bias ([C], or the normalised shape). */
static repro_status emit_norm(exporter *x, const cJSON *l, const char *prefix, const char *kind, repro_error *err)
{
    const int64_t *w, *b;
    int nd, nb;
    repro_status st = take(x, prefix, "weight", 1, &w, &nd, err);
    if (!st)
        st = take(x, prefix, "bias", 1, &b, &nb, err);
    if (st)
        return st;
    if (!strcmp(kind, "group_norm")) {
        module(x, prefix, "nn.GroupNorm(%d, %lld, eps=%.9g)", jint(l, "groups"), (long long)w[0], jnum(l, "eps"));
        return REPRO_OK;
    }
    char shape[128] = "";
    for (int i = 0; i < nd; i++)
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%lld, ", (long long)w[i]);
    module(x, prefix, "nn.LayerNorm((%s), eps=%.9g)", shape, jnum(l, "eps"));
    return REPRO_OK;
}

static repro_status emit_layer(exporter *x, const cJSON *l, const char *prefix, repro_error *err)
{
    const char *kind = jstr(l, "type");
    /* the activations' modules come from their rows in repro/layer_kinds.h */
#define TORCH_MODULE(ID, name, reads, module) {#name, module},
#define NO_MODULE(...)
    static const char *const simple[][2] = {REPRO_LAYER_KINDS(NO_MODULE, TORCH_MODULE, NO_MODULE){"flatten", "nn.Flatten()"}};
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        if (!strcmp(kind, simple[i][0])) {
            module(x, prefix, "%s", simple[i][1]);
            return REPRO_OK;
        }
    if (!strcmp(kind, "linear"))
        return emit_linear(x, prefix, err);
    if (!strcmp(kind, "conv2d"))
        return emit_conv(x, l, prefix, err);
    if (!strcmp(kind, "dropout")) {
        module(x, prefix, "nn.Dropout(p=%.9g)", jnum(l, "p"));
        return REPRO_OK;
    }
    if (!strcmp(kind, "max_pool2d") || !strcmp(kind, "avg_pool2d")) {
        emit_pool(x, l, prefix, kind);
        return REPRO_OK;
    }
    if (!strcmp(kind, "global_avg_pool")) {
        module(x, prefix, "nn.AdaptiveAvgPool2d(1)");
        module(x, prefix, "nn.Flatten()");
        return REPRO_OK;
    }
    if (!strcmp(kind, "layernorm") || !strcmp(kind, "group_norm"))
        return emit_norm(x, l, prefix, kind, err);
    if (!strcmp(kind, "reshape")) {
        char shape[128] = "";
        const cJSON *d;
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(l, "shape"))
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%d, ", (int)cJSON_GetNumberValue(d));
        module(x, prefix, "nn.Flatten()");
        module(x, prefix, "nn.Unflatten(1, (%s))", shape);
        return REPRO_OK;
    }
    if (!strcmp(kind, "batch_norm"))
        return repro_fail(err, REPRO_ERR_UNSUPPORTED,
                          "%s is batch_norm: its statistics over fixed groups of %d samples have no PyTorch module, "
                          "so the model has no nn.Sequential equivalent", prefix, jint(l, "group_size"));
    return repro_fail(err, REPRO_ERR_UNSUPPORTED, "%s is %s: the model has no nn.Sequential equivalent", prefix, kind);
}

/* model.nodes as a chain: each node reads the one before it. */
static repro_status emit_nodes(exporter *x, const cJSON *nodes, const char *head_input, repro_error *err)
{
    const char *prev = "input";
    const cJSON *n;
    cJSON_ArrayForEach(n, nodes) {
        const char *name = jstr(n, "name"), *kind = jstr(n, "type");
        const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(n, "inputs");
        int n_in = cJSON_GetArraySize(inputs);
        if (!strcmp(kind, "add") || !strcmp(kind, "concat") || n_in > 1)
            return repro_fail(err, REPRO_ERR_UNSUPPORTED,
                              "node '%s' (%s) joins %d inputs: a branching graph has no nn.Sequential equivalent",
                              name, kind, n_in > 1 ? n_in : 2);
        const char *in = n_in == 1 ? cJSON_GetStringValue(cJSON_GetArrayItem(inputs, 0)) : prev;
        if (!in || strcmp(in, prev) != 0)
            return repro_fail(err, REPRO_ERR_UNSUPPORTED,
                              "node '%s' reads '%s', not the node before it ('%s'): a branching graph has no "
                              "nn.Sequential equivalent", name, in ? in : "?", prev);
        repro_status st = emit_layer(x, n, name, err);
        if (st)
            return st;
        prev = name;
    }
    if (head_input[0] && strcmp(head_input, prev) != 0)
        return repro_fail(err, REPRO_ERR_UNSUPPORTED,
                          "the head reads node '%s', not the last node '%s': the model has no nn.Sequential "
                          "equivalent", head_input, prev);
    return REPRO_OK;
}

static repro_status emit_model(exporter *x, const cJSON *model, repro_error *err)
{
    const cJSON *heads = cJSON_GetObjectItemCaseSensitive(model, "heads");
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(model, "nodes");
    int n_heads = cJSON_GetArraySize(heads);
    if (n_heads != 1)
        return repro_fail(err, REPRO_ERR_UNSUPPORTED,
                          "the model has %d heads: a model with several outputs has no nn.Sequential equivalent",
                          n_heads);
    const cJSON *head = cJSON_GetArrayItem(heads, 0);
    repro_status st = REPRO_OK;
    char prefix[REPRO_NAME_MAX * 2];
    if (cJSON_GetArraySize(nodes) > 0) {
        st = emit_nodes(x, nodes, jstr(head, "input"), err);
    } else {
        int i = 0;
        const cJSON *l;
        cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(model, "trunk")) {
            snprintf(prefix, sizeof prefix, "trunk.%d", i++);
            if ((st = emit_layer(x, l, prefix, err)))
                return st;
        }
    }
    int j = 0;
    const cJSON *l;
    cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(head, "layers")) {
        if (st)
            break;
        snprintf(prefix, sizeof prefix, "heads.%s.%d", jstr(head, "name"), j++);
        st = emit_layer(x, l, prefix, err);
    }
    return st;
}

/* Every tensor of model.safetensors must have found its module. */
static repro_status check_all_used(const exporter *x, repro_error *err)
{
    for (int i = 0; i < x->n_st; i++)
        if (!x->used[i])
            return repro_fail(err, REPRO_ERR_UNSUPPORTED, "model.safetensors tensor '%s' belongs to no layer of the "
                                                          "exported model", repro_safetensors_name(x->st, i));
    return REPRO_OK;
}

static repro_status write_out(exporter *x, const char *run_dir, const char *out_path, const cJSON *record,
                              repro_error *err)
{
    cJSON *names = cJSON_CreateObject();
    for (int i = 0; i < x->n_out; i++)
        for (int k = 0; k < x->n_st; k++)
            if (repro_safetensors_data(x->st, k) == x->out[i].data)
                cJSON_AddStringToObject(names, x->out[i].name, repro_safetensors_name(x->st, k));
    char *names_text = cJSON_PrintUnformatted(names);
    cJSON_Delete(names);
    const char *params = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(record, "params_sha256"));
    const char *keys[] = {"format", "repro_run", "params_sha256", "repro_names"};
    const char *values[] = {"pt", run_dir, params ? params : "", names_text ? names_text : "{}"};
    repro_status st = names_text ? repro_safetensors_write(out_path, x->out, x->n_out, keys, values, 4, err)
                                 : repro_fail(err, REPRO_ERR_NOMEM, "out of memory");
    free(names_text);
    return st;
}

static repro_status export_loaded(exporter *x, const char *run_dir, const char *out_path, const cJSON *record,
                                  char **module_code, repro_error *err)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(record, "config"), "model");
    if (!cJSON_IsObject(model))
        return repro_fail(err, REPRO_ERR_FORMAT, "%s/run.json has no config.model", run_dir);
    sb_printf(&x->code,
              "# PyTorch module for the run %s (repro export --format torch).\n"
              "# Load the exported state_dict into it:\n"
              "#   from safetensors.torch import load_file; model.load_state_dict(load_file(\"%s\"))\n"
              "# or, without PyPI's safetensors: repro.Run(\"%s\").load_into(model)\n"
              "import torch.nn as nn\n\nmodel = nn.Sequential(\n",
              run_dir, out_path, run_dir);
    repro_status st = emit_model(x, model, err);
    if (!st)
        st = check_all_used(x, err);
    sb_printf(&x->code, ")\n");
    if (!st && x->code.oom)
        st = repro_fail(err, REPRO_ERR_NOMEM, "out of memory");
    if (!st)
        st = write_out(x, run_dir, out_path, record, err);
    if (st)
        return st;
    *module_code = x->code.s;
    x->code.s = NULL;
    return REPRO_OK;
}

repro_status repro_torch_names(const char *config_json, int max, char (*torch)[REPRO_NAME_MAX * 3],
                               char (*repro)[REPRO_NAME_MAX * 3], int *n, repro_error *err)
{
    *n = 0;
    cJSON *cfg = cJSON_Parse(config_json);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(cfg, "model");
    if (!cJSON_IsObject(model)) {
        cJSON_Delete(cfg);
        return repro_fail(err, REPRO_ERR_FORMAT, "a config without a model");
    }
    exporter x = {.st = NULL, .n_st = max, .names = torch, .repro = repro};
    repro_status st = emit_model(&x, model, err);
    *n = st ? 0 : x.n_out;
    free(x.code.s);
    cJSON_Delete(cfg);
    return st;
}

repro_status repro_export_torch(const char *run_dir, const char *out_path, char **module_code, repro_error *err)
{
    *module_code = NULL;
    char path[REPRO_PATH_MAX + 32];
    cJSON *record = NULL;
    repro_safetensors *st_file = NULL;
    snprintf(path, sizeof path, "%s/run.json", run_dir);
    repro_status st = repro_json_read_file(path, &record, err);
    if (!st) {
        snprintf(path, sizeof path, "%s/model.safetensors", run_dir);
        st = repro_safetensors_read(path, &st_file, err);
    }
    if (st) {
        cJSON_Delete(record);
        return st;
    }
    exporter x = {.st = st_file, .n_st = repro_safetensors_count(st_file)};
    int n = x.n_st > 0 ? x.n_st : 1;
    x.out = calloc((size_t)n, sizeof *x.out);
    x.names = calloc((size_t)n, sizeof *x.names);
    x.used = calloc((size_t)n, sizeof *x.used);
    if (!x.out || !x.names || !x.used)
        st = repro_fail(err, REPRO_ERR_NOMEM, "out of memory");
    else
        st = export_loaded(&x, run_dir, out_path, record, module_code, err);
    free(x.out);
    free(x.names);
    free(x.used);
    free(x.code.s);
    repro_safetensors_free(st_file);
    cJSON_Delete(record);
    return st;
}
