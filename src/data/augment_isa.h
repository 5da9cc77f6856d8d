/* repro_augment_sample with a choice of instruction set: the trainer passes
 * its ISA path so REPRO_ISA governs augmentation too. Every path gives the
 * bits of repro_augment_sample (tests/test_simd_rng.c, test_isa_paths.sh). */
#ifndef REPRO_DATA_AUGMENT_ISA_H
#define REPRO_DATA_AUGMENT_ISA_H

#include "ops/cpu/cpu.h"
#include "repro/augment.h"

/* REPRO_ERR_UNSUPPORTED (x untouched) when this CPU lacks `isa`. */
repro_status repro_augment_sample_isa(const repro_augment_config *cfg, uint64_t seed, uint32_t epoch,
                                      uint32_t pos, float *x, int64_t n_features, int64_t h, int64_t w,
                                      repro_isa isa, repro_error *err);

#endif
