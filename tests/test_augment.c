/* Augmentation (include/repro/augment.h): a sample's result is a pure
 * function of (seed, epoch, position, its values) — the same drawn first or
 * last or on any of 4 threads, bit for bit; p = 0 changes nothing; each
 * transform does what it says (checked against out-of-place references
 * built from the documented coordinates); the fire rates, the noise's
 * standard deviation and the drop rate are within 4 standard deviations of
 * what was asked.
 * ctest-labels: threads */
#include <math.h>
#include <pthread.h>

#include "repro/augment.h"
#include "repro/rng.h"
#include "testutil.h"

enum { H = 28, W = 28, NPIX = H * W };

static repro_augment_config off(void)
{
    repro_config cfg;
    repro_config_defaults(&cfg);
    return cfg.augment;
}

/* A distinct, asymmetric image per position: x[r][c] = 1 + r * w + c + pos. */
static void pattern(float *x, int64_t h, int64_t w, uint32_t pos)
{
    for (int64_t i = 0; i < h * w; i++)
        x[i] = (float)(1 + i + (int64_t)pos);
}

static repro_rng_key key_of(uint64_t seed, uint32_t epoch)
{
    return repro_rng_derive(seed, REPRO_RNG_AUGMENT, epoch, 0);
}

static void test_off_is_identity(void)
{
    repro_augment_config a = off();
    a.noise_std = 3.0f; /* parameters without a probability do nothing */
    a.shift_pixels = 5;
    CHECK(!repro_augment_enabled(&a) && !repro_augment_image_enabled(&a));
    float x[NPIX], y[NPIX];
    pattern(x, H, W, 3);
    memcpy(y, x, sizeof x);
    x[5] = -0.0f;
    y[5] = -0.0f;
    for (uint32_t pos = 0; pos < 50; pos++)
        repro_augment_sample(&a, 1, 0, pos, x, NPIX, H, W);
    CHECK_BITS(x, y, NPIX, "p = 0");
    /* image transforms are skipped for a tabular sample */
    a.shift_p = a.flip_p = a.erase_p = a.noise_p = 1.0f;
    CHECK(repro_augment_enabled(&a) && repro_augment_image_enabled(&a));
    repro_augment_sample(&a, 1, 0, 7, x, NPIX, 0, 0);
    CHECK_BITS(x, y, NPIX, "tabular sample, image transforms");
    repro_error err;
    CHECK(repro_augment_check(&a, NPIX, H, W, "x.npy", &err) == REPRO_OK);
    CHECK(repro_augment_check(&a, 15, 0, 0, "x.npy", &err) == REPRO_ERR_CONFIG);
    CHECK(strcmp(err.message, "augment.shift_p: an image augmentation, but x.npy holds samples of 15 "
                              "features, not images (tables take augment.feature_noise_p and "
                              "augment.feature_drop_p)") == 0);
    a.shift_p = a.flip_p = a.erase_p = 0.0f;
    CHECK(repro_augment_check(&a, 15, 3, 4, "t.npy", &err) == REPRO_ERR_CONFIG);
    CHECK_CONTAINS(err.message, "augment.noise_p: an image augmentation, but t.npy holds");
    a.noise_p = 0.0f;
    a.feature_noise_p = 1.0f;
    CHECK(repro_augment_check(&a, 15, 0, 0, "t.npy", &err) == REPRO_OK);
}

/* Shift: the result equals an out-of-place shift by the dx, dy drawn at the
 * documented slots, and every dx in [-s, s] turns up. */
static void test_shift(void)
{
    repro_augment_config a = off();
    a.shift_p = 1.0f;
    a.shift_pixels = 3;
    enum { h = 6, w = 9 };
    repro_rng_key key = key_of(5, 2);
    int seen_dx[7] = {0}, all_ok = 1;
    for (uint32_t pos = 0; pos < 300; pos++) {
        float x[h * w], want[h * w];
        pattern(x, h, w, pos);
        int dx = (int)repro_rng_below(key, pos, 0, 0, REPRO_AUGMENT_SLOT_SHIFT_DX, 7) - 3;
        int dy = (int)repro_rng_below(key, pos, 0, 0, REPRO_AUGMENT_SLOT_SHIFT_DY, 7) - 3;
        seen_dx[dx + 3] = 1;
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++) {
                int sr = r - dy, sc = c - dx;
                want[r * w + c] = sr >= 0 && sr < h && sc >= 0 && sc < w ? x[sr * w + sc] : 0.0f;
            }
        repro_augment_sample(&a, 5, 2, pos, x, h * w, h, w);
        all_ok = all_ok && test_bits_equal(x, want, h * w, "shift");
    }
    CHECK(all_ok);
    for (int i = 0; i < 7; i++)
        CHECK_MSG(seen_dx[i], "dx = %d never drawn", i - 3);
    /* a shift of at least the width empties the image */
    a.shift_pixels = 40;
    float x[4 * 5], zero[4 * 5] = {0};
    int emptied = 0;
    for (uint32_t pos = 0; pos < 20; pos++) {
        pattern(x, 4, 5, pos);
        repro_augment_sample(&a, 5, 2, pos, x, 20, 4, 5);
        emptied += memcmp(x, zero, sizeof x) == 0;
    }
    CHECK(emptied >= 15); /* |dx| >= 5 or |dy| >= 4 with probability 1 - (9 * 7) / 81^2 */
}

