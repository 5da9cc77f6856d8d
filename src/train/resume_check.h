/* What a resume checks in the run directory before it changes anything:
 * the ledger and the metrics must reach the checkpoint it starts from and
 * agree with it (docs/reproducibility.md, "What a run directory
 * guarantees"). A resume that trusted them would cut a ledger at a garbage
 * line, or finish a run whose ledger misses steps, and call it complete. */
#ifndef REPRO_TRAIN_RESUME_CHECK_H
#define REPRO_TRAIN_RESUME_CHECK_H

#include <stdint.h>

#include "repro/status.h"
#include "train/checkpoint.h"

/* The checkpoint a resume starts from, as the logs must reflect it. */
typedef struct repro_resume_point {
    const repro_train_state *state;
    int64_t steps_per_epoch;
    int64_t total_steps;       /* the planned steps (the last epoch may end early) */
    const char *params_sha256; /* of the restored parameters */
    const char *optim_sha256;  /* of the restored optimiser state */
} repro_resume_point;

/* Checks DIR/ledger.jsonl: lines 1..state->step are steps 1..step in
 * order, each in its epoch ((step - 1) / steps_per_epoch); the line of the
 * checkpoint's step has its loss (last_loss) and, when it carries them, its
 * hashes; the epoch's losses add up to epoch_loss_sum. Lines after the
 * checkpoint's step (a process killed after it) must be whole steps in
 * order too, but for a last line cut short. And DIR/metrics.jsonl: one
 * line per epoch ended, in order (epoch 1.., at the step that ended it:
 * min(epoch * steps_per_epoch, total_steps)).
 * On failure names the file and the first bad line; changes nothing. */
repro_status repro_resume_check_logs(const char *dir, const repro_resume_point *p, repro_error *err);

#endif
