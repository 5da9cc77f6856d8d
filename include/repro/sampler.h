/* repro/sampler.h: the order in which an epoch visits the training rows.
 *
 * Every sampler is a pure function of (seed, epoch, position): the row at
 * position p of epoch k is the same whoever asks, in whatever order, and
 * whichever part of the epoch a call computes. No state is kept between
 * calls. The formulas (keys, coordinates, float order) are written in
 * docs/augmentation.md, section "Samplers"; config keys in docs/config.md.
 *
 * Positions and rows: an epoch has repro_sampler_epoch_length() positions;
 * each holds an index into the training rows 0..n_train-1 (the rows after
 * the train/validation split, in their order). drop_last is not the
 * sampler's business: repro_sampler_epoch_steps() says how many batches an
 * epoch has with it. */
#ifndef REPRO_SAMPLER_H
#define REPRO_SAMPLER_H

#include <stdint.h>

#include "repro/config.h"
#include "repro/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Positions in an epoch: the number of samples an epoch visits.
 * random, sequential, blocks: n_train. balanced, weighted: samples_per_epoch,
 * or n_train when that is 0. */
int64_t repro_sampler_epoch_length(const repro_sampler_config *cfg, int64_t n_train);

/* Batches (optimiser steps) in an epoch of batch_size (>= 1) samples:
 * len / batch_size with drop_last, else ceil(len / batch_size), where
 * len = repro_sampler_epoch_length(cfg, n_train). The last batch holds
 * len - (steps - 1) * batch_size samples. */
int64_t repro_sampler_epoch_steps(const repro_sampler_config *cfg, int64_t n_train, int64_t batch_size);

/* order[p] for p in [0, len): the training row visited at position p of
 * epoch `epoch`; len <= repro_sampler_epoch_length(cfg, n_train) (a shorter
 * len gives the first len positions). labels[n_train]: the class of each
 * training row, in [0, n_classes); it may be NULL (and n_classes 0) unless
 * the sampler is balanced or weighted. n_train < 2^32.
 * Errors (REPRO_ERR_ARG unless said): balanced/weighted without labels or
 * n_classes < 1; weighted with n_class_weights != n_classes (REPRO_ERR_CONFIG),
 * all weights zero (REPRO_ERR_CONFIG), a class with a weight > 0 but no rows
 * (REPRO_ERR_CONFIG); balanced/weighted with no rows at all; a label outside
 * [0, n_classes) (REPRO_ERR_FORMAT); len out of range; NOMEM. */
repro_status repro_sampler_epoch(const repro_sampler_config *cfg, uint64_t seed, uint32_t epoch,
                                 const int32_t *labels, int64_t n_train, int n_classes,
                                 uint32_t *order, int64_t len, repro_error *err);

/* The same for positions [first, first + count) only: order[i] = the row at
 * position first + i. Equal, bit for bit, to the matching slice of
 * repro_sampler_epoch. Cost: sequential O(count); balanced and weighted
 * O(n_train + count) (a class index is built); random O(n_train) (the whole
 * epoch permutation is drawn); blocks O(n_train / block_size + the rows of the
 * windows it touches). So a caller that wants the whole epoch asks once;
 * a streaming caller asks window by window. */
repro_status repro_sampler_range(const repro_sampler_config *cfg, uint64_t seed, uint32_t epoch,
                                 const int32_t *labels, int64_t n_train, int n_classes,
                                 int64_t first, uint32_t *order, int64_t count, repro_error *err);

#ifdef __cplusplus
}
#endif
#endif
