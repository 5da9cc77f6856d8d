/* Gradient checks: every backward kernel against central finite differences
 * of a double-precision forward written here from the same formula.
 *
 * For an op f and random weights w (the incoming gradient dy), the float
 * kernel's dx must match d/dx [sum w . f(x)] computed in double with a
 * central difference, step h = 1e-6 * max(1, |x|), at the same (float)
 * inputs. Pass: |analytic - numeric| <= RTOL * |numeric| + ATOL per element.
 * The worst ratio |a - n| / (RTOL |n| + ATOL) of each op is printed (1.0 =
 * at the tolerance). Inputs avoid the kinks (ReLU at 0, Huber at |d| = delta). */
#include <math.h>
#include <stdio.h>

#include "ops/cpu/ops.h"
#include "gradcheck.h"
#include "testutil.h"


static uint64_t rng_state = 0xD1B54A32D192ED03ull;

static float rand_range(float lo, float hi)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * ((float)(uint32_t)(rng_state >> 40) * 0x1p-24f);
}

static void fill(float *x, int64_t n, float lo, float hi)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = rand_range(lo, hi);
}

/* ---- elementwise activations ----
 * One row per activation of src/ops/activations.h: its forward in double,
 * written here from the formula, the range of x to check and the kinks to
 * keep x off (where the derivative jumps). A row missing for an activation
 * fails the test. */

static double relu_d(double x) { return x > 0 ? x : 0; }
static double gelu_d(double x)
{
    return 0.5 * x * (1.0 + tanh(0.7978845608 * (x + 0.044715 * x * x * x)));
}
static double sigmoid_d(double x) { return 1.0 / (1.0 + exp(-x)); }
static double silu_d(double x) { return x / (1.0 + exp(-x)); }
static double hardswish_d(double x) { return x * fmin(fmax(x + 3.0, 0.0), 6.0) / 6.0; }

static const struct activation_row {
    repro_act act;
    double (*f)(double);
    float lo, hi;
    int n_kinks;
    float kinks[2];
} activations[] = {
    {REPRO_ACT_RELU, relu_d, -5, 5, 1, {0}},
    {REPRO_ACT_GELU, gelu_d, -6, 6, 0, {0}},
    {REPRO_ACT_TANH, tanh, -4, 4, 0, {0}},
    {REPRO_ACT_SIGMOID, sigmoid_d, -8, 8, 0, {0}},
    {REPRO_ACT_SILU, silu_d, -12, 12, 0, {0}},
    {REPRO_ACT_HARDSWISH, hardswish_d, -5, 5, 2, {-3, 3}},
};

static void check_activation(const repro_cpu *cpu, const struct activation_row *r)
{
    enum { N = 2000 };
    static float x[N], y[N], dy[N], dx[N];
    static double num[N];
    fill(x, N, r->lo, r->hi);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < r->n_kinks; k++)
            if (fabsf(x[i] - r->kinks[k]) < 0.01f)
                x[i] = r->kinks[k] + 0.5f;
    fill(dy, N, -1.0f, 1.0f);
    CHECK(repro_act_forward(cpu, r->act, y, x, N, NULL) == REPRO_OK);
    CHECK(repro_act_backward(cpu, r->act, dx, dy, repro_act_reads_output(r->act) ? y : x, N, NULL) == REPRO_OK);
    for (int i = 0; i < N; i++) {
        double h = step_of(x[i]);
        num[i] = (double)dy[i] * (r->f((double)x[i] + h) - r->f((double)x[i] - h)) / (2.0 * h);
    }
    char name[64];
    snprintf(name, sizeof name, "%s dx", repro_act_name(r->act));
    compare(name, dx, num, N);
}

static void check_activations(const repro_cpu *cpu)
{
    size_t rows = sizeof activations / sizeof activations[0];
    for (int a = 0; a < REPRO_ACT_COUNT; a++) {
        const struct activation_row *r = NULL;
        for (size_t i = 0; i < rows; i++)
            if (activations[i].act == (repro_act)a)
                r = &activations[i];
        CHECK_MSG(r != NULL, "%s: no row in tests/test_gradcheck.c's activations[]", repro_act_name((repro_act)a));
        if (r)
            check_activation(cpu, r);
    }
}

/* ---- dropout with a fixed mask: y = mask ? x * (1 / (1 - p)) : 0 ---- */

