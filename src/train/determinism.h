/* determinism: strict | warn | off, applied at the start of a run: what a
 * config asks for that is not bit-exact, and what to do about it. */
#ifndef REPRO_TRAIN_DETERMINISM_H
#define REPRO_TRAIN_DETERMINISM_H

#include <cjson/cJSON.h>

#include "repro/train.h"

/* Under strict, fails (REPRO_ERR_UNSUPPORTED) naming the first operation of
 * repro_not_exact_ops and the key that asked for it; under warn, passes
 * each one to opts->warn (or stderr) once; under off, says nothing. */
repro_status repro_determinism_check(const repro_config *cfg, const repro_train_options *opts, repro_error *err);

/* run.json's "determinism": {"mode": "strict", "not_exact": [...]}. */
cJSON *repro_determinism_json(const repro_config *cfg);

#endif