static void test_flip(void)
{
    repro_augment_config a = off();
    a.flip_p = 1.0f;
    float x[NPIX], orig[NPIX], want[NPIX];
    pattern(x, H, W, 9);
    memcpy(orig, x, sizeof x);
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++)
            want[r * W + c] = orig[r * W + (W - 1 - c)];
    repro_augment_sample(&a, 1, 0, 4, x, NPIX, H, W);
    CHECK_BITS(x, want, NPIX, "flip");
    repro_augment_sample(&a, 1, 0, 4, x, NPIX, H, W);
    CHECK_BITS(x, orig, NPIX, "flip twice");
    /* odd width: the middle column stays */
    float y[3 * 5];
    pattern(y, 3, 5, 0);
    repro_augment_sample(&a, 1, 0, 0, y, 15, 3, 5);
    CHECK(y[2] == 3.0f && y[0] == 5.0f && y[4] == 1.0f && y[14] == 11.0f);
    /* p = 0.3: it fires on 30% of positions, within 4 sigma over 4000 */
    a.flip_p = 0.3f;
    int flips = 0;
    for (uint32_t pos = 0; pos < 4000; pos++) {
        float z[2 * 2] = {1, 2, 3, 4};
        repro_augment_sample(&a, 1, 0, pos, z, 4, 2, 2);
        flips += z[0] == 2.0f;
    }
    CHECK_MSG(fabs(flips - 1200.0) <= 4.0 * sqrt(4000 * 0.3 * 0.7), "flipped %d of 4000", flips);
}

/* Erase: the zeros form one rectangle, it equals the one the documented
 * formula places, and its area is the drawn fraction up to rounding of the
 * sides: |eh * ew - s| <= (eh + ew) / 2 + 1 for s in [min, max] * h * w. */
static void test_erase(void)
{
    repro_augment_config a = off();
    a.erase_p = 1.0f;
    a.erase_min_area = 0.1f;
    a.erase_max_area = 0.2f;
    enum { h = 64, w = 48 };
    static float x[h * w];
    repro_rng_key key = key_of(3, 1);
    int all_ok = 1, lo_seen = 0, hi_seen = 0, tops = 0;
    for (uint32_t pos = 0; pos < 300; pos++) {
        for (int i = 0; i < h * w; i++)
            x[i] = 1.0f;
        repro_augment_sample(&a, 3, 1, pos, x, h * w, h, w);
        int r0 = h, r1 = -1, c0 = w, c1 = -1, zeros = 0;
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
                if (x[r * w + c] == 0.0f) {
                    zeros++;
                    r0 = r < r0 ? r : r0;
                    r1 = r > r1 ? r : r1;
                    c0 = c < c0 ? c : c0;
                    c1 = c > c1 ? c : c1;
                }
        int eh = r1 - r0 + 1, ew = c1 - c0 + 1;
        int rect = zeros == eh * ew; /* every pixel of the bounding box is zero */
        double slack = 0.5 * (eh + ew) + 1.0, area = (double)eh * ew;
        int in_range = area >= 0.1 * h * w - slack && area <= 0.2 * h * w + slack;
        /* the documented formula, coordinate by coordinate */
        float ua = repro_rng_uniform(key, pos, 0, 0, 2 * REPRO_AUGMENT_SLOT_ERASE_AREA);
        float ur = repro_rng_uniform(key, pos, 0, 0, 2 * REPRO_AUGMENT_SLOT_ERASE_ASPECT);
        int64_t feh, few;
        repro_augment_erase_size(&a, ua, ur, h, w, &feh, &few);
        uint32_t top = repro_rng_below(key, pos, 0, 0, REPRO_AUGMENT_SLOT_ERASE_TOP, (uint32_t)(h - feh + 1));
        uint32_t left = repro_rng_below(key, pos, 0, 0, REPRO_AUGMENT_SLOT_ERASE_LEFT, (uint32_t)(w - few + 1));
        int placed = feh == eh && few == ew && (int)top == r0 && (int)left == c0;
        double aspect = (double)eh / ew;
        int shaped = aspect > 0.5 * (1 - 1.0 / ew) - 0.05 && aspect < 2.0 * (1 + 1.0 / ew) + 0.05;
        if (!(rect && in_range && placed && shaped)) {
            fprintf(stderr, "pos %u: rect %d area %g [%g, %g] placed %d aspect %g\n", pos, rect, area,
                    0.1 * h * w, 0.2 * h * w, placed, aspect);
            all_ok = 0;
        }
        lo_seen += area < 0.12 * h * w;
        hi_seen += area > 0.18 * h * w;
        tops += r0 == 0;
    }
    CHECK(all_ok);
    CHECK(lo_seen > 10 && hi_seen > 10); /* the fraction spans [min, max] */
    CHECK(tops < 100);                    /* positions vary */
    /* the formula's extremes: min = max = 1 on a square with r = 1 erases all */
    a.erase_min_area = a.erase_max_area = 1.0f;
    int64_t eh, ew;
    repro_augment_erase_size(&a, 0.0f, 0.5f, 10, 10, &eh, &ew); /* ur = 1/2: r = exp(0) = 1 */
    CHECK(eh == 10 && ew == 10);
    repro_augment_erase_size(&a, 0.0f, 0.0f, 10, 10, &eh, &ew); /* r = 1/2: tall is clamped */
    CHECK(eh == 7 && ew == 10);
    a.erase_min_area = a.erase_max_area = 0.0001f;
    repro_augment_erase_size(&a, 0.5f, 0.5f, 10, 10, &eh, &ew); /* never below one pixel */
    CHECK(eh == 1 && ew == 1);
}

