/* How much memory a training run will allocate, estimated from the config
 * and the data's shape before anything is allocated, so that a model too
 * big for the machine is refused with a message naming the key (instead
 * of being killed by the kernel's OOM killer half-way, or an allocation
 * size wrapping past 2^64). Counted in double: exact far beyond any real
 * size, and it cannot overflow. */
#ifndef REPRO_TRAIN_MEMORY_PLAN_H
#define REPRO_TRAIN_MEMORY_PLAN_H

#include <stdint.h>

#include "repro/config.h"
#include "repro/status.h"

typedef struct repro_memory_plan {
    double params;        /* parameters */
    double state_bytes;   /* parameters, gradients, optimiser state, EMA, best epoch, host copies, hash snapshot */
    double act_bytes;     /* activations, masks and gradients of the widest batch */
    double data_bytes;    /* the loader's batches, the epoch order, a checkpoint being read */
    double total_bytes;
    char largest_key[96]; /* the layer with the most parameters: "model.trunk.0.out" */
    char largest_what[96];/* "784 x 1000000000 weights" */
    char widest_key[96];  /* the widest layer's output: "model.trunk.0.out" */
} repro_memory_plan;

/* The estimate for cfg on n_features inputs; epoch_len samples an epoch;
 * on_device: parameters and activations live on a GPU (then only the
 * host's share is counted); resuming: a checkpoint is read whole. */
void repro_memory_plan_make(const repro_config *cfg, int64_t n_features, int64_t epoch_len, int on_device,
                            int resuming, repro_memory_plan *p);

/* The memory this process can still allocate, in bytes: the least of
 * MemAvailable, the cgroup's headroom and RLIMIT_AS / RLIMIT_DATA; a
 * negative value when none can be read. */
double repro_memory_available(void);

/* REPRO_ERR_CONFIG naming the estimate, the key to change and the memory
 * available when the plan does not fit (or counts past 2^62 bytes). */
repro_status repro_memory_plan_check(const repro_memory_plan *p, const repro_config *cfg, double available,
                                     repro_error *err);

#endif
