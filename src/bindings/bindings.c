/* The flat ABI of include/repro/bindings.h: thin wrappers, no logic of
 * their own beyond turning structs into handles and JSON. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "build_info.h"
#include "repro/bindings.h"
#include "repro/record.h"

int repro_bindings_abi(void) { return REPRO_BINDINGS_ABI; }

const char *repro_version(void) { return REPRO_VERSION_STRING; }

void repro_string_free(char *s) { free(s); }

repro_config *repro_config_new(const char *path, const char *const *overrides, int n_overrides, repro_error *err)
{
    repro_config *cfg = malloc(sizeof *cfg);
    if (!cfg) {
        repro_fail(err, REPRO_ERR_NOMEM, "out of memory for a config");
        return NULL;
    }
    if (repro_config_load(path, overrides, n_overrides, cfg, err) != REPRO_OK) {
        free(cfg);
        return NULL;
    }
    return cfg;
}

void repro_config_delete(repro_config *cfg) { free(cfg); }

char *repro_config_json(const repro_config *cfg) { return repro_config_to_json(cfg); }

repro_dataset *repro_dataset_new(const repro_array_set *arrays, repro_error *err)
{
    repro_dataset *ds = malloc(sizeof *ds);
    if (!ds) {
        repro_fail(err, REPRO_ERR_NOMEM, "out of memory for a data set");
        return NULL;
    }
    if (repro_dataset_from_arrays(arrays, ds, err) != REPRO_OK) {
        free(ds);
        return NULL;
    }
    return ds;
}

void repro_dataset_delete(repro_dataset *ds)
{
    repro_dataset_free(ds);
    free(ds);
}

int64_t repro_dataset_samples(const repro_dataset *ds) { return ds ? ds->n : 0; }

/* cJSON tree -> malloc'd text, freeing the tree; NOMEM when either fails. */
static repro_status to_text(cJSON *o, char **out, repro_error *err)
{
    *out = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return *out ? REPRO_OK : repro_fail(err, REPRO_ERR_NOMEM, "out of memory writing JSON");
}

static cJSON *result_object(const repro_train_result *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "run_dir", r->run_dir);
    cJSON_AddStringToObject(o, "params_sha256", r->params_sha256);
    cJSON_AddStringToObject(o, "optim_sha256", r->optim_sha256);
    cJSON_AddStringToObject(o, "model_sha256", r->model_sha256);
    cJSON_AddNumberToObject(o, "steps", (double)r->steps);
    cJSON_AddNumberToObject(o, "epochs_run", r->epochs_run);
    cJSON_AddBoolToObject(o, "stopped_early", r->stopped_early);
    cJSON_AddBoolToObject(o, "interrupted", r->interrupted);
    cJSON_AddStringToObject(o, "resumed_from", r->resumed_from);
    cJSON_AddNumberToObject(o, "final_loss", r->final_loss);
    if (r->has_val) {
        cJSON_AddNumberToObject(o, "val_loss", r->val_loss);
        if (r->has_accuracy)
            cJSON_AddNumberToObject(o, "val_accuracy", r->val_accuracy);
    }
    if (r->has_test) {
        cJSON_AddNumberToObject(o, "test_loss", r->test_loss);
        if (r->has_accuracy)
            cJSON_AddNumberToObject(o, "test_accuracy", r->test_accuracy);
    }
    cJSON_AddNumberToObject(o, "train_seconds", r->train_seconds);
    cJSON_AddNumberToObject(o, "samples_per_sec", r->samples_per_sec);
    cJSON_AddStringToObject(o, "record_error", r->record_error);
    return o;
}

repro_status repro_train_json(const repro_config *cfg, const repro_train_call *call, char **result_json,
                              repro_error *err)
{
    *result_json = NULL;
    repro_train_options opts = {
        .out_dir = call->out_dir, .force = call->force, .resume_dir = call->resume_dir,
        .overrides = call->overrides, .n_overrides = call->n_overrides,
        .train_data = call->train_data, .test_data = call->test_data,
        .progress = call->progress, .progress_ctx = call->progress_ctx, .interrupt = call->interrupt};
    repro_train_result *r = calloc(1, sizeof *r);
    if (!r)
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory for a training result");
    repro_status st = repro_train(cfg, &opts, r, err);
    if (r->run_dir[0]) {
        repro_error json_err;
        if (to_text(result_object(r), result_json, &json_err) != REPRO_OK && st == REPRO_OK)
            st = repro_fail(err, json_err.status, "%s", json_err.message);
    }
    free(r);
    return st;
}

repro_status repro_run_compare_json(const char *dir_a, const char *dir_b, char **report_json, repro_error *err)
{
    cJSON *report = NULL;
    *report_json = NULL;
    repro_status st = repro_run_compare(dir_a, dir_b, &report, err);
    return st ? st : to_text(report, report_json, err);
}

repro_status repro_verify_compare_json(const char *base_dir, const char *run_dir, char **outcome_json,
                                       repro_error *err)
{
    repro_verify_outcome v;
    *outcome_json = NULL;
    repro_status st = repro_verify_compare(base_dir, run_dir, &v, err);
    if (st)
        return st;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "identical", v.identical);
    cJSON_AddNumberToObject(o, "first_step", (double)v.first_step);
    cJSON_AddStringToObject(o, "detail", v.detail);
    cJSON_AddStringToObject(o, "params_sha256", v.params_sha256);
    cJSON_AddStringToObject(o, "model_sha256", v.model_sha256);
    return to_text(o, outcome_json, err);
}
