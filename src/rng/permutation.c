/* Random permutations as pure functions of a key (host only).
 *
 * The swap index at step i depends only on (key, i), so the permutation is
 * fixed by the key and n alone; the loop itself is inherently sequential,
 * which is why this is host code: a shuffle of n indices is cheap next to an
 * epoch of training. */
#include "repro/rng.h"

void repro_rng_permutation(repro_rng_key key, uint32_t *perm, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        perm[i] = i;
    /* Fisher-Yates, i = n-1 down to 1: perm[i] takes a uniformly chosen one of
     * perm[0..i]. (i + 1 <= n fits in 32 bits.) */
    for (uint32_t i = n > 0 ? n - 1 : 0; i > 0; i--) {
        uint32_t j = repro_rng_below(key, 0, 0, 0, i, i + 1);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void repro_rng_epoch_shuffle(uint64_t seed, uint32_t epoch, uint32_t *perm, uint32_t n)
{
    repro_rng_permutation(repro_rng_derive(seed, REPRO_RNG_SHUFFLE, epoch, 0), perm, n);
}
