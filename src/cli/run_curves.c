/* A run directory's curves: see run_curves.h. */
#include "cli/run_curves.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repro/record.h"

static float from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static int load_ledger(const char *path, const char *what, run_curves *rc)
{
    repro_ledger_entry *e = NULL;
    int64_t n = 0;
    int cut = 0;
    repro_error err;
    if (repro_ledger_read_whole(path, &e, &n, &cut, &err) != REPRO_OK) {
        fprintf(stderr, "%s: %s\n", what, err.message);
        return 2;
    }
    rc->step = malloc(sizeof(double) * (size_t)(n ? n : 1));
    rc->loss = malloc(sizeof(double) * (size_t)(n ? n : 1));
    if (!rc->step || !rc->loss) {
        free(e);
        fprintf(stderr, "%s: out of memory\n", what);
        return 2;
    }
    for (int64_t i = 0; i < n; i++) {
        rc->step[i] = (double)e[i].step;
        rc->loss[i] = (double)from_bits(e[i].loss_bits);
    }
    rc->n_steps = (int)n;
    free(e);
    return 0;
}

static int load_metrics(const char *path, const char *what, run_curves *rc)
{
    rc->metrics = cJSON_CreateArray();
    FILE *f = fopen(path, "r");
    if (!f)
        return rc->metrics ? 0 : 2;
    char *line = NULL;
    size_t cap = 0;
    int number = 0, rc_ = 0;
    while (getline(&line, &cap, f) > 0) {
        number++;
        cJSON *o = cJSON_Parse(line);
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            fprintf(stderr, "%s: %s:%d: not a JSON object\n", what, path, number);
            rc_ = 2;
            break;
        }
        cJSON_AddItemToArray(rc->metrics, o);
    }
    free(line);
    fclose(f);
    return rc_;
}

int run_curves_load(const char *dir, const char *what, run_curves *rc)
{
    memset(rc, 0, sizeof *rc);
    rc->dir = dir;
    char path[4200];
    repro_error err;
    snprintf(path, sizeof path, "%s/run.json", dir);
    if (repro_json_read_file(path, &rc->record, &err) != REPRO_OK) {
        fprintf(stderr, "%s: %s\n", what, err.message);
        return 2;
    }
    snprintf(path, sizeof path, "%s/ledger.jsonl", dir);
    if (access(path, F_OK) == 0 && load_ledger(path, what, rc))
        return 2;
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    return load_metrics(path, what, rc);
}

void run_curves_free(run_curves *rc)
{
    cJSON_Delete(rc->record);
    cJSON_Delete(rc->metrics);
    free(rc->step);
    free(rc->loss);
    memset(rc, 0, sizeof *rc);
}

int run_curves_series(const run_curves *rc, const char *metric, double **x, double **y)
{
    int n = strcmp(metric, "loss") == 0 ? rc->n_steps : cJSON_GetArraySize(rc->metrics);
    *x = malloc(sizeof(double) * (size_t)(n ? n : 1));
    *y = malloc(sizeof(double) * (size_t)(n ? n : 1));
    if (!*x || !*y) {
        free(*x), free(*y);
        return -1;
    }
    if (strcmp(metric, "loss") == 0) {
        memcpy(*x, rc->step, sizeof(double) * (size_t)n);
        memcpy(*y, rc->loss, sizeof(double) * (size_t)n);
        return n;
    }
    int k = 0;
    const cJSON *line;
    cJSON_ArrayForEach(line, rc->metrics)
    {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(line, metric);
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(line, "epoch");
        if (cJSON_IsNumber(v) && cJSON_IsNumber(e)) {
            (*x)[k] = e->valuedouble;
            (*y)[k] = v->valuedouble;
            k++;
        }
    }
    return k;
}
