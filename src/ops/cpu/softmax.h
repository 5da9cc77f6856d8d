/* Softmax over the last axis, rows [rows][n]. Written order of a row:
 *   m    = max of x[k], k ascending (m = x > m ? x : m from -inf)
 *   y[k] = repro_expf(x[k] - m)
 *   s    = the canonical sum of y[0..n) (src/ops/reduce.h)
 *   y[k] = y[k] / s
 * Backward (from the forward's output y):
 *   g     = the canonical sum of dy[k] * y[k] (REPRO_CANON_XY)
 *   dx[k] = y[k] * (dy[k] - g)
 * Threads split rows; the CUDA twin (src/ops/cuda/softmax.cu) runs one
 * thread a row with the same canonical sums. */
#ifndef REPRO_OPS_CPU_SOFTMAX_H
#define REPRO_OPS_CPU_SOFTMAX_H

#include <stdint.h>

#include "ops/cpu/cpu.h"
#include "repro/status.h"

repro_status repro_softmax_forward(const repro_cpu *cpu, float *y, const float *x, int64_t rows, int64_t n,
                                   repro_error *err);
void repro_softmax_forward_ref(float *y, const float *x, int64_t rows, int64_t n);
repro_status repro_softmax_backward(const repro_cpu *cpu, float *dx, const float *dy, const float *y, int64_t rows,
                                    int64_t n, repro_error *err);
void repro_softmax_backward_ref(float *dx, const float *dy, const float *y, int64_t rows, int64_t n);

#endif
