/* repro/loader.h: the threaded data loader.
 *
 * The loader hands the training loop its micro-batches strictly in epoch
 * order. Worker threads gather rows from a repro_dataset and apply a
 * per-sample transform (augmentation) ahead of time, but what a micro-batch
 * holds is a pure function of (epoch, rows, positions, transform): the worker
 * count, the prefetch depth and which thread finishes first never change a
 * bit, and a failure surfaces at the same micro-batch whatever the timing.
 * docs/loader.md is the contract.
 *
 * Threads: every function except repro_loader_interrupt is called from one
 * thread (the consumer, i.e. the training loop). */
#ifndef REPRO_LOADER_H
#define REPRO_LOADER_H

#include <stdint.h>

#include "repro/config.h"
#include "repro/data.h"
#include "repro/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct repro_loader repro_loader;
typedef struct repro_batch repro_batch; /* src/data/batch.h: index, pos, x, label, y */

/* The per-sample transform (augmentation): rewrites the sample's gathered
 * features x [n_features] in place. Called once per sample, after gathering,
 * from whichever worker collates it, possibly concurrently with other calls:
 * it must be a pure function of its arguments (draw randomness from Philox
 * at (epoch, pos, element)). On failure it returns a status and fills err
 * (err is never NULL) naming what went wrong; the loader adds the epoch,
 * position and data row. */
typedef repro_status (*repro_sample_fn)(void *ctx, uint32_t epoch, uint32_t pos, float *x,
                                        int64_t n_features, repro_error *err);

/* A loader over ds (which must outlive it) whose micro-batches hold at most
 * micro_capacity rows. cfg->workers threads (0 = fill each micro-batch
 * inside next(), in the calling thread), cfg->prefetch slots of
 * micro_capacity rows each (the memory bound; >= 1). transform may be NULL. */
repro_status repro_loader_create(const repro_loader_config *cfg, const repro_dataset *ds,
                                 int64_t micro_capacity, repro_sample_fn transform,
                                 void *transform_ctx, repro_loader **out, repro_error *err);

/* Starts an epoch (ending the one in progress, if any). rows [len]: rows[p]
 * is the data set row at epoch position p (copied; each < ds->n, len <=
 * 2^32). Steps are positions [s*batch_size, s*batch_size + batch_size)
 * (the last may be shorter), each cut into micro-batches of micro_size rows
 * (the last of a step may be shorter; micro_size <= batch_size and <=
 * micro_capacity). first_position, a multiple of batch_size in [0, len],
 * is where the epoch resumes. Workers start at once, up to prefetch
 * micro-batches ahead. */
repro_status repro_loader_begin_epoch(repro_loader *l, uint32_t epoch, const uint32_t *rows,
                                      int64_t len, int64_t first_position, int64_t batch_size,
                                      int64_t micro_size, repro_error *err);

/* Data parallel (docs/parallel.md): from the next begin_epoch on, each
 * step is cut into `shards` fixed shards (shard s of a step of c positions
 * is [s*c/shards, (s+1)*c/shards)) and only shards [first, first + n) are
 * delivered, each cut into micro-batches of micro_size (a micro-batch never
 * straddles two shards; last_of_step closes this loader's part). The
 * default is one shard, the whole step. */
repro_status repro_loader_set_shards(repro_loader *l, int64_t shards, int64_t first, int64_t n,
                                     repro_error *err);

/* The next micro-batch in order, blocking until it is ready; *batch = NULL
 * (and OK) at the end of the epoch. *n_rows: its rows; *step_size: the size
 * of the step it belongs to; *last_of_step: 1 when it closes that step.
 * (n_rows, step_size, last_of_step may be NULL; they are 0 with no batch.)
 * The batch stays valid until repro_loader_release (or end_epoch, the next
 * begin_epoch, destroy). At most prefetch micro-batches may be held at once.
 * Errors:
 *  - a worker's failure (transform or row source) at this micro-batch:
 *    its status, message "epoch E, position P (data row R): <cause>"; the
 *    loader then stays failed (every later next() and begin_epoch return
 *    REPRO_ERR_STATE "the data loader failed earlier: <message>") and is
 *    good only for destroy (end_epoch and release are harmless);
 *  - after repro_loader_interrupt: REPRO_ERR_STATE "interrupted";
 *  - no epoch begun, or the slot still held: REPRO_ERR_STATE. */
repro_status repro_loader_next(repro_loader *l, const repro_batch **batch, int64_t *n_rows,
                               int64_t *step_size, int *last_of_step, repro_error *err);

/* Gives a batch from next() back so its slot can be refilled. */
void repro_loader_release(repro_loader *l, const repro_batch *batch);

/* Cancels the work in flight and waits for the workers to leave the slots
 * (e.g. max_steps reached mid-epoch). Batches not yet released become
 * invalid. The threads stay, ready for the next begin_epoch. */
void repro_loader_end_epoch(repro_loader *l);

/* Callable from any thread while the loader exists (not from a signal
 * handler: it takes a mutex). Makes the current or next next() return
 * REPRO_ERR_STATE "interrupted" promptly (workers notice between samples);
 * every later next() and begin_epoch do the same. */
void repro_loader_interrupt(repro_loader *l);

/* Cancels everything, joins every thread and frees the loader. Safe at any
 * point: mid-epoch, after an error or an interrupt. NULL-safe. */
void repro_loader_destroy(repro_loader *l);

/* Seconds next() spent blocked (waiting for workers, or filling the batch
 * itself when workers = 0) since the last begin_epoch. */
double repro_loader_wait_seconds(const repro_loader *l);

#ifdef __cplusplus
}
#endif
#endif
