/* GELU, exact (erf) form, elementwise: src/ops/gelu_erf_math.h's order.
 * Threads split the elements. */
#ifndef REPRO_OPS_CPU_GELU_ERF_H
#define REPRO_OPS_CPU_GELU_ERF_H

#include <stdint.h>

#include "ops/cpu/cpu.h"
#include "repro/status.h"

/* phi (may be NULL): [n] doubles where Phi(x) is kept for the backward */
repro_status repro_gelu_erf_forward(const repro_cpu *cpu, float *y, double *phi, const float *x, int64_t n,
                                    repro_error *err);
void repro_gelu_erf_forward_ref(float *y, const float *x, int64_t n);
/* dx = dy * GELU'(x), from the forward's input x and, when not NULL, the
 * Phi(x) that forward kept in phi (the same bits either way) */
repro_status repro_gelu_erf_backward(const repro_cpu *cpu, float *dx, const float *dy, const float *x,
                                     const double *phi, int64_t n, repro_error *err);
void repro_gelu_erf_backward_ref(float *dx, const float *dy, const float *x, int64_t n);

#endif
