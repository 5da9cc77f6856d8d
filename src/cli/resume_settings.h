/* `repro train --resume DIR --set KEY=VALUE`: the settings a resume may
 * change (src/train/resume_policy.c says which), applied on top of the
 * run's own config. */
#ifndef REPRO_CLI_RESUME_SETTINGS_H
#define REPRO_CLI_RESUME_SETTINGS_H

#include "cli/run_config.h"
#include "repro/config.h"

/* cfg holds the run's config (run_config_load); on success it holds it
 * with the overrides applied, *changes_json the changes (malloc'd JSON
 * text, the caller frees) and *run_sha256 run.json's config_sha256 (into
 * rc->record). Prints "repro train: cannot resume 'DIR': <why>" and
 * returns 2 for a key that may not change; else 0. */
int resume_settings_apply(const char *run_dir, const run_config *rc, const char *const *overrides,
                          int n_overrides, repro_config *cfg, char **changes_json, const char **run_sha256);

#endif
