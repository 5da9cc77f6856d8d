/* Settings changed on resume: see resume_settings.h. */
#include "cli/resume_settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/resume_policy.h"

static int fail(const char *run_dir, const char *why)
{
    fprintf(stderr, "repro train: cannot resume '%s': %s\n", run_dir, why);
    return 2;
}

int resume_settings_apply(const char *run_dir, const run_config *rc, const char *const *overrides,
                          int n_overrides, repro_config *cfg, char **changes_json, const char **run_sha256)
{
    *changes_json = NULL;
    *run_sha256 = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rc->record, "config_sha256"));
    repro_error err;
    for (int i = 0; i < n_overrides; i++) /* before anything is loaded: the key alone decides */
        if (repro_resume_key_check(overrides[i], &err) != REPRO_OK)
            return fail(run_dir, err.message);
    /* the run's overrides, then the resume's: a later one wins */
    int n = rc->n_overrides + n_overrides;
    const char **all = calloc((size_t)n + 1, sizeof *all);
    repro_config *now = malloc(sizeof *now);
    if (!all || !now) {
        free(all);
        free(now);
        return fail(run_dir, "out of memory");
    }
    memcpy(all, rc->overrides, (size_t)rc->n_overrides * sizeof *all);
    memcpy(all + rc->n_overrides, overrides, (size_t)n_overrides * sizeof *all);
    cJSON *changes = NULL;
    repro_status st = run_config_load_as_started(rc, all, n, now, &err);
    if (st == REPRO_OK)
        st = repro_resume_changes(cfg, now, &changes, &err);
    free(all);
    if (st == REPRO_OK) {
        *changes_json = cJSON_PrintUnformatted(changes);
        memcpy(cfg, now, sizeof *cfg);
    }
    cJSON_Delete(changes);
    free(now);
    if (st != REPRO_OK)
        return fail(run_dir, err.message);
    return *changes_json ? 0 : fail(run_dir, "out of memory");
}
