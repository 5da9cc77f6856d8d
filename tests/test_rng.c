/* Counter-based random numbers: Philox known answers, the key derivation,
 * order and thread independence, distribution sanity, permutations.
 * ctest-labels: threads */
#include <math.h>
#include <pthread.h>

#include "repro/rng.h"
#include "testutil.h"

#define N_DRAWS 100000

/* Upper chi-square bound for df degrees of freedom at about p = 1e-4
 * (Wilson-Hilferty; z = 3.719 is the 1 - 1e-4 normal quantile). The draws
 * are fixed by their keys, so a pass is permanent; a bound this loose only
 * fails for a real defect. */
static double chi2_bound(int df)
{
    double a = 2.0 / (9.0 * df);
    double t = 1.0 - a + 3.719 * sqrt(a);
    return df * t * t * t;
}

static double chi2_stat(const uint32_t *counts, int bins, double expected)
{
    double s = 0.0;
    for (int b = 0; b < bins; b++) {
        double d = counts[b] - expected;
        s += d * d / expected;
    }
    return s;
}

/* Every "philox4x32 10" line of Random123's known-answer file. */
static void test_known_answers(void)
{
    const char *path = REPRO_SOURCE_DIR "/tests/data/random123_kat_vectors.txt";
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open known-answer file %s", path);
    if (!f)
        return;
    char line[512];
    int vectors = 0;
    while (fgets(line, sizeof line, f)) {
        uint32_t c[4], k[2], want[4], got[4];
        if (strncmp(line, "philox4x32 10 ", 14) != 0)
            continue;
        int fields = sscanf(line + 14, "%" SCNx32 " %" SCNx32 " %" SCNx32 " %" SCNx32 " %" SCNx32
                                       " %" SCNx32 " %" SCNx32 " %" SCNx32 " %" SCNx32 " %" SCNx32,
                            &c[0], &c[1], &c[2], &c[3], &k[0], &k[1], &want[0], &want[1], &want[2],
                            &want[3]);
        CHECK_MSG(fields == 10, "malformed line in %s: %s", path, line);
        if (fields != 10)
            continue;
        repro_philox4x32_10(c, k, got);
        for (int i = 0; i < 4; i++)
            CHECK_MSG(got[i] == want[i], "vector %d word %d: got %08" PRIx32 ", want %08" PRIx32,
                      vectors, i, got[i], want[i]);
        vectors++;
    }
    fclose(f);
    CHECK_MSG(vectors >= 3, "only %d philox4x32 10 vectors in %s", vectors, path);
}

/* Values computed independently (a 20-line Python model of Philox and of the
 * contract in docs/rng.md), so any change to the derivation, the counter
 * layout or below()'s mapping is caught. */
static void test_pinned_values(void)
{
    repro_rng_key k = repro_rng_derive(42, REPRO_RNG_INIT, 0, 0);
    CHECK_EQ_U64(k.k[0], 0x6345695fu);
    CHECK_EQ_U64(k.k[1], 0x6535fd9cu);
    repro_rng_key d = repro_rng_derive(0x0123456789abcdefu, REPRO_RNG_DROPOUT, 7, 3);
    CHECK_EQ_U64(d.k[0], 0xf3943ff8u);
    CHECK_EQ_U64(d.k[1], 0x077c7d2eu);
    CHECK_EQ_U64(repro_rng_u32(k, 5, 6, 7, 9), 0x56de002fu);
    CHECK_EQ_U64(repro_rng_below(k, 5, 6, 7, 13, 1000), 366);
    CHECK_EQ_U64(repro_rng_below(k, 5, 6, 7, 13, 0xffffffffu), 1573233947u);
    /* Normals from the same model with each step correctly rounded to float
     * (it agrees with repro_rng_normal on all of elements 0..1999). */
    const uint32_t normal_bits[6] = {0xbf3ee723, 0x3e706288, 0xbf949610,
                                     0x3ec0e9c0, 0x400568a8, 0xbf34ccd8};
    for (uint64_t e = 0; e < 6; e++) {
        float z = repro_rng_normal(k, 0, 0, 0, e);
        uint32_t bits;
        memcpy(&bits, &z, 4);
        CHECK_MSG(bits == normal_bits[e], "normal %d: %08" PRIx32 " (%.9g)", (int)e, bits, z);
    }
    uint32_t perm[10], want[10] = {5, 4, 1, 8, 9, 6, 0, 7, 2, 3};
    repro_rng_epoch_shuffle(42, 3, perm, 10);
    CHECK(memcmp(perm, want, sizeof want) == 0);
}

