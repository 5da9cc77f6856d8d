/* Philox4x32-10 on SIMD lanes: many consecutive blocks at once, each lane
 * computing exactly repro_philox4x32_10 (include/repro/rng.h) for its own
 * counter. Used where a kernel draws whole rows (dropout).
 *
 * words[4 * q + j] = word j of the block at counter (b0 + q, c0, c1, c2),
 * for q < 8 (AVX2, NEON) or q < 16 (AVX-512): the same values, in element
 * order, as repro_rng_u32(key, c0, c1, c2, 4 * (b0 + q) + j). The x86 twins
 * exist only on x86-64, the NEON one only on aarch64. */
#ifndef REPRO_RNG_PHILOX_SIMD_H
#define REPRO_RNG_PHILOX_SIMD_H

#include <stdint.h>

#include "repro/rng.h"

void repro_philox_blocks_avx2(repro_rng_key key, uint32_t b0, uint32_t c0, uint32_t c1, uint32_t c2,
                              uint32_t words[32]);
void repro_philox_blocks_avx512(repro_rng_key key, uint32_t b0, uint32_t c0, uint32_t c1, uint32_t c2,
                                uint32_t words[64]);
void repro_philox_blocks_neon(repro_rng_key key, uint32_t b0, uint32_t c0, uint32_t c1, uint32_t c2,
                              uint32_t words[32]);

/* out[i] = repro_rng_normal(key, c0, c1, c2, 2 * b0 + i) for i < 32, bitwise. */
void repro_normals_avx512(repro_rng_key key, uint32_t b0, uint32_t c0, uint32_t c1, uint32_t c2, float out[32]);

#endif
