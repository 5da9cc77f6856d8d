/* The ledger's parameter and optimiser-state hashes, computed off the
 * training thread. At a hash step the trainer snapshots the parameters and
 * the optimiser state into host memory (page-locked on a GPU: a fast copy)
 * and goes on training; a helper thread runs SHA-256 over the snapshot and
 * writes the two hex digests where the step's ledger line will read them.
 * The digests are those of repro_sha256 over the parameters and of
 * repro_optim_hash: the ledger's bits do not depend on when they are
 * computed. One snapshot is in flight at a time. */
#ifndef REPRO_TRAIN_STATE_HASHER_H
#define REPRO_TRAIN_STATE_HASHER_H

#include "backend/backend.h"

typedef struct repro_state_hasher repro_state_hasher;

/* For n-float parameter and state buffers on backend be. */
repro_status repro_state_hasher_create(const repro_backend *be, int64_t n, repro_state_hasher **out,
                                       repro_error *err);
/* Joins the thread and frees everything. NULL-safe. */
void repro_state_hasher_destroy(repro_state_hasher *h);

/* Waits for the snapshot in flight (its digests land in its outputs), then
 * copies params, m and v (m, v may be NULL) and the optimiser step count t,
 * and starts hashing them into params_hex and optim_hex (65 chars each,
 * which must stay valid until the next start or finish). */
repro_status repro_state_hasher_start(repro_state_hasher *h, const float *params, const float *m, const float *v,
                                      int64_t t, char *params_hex, char *optim_hex, repro_error *err);
/* Waits until the snapshot in flight, if any, has its digests written. */
void repro_state_hasher_finish(repro_state_hasher *h);

#endif
