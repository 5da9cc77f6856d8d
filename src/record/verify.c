/* repro_verify_compare: how one run of `repro verify` stands against the
 * baseline. Everything repro_run_compare checks (ledger lines, fingerprints,
 * final params_sha256), and also what a run leaves beyond the ledger: the
 * metrics lines (all but samples_per_sec and loader_wait_sec, timings) and the tensors of
 * model.safetensors (the EMA or best-epoch weights, which params_sha256
 * does not cover). */
#include "repro/record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void join(char *buf, size_t n, const char *dir, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

/* SHA-256 of the tensors of DIR/model.safetensors (each name, its shape as
 * int64 and its data, in file order) into hex; "" when the file is absent.
 * The metadata is left out: it names the config, which a variation changes. */
static repro_status model_hash(const char *dir, char hex[65], repro_error *err)
{
    char path[4096];
    join(path, sizeof path, dir, "model.safetensors");
    hex[0] = '\0';
    if (access(path, F_OK) != 0)
        return REPRO_OK;
    repro_safetensors *st;
    repro_status rc = repro_safetensors_read(path, &st, err);
    if (rc != REPRO_OK)
        return rc;
    repro_sha256 *h = repro_sha256_new();
    if (!h) {
        repro_safetensors_free(st);
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory hashing '%s'", path);
    }
    for (int i = 0; i < repro_safetensors_count(st); i++) {
        const char *name = repro_safetensors_name(st, i);
        repro_sha256_update(h, name, strlen(name) + 1);
        repro_sha256_update(h, repro_safetensors_shape(st, i),
                            (size_t)repro_safetensors_ndim(st, i) * sizeof(int64_t));
        repro_sha256_update(h, repro_safetensors_data(st, i),
                            (size_t)repro_safetensors_numel(st, i) * sizeof(float));
    }
    repro_sha256_final(h, hex);
    repro_safetensors_free(st);
    return REPRO_OK;
}

/* The lines of DIR/metrics.jsonl as parsed objects with samples_per_sec
 * removed (*lines NULL-free array, caller frees with free_lines). */
static repro_status read_metrics(const char *dir, cJSON ***lines, int *n, repro_error *err)
{
    char path[4096];
    join(path, sizeof path, dir, "metrics.jsonl");
    *lines = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return REPRO_OK;
        return repro_fail(err, REPRO_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    int size = 0;
    repro_status st = REPRO_OK;
    while (st == REPRO_OK && getline(&line, &cap, f) > 0) {
        cJSON *o = cJSON_Parse(line);
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            st = repro_fail(err, REPRO_ERR_FORMAT, "'%s' line %d is not a JSON object", path, *n + 1);
            break;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(o, "samples_per_sec");
        cJSON_DeleteItemFromObjectCaseSensitive(o, "loader_wait_sec");
        if (*n == size) {
            size = size ? 2 * size : 16;
            cJSON **bigger = realloc(*lines, (size_t)size * sizeof *bigger);
            if (!bigger) {
                cJSON_Delete(o);
                st = repro_fail(err, REPRO_ERR_NOMEM, "out of memory reading '%s'", path);
                break;
            }
            *lines = bigger;
        }
        (*lines)[(*n)++] = o;
    }
    free(line);
    fclose(f);
    return st;
}

static void free_lines(cJSON **lines, int n)
{
    for (int i = 0; i < n; i++)
        cJSON_Delete(lines[i]);
    free(lines);
}

/* 0 when the metrics agree, else the 1-based line of the first difference. */
static int metrics_difference(cJSON **a, int na, cJSON **b, int nb)
{
    int n = na < nb ? na : nb;
    for (int i = 0; i < n; i++)
        if (!cJSON_Compare(a[i], b[i], 1))
            return i + 1;
    return na == nb ? 0 : n + 1;
}

/* Fills first_step and detail from repro_run_compare's report. */
static void ledger_outcome(const cJSON *report, repro_verify_outcome *out)
{
    const cJSON *ledger = cJSON_GetObjectItemCaseSensitive(report, "ledger");
    const cJSON *first = cJSON_GetObjectItemCaseSensitive(ledger, "first_divergence");
    const cJSON *final = cJSON_GetObjectItemCaseSensitive(report, "final_params_sha256");
    double na = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ledger, "a_steps"));
    double nb = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ledger, "b_steps"));
    if (cJSON_IsObject(first)) {
        const cJSON *line = cJSON_GetObjectItemCaseSensitive(first, "b");
        out->first_step = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(line, "step"));
        size_t used = (size_t)snprintf(out->detail, sizeof out->detail, "ledger:");
        const cJSON *f;
        int k = 0;
        cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(first, "fields"))
        {
            if (used < sizeof out->detail)
                used += (size_t)snprintf(out->detail + used, sizeof out->detail - used, "%s%s", k++ ? ", " : " ",
                                         f->valuestring);
        }
    } else if (na != nb) {
        out->first_step = (int64_t)(na < nb ? na : nb) + 1;
        snprintf(out->detail, sizeof out->detail, "ledger has %.0f steps, the baseline %.0f", nb, na);
    } else if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(final, "equal"))) {
        snprintf(out->detail, sizeof out->detail, "final params_sha256 differs");
    }
}

repro_status repro_verify_compare(const char *base_dir, const char *run_dir, repro_verify_outcome *out,
                                  repro_error *err)
{
    memset(out, 0, sizeof *out);
    out->first_step = -1;
    cJSON *report;
    repro_status st = repro_run_compare(base_dir, run_dir, &report, err);
    if (st != REPRO_OK)
        return st;
    int same = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(report, "identical"));
    const char *ph = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(report, "final_params_sha256"), "b"));
    snprintf(out->params_sha256, sizeof out->params_sha256, "%s", ph ? ph : "");
    if (!same)
        ledger_outcome(report, out);
    cJSON_Delete(report);

    char base_model[65];
    st = model_hash(base_dir, base_model, err);
    if (st == REPRO_OK)
        st = model_hash(run_dir, out->model_sha256, err);
    if (st != REPRO_OK)
        return st;
    if (same && strcmp(base_model, out->model_sha256) != 0) {
        same = 0;
        snprintf(out->detail, sizeof out->detail, "model.safetensors tensors differ (sha256 %.16s vs %.16s)",
                 base_model[0] ? base_model : "absent", out->model_sha256[0] ? out->model_sha256 : "absent");
    }

    cJSON **ma, **mb;
    int na, nb;
    st = read_metrics(base_dir, &ma, &na, err);
    if (st != REPRO_OK)
        return st;
    st = read_metrics(run_dir, &mb, &nb, err);
    if (st != REPRO_OK) {
        free_lines(ma, na);
        return st;
    }
    int line = metrics_difference(ma, na, mb, nb);
    if (same && line) {
        same = 0;
        snprintf(out->detail, sizeof out->detail, "metrics.jsonl differs at line %d", line);
    }
    free_lines(ma, na);
    free_lines(mb, nb);
    out->identical = same;
    return REPRO_OK;
}
