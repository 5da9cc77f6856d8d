/* repro/rng.h: counter-based random numbers.
 *
 * Every random number in repro is a pure function of its coordinates:
 *
 *     value = philox4x32_10(counter = coordinates, key = derive(seed, purpose, ids))
 *
 * There is no generator state that advances as numbers are drawn, so a worker
 * thread, a GPU thread, a resumed process and a micro-batch all get the same
 * number for the same coordinates, in any order, and a checkpoint has no RNG
 * state to save. docs/rng.md is the contract: the coordinates of each
 * purpose, the key derivation and the exact float mappings.
 *
 * The REPRO_HD functions compile unchanged as host C11 and as CUDA device
 * code (nvcc), so host and GPU draw the same bits. Their float arithmetic
 * follows the evaluation order written beside each one; it relies on the
 * project's rules (no contraction, no flush-to-zero, no fast-math). */
#ifndef REPRO_RNG_H
#define REPRO_RNG_H

#include <stdint.h>

#include "repro/defs.h"
#include "repro/math.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A Philox key: two 32-bit words. Always made by repro_rng_derive. */
typedef struct repro_rng_key {
    uint32_t k[2];
} repro_rng_key;

/* What a stream of numbers is for. Never renumber: the values enter every key. */
typedef enum repro_rng_purpose {
    REPRO_RNG_INIT = 1,     /* ids: (parameter index, 0)   coords: element index */
    REPRO_RNG_DROPOUT = 2,  /* ids: (layer index, 0)       coords: c0 = sample index in epoch,
                               c1/c2 = step low/high 32 bits, element */
    REPRO_RNG_SHUFFLE = 3,  /* ids: (epoch, 0); (epoch, 1 + w) blocks sampler window w
                               coords: position */
    REPRO_RNG_AUGMENT = 4,  /* ids: (epoch, 0)             coords: c0 = position in the epoch,
                               c1 = stream (repro/augment.h), element */
    REPRO_RNG_SPLIT = 5,    /* ids: (0, 0)                 coords: sample index */
    REPRO_RNG_SAMPLER = 6,  /* ids: (epoch, 0); (epoch, 1) blocks' block order
                               coords: c0 = position, element (repro/sampler.h) */
    REPRO_RNG_DATAGEN = 7,  /* ids: (data set id, 0)       synthetic data sets */
    REPRO_RNG_GENERATE = 8  /* ids: (0, 0)                 coords: element = the drawn token's
                               position in its sequence (repro sample: train/generate.h) */
} repro_rng_purpose;

/* Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel Random Numbers: As
 * Easy as 1, 2, 3", SC11), exactly as Random123's philox4x32_R(10, ...):
 * ten rounds, the key bumped by the Weyl constants between rounds.
 * ctr[4], key[2] in; out[4] out (out may not alias ctr). */
REPRO_HD static inline void repro_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2],
                                                uint32_t out[4])
{
    const uint32_t m0 = 0xD2511F53u, m1 = 0xCD9E8D57u; /* round multipliers */
    const uint32_t w0 = 0x9E3779B9u, w1 = 0xBB67AE85u; /* key schedule (Weyl) */
    uint32_t x0 = ctr[0], x1 = ctr[1], x2 = ctr[2], x3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += w0;
            k1 += w1;
        }
        uint64_t p0 = (uint64_t)m0 * x0;
        uint64_t p1 = (uint64_t)m1 * x2;
        uint32_t y0 = (uint32_t)(p1 >> 32) ^ x1 ^ k0;
        uint32_t y1 = (uint32_t)p1;
        uint32_t y2 = (uint32_t)(p0 >> 32) ^ x3 ^ k1;
        uint32_t y3 = (uint32_t)p0;
        x0 = y0;
        x1 = y1;
        x2 = y2;
        x3 = y3;
    }
    out[0] = x0;
    out[1] = x1;
    out[2] = x2;
    out[3] = x3;
}

/* The one key derivation (also written in docs/rng.md):
 *   key = words 0 and 1 of philox4x32_10(counter = (purpose, id0, id1, 0x72657072),
 *                                        key     = (seed low 32 bits, seed high 32 bits)).
 * 0x72657072 is "repr" in ASCII; it separates derivation blocks from any
 * counter a purpose uses under the derived key. */
REPRO_HD static inline repro_rng_key repro_rng_derive(uint64_t seed, uint32_t purpose,
                                                      uint32_t id0, uint32_t id1)
{
    uint32_t ctr[4], sk[2], out[4];
    ctr[0] = purpose;
    ctr[1] = id0;
    ctr[2] = id1;
    ctr[3] = 0x72657072u;
    sk[0] = (uint32_t)seed;
    sk[1] = (uint32_t)(seed >> 32);
    repro_philox4x32_10(ctr, sk, out);
    repro_rng_key key;
    key.k[0] = out[0];
    key.k[1] = out[1];
    return key;
}

/* The Philox block at counter (b, c0, c1, c2) under key. out[4]. */
REPRO_HD static inline void repro_rng_block(repro_rng_key key, uint32_t b, uint32_t c0, uint32_t c1,
                                            uint32_t c2, uint32_t out[4])
{
    uint32_t ctr[4];
    ctr[0] = b;
    ctr[1] = c0;
    ctr[2] = c1;
    ctr[3] = c2;
    repro_philox4x32_10(ctr, key.k, out);
}

