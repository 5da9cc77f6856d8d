/* mode: fast's linear layer (OpenBLAS sgemm, linear_blas.c) computes the
 * same products as the exact one: equal within a tolerance, since its
 * summation order is OpenBLAS's. Not bitwise: that is why strict mode
 * refuses it. Compared in double precision against the definition. */
#include <math.h>
#include <stdint.h>

#include "ops/cpu/linear.h"
#include "testutil.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float draw(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((uint32_t)(rng >> 40)) * 0x1p-23f - 1.0f;
}

static float *filled(int64_t n)
{
    float *p = malloc((size_t)n * sizeof *p);
    for (int64_t i = 0; i < n; i++)
        p[i] = draw();
    return p;
}

/* |got - want| <= 1e-5 * (sum of |terms|), the bound for a float sum of
 * that many terms in any order (here at most 300 terms of size <= 1). */
static int close_to(float got, double want, double scale)
{
    return fabs((double)got - want) <= 1e-5 * scale;
}

int main(void)
{
    const int64_t B = 37, I = 300, O = 45;
    float *x = filled(B * I), *w = filled(O * I), *bias = filled(O), *dy = filled(B * O);
    float *dw = filled(O * I), *db = filled(O);
    float *dw0 = malloc((size_t)(O * I) * sizeof(float)), *db0 = malloc((size_t)O * sizeof(float));
    memcpy(dw0, dw, (size_t)(O * I) * sizeof(float));
    memcpy(db0, db, (size_t)O * sizeof(float));
    float *y = malloc((size_t)(B * O) * sizeof(float)), *dx = malloc((size_t)(B * I) * sizeof(float));
    repro_blas_set_threads(2);
    repro_linear_forward_blas(y, x, w, bias, B, I, O);
    repro_linear_backward_blas(dx, dw, db, dy, x, w, B, I, O);

    int bad = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t o = 0; o < O; o++) {
            double acc = bias[o], scale = fabs(bias[o]);
            for (int64_t i = 0; i < I; i++) {
                acc += (double)x[b * I + i] * w[o * I + i];
                scale += fabs((double)x[b * I + i] * w[o * I + i]);
            }
            bad += !close_to(y[b * O + o], acc, scale);
        }
    CHECK_MSG(bad == 0, "%d forward outputs off", bad);
    bad = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < I; i++) {
            double acc = 0, scale = 0;
            for (int64_t o = 0; o < O; o++) {
                acc += (double)dy[b * O + o] * w[o * I + i];
                scale += fabs((double)dy[b * O + o] * w[o * I + i]);
            }
            bad += !close_to(dx[b * I + i], acc, scale);
        }
    CHECK_MSG(bad == 0, "%d input gradients off", bad);
    bad = 0;
    for (int64_t o = 0; o < O; o++)
        for (int64_t i = 0; i < I; i++) {
            double acc = dw0[o * I + i], scale = fabs(dw0[o * I + i]);
            for (int64_t b = 0; b < B; b++) {
                acc += (double)dy[b * O + o] * x[b * I + i];
                scale += fabs((double)dy[b * O + o] * x[b * I + i]);
            }
            bad += !close_to(dw[o * I + i], acc, scale);
        }
    CHECK_MSG(bad == 0, "%d weight gradients off (they accumulate onto dW)", bad);
    bad = 0;
    for (int64_t o = 0; o < O; o++) {
        double acc = db0[o], scale = fabs(db0[o]);
        for (int64_t b = 0; b < B; b++) {
            acc += dy[b * O + o];
            scale += fabs(dy[b * O + o]);
        }
        bad += !close_to(db[o], acc, scale);
    }
    CHECK_MSG(bad == 0, "%d bias gradients off", bad);
    /* dx and db may be NULL (the model's first layer; no bias): nothing is
     * written through them (the sanitizer build would see it). */
    repro_linear_backward_blas(NULL, dw, NULL, dy, x, w, B, I, O);
    free(x); free(w); free(bias); free(dy); free(dw); free(db); free(dw0); free(db0); free(y); free(dx);
    return test_finish("test_linear_blas");
}