/* u32, uniform, normal and below address the blocks the contract says. */
static void test_counter_layout(void)
{
    repro_rng_key k = repro_rng_derive(9, REPRO_RNG_AUGMENT, 1, 0);
    uint64_t elements[] = {0, 1, 2, 3, 4, 5, 1000001, (1ull << 33) + 6, (1ull << 34) - 1};
    for (size_t i = 0; i < sizeof elements / sizeof elements[0]; i++) {
        uint64_t e = elements[i];
        uint32_t w[4], ctr[4] = {(uint32_t)(e >> 2), 11, 12, 13};
        repro_philox4x32_10(ctr, k.k, w);
        CHECK_EQ_U64(repro_rng_u32(k, 11, 12, 13, e), w[e & 3]);
        CHECK(repro_rng_uniform(k, 11, 12, 13, e) == (float)(w[e & 3] >> 8) / 16777216.0f);
        if (e >= (1ull << 33))
            continue;
        ctr[0] = (uint32_t)(e >> 1);
        repro_philox4x32_10(ctr, k.k, w);
        uint64_t x = (uint64_t)w[(e & 1) * 2] << 32 | w[(e & 1) * 2 + 1];
        CHECK_EQ_U64(x, (uint64_t)repro_rng_u32(k, 11, 12, 13, 2 * e) << 32 |
                            repro_rng_u32(k, 11, 12, 13, 2 * e + 1));
        CHECK_EQ_U64(repro_rng_below(k, 11, 12, 13, e, 77), (uint64_t)(((unsigned __int128)x * 77) >> 64));
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* 8 seeds x 7 purposes x 5 id0 x 2 id1 = 560 keys, all distinct. */
static void test_derivation_distinct(void)
{
    const uint64_t seeds[] = {0, 1, 2, 42, 1ull << 32, (1ull << 32) + 1, 1ull << 63, UINT64_MAX};
    const uint32_t id0s[] = {0, 1, 2, 1000, 0xffffffffu};
    enum { TOTAL = 8 * 7 * 5 * 2 };
    uint64_t keys[TOTAL];
    int n = 0;
    for (int s = 0; s < 8; s++)
        for (uint32_t p = REPRO_RNG_INIT; p <= REPRO_RNG_DATAGEN; p++)
            for (int a = 0; a < 5; a++)
                for (uint32_t b = 0; b < 2; b++) {
                    repro_rng_key k = repro_rng_derive(seeds[s], p, id0s[a], b);
                    keys[n++] = (uint64_t)k.k[1] << 32 | k.k[0];
                }
    CHECK(n == TOTAL);
    qsort(keys, TOTAL, sizeof keys[0], cmp_u64);
    int collisions = 0;
    for (int i = 1; i < TOTAL; i++)
        collisions += keys[i] == keys[i - 1];
    CHECK_MSG(collisions == 0, "%d key collisions among %d derivations", collisions, TOTAL);
}

/* Draws at coordinates (c0, c1, c2) = (3, 1, 0), element e in [0, N_DRAWS). */
typedef struct {
    repro_rng_key key;
    float *uniform; /* [N_DRAWS] */
    float *normal;  /* [N_DRAWS] */
    int first, stride;
} fill_job;

static void fill_one(const fill_job *j, uint64_t e)
{
    j->uniform[e] = repro_rng_uniform(j->key, 3, 1, 0, e);
    j->normal[e] = repro_rng_normal(j->key, 3, 1, 0, e);
}

static void *fill_strided(void *p)
{
    const fill_job *j = p;
    for (int e = j->first; e < N_DRAWS; e += j->stride)
        fill_one(j, (uint64_t)e);
    return NULL;
}

/* The same numbers ascending, descending and from 4 interleaved threads. */
static void test_order_independence(float *uni, float *nor)
{
    repro_rng_key key = repro_rng_derive(2024, REPRO_RNG_DROPOUT, 2, 0);
    float *buf = malloc(4 * N_DRAWS * sizeof(float));
    CHECK(buf != NULL);
    if (!buf)
        return;
    float *uni_desc = buf, *nor_desc = buf + N_DRAWS;
    float *uni_thr = buf + 2 * N_DRAWS, *nor_thr = buf + 3 * N_DRAWS;

    fill_job asc = {key, uni, nor, 0, 1};
    fill_strided(&asc);
    fill_job desc = {key, uni_desc, nor_desc, 0, 1};
    for (int e = N_DRAWS - 1; e >= 0; e--)
        fill_one(&desc, (uint64_t)e);
    pthread_t threads[4];
    fill_job jobs[4];
    for (int t = 0; t < 4; t++) {
        fill_job j = {key, uni_thr, nor_thr, t, 4};
        jobs[t] = j;
        CHECK(pthread_create(&threads[t], NULL, fill_strided, &jobs[t]) == 0);
    }
    for (int t = 0; t < 4; t++)
        pthread_join(threads[t], NULL);

    CHECK_BITS(uni, uni_desc, N_DRAWS, "uniform ascending vs descending");
    CHECK_BITS(uni, uni_thr, N_DRAWS, "uniform ascending vs 4 threads");
    CHECK_BITS(nor, nor_desc, N_DRAWS, "normal ascending vs descending");
    CHECK_BITS(nor, nor_thr, N_DRAWS, "normal ascending vs 4 threads");
    free(buf);
}

/* uniform: in [0, 1) on the 2^-24 grid; mean and variance within 5 standard
 * errors of 1/2 and 1/12 (0.0046, 0.0012 for 1e5 draws); 100 equal bins pass
 * a chi-square test. */
static void test_uniform_stats(const float *u)
{
    double sum = 0.0, sq = 0.0;
    uint32_t bins[100] = {0};
    int out_of_range = 0, off_grid = 0;
    for (int i = 0; i < N_DRAWS; i++) {
        out_of_range += !(u[i] >= 0.0f && u[i] < 1.0f);
        off_grid += (double)u[i] * 16777216.0 != floor((double)u[i] * 16777216.0);
        sum += u[i];
        bins[(int)(u[i] * 100.0f) % 100]++;
    }
    double mean = sum / N_DRAWS;
    for (int i = 0; i < N_DRAWS; i++)
        sq += (u[i] - mean) * (u[i] - mean);
    double var = sq / (N_DRAWS - 1);
    CHECK_MSG(out_of_range == 0 && off_grid == 0, "%d out of [0,1), %d off the 2^-24 grid",
              out_of_range, off_grid);
    CHECK_MSG(fabs(mean - 0.5) < 0.0046, "uniform mean %.6f", mean);
    CHECK_MSG(fabs(var - 1.0 / 12.0) < 0.0012, "uniform variance %.6f", var);
    double chi2 = chi2_stat(bins, 100, N_DRAWS / 100.0);
    CHECK_MSG(chi2 < chi2_bound(99), "uniform chi2 %.1f >= %.1f", chi2, chi2_bound(99));
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* normal: finite, |z| <= sqrt(-2 ln 2^-24) = 5.77; mean and variance within
 * 5 standard errors of 0 and 1 (0.016, 0.022); Kolmogorov-Smirnov distance
 * to the normal CDF below 1.95 / sqrt(n) (p = 0.001). */
static void test_normal_stats(const float *z)
{
    float *s = malloc(N_DRAWS * sizeof(float));
    CHECK(s != NULL);
    if (!s)
        return;
    double sum = 0.0, sq = 0.0;
    int bad = 0;
    for (int i = 0; i < N_DRAWS; i++) {
        bad += !(fabsf(z[i]) <= 5.78f);
        sum += z[i];
        s[i] = z[i];
    }
    double mean = sum / N_DRAWS;
    for (int i = 0; i < N_DRAWS; i++)
        sq += (z[i] - mean) * (z[i] - mean);
    double var = sq / (N_DRAWS - 1);
    CHECK_MSG(bad == 0, "%d normals not finite or beyond 5.78", bad);
    CHECK_MSG(fabs(mean) < 0.016, "normal mean %.6f", mean);
    CHECK_MSG(fabs(var - 1.0) < 0.022, "normal variance %.6f", var);
    qsort(s, N_DRAWS, sizeof s[0], cmp_float);
    double d = 0.0;
    for (int i = 0; i < N_DRAWS; i++) {
        double cdf = 0.5 * erfc(-s[i] / sqrt(2.0));
        d = fmax(d, fmax(cdf - (double)i / N_DRAWS, (double)(i + 1) / N_DRAWS - cdf));
    }
    CHECK_MSG(d < 1.95 / sqrt(N_DRAWS), "normal KS distance %.5f", d);
    free(s);
}

/* below: always < bound; bound 1 gives 0; bounds 2, 7, 10, 1000 pass a
 * chi-square test over 1e5 draws; matches a 128-bit multiply-high reference. */
static void test_below(void)
{
    repro_rng_key key = repro_rng_derive(77, REPRO_RNG_SAMPLER, 0, 0);
    const uint32_t bounds[] = {2, 7, 10, 1000};
    uint32_t *counts = calloc(1000, sizeof(uint32_t));
    CHECK(counts != NULL);
    if (!counts)
        return;
    for (int b = 0; b < 4; b++) {
        uint32_t bound = bounds[b];
        memset(counts, 0, 1000 * sizeof(uint32_t));
        int over = 0;
        for (int e = 0; e < N_DRAWS; e++) {
            uint32_t v = repro_rng_below(key, 0, 0, 0, (uint64_t)e, bound);
            over += v >= bound;
            if (v < bound)
                counts[v]++;
        }
        CHECK_MSG(over == 0, "%d draws >= bound %u", over, bound);
        double chi2 = chi2_stat(counts, (int)bound, (double)N_DRAWS / bound);
        CHECK_MSG(chi2 < chi2_bound((int)bound - 1), "below(%u) chi2 %.1f >= %.1f", bound, chi2,
                  chi2_bound((int)bound - 1));
    }
    free(counts);

    int ones = 0, wrong = 0, over = 0;
    for (int e = 0; e < 10000; e++) {
        ones += repro_rng_below(key, 1, 2, 3, (uint64_t)e, 1) == 0;
        uint32_t bound = repro_rng_u32(key, 9, 9, 9, (uint64_t)e) | 1u;
        uint32_t v = repro_rng_below(key, 1, 2, 3, (uint64_t)e, bound);
        uint32_t w[4], ctr[4] = {(uint32_t)e >> 1, 1, 2, 3};
        repro_philox4x32_10(ctr, key.k, w);
        uint64_t x = (uint64_t)w[(e & 1) * 2] << 32 | w[(e & 1) * 2 + 1];
        wrong += v != (uint32_t)(((unsigned __int128)x * bound) >> 64);
        over += v >= bound;
        over += repro_rng_below(key, 1, 2, 3, (uint64_t)e, 0xffffffffu) == 0xffffffffu;
    }
    CHECK(ones == 10000);
    CHECK_MSG(wrong == 0 && over == 0, "%d differ from the 128-bit reference, %d out of range", wrong,
              over);
    CHECK(repro_rng_below(key, 0, 0, 0, 5, 0) == 0);
}

static int is_permutation(const uint32_t *perm, uint32_t n)
{
    uint8_t *seen = calloc(n + 1, 1);
    int ok = seen != NULL;
    for (uint32_t i = 0; ok && i < n; i++) {
        ok = perm[i] < n && !seen[perm[i]];
        if (ok)
            seen[perm[i]] = 1;
    }
    free(seen);
    return ok;
}

/* A permutation for every n; a pure function of the key; epochs differ;
 * all 24 orders of 4 items and the first item of 10 come out uniformly. */
static void test_permutation(void)
{
    enum { BIG = 60000 };
    uint32_t *a = malloc(BIG * sizeof(uint32_t)), *b = malloc(BIG * sizeof(uint32_t));
    CHECK(a != NULL && b != NULL);
    if (!a || !b) {
        free(a);
        free(b);
        return;
    }
    const uint32_t sizes[] = {0, 1, 2, 10, BIG};
    repro_rng_key key = repro_rng_derive(5, REPRO_RNG_SHUFFLE, 0, 0);
    for (int s = 0; s < 5; s++) {
        uint32_t n = sizes[s];
        a[0] = b[0] = 12345; /* n = 0 must write nothing */
        repro_rng_permutation(key, a, n);
        repro_rng_permutation(key, b, n);
        CHECK_MSG(is_permutation(a, n), "n = %u is not a permutation", n);
        CHECK_MSG(memcmp(a, b, (n ? n : 1) * sizeof(uint32_t)) == 0, "n = %u: same key, two results", n);
        if (n == 0)
            CHECK(a[0] == 12345);
    }
    repro_rng_epoch_shuffle(5, 0, a, BIG);
    repro_rng_permutation(key, b, BIG);
    CHECK_MSG(memcmp(a, b, BIG * sizeof(uint32_t)) == 0, "epoch_shuffle is not permutation(derive(...))");
    repro_rng_epoch_shuffle(5, 1, b, BIG);
    CHECK_MSG(memcmp(a, b, BIG * sizeof(uint32_t)) != 0, "epochs 0 and 1 gave the same order");

    enum { KEYS = 24000 };
    uint32_t orders[24] = {0}, first[10] = {0};
    for (uint32_t epoch = 0; epoch < KEYS; epoch++) {
        uint32_t p[10];
        repro_rng_epoch_shuffle(11, epoch, p, 4);
        /* Lehmer code of the order of 4 items: a number in [0, 24). */
        int code = 0;
        for (int i = 0; i < 4; i++) {
            int smaller_after = 0;
            for (int j = i + 1; j < 4; j++)
                smaller_after += p[j] < p[i];
            code = code * (4 - i) + smaller_after;
        }
        orders[code]++;
        repro_rng_epoch_shuffle(11, epoch, p, 10);
        first[p[0]]++;
    }
    double chi2 = chi2_stat(orders, 24, KEYS / 24.0);
    CHECK_MSG(chi2 < chi2_bound(23), "orders of 4 chi2 %.1f >= %.1f", chi2, chi2_bound(23));
    chi2 = chi2_stat(first, 10, KEYS / 10.0);
    CHECK_MSG(chi2 < chi2_bound(9), "first of 10 chi2 %.1f >= %.1f", chi2, chi2_bound(9));
    free(a);
    free(b);
}

int main(void)
{
    float *uni = malloc(N_DRAWS * sizeof(float)), *nor = malloc(N_DRAWS * sizeof(float));
    if (!uni || !nor)
        return 1;
    test_known_answers();
    test_pinned_values();
    test_counter_layout();
    test_derivation_distinct();
    test_order_independence(uni, nor);
    test_uniform_stats(uni);
    test_normal_stats(nor);
    test_below();
    test_permutation();
    free(uni);
    free(nor);
    return test_finish("test_rng");
}
