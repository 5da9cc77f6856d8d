/* The seeded train/validation split.
 *
 * A pure function of (seed, n, val_fraction), so every run, worker count and
 * resumed process agrees on which samples are held out:
 *   n_val = (int64_t)floor((double)n * (double)val_fraction)
 *   perm  = repro_rng_permutation(repro_rng_derive(seed, REPRO_RNG_SPLIT, 0, 0), n)
 *   val   = perm[0, n_val) sorted ascending; train = perm[n_val, n) sorted ascending.
 * The product is one double multiplication: both factors are exact in double
 * (n < 2^53, a binary32 widens exactly), so only its rounding to double and
 * the floor decide n_val. The fraction is the binary32 value of the config's
 * number, e.g. 0.1f = 0.100000001490116..., so 60000 * 0.1f gives 6000, but
 * 0.7f = 0.699999988079071... and 10 * 0.7f gives 6, not 7.
 * Sorting makes "sample index" mean the same in both lists whatever the
 * split; it is done by marking the held-out samples, O(n). */
#include "repro/data.h"

#include <math.h>
#include <stdlib.h>

#include "repro/rng.h"

repro_status repro_data_split(uint64_t seed, int64_t n, float val_fraction, uint32_t **train_idx,
                              int64_t *n_train, uint32_t **val_idx, int64_t *n_val,
                              repro_error *err)
{
    *train_idx = NULL;
    *val_idx = NULL;
    *n_train = 0;
    *n_val = 0;
    if (n < 1 || n > (int64_t)UINT32_MAX)
        return repro_fail(err, REPRO_ERR_ARG, "split: sample count %lld is outside [1, 2^32 - 1]",
                          (long long)n);
    if (!(val_fraction >= 0.0f && val_fraction < 1.0f))
        return repro_fail(err, REPRO_ERR_ARG, "split: val_fraction %.9g is outside [0, 1)",
                          (double)val_fraction);
    int64_t nv = (int64_t)floor((double)n * (double)val_fraction);
    int64_t nt = n - nv;
    uint32_t *perm = malloc((size_t)n * sizeof(uint32_t));
    unsigned char *held_out = calloc((size_t)n, 1);
    uint32_t *train = malloc((size_t)nt * sizeof(uint32_t));
    uint32_t *val = malloc((size_t)(nv > 0 ? nv : 1) * sizeof(uint32_t));
    if (!perm || !held_out || !train || !val) {
        free(perm);
        free(held_out);
        free(train);
        free(val);
        return repro_fail(err, REPRO_ERR_NOMEM, "split: out of memory for %lld samples",
                          (long long)n);
    }
    repro_rng_permutation(repro_rng_derive(seed, REPRO_RNG_SPLIT, 0, 0), perm, (uint32_t)n);
    for (int64_t i = 0; i < nv; i++)
        held_out[perm[i]] = 1;
    int64_t t = 0, v = 0;
    for (int64_t i = 0; i < n; i++) {
        if (held_out[i])
            val[v++] = (uint32_t)i;
        else
            train[t++] = (uint32_t)i;
    }
    free(perm);
    free(held_out);
    *train_idx = train;
    *val_idx = val;
    *n_train = nt;
    *n_val = nv;
    return REPRO_OK;
}
