/* repro/augment.h: data augmentation of one training sample, as a pure
 * function of (seed, epoch, the sample's position in the epoch, its values).
 *
 * Every random number comes from Philox at
 *     key = repro_rng_derive(seed, REPRO_RNG_AUGMENT, epoch, 0)
 *     coordinates (c0 = position in the epoch, c1 = stream, c2 = 0, element)
 * so a sample is augmented the same way by any worker, in any order, after
 * any resume. Streams, elements, formulas and float orders are written in
 * docs/augmentation.md ("Augmentation"); config keys in docs/config.md.
 *
 * Transforms, in this fixed order, each firing with its own probability:
 *   images (h > 0, w > 0, h * w == n_features): shift, flip, erase, noise;
 *   every sample: feature_drop, feature_noise. */
#ifndef REPRO_AUGMENT_H
#define REPRO_AUGMENT_H

#include <stdint.h>

#include "repro/config.h"
#include "repro/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Stream numbers (coordinate c1). Never renumber: they fix the draws. */
enum {
    REPRO_AUGMENT_STREAM_DECIDE = 0,        /* fire decisions and parameters, by slot */
    REPRO_AUGMENT_STREAM_NOISE = 1,         /* image noise: normal at element = pixel index */
    REPRO_AUGMENT_STREAM_FEATURE_DROP = 2,  /* uniform at element = feature index */
    REPRO_AUGMENT_STREAM_FEATURE_NOISE = 3  /* normal at element = feature index */
};

/* Slots of the decision stream: slot j owns raw words 2j and 2j + 1, read
 * as repro_rng_uniform(..., element 2j) or repro_rng_below(..., element j). */
enum {
    REPRO_AUGMENT_SLOT_SHIFT = 0,         /* uniform: fires when u < shift_p */
    REPRO_AUGMENT_SLOT_SHIFT_DX = 1,      /* below(2s + 1) - s */
    REPRO_AUGMENT_SLOT_SHIFT_DY = 2,      /* below(2s + 1) - s */
    REPRO_AUGMENT_SLOT_FLIP = 3,          /* uniform: fires when u < flip_p */
    REPRO_AUGMENT_SLOT_ERASE = 4,         /* uniform: fires when u < erase_p */
    REPRO_AUGMENT_SLOT_ERASE_AREA = 5,    /* uniform: the area fraction */
    REPRO_AUGMENT_SLOT_ERASE_ASPECT = 6,  /* uniform: the aspect ratio */
    REPRO_AUGMENT_SLOT_ERASE_TOP = 7,     /* below(h - eh + 1) */
    REPRO_AUGMENT_SLOT_ERASE_LEFT = 8,    /* below(w - ew + 1) */
    REPRO_AUGMENT_SLOT_NOISE = 9,         /* uniform: fires when u < noise_p */
    REPRO_AUGMENT_SLOT_FEATURE_DROP = 10, /* uniform: fires when u < feature_drop_p */
    REPRO_AUGMENT_SLOT_FEATURE_NOISE = 11 /* uniform: fires when u < feature_noise_p */
};

/* Whether any transform has p > 0 (else a loader can skip augmentation). */
int repro_augment_enabled(const repro_augment_config *cfg);

/* Whether any image transform (shift, flip, erase, noise) has p > 0. */
int repro_augment_image_enabled(const repro_augment_config *cfg);

/* The loader's check once the data's shape is known: image transforms need
 * images (h > 0, w > 0, h * w == n_features). `what` names the data in the
 * message (a file name). REPRO_ERR_CONFIG naming the first such key. */
repro_status repro_augment_check(const repro_augment_config *cfg, int64_t n_features, int64_t h, int64_t w,
                                 const char *what, repro_error *err);

/* Augments one training sample in place: x[n_features], an image of h rows
 * by w columns (row-major) when h > 0, w > 0 and h * w == n_features, else
 * tabular (pass h = w = 0); image transforms are skipped for tabular
 * samples (repro_augment_check refuses that configuration up front).
 * pos is the sample's position in the epoch (what the sampler indexes by).
 * A pure function of its arguments; thread-safe; allocates nothing. */
void repro_augment_sample(const repro_augment_config *cfg, uint64_t seed, uint32_t epoch, uint32_t pos,
                          float *x, int64_t n_features, int64_t h, int64_t w);

/* The erased rectangle's size for area fraction draw ua and aspect draw ur
 * (both uniform in [0, 1)) on an h x w image; exposed so tests and docs can
 * check it. *eh in [1, h], *ew in [1, w]. Formula in docs/augmentation.md. */
void repro_augment_erase_size(const repro_augment_config *cfg, float ua, float ur, int64_t h, int64_t w,
                              int64_t *eh, int64_t *ew);

#ifdef __cplusplus
}
#endif
#endif
