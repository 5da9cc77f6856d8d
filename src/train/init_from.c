/* init.from (init_from.h): a file's tensors as the starting parameters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/torch_names.h"
#include "repro/record.h"
#include "train/init_from.h"

enum { MAX_PAIRS = 2 * REPRO_MAX_TENSORS, NAME = REPRO_NAME_MAX * 3 };

typedef struct names {
    char (*torch)[NAME], (*repro)[NAME];
    int n;
} names;

static void shape_text(const int64_t *shape, int ndim, char *out, size_t size)
{
    size_t len = (size_t)snprintf(out, size, "[");
    for (int i = 0; i < ndim && len < size; i++)
        len += (size_t)snprintf(out + len, size - len, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (len < size)
        snprintf(out + len, size - len, "]");
}

/* The file's index of the tensor for the model's name: by repro name, else by its export name. */
static int find(const repro_safetensors *sf, const names *nm, const char *name)
{
    int i = repro_safetensors_find(sf, name);
    for (int k = 0; i < 0 && k < nm->n; k++)
        if (!strcmp(nm->repro[k], name))
            i = repro_safetensors_find(sf, nm->torch[k]);
    return i;
}

static repro_status copy_tensor(const repro_safetensors *sf, int i, const repro_param_info *t, const char *path,
                                float *dst, repro_error *err)
{
    const int64_t *fs = repro_safetensors_shape(sf, i);
    int fnd = repro_safetensors_ndim(sf, i);
    int same = fnd == t->ndim;
    for (int d = 0; same && d < fnd; d++)
        same = fs[d] == t->shape[d];
    if (!same) {
        char a[96], b[96];
        shape_text(fs, fnd, a, sizeof a);
        shape_text(t->shape, t->ndim, b, sizeof b);
        return repro_fail(err, REPRO_ERR_CONFIG, "init.from '%s': tensor '%s' has shape %s in the file but %s in the model",
                          path, repro_safetensors_name(sf, i), a, b);
    }
    memcpy(dst + t->offset, repro_safetensors_data(sf, i), (size_t)t->numel * sizeof(float));
    return REPRO_OK;
}

static repro_status fill(const repro_safetensors *sf, const names *nm, repro_model *m, const char *path, float *params,
                         float *buffers, int *used, repro_error *err)
{
    for (int k = 0; k < repro_model_n_tensors(m); k++) {
        const repro_param_info *t = repro_model_tensor(m, k);
        int i = find(sf, nm, t->name);
        if (i < 0) {
            char s[96];
            shape_text(t->shape, t->ndim, s, sizeof s);
            return repro_fail(err, REPRO_ERR_CONFIG, "init.from '%s': the model's tensor '%s' %s is not in the file",
                              path, t->name, s);
        }
        repro_status st = copy_tensor(sf, i, t, path, params, err);
        if (st)
            return st;
        used[i] = 1;
    }
    for (int k = 0; k < repro_model_n_buffer_tensors(m); k++) { /* running statistics: optional */
        const repro_param_info *t = repro_model_buffer_tensor(m, k);
        int i = find(sf, nm, t->name);
        if (i < 0)
            continue;
        repro_status st = copy_tensor(sf, i, t, path, buffers, err);
        if (st)
            return st;
        used[i] = 1;
    }
    for (int i = 0; i < repro_safetensors_count(sf); i++)
        if (!used[i])
            return repro_fail(err, REPRO_ERR_CONFIG, "init.from '%s': the file's tensor '%s' is no tensor of the model",
                              path, repro_safetensors_name(sf, i));
    return REPRO_OK;
}

/* The export names of cfg's model, when it has an nn.Sequential equivalent (else none). */
static void export_names(const repro_config *cfg, names *nm)
{
    nm->n = 0;
    char *json = repro_config_to_json(cfg);
    repro_error ignored;
    if (json && nm->torch && nm->repro)
        repro_torch_names(json, MAX_PAIRS, nm->torch, nm->repro, &nm->n, &ignored);
    free(json);
}

repro_status repro_init_from(repro_model *m, const repro_backend *be, const repro_config *cfg, repro_error *err)
{
    const char *path = cfg->init.from;
    repro_safetensors *sf = NULL;
    repro_status st = repro_safetensors_read(path, &sf, err);
    if (st)
        return repro_error_prefix(err, "init.from");
    int64_t np = repro_model_n_params(m), nb = repro_model_n_buffers(m);
    names nm = {.torch = calloc(MAX_PAIRS, NAME), .repro = calloc(MAX_PAIRS, NAME)};
    float *params = malloc((size_t)(np ? np : 1) * sizeof(float));
    float *buffers = calloc((size_t)(nb ? nb : 1), sizeof(float));
    int *used = calloc((size_t)repro_safetensors_count(sf) + 1, sizeof(int));
    if (!params || !buffers || !used || !nm.torch || !nm.repro)
        st = repro_fail(err, REPRO_ERR_NOMEM, "init.from: out of memory");
    if (!st && nb) /* the running statistics the file lacks keep their initial values */
        st = repro_be_download(be, buffers, repro_model_buffers(m), (size_t)nb * sizeof(float), err);
    if (!st) {
        export_names(cfg, &nm);
        st = fill(sf, &nm, m, path, params, buffers, used, err);
    }
    if (!st)
        st = repro_be_upload(be, repro_model_params(m), params, (size_t)np * sizeof(float), err);
    if (!st && nb)
        st = repro_be_upload(be, repro_model_buffers(m), buffers, (size_t)nb * sizeof(float), err);
    free(nm.torch);
    free(nm.repro);
    free(params);
    free(buffers);
    free(used);
    repro_safetensors_free(sf);
    return st;
}
