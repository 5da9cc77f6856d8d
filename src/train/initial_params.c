/* repro_initial_params (repro/bindings.h): the parameters a config
 * starts from, as the trainer draws (or, with init.from, reads) them. */
#include <stdlib.h>

#include "backend/backend.h"
#include "nn/model.h"
#include "repro/bindings.h"
#include "repro/isa.h"
#include "repro/record.h"
#include "train/init_from.h"

/* The parameters as safetensors, by repro name, in model order. */
static repro_status write_params(repro_model *m, const float *host, const char *path, repro_error *err)
{
    int n = repro_model_n_tensors(m);
    repro_named_tensor *t = calloc((size_t)(n ? n : 1), sizeof *t);
    if (!t)
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        const repro_param_info *p = repro_model_tensor(m, i);
        t[i].name = p->name;
        t[i].ndim = p->ndim;
        for (int d = 0; d < p->ndim; d++)
            t[i].shape[d] = p->shape[d];
        t[i].data = host + p->offset;
    }
    repro_status st = repro_safetensors_write(path, t, n, NULL, NULL, 0, err);
    free(t);
    return st;
}

static repro_status hash_params(repro_model *m, const repro_backend *be, const char *path, char hex[65],
                                repro_error *err)
{
    int64_t np = repro_model_n_params(m);
    float *host = malloc((size_t)(np ? np : 1) * sizeof(float));
    if (!host)
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory for the parameters");
    repro_status st = repro_be_download(be, host, repro_model_params(m), (size_t)np * sizeof(float), err);
    if (st == REPRO_OK)
        repro_sha256_hex(host, (size_t)np * sizeof(float), hex);
    if (st == REPRO_OK && path)
        st = write_params(m, host, path, err);
    free(host);
    return st;
}

repro_status repro_initial_params(const repro_config *cfg, int input, const char *path, char hex[65], repro_error *err)
{
    hex[0] = '\0';
    if (input <= 0)
        input = cfg->model.input;
    if (input <= 0 && cfg->model.n_input_shape == 0)
        return repro_fail(err, REPRO_ERR_ARG, "the model's input size comes from the data: give it (input > 0)");
    repro_isa isa;
    repro_backend *be = NULL;
    repro_model *m = NULL;
    repro_status st = repro_isa_choose(NULL, &isa, err);
    if (st == REPRO_OK)
        st = repro_backend_create_cpu(isa, 1, &be, err);
    if (st == REPRO_OK)
        st = repro_model_create(&cfg->model, cfg->source_path, input, 1, be, &m, err);
    if (st == REPRO_OK)
        st = repro_model_init_params(m, cfg->seed, err);
    if (st == REPRO_OK && cfg->init.from[0])
        st = repro_init_from(m, be, cfg, err);
    if (st == REPRO_OK)
        st = hash_params(m, be, path, hex, err);
    repro_model_free(m);
    if (be)
        repro_backend_destroy(be);
    return st;
}