/* Noise of std s on a zero input: mean within 4 s / sqrt(N), variance within
 * 4 sqrt(2 / N) s^2 (the sample variance of N normals has sd sqrt(2/N) s^2). */
static void check_noise(const repro_augment_config *a, float std, int64_t n, int64_t h, int64_t w,
                        const char *what)
{
    enum { SAMPLES = 200 };
    float *x = calloc((size_t)n, sizeof *x);
    double sum = 0, sumsq = 0, N = (double)SAMPLES * (double)n;
    for (uint32_t pos = 0; pos < SAMPLES; pos++) {
        memset(x, 0, (size_t)n * sizeof *x);
        repro_augment_sample(a, 8, 0, pos, x, n, h, w);
        for (int64_t i = 0; i < n; i++) {
            sum += x[i];
            sumsq += (double)x[i] * x[i];
        }
    }
    double mean = sum / N, var = sumsq / N - mean * mean, s2 = (double)std * std;
    CHECK_MSG(fabs(mean) <= 4.0 * std / sqrt(N), "%s: mean %g", what, mean);
    CHECK_MSG(fabs(var - s2) <= 4.0 * sqrt(2.0 / N) * s2, "%s: variance %g, want %g", what, var, s2);
    free(x);
}

static void test_noise(void)
{
    repro_augment_config a = off();
    a.noise_p = 1.0f;
    a.noise_std = 0.5f;
    check_noise(&a, 0.5f, NPIX, H, W, "image noise");
    /* the documented values: x + std * normal(key, pos, stream 1, 0, pixel) */
    float x[NPIX], want[NPIX];
    pattern(x, H, W, 2);
    repro_rng_key key = key_of(8, 4);
    for (int i = 0; i < NPIX; i++) {
        float t = 0.5f * repro_rng_normal(key, 2, REPRO_AUGMENT_STREAM_NOISE, 0, (uint64_t)i);
        want[i] = x[i] + t;
    }
    repro_augment_sample(&a, 8, 4, 2, x, NPIX, H, W);
    CHECK_BITS(x, want, NPIX, "image noise values");

    repro_augment_config f = off();
    f.feature_noise_p = 1.0f;
    f.feature_noise_std = 0.2f;
    check_noise(&f, 0.2f, 15, 0, 0, "feature noise, table");
    check_noise(&f, 0.2f, NPIX, H, W, "feature noise, image");
}

