/* What is not bit-exact, and the determinism policy: see determinism.h. */
#include "train/determinism.h"

#include <stdio.h>

/* One operation without an exact implementation: its name in run.json,
 * the config key that asked for it, and what goes wrong. */
typedef struct not_exact {
    const char *name; /* "linear: OpenBLAS sgemm" */
    const char *key;  /* "mode: fast" */
    const char *would; /* "linear layers would use OpenBLAS sgemm" (strict's refusal) */
    const char *does;  /* "linear layers use OpenBLAS sgemm" (warn) */
    const char *why;  /* "which is not bit-exact across thread counts or machines" */
} not_exact;

enum { MAX_NOT_EXACT = 4 };

/* Every such operation cfg asks for; returns how many. */
static int list_not_exact(const repro_config *cfg, not_exact out[MAX_NOT_EXACT])
{
    int n = 0;
    if (cfg->mode == REPRO_MODE_FAST && cfg->device == REPRO_DEVICE_CPU)
        out[n++] = (not_exact){"linear: OpenBLAS sgemm", "mode: fast", "linear layers would use OpenBLAS sgemm",
                               "linear layers use OpenBLAS sgemm", "which is not bit-exact across thread counts or machines"};
    if (cfg->mode == REPRO_MODE_FAST && cfg->device == REPRO_DEVICE_CUDA) {
        out[n++] = (not_exact){"linear: cuBLAS SGEMM", "mode: fast", "linear layers would use cuBLAS SGEMM",
                               "linear layers use cuBLAS SGEMM",
                               "which is not bit-exact across GPUs, cuBLAS versions or against the CPU"};
        out[n++] = (not_exact){"linear bias gradient: atomicAdd", "mode: fast",
                               "bias gradients would be summed with atomic adds",
                               "bias gradients are summed with atomic adds",
                               "whose order changes from run to run"};
    }
    if (cfg->allow_tf32)
        out[n++] = (not_exact){"linear: TF32 tensor cores", "allow_tf32: true",
                               "cuBLAS would use TF32 tensor cores", "cuBLAS uses TF32 tensor cores",
                               "which round each product's inputs to 10 mantissa bits"};
    return n;
}

int repro_not_exact_ops(const repro_config *cfg, const char **out, int max)
{
    not_exact ops[MAX_NOT_EXACT];
    int n = list_not_exact(cfg, ops);
    for (int i = 0; i < n && i < max; i++)
        out[i] = ops[i].name;
    return n;
}

static const char *policy_name(repro_determinism d)
{
    return d == REPRO_DETERMINISM_STRICT ? "strict" : d == REPRO_DETERMINISM_WARN ? "warn" : "off";
}

repro_status repro_determinism_check(const repro_config *cfg, const repro_train_options *opts, repro_error *err)
{
    not_exact ops[MAX_NOT_EXACT];
    int n = list_not_exact(cfg, ops);
    if (n > 0 && cfg->determinism == REPRO_DETERMINISM_STRICT)
        return repro_fail(err, REPRO_ERR_UNSUPPORTED,
                          "%s: %s, %s; set determinism: warn to allow it, or mode: exact", ops[0].key,
                          ops[0].would, ops[0].why);
    if (cfg->determinism != REPRO_DETERMINISM_WARN)
        return REPRO_OK;
    for (int i = 0; i < n; i++) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s: %s, %s; this run is not reproducible (determinism: warn)", ops[i].key,
                 ops[i].does, ops[i].why);
        if (opts->warn)
            opts->warn(opts->warn_ctx, msg);
        else
            fprintf(stderr, "repro: warning: %s\n", msg);
    }
    return REPRO_OK;
}

cJSON *repro_determinism_json(const repro_config *cfg)
{
    not_exact ops[MAX_NOT_EXACT];
    int n = list_not_exact(cfg, ops);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "mode", policy_name(cfg->determinism));
    cJSON_AddBoolToObject(o, "reproducible", n == 0);
    cJSON *list = cJSON_AddArrayToObject(o, "not_exact");
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(list, cJSON_CreateString(ops[i].name));
    return o;
}