static void check_dropout(const repro_cpu *cpu)
{
    enum { B = 16, D = 50 };
    static float x[B * D], y[B * D], dy[B * D], dx[B * D];
    static uint8_t mask[B * D];
    static double num[B * D];
    uint32_t pos[B];
    for (int b = 0; b < B; b++)
        pos[b] = (uint32_t)b;
    const float p = 0.3f;
    fill(x, B * D, -3, 3);
    fill(dy, B * D, -1, 1);
    CHECK(repro_dropout_forward(cpu, y, mask, x, B, D, p, 5, 1, 0, pos, NULL) == REPRO_OK);
    CHECK(repro_dropout_backward(cpu, dx, dy, mask, B, D, p, NULL) == REPRO_OK);
    double scale = 1.0 / (1.0 - (double)p);
    for (int i = 0; i < B * D; i++) {
        double h = step_of(x[i]);
        double yp = mask[i] ? ((double)x[i] + h) * scale : 0.0, ym = mask[i] ? ((double)x[i] - h) * scale : 0.0;
        num[i] = (double)dy[i] * (yp - ym) / (2.0 * h);
    }
    compare("dropout dx", dx, num, B * D);
}

/* ---- layer norm: L = sum_{b,d} w[b][d] * y[b][d] ---- */

/* sum_d w[d] * y[d] for one row, in double. */
static double ln_row_loss(const double *x, const double *gamma, const double *beta, const float *w, int D,
                          double eps)
{
    double mean = 0, var = 0, L = 0;
    for (int d = 0; d < D; d++)
        mean += x[d];
    mean /= D;
    for (int d = 0; d < D; d++)
        var += (x[d] - mean) * (x[d] - mean);
    var /= D;
    double rstd = 1.0 / sqrt(var + eps);
    for (int d = 0; d < D; d++)
        L += (double)w[d] * ((x[d] - mean) * rstd * gamma[d] + beta[d]);
    return L;
}

static void check_layernorm(const repro_cpu *cpu)
{
    enum { B = 6, D = 37 };
    static float x[B * D], y[B * D], w[B * D], dx[B * D], gamma[D], beta[D], dgamma[D], dbeta[D];
    static float mean[B], rstd[B];
    static double xd[D], gd[D], bd[D], num[B * D], numg[D], numb[D];
    const float eps = 1e-5f;
    fill(x, B * D, -2, 3);
    fill(w, B * D, -1, 1);
    fill(gamma, D, 0.5f, 1.5f);
    fill(beta, D, -0.5f, 0.5f);
    memset(dgamma, 0, sizeof dgamma);
    memset(dbeta, 0, sizeof dbeta);
    CHECK(repro_layernorm_forward(cpu, y, mean, rstd, x, gamma, beta, B, D, eps, NULL) == REPRO_OK);
    CHECK(repro_layernorm_backward(cpu, dx, dgamma, dbeta, w, x, mean, rstd, gamma, B, D, NULL) == REPRO_OK);
    for (int d = 0; d < D; d++) {
        gd[d] = gamma[d];
        bd[d] = beta[d];
        numg[d] = numb[d] = 0;
    }
    for (int b = 0; b < B; b++) {
        for (int d = 0; d < D; d++)
            xd[d] = x[b * D + d];
        for (int d = 0; d < D; d++) { /* d/dx */
            double h = step_of(xd[d]), keep = xd[d];
            xd[d] = keep + h;
            double lp = ln_row_loss(xd, gd, bd, w + b * D, D, eps);
            xd[d] = keep - h;
            double lm = ln_row_loss(xd, gd, bd, w + b * D, D, eps);
            xd[d] = keep;
            num[b * D + d] = (lp - lm) / (2 * h);
        }
        for (int d = 0; d < D; d++) { /* d/dgamma, d/dbeta: summed over rows */
            double h = step_of(gd[d]), keep = gd[d];
            gd[d] = keep + h;
            double lp = ln_row_loss(xd, gd, bd, w + b * D, D, eps);
            gd[d] = keep - h;
            double lm = ln_row_loss(xd, gd, bd, w + b * D, D, eps);
            gd[d] = keep;
            numg[d] += (lp - lm) / (2 * h);
            h = step_of(bd[d]);
            keep = bd[d];
            bd[d] = keep + h;
            lp = ln_row_loss(xd, gd, bd, w + b * D, D, eps);
            bd[d] = keep - h;
            lm = ln_row_loss(xd, gd, bd, w + b * D, D, eps);
            bd[d] = keep;
            numb[d] += (lp - lm) / (2 * h);
        }
    }
    compare("layernorm dx", dx, num, B * D);
    compare("layernorm dgamma", dgamma, numg, D);
    compare("layernorm dbeta", dbeta, numb, D);
}

