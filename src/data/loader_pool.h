/* The loader's gather on the compute pool, kept out of the public header
 * (the pool is internal).
 *
 * With loader.workers = 0 the training thread fills each micro-batch inside
 * next(), and the compute pool's other threads would wait for it: at 784
 * features and 256 rows that copy was 11% of a one-thread step of the
 * Fashion-MNIST MLP, all of it serial. Given the pool, next() splits the
 * micro-batch's samples over it instead. Each sample is still gathered and
 * transformed by exactly the same code into its own row, so the bits do not
 * change; a failure is reported for the first failing sample in order, as
 * the serial loop does. The pool must not be running a loop when next() is
 * called (it is not reentrant), and the transform must not use it. */
#ifndef REPRO_DATA_LOADER_POOL_H
#define REPRO_DATA_LOADER_POOL_H

#include "core/pool.h"
#include "repro/loader.h"

/* pool may be NULL (fill on the calling thread alone). Ignored with workers. */
void repro_loader_use_pool(repro_loader *l, repro_pool *pool);

#endif
