/* The optimiser updates, clipping and EMA as CPU kernels (the CPU backend's
 * side of src/backend); formulas in ops/adam_math.h and ops/update_math.h. */
#ifndef REPRO_OPS_CPU_UPDATE_H
#define REPRO_OPS_CPU_UPDATE_H

#include <stdint.h>

#include "ops/cpu/cpu.h"
#include "ops/adam_math.h"
#include "ops/update_math.h"

repro_status repro_adam_cpu(const repro_cpu *cpu, const repro_adam_coef *c, float *p, float *m, float *v, const float *g,
                    int64_t n, repro_error *err);
/* buf may be NULL without momentum */
repro_status repro_sgd_cpu(const repro_cpu *cpu, const repro_sgd_coef *c, float *p, float *buf, const float *g, int64_t n, repro_error *err);

/* Global-norm clipping: norm = sqrt(canonical sum of g*g over all of grads);
 * when norm > max_norm, every g = g * (max_norm / (norm + 1e-6)). Returns norm. */
repro_status repro_clip_grad_norm(const repro_cpu *cpu, float *grads, int64_t n, float max_norm, float *out, repro_error *err);

/* ema = decay * ema + (1 - decay) * params, elementwise. */
repro_status repro_ema_update(const repro_cpu *cpu, float *ema, const float *params, int64_t n, float decay, repro_error *err);

#endif
