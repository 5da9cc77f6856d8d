/* The configuration a run directory was made with, loaded again: run.json's
 * config_path and overrides, checked to give the config_sha256 and data file
 * hashes the run recorded. Shared by `repro train --resume` (which continues
 * the run) and `repro diff --trace` (which re-runs it). */
#ifndef REPRO_CLI_RUN_CONFIG_H
#define REPRO_CLI_RUN_CONFIG_H

#include <cjson/cJSON.h>

#include "repro/config.h"

typedef struct run_config {
    cJSON *record;           /* run.json */
    const char *config_path; /* into record */
    const char **overrides;  /* [n_overrides], strings into record */
    int n_overrides;
} run_config;

/* Loads RUN_DIR's config into cfg and rc. Unless force, refuses a config or
 * data file whose hash changed since the run started. On failure prints
 * "<what> 'RUN_DIR': <why>" to stderr (what: e.g. "repro train: cannot
 * resume"; hint ends a hash mismatch's message, e.g. "; use --force to
 * resume anyway") and returns 2; else 0. Free rc with run_config_free
 * either way. */
int run_config_load(const char *run_dir, int force, const char *what, const char *hint, run_config *rc,
                    repro_config *cfg);
void run_config_free(run_config *rc);
/* run_config_load that, with rehash, reads every data file in full whatever
 * the hash cache holds (repro train --rehash). */
int run_config_load_rehash(const char *run_dir, int force, int rehash, const char *what, const char *hint,
                           run_config *rc, repro_config *cfg);

/* rc's config file with these overrides (e.g. the run's own and then a
 * resume's), loaded in the directory the run started in. */
repro_status run_config_load_as_started(const run_config *rc, const char *const *overrides, int n_overrides,
                                        repro_config *cfg, repro_error *err);

#endif