/* Raw 32 bits at coordinates (c0, c1, c2, element): word (element & 3) of the
 * block at counter ((uint32_t)(element >> 2), c0, c1, c2). element < 2^34
 * (beyond it, elements 2^34 apart would share a value). */
REPRO_HD static inline uint32_t repro_rng_u32(repro_rng_key key, uint32_t c0, uint32_t c1, uint32_t c2,
                                              uint64_t element)
{
    uint32_t w[4];
    repro_rng_block(key, (uint32_t)(element >> 2), c0, c1, c2, w);
    return w[element & 3];
}

/* Uniform float in [0, 1): (float)(u32 >> 8) * 2^-24. Both steps are exact
 * (a 24-bit integer, then a power of two), so every value is a multiple of
 * 2^-24 and the largest is 1 - 2^-24. */
REPRO_HD static inline float repro_rng_u32_to_uniform(uint32_t u)
{
    return (float)(u >> 8) * 0x1p-24f;
}

REPRO_HD static inline float repro_rng_uniform(repro_rng_key key, uint32_t c0, uint32_t c1, uint32_t c2,
                                               uint64_t element)
{
    return repro_rng_u32_to_uniform(repro_rng_u32(key, c0, c1, c2, element));
}

/* Standard normal at (c0, c1, c2, element), element < 2^33. Box-Muller on the
 * word pair (w[2j], w[2j+1]), j = element & 1, of the block at counter
 * ((uint32_t)(element >> 1), c0, c1, c2), i.e. the raw words at u32 elements
 * 2*element and 2*element + 1. Evaluation order, every step one
 * binary32 operation rounded to nearest even:
 *   u1 = (float)((w[2j] >> 8) + 1) * 2^-24     exact, in (0, 1]
 *   u2 = (float)(w[2j+1] >> 8) * 2^-24         exact, in [0, 1)
 *   l  = repro_logf(u1)                        <= 0
 *   r  = repro_sqrtf(-2.0f * l)                (-2 * l is exact)
 *   c  = repro_cospif(2.0f * u2)               cos(2 pi u2), argument exact
 *   z  = r * c
 * u1 = 1 gives r = -0 and z = +-0 (probability 2^-24). Only the cosine
 * branch is used, so each element costs one block and the result is a pure
 * function of the element's own coordinates. */
REPRO_HD static inline float repro_rng_normal(repro_rng_key key, uint32_t c0, uint32_t c1, uint32_t c2,
                                              uint64_t element)
{
    uint32_t w[4];
    repro_rng_block(key, (uint32_t)(element >> 1), c0, c1, c2, w);
    uint32_t j = (uint32_t)(element & 1) * 2;
    float u1 = (float)((w[j] >> 8) + 1) * 0x1p-24f;
    float u2 = (float)(w[j + 1] >> 8) * 0x1p-24f;
    float l = repro_logf(u1);
    float r = repro_sqrtf(-2.0f * l);
    float c = repro_cospif(2.0f * u2);
    return r * c;
}

/* A uniformly random integer in [0, bound), bound >= 1, at (c0, c1, c2,
 * element), element < 2^33. Takes x = (w[2j] << 32) | w[2j+1], j = element & 1,
 * from the block at counter ((uint32_t)(element >> 1), c0, c1, c2) (the raw
 * words at u32 elements 2*element and 2*element + 1, as repro_rng_normal) and returns floor(x * bound / 2^64), the high
 * word of a 64x32-bit product, computed exactly in 64-bit integers. No
 * rejection loop, so it stays a pure function; each value in [0, bound) is hit
 * by floor(2^64 / bound) or that plus one of the 2^64 inputs, so its
 * probability differs from 1/bound by less than 2^-64, i.e. relatively by
 * less than bound / 2^64 < 2^-32. bound = 0 returns 0. */
REPRO_HD static inline uint32_t repro_rng_below(repro_rng_key key, uint32_t c0, uint32_t c1, uint32_t c2,
                                                uint64_t element, uint32_t bound)
{
    uint32_t w[4];
    repro_rng_block(key, (uint32_t)(element >> 1), c0, c1, c2, w);
    uint32_t j = (uint32_t)(element & 1) * 2;
    /* x * bound = hi * bound * 2^32 + lo * bound; its top 64 bits of 96 are
     * (hi * bound + (lo * bound >> 32)) >> 32, and the sum cannot overflow
     * ((2^32-1)^2 + 2^32-1 < 2^64). */
    uint64_t hi = (uint64_t)w[j] * bound;
    uint64_t lo = (uint64_t)w[j + 1] * bound;
    return (uint32_t)((hi + (lo >> 32)) >> 32);
}

/* Host only. perm[n] = a uniformly random permutation of 0..n-1, a pure
 * function of key and n: start from the identity, then Fisher-Yates for
 * i = n-1 down to 1, swapping perm[i] with perm[repro_rng_below(key, 0, 0, 0,
 * i, i + 1)]. Any n (i + 1 <= n always fits in 32 bits). */
void repro_rng_permutation(repro_rng_key key, uint32_t *perm, uint32_t n);

/* Host only. The epoch shuffle: perm[n] = repro_rng_permutation(
 * repro_rng_derive(seed, REPRO_RNG_SHUFFLE, epoch, 0), perm, n). */
void repro_rng_epoch_shuffle(uint64_t seed, uint32_t epoch, uint32_t *perm, uint32_t n);

#ifdef __cplusplus
}
#endif

#endif