static void test_feature_drop(void)
{
    repro_augment_config a = off();
    a.feature_drop_p = 1.0f;
    a.feature_drop_rate = 0.25f;
    enum { N = 1000, SAMPLES = 100 };
    static float x[N];
    int64_t zeros = 0;
    int kept_or_zero = 1;
    for (uint32_t pos = 0; pos < SAMPLES; pos++) {
        for (int i = 0; i < N; i++)
            x[i] = 2.0f;
        repro_augment_sample(&a, 4, 0, pos, x, N, 0, 0);
        for (int i = 0; i < N; i++) {
            kept_or_zero = kept_or_zero && (x[i] == 0.0f || x[i] == 2.0f);
            zeros += x[i] == 0.0f;
        }
    }
    CHECK(kept_or_zero);
    double total = (double)N * SAMPLES;
    CHECK_MSG(fabs((double)zeros - 0.25 * total) <= 4.0 * sqrt(total * 0.25 * 0.75), "dropped %lld of %g",
              (long long)zeros, total);
    /* rate 1 zeroes everything, rate 0 nothing */
    a.feature_drop_rate = 1.0f;
    for (int i = 0; i < N; i++)
        x[i] = 2.0f;
    repro_augment_sample(&a, 4, 0, 0, x, N, 0, 0);
    int all_zero = 1;
    for (int i = 0; i < N; i++)
        all_zero = all_zero && x[i] == 0.0f;
    CHECK(all_zero);
}

/* Different positions, epochs and seeds draw differently. */
static void test_coordinates_matter(void)
{
    repro_augment_config a = off();
    a.noise_p = 1.0f;
    a.noise_std = 1.0f;
    float base[NPIX], x[4][NPIX];
    pattern(base, H, W, 0);
    uint32_t pos[4] = {0, 1, 0, 0}, epoch[4] = {0, 0, 1, 0};
    uint64_t seed[4] = {1, 1, 1, 2};
    for (int k = 0; k < 4; k++) {
        memcpy(x[k], base, sizeof base);
        repro_augment_sample(&a, seed[k], epoch[k], pos[k], x[k], NPIX, H, W);
    }
    for (int k = 1; k < 4; k++)
        CHECK_MSG(memcmp(x[0], x[k], sizeof base) != 0, "case %d draws as case 0", k);
}

/* ---- order and thread independence ----------------------------------------- */

enum { POSITIONS = 256 };

static repro_augment_config all_on(void)
{
    repro_augment_config a = off();
    a.shift_p = a.flip_p = a.erase_p = a.noise_p = 0.5f;
    a.feature_drop_p = a.feature_noise_p = 0.5f;
    a.shift_pixels = 3;
    return a;
}

static void augment_at(const repro_augment_config *a, float *out, uint32_t pos)
{
    float *x = out + (size_t)pos * NPIX;
    pattern(x, H, W, pos);
    repro_augment_sample(a, 99, 6, pos, x, NPIX, H, W);
}

typedef struct worker {
    const repro_augment_config *cfg;
    float *out;
    int id;
} worker;

/* Thread id takes positions p with p % 4 == id, in an order of its own:
 * ascending, descending, odd-then-even and a stride-7 walk. */
static void *work(void *arg)
{
    worker *wk = arg;
    uint32_t mine[POSITIONS / 4];
    int n = 0;
    for (uint32_t p = (uint32_t)wk->id; p < POSITIONS; p += 4)
        mine[n++] = p;
    for (int k = 0; k < n; k++) {
        int i = wk->id == 0 ? k : wk->id == 1 ? n - 1 - k : wk->id == 2 ? (k < n / 2 ? 2 * k + 1 : 2 * (k - n / 2)) : (k * 7) % n;
        augment_at(wk->cfg, wk->out, mine[i]);
    }
    return NULL;
}

static void test_order_and_threads(void)
{
    repro_augment_config a = all_on();
    size_t bytes = (size_t)POSITIONS * NPIX * sizeof(float);
    float *asc = malloc(bytes), *desc = malloc(bytes), *thr = malloc(bytes);
    for (uint32_t p = 0; p < POSITIONS; p++)
        augment_at(&a, asc, p);
    for (uint32_t p = POSITIONS; p-- > 0;)
        augment_at(&a, desc, p);
    CHECK_BITS(asc, desc, (size_t)POSITIONS * NPIX, "ascending vs descending");
    memset(thr, 0xff, bytes);
    pthread_t t[4];
    worker wk[4];
    for (int i = 0; i < 4; i++) {
        wk[i] = (worker){&a, thr, i};
        CHECK(pthread_create(&t[i], NULL, work, &wk[i]) == 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK_BITS(asc, thr, (size_t)POSITIONS * NPIX, "one thread vs four");
    /* and it did augment: most samples differ from their input */
    int changed = 0;
    float x[NPIX];
    for (uint32_t p = 0; p < POSITIONS; p++) {
        pattern(x, H, W, p);
        changed += memcmp(x, asc + (size_t)p * NPIX, sizeof x) != 0;
    }
    CHECK(changed > POSITIONS * 9 / 10); /* 1 - 0.5^6 of them fire something */
    free(asc);
    free(desc);
    free(thr);
}

int main(void)
{
    test_off_is_identity();
    test_shift();
    test_flip();
    test_erase();
    test_noise();
    test_feature_drop();
    test_coordinates_matter();
    test_order_and_threads();
    return test_finish("test_augment");
}
