/* The synthetic dual-task data set: 15 features, a regression target and a
 * 3-class label per sample, for the reference "dual_task" workload (a shared
 * trunk with a regression head and a classification head).
 *
 * Sample i of seed s (key = repro_rng_derive(s, REPRO_RNG_DATAGEN, 1, 0)):
 *   x_j = repro_rng_normal(key, c0 = i, c1 = 0, c2 = 0, element = j),  j = 0..14
 *   e   = repro_rng_normal(key, c0 = i, c1 = 1, c2 = 0, element = 0)   (noise)
 * The target, each step one binary32 operation (constants are binary32
 * literals), evaluated in exactly this order:
 *   t = 0.8f*x0
 *   t = t - 0.6f*x1
 *   t = t + 0.5f*(x2*x3)
 *   t = t - 0.3f*(x4*x4)
 *   t = t + 0.4f*(x5*x6)
 *   t = t + 0.2f*x7
 *   t = t + 0.3f                 (centres the mean: E[x4^2] = 1)
 *   t = t + 0.1f*e
 * The label is the argmax of three scores (ties go to the lower class):
 *   s0 = (x8 + x9) - 0.5f*x0
 *   s1 = (x10 - x8) + 0.5f*(x11*x12)
 *   s2 = (x13*x13 - 1.0f) + x14
 * So the heads share x0 and x8 but otherwise read different features; both
 * tasks are learnable (the target's only irreducible part is the 0.1 noise,
 * the label has none). Classes come out about 37% / 37% / 26%. */
#include "cli/gen_dual_task.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "repro/rng.h"

enum { DUAL_TASK_ID = 1 };

void repro_dual_task_sample(uint64_t seed, uint32_t i, float *x, float *target, int32_t *label)
{
    repro_rng_key key = repro_rng_derive(seed, REPRO_RNG_DATAGEN, DUAL_TASK_ID, 0);
    for (int j = 0; j < REPRO_DUAL_TASK_FEATURES; j++)
        x[j] = repro_rng_normal(key, i, 0, 0, (uint64_t)j);
    float e = repro_rng_normal(key, i, 1, 0, 0);

    float t = 0.8f * x[0];
    t = t - 0.6f * x[1];
    t = t + 0.5f * (x[2] * x[3]);
    t = t - 0.3f * (x[4] * x[4]);
    t = t + 0.4f * (x[5] * x[6]);
    t = t + 0.2f * x[7];
    t = t + 0.3f;
    t = t + 0.1f * e;
    *target = t;

    float s[REPRO_DUAL_TASK_CLASSES];
    s[0] = (x[8] + x[9]) - 0.5f * x[0];
    s[1] = (x[10] - x[8]) + 0.5f * (x[11] * x[12]);
    s[2] = (x[13] * x[13] - 1.0f) + x[14];
    int32_t best = 0;
    for (int32_t c = 1; c < REPRO_DUAL_TASK_CLASSES; c++)
        if (s[c] > s[best])
            best = c;
    *label = best;
}

/* "%.9g" prints any binary32 with enough digits that strtof gives it back
 * bit for bit (9 significant digits suffice for every float). */
static int write_rows(FILE *f, uint64_t seed, int64_t n)
{
    for (int j = 0; j < REPRO_DUAL_TASK_FEATURES; j++)
        fprintf(f, "x%d,", j);
    fprintf(f, "target,label\n");
    for (int64_t i = 0; i < n; i++) {
        float x[REPRO_DUAL_TASK_FEATURES], t;
        int32_t label;
        repro_dual_task_sample(seed, (uint32_t)i, x, &t, &label);
        for (int j = 0; j < REPRO_DUAL_TASK_FEATURES; j++)
            fprintf(f, "%.9g,", (double)x[j]);
        fprintf(f, "%.9g,%d\n", (double)t, (int)label);
    }
    return ferror(f);
}

repro_status repro_dual_task_generate(const char *path, uint64_t seed, int64_t n, repro_error *err)
{
    if (n < 1 || n > (int64_t)UINT32_MAX)
        return repro_fail(err, REPRO_ERR_ARG,
                          "dual_task: sample count %lld is outside [1, 2^32 - 1]", (long long)n);
    FILE *f = fopen(path, "w");
    if (!f)
        return repro_fail(err, REPRO_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    int failed = write_rows(f, seed, n);
    failed |= fclose(f) != 0;
    if (failed) {
        int saved = errno;
        remove(path);
        return repro_fail(err, REPRO_ERR_IO, "writing '%s': %s", path, strerror(saved));
    }
    return REPRO_OK;
}
