/* Optimisers, learning-rate schedules, gradient clipping and the EMA.
 *
 * Every update is elementwise over the model's one parameter buffer, in the
 * float order written beside each formula in optim.c; threads split the
 * elements, so the thread count never changes a bit. */
#ifndef REPRO_OPTIM_H
#define REPRO_OPTIM_H

#include <stdint.h>

#include "ops/cpu/cpu.h"
#include "repro/config.h"
#include "repro/status.h"

typedef struct repro_optim repro_optim;

repro_status repro_optim_create(const repro_optim_config *cfg, int64_t n_params, repro_optim **out,
                                repro_error *err);
void repro_optim_free(repro_optim *o);

/* One update of params [n] from grads [n] at learning rate lr. */
void repro_optim_step(repro_optim *o, const repro_cpu *cpu, float *params, const float *grads, float lr);

/* Steps taken so far (Adam's t). */
int64_t repro_optim_steps(const repro_optim *o);

/* The state, for checkpoints: *m (SGD momentum or Adam's first moment) and
 * *v (Adam's second moment), each [n_params] or NULL when unused. */
void repro_optim_state(repro_optim *o, float **m, float **v);
void repro_optim_set_steps(repro_optim *o, int64_t t);

/* SHA-256 (hex) of the optimiser state: the step count as 8 little-endian
 * bytes, then each state buffer (momentum, or Adam's m then v). */
void repro_optim_hash(const repro_optim *o, char hex[65]);

/* The learning rate of optimiser step `step` (0-based) of a run of
 * total_steps steps; see optim.c for the formulas. */
float repro_schedule_lr(const repro_schedule_config *s, float base_lr, int64_t step, int64_t total_steps);

/* Global-norm clipping: norm = sqrt(canonical sum of g*g over all of grads);
 * when norm > max_norm, every g = g * (max_norm / (norm + 1e-6)). Returns norm. */
float repro_clip_grad_norm(const repro_cpu *cpu, float *grads, int64_t n, float max_norm);

/* ema = decay * ema + (1 - decay) * params, elementwise. */
void repro_ema_update(const repro_cpu *cpu, float *ema, const float *params, int64_t n, float decay);

#endif
