/* Which settings a resume may change: those the contract says never change
 * a bit (docs/reproducibility.md, "Resuming with other settings"). A run
 * stopped on one thread may go on on eight, a CPU run on the GPU; the
 * finished run is bit for bit the one that never stopped. Every other key
 * is refused with its name and the reason.
 *
 * The rule is a table (resume_policy.c): one row per key, with an optional
 * condition on the run's config (device is neutral only in mode exact).
 * A key the table lacks changes the bits, or may: refused. */
#ifndef REPRO_TRAIN_RESUME_POLICY_H
#define REPRO_TRAIN_RESUME_POLICY_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "repro/config.h"
#include "repro/record.h"
#include "repro/status.h"

/* The --set KEY=VALUE a resume was given: REPRO_OK when KEY may change on
 * resume at all (before the new config is loaded); else an error naming
 * KEY and why it cannot. */
repro_status repro_resume_key_check(const char *override, repro_error *err);

/* The run's config (as it started) against the config with the resume's
 * overrides applied: every difference must be a key of the table whose
 * condition holds on both. On success *changes is a new JSON object
 * {"KEY": {"from": OLD, "to": NEW}, ...} of the keys that changed (empty
 * when none did); else an error naming the first key that may not change. */
repro_status repro_resume_changes(const repro_config *run_cfg, const repro_config *new_cfg, cJSON **changes,
                                  repro_error *err);

/* Appends {"step", "checkpoint", "time", "changed"} to run.json's "resumes"
 * list: every resume, with the settings it changed (changes_json: the text
 * repro_resume_changes made; NULL or "" = none). */
repro_status repro_resume_record(repro_run *run, int64_t step, const char *checkpoint, const char *changes_json,
                                 repro_error *err);

#endif
