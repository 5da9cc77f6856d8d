/* Optimisers, learning-rate schedules, gradient clipping and the EMA.
 *
 * Every update is elementwise over the model's one parameter buffer, in the
 * float order written beside each formula in optim.c; threads split the
 * elements, so the thread count never changes a bit. */
#ifndef REPRO_OPTIM_H
#define REPRO_OPTIM_H

#include <stdint.h>

#include "backend/backend.h"
#include "repro/config.h"
#include "repro/status.h"

typedef struct repro_optim repro_optim;

/* The optimiser's state lives in be's memory, beside the parameters. */
repro_status repro_optim_create(const repro_optim_config *cfg, const repro_backend *be, int64_t n_params,
                                repro_optim **out, repro_error *err);
void repro_optim_free(repro_optim *o);

/* One update of params [n] from grads [n] (backend memory) at learning rate lr. */
repro_status repro_optim_step(repro_optim *o, float *params, const float *grads, float lr, repro_error *err);

/* Steps taken so far (Adam's t). */
int64_t repro_optim_steps(const repro_optim *o);

/* The state, for checkpoints: *m (SGD momentum or Adam's first moment) and
 * *v (Adam's second moment), each [n_params] of backend memory or NULL. */
void repro_optim_state(repro_optim *o, float **m, float **v);
void repro_optim_set_steps(repro_optim *o, int64_t t);

/* SHA-256 (hex) of the optimiser state: the step count as 8 little-endian
 * bytes, then each state buffer (momentum, or Adam's m then v). */
repro_status repro_optim_hash(const repro_optim *o, char hex[65], repro_error *err);
/* The same hash from host copies: step count t, m and v (either may be NULL)
 * of n floats each. */
void repro_optim_hash_host(int64_t t, const float *m, const float *v, int64_t n, char hex[65]);

/* The learning rate of optimiser step `step` (0-based) of a run of
 * total_steps steps; see optim.c for the formulas. */
float repro_schedule_lr(const repro_schedule_config *s, float base_lr, int64_t step, int64_t total_steps);

#endif
