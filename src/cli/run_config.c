/* Loading a run's own configuration again: see run_config.h. */
#include "cli/run_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repro/record.h"
#include "train/test_hooks.h"

/* Every data file the record lists must still hash as it did. */
static int check_data_files(const char *run_dir, int force, int rehash, const char *what, const char *hint,
                            const cJSON *record)
{
    const char *log = getenv("REPRO_TEST_HASH_LOG"); /* tests only: what was read in full */
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(record, "data"), "files");
    const cJSON *item;
    cJSON_ArrayForEach(item, files)
    {
        const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "path"));
        const char *sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "sha256"));
        char now[65];
        repro_error err;
        if (!file || !sha)
            continue;
        int was_read;
        if (repro_sha256_file_cached(file, rehash, now, &was_read, &err) != REPRO_OK) {
            fprintf(stderr, "%s '%s': %s\n", what, run_dir, err.message);
            return 2;
        }
        if (was_read && log && log[0])
            repro_test_hash_log(log, file);
        if (strcmp(now, sha) != 0 && !force) {
            fprintf(stderr, "%s '%s': data file '%s' changed since the run started "
                            "(sha256 %s, now %s)%s\n", what, run_dir, file, sha, now, hint);
            return 2;
        }
    }
    return 0;
}

/* The config as the run loaded it: relative --set paths resolve against
 * the working directory, so they are resolved in the one the run started
 * in (run.json "cwd", when recorded and still there), then the process
 * goes back to its own. */
static repro_status load_where_started(const run_config *rc, repro_config *cfg, repro_error *err)
{
    return run_config_load_as_started(rc, rc->overrides, rc->n_overrides, cfg, err);
}

repro_status run_config_load_as_started(const run_config *rc, const char *const *overrides, int n_overrides,
                                        repro_config *cfg, repro_error *err)
{
    const char *cwd = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rc->record, "cwd"));
    int here = cwd ? open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    int moved = here >= 0 && chdir(cwd) == 0;
    repro_status st = repro_config_load(rc->config_path, overrides, n_overrides, cfg, err);
    if (moved && fchdir(here) != 0 && st == REPRO_OK)
        st = repro_fail(err, REPRO_ERR_IO, "cannot return to the working directory: %s", strerror(errno));
    if (here >= 0)
        close(here);
    return st;
}

int run_config_load(const char *run_dir, int force, const char *what, const char *hint, run_config *rc,
                    repro_config *cfg)
{
    return run_config_load_rehash(run_dir, force, 0, what, hint, rc, cfg);
}

int run_config_load_rehash(const char *run_dir, int force, int rehash, const char *what, const char *hint,
                           run_config *rc, repro_config *cfg)
{
    memset(rc, 0, sizeof *rc);
    char path[4096];
    snprintf(path, sizeof path, "%s/run.json", run_dir);
    repro_error err;
    if (repro_json_read_file(path, &rc->record, &err) != REPRO_OK) {
        char lock[4096];
        snprintf(lock, sizeof lock, "%s/run.lock", run_dir);
        if (access(path, F_OK) != 0 && errno == ENOENT && access(lock, F_OK) == 0)
            /* run.lock without run.json: --force stopped while clearing it
             * (src/record/run.c, clear_phase) */
            fprintf(stderr, "%s '%s': it holds no run.json, only what is left of a run cleared part-way; "
                    "there is nothing to resume (--force starts a new run there)\n", what, run_dir);
        else
            fprintf(stderr, "%s '%s': %s\n", what, run_dir, err.message);
        return 2;
    }
    rc->config_path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rc->record, "config_path"));
    const char *want = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rc->record, "config_sha256"));
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(rc->record, "overrides");
    if (!rc->config_path || !want || !cJSON_IsArray(ov)) {
        const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rc->record, "status"));
        const char *message = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rc->record, "message"));
        if (status && strcmp(status, "failed") == 0 && message) /* its run record was never complete */
            fprintf(stderr, "%s '%s': the run failed before it started (%s); there is nothing to resume\n", what,
                    run_dir, message);
        else
            fprintf(stderr, "%s '%s': run.json lacks config_path, config_sha256 or overrides\n", what, run_dir);
        return 2;
    }
    rc->overrides = calloc((size_t)cJSON_GetArraySize(ov) + 1, sizeof *rc->overrides);
    if (!rc->overrides) {
        fprintf(stderr, "%s '%s': out of memory\n", what, run_dir);
        return 2;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, ov)
    {
        if (cJSON_IsString(item))
            rc->overrides[rc->n_overrides++] = item->valuestring;
    }
    if (load_where_started(rc, cfg, &err) != REPRO_OK) {
        fprintf(stderr, "%s '%s': %s\n", what, run_dir, err.message);
        return 2;
    }
    char *text = repro_config_to_json(cfg);
    char have[65];
    repro_sha256_hex(text ? text : "", text ? strlen(text) : 0, have);
    free(text);
    if (strcmp(have, want) != 0 && !force) {
        fprintf(stderr, "%s '%s': the config changed since the run started "
                        "(config_sha256 %s, now %s)%s\n", what, run_dir, want, have, hint);
        return 2;
    }
    return check_data_files(run_dir, force, rehash, what, hint, rc->record);
}

void run_config_free(run_config *rc)
{
    free(rc->overrides);
    cJSON_Delete(rc->record);
    memset(rc, 0, sizeof *rc);
}