/* ---- losses: L = scale * sum_b loss_b ---- */

static double xent_row(const double *z, int C, int label)
{
    double m = z[0], s = 0;
    for (int j = 1; j < C; j++)
        m = z[j] > m ? z[j] : m;
    for (int j = 0; j < C; j++)
        s += exp(z[j] - m);
    return m + log(s) - z[label];
}

static double mse_row(const double *p, const float *y, int T)
{
    double acc = 0;
    for (int t = 0; t < T; t++)
        acc += (p[t] - y[t]) * (p[t] - y[t]);
    return acc / T;
}

static double huber_row(const double *p, const float *y, int T, double delta)
{
    double acc = 0;
    for (int t = 0; t < T; t++) {
        double d = p[t] - y[t], a = fabs(d);
        acc += a <= delta ? 0.5 * d * d : delta * (a - 0.5 * delta);
    }
    return acc / T;
}

enum { LB = 12, LW = 11 };

/* Numeric gradient of scale * sum_b row(p_b) over every element of p [LB][LW]. */
static void numeric_rows(double *num, const float *p, double scale, double (*row)(const double *, int, const void *),
                         const void *arg)
{
    double r[LW];
    for (int b = 0; b < LB; b++) {
        for (int j = 0; j < LW; j++)
            r[j] = p[b * LW + j];
        for (int j = 0; j < LW; j++) {
            double h = step_of(r[j]), keep = r[j];
            r[j] = keep + h;
            double lp = row(r, b, arg);
            r[j] = keep - h;
            double lm = row(r, b, arg);
            r[j] = keep;
            num[b * LW + j] = scale * (lp - lm) / (2 * h);
        }
    }
}

static double xent_of(const double *z, int b, const void *arg)
{
    return xent_row(z, LW, ((const int32_t *)arg)[b]);
}

static const float *g_target;
static double mse_of(const double *p, int b, const void *arg)
{
    (void)arg;
    return mse_row(p, g_target + b * LW, LW);
}

static double huber_of(const double *p, int b, const void *arg)
{
    return huber_row(p, g_target + b * LW, LW, *(const double *)arg);
}

static void check_losses(const repro_cpu *cpu)
{
    static float z[LB * LW], t[LB * LW], g[LB * LW];
    static double num[LB * LW];
    int32_t labels[LB];
    const float scale = 0.37f;
    fill(z, LB * LW, -4, 4);
    fill(t, LB * LW, -4, 4);
    for (int b = 0; b < LB; b++)
        labels[b] = (int32_t)(b * 5 % LW);
    g_target = t;

    CHECK(repro_softmax_xent_backward(cpu, g, z, labels, LB, LW, scale, NULL) == REPRO_OK);
    numeric_rows(num, z, scale, xent_of, labels);
    compare("softmax xent dz", g, num, LB * LW);

    CHECK(repro_mse_backward(cpu, g, z, t, LB, LW, scale, NULL) == REPRO_OK);
    numeric_rows(num, z, scale, mse_of, NULL);
    compare("mse dpred", g, num, LB * LW);

    const double delta = 1.0;
    for (int i = 0; i < LB * LW; i++) { /* keep |d| away from the kink at delta */
        float d = fabsf(z[i] - t[i]);
        if (d > 0.95f && d < 1.05f)
            z[i] = t[i] + 0.5f;
    }
    CHECK(repro_huber_backward(cpu, g, z, t, LB, LW, (float)delta, scale, NULL) == REPRO_OK);
    numeric_rows(num, z, scale, huber_of, &delta);
    compare("huber dpred", g, num, LB * LW);
}

int main(void)
{
    repro_pool *pool;
    repro_error err;
    CHECK(repro_pool_create(2, &pool, &err) == REPRO_OK);
    repro_cpu cpu = {REPRO_ISA_SCALAR, pool};
    check_activations(&cpu);
    check_dropout(&cpu);
    check_layernorm(&cpu);
    check_losses(&cpu);
    repro_pool_destroy(pool);
    return test_finish("test_gradcheck");
}
