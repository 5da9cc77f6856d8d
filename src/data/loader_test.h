/* A test-only knob of the loader, kept out of the public header: each
 * worker sleeps a pseudo-random 0..us microseconds per sample (a hash of
 * (epoch, pos)), so workers finish out of order; the bits must not change.
 * Set before the first epoch begins. */
#ifndef REPRO_DATA_LOADER_TEST_H
#define REPRO_DATA_LOADER_TEST_H

#include "repro/loader.h"

repro_status repro_loader_set_test_jitter(repro_loader *l, int us, repro_error *err);

#endif
