/* repro.h: the whole public API of librepro.
 *
 *   #include <repro/repro.h>       cc prog.c $(pkg-config --cflags --libs --static repro)
 *
 * status.h   errors: repro_status, repro_error
 * config.h   a run's configuration, loaded from YAML
 * train.h    repro_train: train and record a run
 * data.h     data sets: IDX, CSV, NPY readers, the seeded split
 * rng.h      counter-based random numbers (Philox4x32-10) at coordinates
 * math.h     portable elementary functions, the same bits on host and GPU
 * isa.h      the CPU's instruction-set paths (all give the same bits)
 * record.h   run directories, ledgers, safetensors, SHA-256, run comparison */
#ifndef REPRO_REPRO_H
#define REPRO_REPRO_H

#include "repro/config.h"
#include "repro/data.h"
#include "repro/isa.h"
#include "repro/math.h"
#include "repro/record.h"
#include "repro/rng.h"
#include "repro/status.h"
#include "repro/train.h"

#endif
