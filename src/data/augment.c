/* augment.c: the transforms of include/repro/augment.h. Each draws its
 * numbers at fixed coordinates (key = derive(seed, AUGMENT, epoch, 0),
 * c0 = position, c1 = stream, c2 = 0, element), so its result depends only on
 * the sample's own coordinates and values. Float steps are single binary32
 * operations in the order written beside them (no contraction: the build
 * uses -ffp-contract=off). docs/augmentation.md is the contract. */
#include "repro/augment.h"

#include <math.h>
#include <string.h>

#include "data/augment_isa.h"
#include "repro/math.h"
#include "repro/rng.h"
#include "rng/philox_simd.h"

/* A fire decision: the uniform of its slot (raw word 2 * slot) below p.
 * p = 0 never fires (u >= 0), p = 1 always does (u <= 1 - 2^-24). */
static int fires(repro_rng_key key, uint32_t pos, int slot, float p)
{
    return repro_rng_uniform(key, pos, REPRO_AUGMENT_STREAM_DECIDE, 0, 2u * (uint64_t)slot) < p;
}

/* An integer in [0, bound) from a slot (raw words 2 * slot and 2 * slot + 1). */
static uint32_t below(repro_rng_key key, uint32_t pos, int slot, uint32_t bound)
{
    return repro_rng_below(key, pos, REPRO_AUGMENT_STREAM_DECIDE, 0, (uint64_t)slot, bound);
}

int repro_augment_image_enabled(const repro_augment_config *cfg)
{
    return cfg->shift_p > 0.0f || cfg->flip_p > 0.0f || cfg->erase_p > 0.0f || cfg->noise_p > 0.0f;
}

int repro_augment_enabled(const repro_augment_config *cfg)
{
    return repro_augment_image_enabled(cfg) || cfg->feature_drop_p > 0.0f || cfg->feature_noise_p > 0.0f;
}

static int is_image(int64_t n_features, int64_t h, int64_t w)
{
    return h > 0 && w > 0 && h * w == n_features;
}

repro_status repro_augment_check(const repro_augment_config *cfg, int64_t n_features, int64_t h, int64_t w,
                                 const char *what, repro_error *err)
{
    if (!repro_augment_image_enabled(cfg) || is_image(n_features, h, w))
        return REPRO_OK;
    const char *key = cfg->shift_p > 0.0f ? "shift_p"
                      : cfg->flip_p > 0.0f ? "flip_p"
                      : cfg->erase_p > 0.0f ? "erase_p"
                                            : "noise_p";
    return repro_fail(err, REPRO_ERR_CONFIG,
                      "augment.%s: an image augmentation, but %s holds samples of %lld features, not "
                      "images (tables take augment.feature_noise_p and augment.feature_drop_p)",
                      key, what, (long long)n_features);
}

/* ---- image transforms: x[h][w] ------------------------------------------------ */

/* out[r][c] = in[r - dy][c - dx], 0 where that is outside the image: the
 * content moves dx columns right and dy rows down. In place: rows are
 * visited so that a source row is read before it is overwritten (bottom-up
 * when dy > 0), and memmove handles a row onto itself. */
static void shift(float *x, int64_t h, int64_t w, int64_t dx, int64_t dy)
{
    int64_t adx = dx < 0 ? -dx : dx;
    for (int64_t k = 0; k < h; k++) {
        int64_t r = dy > 0 ? h - 1 - k : k, src = r - dy;
        float *dst = x + r * w;
        if (src < 0 || src >= h || adx >= w) {
            memset(dst, 0, (size_t)w * sizeof *dst);
            continue;
        }
        const float *from = x + src * w;
        if (dx >= 0) {
            memmove(dst + dx, from, (size_t)(w - dx) * sizeof *dst);
            memset(dst, 0, (size_t)dx * sizeof *dst);
        } else {
            memmove(dst, from + adx, (size_t)(w - adx) * sizeof *dst);
            memset(dst + (w - adx), 0, (size_t)adx * sizeof *dst);
        }
    }
}

/* x[r][c] <-> x[r][w - 1 - c]. */
static void flip(float *x, int64_t h, int64_t w)
{
    for (int64_t r = 0; r < h; r++) {
        float *row = x + r * w;
        for (int64_t c = 0; c < w / 2; c++) {
            float t = row[c];
            row[c] = row[w - 1 - c];
            row[w - 1 - c] = t;
        }
    }
}

/* Side lengths of the erased rectangle:
 *   a  = min_area + (max_area - min_area) * ua        area fraction in [min, max]
 *   s  = a * (float)(h * w)                            pixels (h * w exact below 2^24)
 *   r  = repro_expf((2 * ur - 1) * 0.693147182f)       aspect eh / ew in [1/2, 2]
 *   eh = floorf(repro_sqrtf(s * r) + 0.5f)  clamped to [1, h]
 *   ew = floorf(repro_sqrtf(s / r) + 0.5f)  clamped to [1, w]
 * (2 * ur - 1 is exact: ur is a multiple of 2^-24 in [0, 1).) */
void repro_augment_erase_size(const repro_augment_config *cfg, float ua, float ur, int64_t h, int64_t w,
                              int64_t *eh, int64_t *ew)
{
    float span = cfg->erase_max_area - cfg->erase_min_area;
    float a = cfg->erase_min_area + span * ua;
    float s = a * (float)(h * w);
    float r = repro_expf((2.0f * ur - 1.0f) * 0.693147182f);
    float fh = floorf(repro_sqrtf(s * r) + 0.5f);
    float fw = floorf(repro_sqrtf(s / r) + 0.5f);
    *eh = fh < 1.0f ? 1 : fh > (float)h ? h : (int64_t)fh;
    *ew = fw < 1.0f ? 1 : fw > (float)w ? w : (int64_t)fw;
}

