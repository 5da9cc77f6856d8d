/* The demo data of `repro gen-data dual_task` (examples/dual_task.yaml):
 * part of the command, not of the library. */
#ifndef REPRO_CLI_GEN_DUAL_TASK_H
#define REPRO_CLI_GEN_DUAL_TASK_H

#include <stdint.h>

#include "repro/status.h"

/* The synthetic dual-task data set: 15 features, one regression target and a
 * 3-class label per sample; the formula is in src/cli/gen_dual_task.c and
 * docs/data.md. */
enum { REPRO_DUAL_TASK_FEATURES = 15, REPRO_DUAL_TASK_CLASSES = 3 };

/* Sample i of the dual-task set for seed: x [REPRO_DUAL_TASK_FEATURES]. */
void repro_dual_task_sample(uint64_t seed, uint32_t i, float *x, float *target, int32_t *label);

/* Writes samples [0, n) to path as CSV with header `x0,...,x14,target,label`,
 * floats printed "%.9g" (they read back bit for bit). The same seed gives a
 * byte-identical file. n in [1, 2^32 - 1]. */
repro_status repro_dual_task_generate(const char *path, uint64_t seed, int64_t n, repro_error *err);

#endif