static void erase(const repro_augment_config *cfg, repro_rng_key key, uint32_t pos, float *x, int64_t h,
                  int64_t w)
{
    float ua = repro_rng_uniform(key, pos, REPRO_AUGMENT_STREAM_DECIDE, 0, 2 * REPRO_AUGMENT_SLOT_ERASE_AREA);
    float ur = repro_rng_uniform(key, pos, REPRO_AUGMENT_STREAM_DECIDE, 0, 2 * REPRO_AUGMENT_SLOT_ERASE_ASPECT);
    int64_t eh, ew;
    repro_augment_erase_size(cfg, ua, ur, h, w, &eh, &ew);
    int64_t top = below(key, pos, REPRO_AUGMENT_SLOT_ERASE_TOP, (uint32_t)(h - eh + 1));
    int64_t left = below(key, pos, REPRO_AUGMENT_SLOT_ERASE_LEFT, (uint32_t)(w - ew + 1));
    for (int64_t r = top; r < top + eh; r++)
        memset(x + r * w + left, 0, (size_t)ew * sizeof *x);
}

/* x[i] = x[i] + std * z_i, z_i = repro_rng_normal at (pos, stream, 0, i):
 * the product rounded, then the sum rounded. */
/* x[i] + std * normal(i). On AVX-512 the normals come 32 at a time from
 * repro_normals_avx512, bitwise the values of repro_rng_normal. */
static void add_noise(repro_rng_key key, uint32_t pos, uint32_t stream, float std, float *x, int64_t n,
                      repro_isa isa)
{
    int64_t i = 0;
#if defined(__x86_64__) /* the only SIMD twin of the normals (none for AVX2 or NEON) */
    for (; isa == REPRO_ISA_AVX512 && i + 32 <= n; i += 32) {
        float z[32];
        repro_normals_avx512(key, (uint32_t)(i >> 1), pos, stream, 0, z);
        for (int k = 0; k < 32; k++)
            x[i + k] = x[i + k] + std * z[k];
    }
#else
    (void)isa;
#endif
    for (; i < n; i++) {
        float t = std * repro_rng_normal(key, pos, stream, 0, (uint64_t)i);
        x[i] = x[i] + t;
    }
}

static void image_transforms(const repro_augment_config *cfg, repro_rng_key key, uint32_t pos, float *x,
                             int64_t h, int64_t w, repro_isa isa)
{
    if (fires(key, pos, REPRO_AUGMENT_SLOT_SHIFT, cfg->shift_p)) {
        uint32_t span = 2u * (uint32_t)cfg->shift_pixels + 1u;
        int64_t dx = (int64_t)below(key, pos, REPRO_AUGMENT_SLOT_SHIFT_DX, span) - cfg->shift_pixels;
        int64_t dy = (int64_t)below(key, pos, REPRO_AUGMENT_SLOT_SHIFT_DY, span) - cfg->shift_pixels;
        shift(x, h, w, dx, dy);
    }
    if (fires(key, pos, REPRO_AUGMENT_SLOT_FLIP, cfg->flip_p))
        flip(x, h, w);
    if (fires(key, pos, REPRO_AUGMENT_SLOT_ERASE, cfg->erase_p))
        erase(cfg, key, pos, x, h, w);
    if (fires(key, pos, REPRO_AUGMENT_SLOT_NOISE, cfg->noise_p))
        add_noise(key, pos, REPRO_AUGMENT_STREAM_NOISE, cfg->noise_std, x, h * w, isa);
}

void repro_augment_sample(const repro_augment_config *cfg, uint64_t seed, uint32_t epoch, uint32_t pos,
                          float *x, int64_t n_features, int64_t h, int64_t w)
{
    /* the scalar path runs on every CPU, so this cannot fail */
    (void)repro_augment_sample_isa(cfg, seed, epoch, pos, x, n_features, h, w, REPRO_ISA_SCALAR, NULL);
}

repro_status repro_augment_sample_isa(const repro_augment_config *cfg, uint64_t seed, uint32_t epoch,
                                      uint32_t pos, float *x, int64_t n_features, int64_t h, int64_t w,
                                      repro_isa isa, repro_error *err)
{
    repro_cpu cpu = {isa, NULL};
    REPRO_CPU_CHECK(&cpu, err);
    if (!repro_augment_enabled(cfg))
        return REPRO_OK;
    repro_rng_key key = repro_rng_derive(seed, REPRO_RNG_AUGMENT, epoch, 0);
    if (is_image(n_features, h, w))
        image_transforms(cfg, key, pos, x, h, w, isa);
    if (fires(key, pos, REPRO_AUGMENT_SLOT_FEATURE_DROP, cfg->feature_drop_p)) {
        for (int64_t i = 0; i < n_features; i++)
            if (repro_rng_uniform(key, pos, REPRO_AUGMENT_STREAM_FEATURE_DROP, 0, (uint64_t)i) <
                cfg->feature_drop_rate)
                x[i] = 0.0f;
    }
    if (fires(key, pos, REPRO_AUGMENT_SLOT_FEATURE_NOISE, cfg->feature_noise_p))
        add_noise(key, pos, REPRO_AUGMENT_STREAM_FEATURE_NOISE, cfg->feature_noise_std, x, n_features, isa);
    return REPRO_OK;
}
