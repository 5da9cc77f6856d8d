/* Gradient checks of batch norm (training, with ghost-batch groups) and
 * group norm: each backward kernel against central finite differences
 * of a double-precision forward written here from the same formula (as
 * tests/test_gradcheck.c does for the other ops).
 *
 * For L = sum w . y (w = the incoming gradient dy, random), the float
 * kernels' dx, dgamma, dbeta must match dL/dx, dL/dgamma, dL/dbeta by
 * central differences in double, step h = 1e-6 * max(1, |v|), at the same
 * (float) inputs. Pass: |analytic - numeric| <= RTOL * |numeric| + ATOL per
 * element; the worst ratio of each is printed (1.0 = at the tolerance).
 * A normalisation group's loss depends on that group's values only, so
 * each difference re-evaluates the one group the perturbed value is in. */
#include <math.h>

#include "ops/cpu/norm.h"
#include "ops/cpu/ops.h"
#include "gradcheck.h"
#include "testutil.h"


static uint64_t rng_state = 0xA0761D6478BD642Full;

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

/* ---- one normalisation group in double ----
 * The group's values are xv[pos[i]], i < cnt, value i of channel ch[i];
 * loss = sum_i w[pos[i]] * (((x - mean) * rstd) * gamma[ch] + beta[ch]),
 * mean and the biased variance over the group, rstd = 1 / sqrt(var + eps). */
typedef struct group_def {
    const int64_t *pos, *ch;
    int64_t cnt;
} group_def;

static double group_loss(const group_def *g, const double *xv, const double *gamma, const double *beta,
                         const float *w, double eps)
{
    double mean = 0, var = 0, L = 0;
    for (int64_t i = 0; i < g->cnt; i++)
        mean += xv[g->pos[i]];
    mean /= (double)g->cnt;
    for (int64_t i = 0; i < g->cnt; i++)
        var += (xv[g->pos[i]] - mean) * (xv[g->pos[i]] - mean);
    var /= (double)g->cnt;
    double rstd = 1.0 / sqrt(var + eps);
    for (int64_t i = 0; i < g->cnt; i++) {
        int64_t p = g->pos[i], c = g->ch[i];
        L += (double)w[p] * ((xv[p] - mean) * rstd * gamma[c] + beta[c]);
    }
    return L;
}

/* Central difference of group_loss in *v (one of xv, gamma, beta). */
static double diff_in(double *v, const group_def *g, double *xv, double *gamma, double *beta, const float *w,
                      double eps)
{
    double h = step_of(*v), keep = *v;
    *v = keep + h;
    double lp = group_loss(g, xv, gamma, beta, w, eps);
    *v = keep - h;
    double lm = group_loss(g, xv, gamma, beta, w, eps);
    *v = keep;
    return (lp - lm) / (2 * h);
}

/* Numeric gradients over every group: num_x[N*C*HW] (each value is in one
 * group), num_g[C], num_b[C] (summed over the groups). groups[k] lists the
 * groups. */
static void numeric_grads(double *num_x, double *num_g, double *num_b, const group_def *groups, int64_t ngroups,
                          const float *x, const float *gamma, const float *beta, const float *w, int64_t n,
                          int64_t C, double eps)
{
    double *xv = malloc((size_t)n * sizeof *xv), *gv = malloc((size_t)C * sizeof *gv),
           *bv = malloc((size_t)C * sizeof *bv);
    for (int64_t i = 0; i < n; i++)
        xv[i] = x[i];
    for (int64_t c = 0; c < C; c++) {
        gv[c] = gamma[c];
        bv[c] = beta[c];
        num_g[c] = num_b[c] = 0;
    }
    for (int64_t k = 0; k < ngroups; k++) {
        const group_def *g = &groups[k];
        for (int64_t i = 0; i < g->cnt; i++)
            num_x[g->pos[i]] = diff_in(&xv[g->pos[i]], g, xv, gv, bv, w, eps);
        for (int64_t c = 0; c < C; c++) { /* a channel outside the group gives 0 */
            num_g[c] += diff_in(&gv[c], g, xv, gv, bv, w, eps);
            num_b[c] += diff_in(&bv[c], g, xv, gv, bv, w, eps);
        }
    }
    free(xv), free(gv), free(bv);
}

/* ---- batch norm, training, with groups of `group` samples ---- */

static void check_batchnorm(const repro_cpu *cpu, int64_t N, int64_t C, int64_t HW, int64_t group)
{
    int64_t n = N * C * HW, G = N / group, cnt = group * HW;
    const float eps = 1e-5f;
    float *x = malloc((size_t)n * 4), *y = malloc((size_t)n * 4), *w = malloc((size_t)n * 4),
          *dx = malloc((size_t)n * 4);
    float *gamma = malloc((size_t)C * 4), *beta = malloc((size_t)C * 4), *dg = calloc((size_t)C, 4),
          *db = calloc((size_t)C, 4), *mean = malloc((size_t)(G * C) * 4), *rstd = malloc((size_t)(G * C) * 4);
    float *rm = calloc((size_t)C, 4), *rv = calloc((size_t)C, 4);
    double *num = malloc((size_t)n * sizeof *num), *numg = malloc((size_t)C * 8), *numb = malloc((size_t)C * 8);
    fill(x, n, -2, 3);
    fill(w, n, -1, 1);
    fill(gamma, C, 0.5f, 1.5f);
    fill(beta, C, -0.5f, 0.5f);
    CHECK(repro_batchnorm_forward_train(cpu, y, mean, rstd, rm, rv, NULL, x, gamma, beta, N, C, HW, group, eps, 0.1f,
                                        NULL) == REPRO_OK);
    CHECK(repro_batchnorm_backward(cpu, dx, dg, db, w, x, mean, rstd, gamma, N, C, HW, group, NULL) == REPRO_OK);

    group_def *groups = malloc((size_t)(G * C) * sizeof *groups);
    int64_t *pos = malloc((size_t)n * sizeof *pos), *ch = malloc((size_t)n * sizeof *ch), used = 0;
    for (int64_t g = 0; g < G; g++)
        for (int64_t c = 0; c < C; c++) {
            groups[g * C + c] = (group_def){pos + used, ch + used, cnt};
            for (int64_t k = 0; k < group; k++)
                for (int64_t h = 0; h < HW; h++) {
                    pos[used] = ((g * group + k) * C + c) * HW + h;
                    ch[used++] = c;
                }
        }
    numeric_grads(num, numg, numb, groups, G * C, x, gamma, beta, w, n, C, eps);
    char name[64];
    snprintf(name, sizeof name, "batchnorm dx g=%lld", (long long)group);
    compare(name, dx, num, n);
    snprintf(name, sizeof name, "batchnorm dgamma g=%lld", (long long)group);
    compare(name, dg, numg, C);
    snprintf(name, sizeof name, "batchnorm dbeta g=%lld", (long long)group);
    compare(name, db, numb, C);
    free(x), free(y), free(w), free(dx), free(gamma), free(beta), free(dg), free(db), free(mean), free(rstd);
    free(rm), free(rv), free(num), free(numg), free(numb), free(groups), free(pos), free(ch);
}

/* ---- group norm ---- */

static void check_groupnorm(const repro_cpu *cpu, int64_t N, int64_t C, int64_t HW, int64_t ng)
{
    int64_t n = N * C * HW, cg = C / ng;
    const float eps = 1e-5f;
    float *x = malloc((size_t)n * 4), *y = malloc((size_t)n * 4), *w = malloc((size_t)n * 4),
          *dx = malloc((size_t)n * 4);
    float *gamma = malloc((size_t)C * 4), *beta = malloc((size_t)C * 4), *dg = calloc((size_t)C, 4),
          *db = calloc((size_t)C, 4), *mean = malloc((size_t)(N * ng) * 4), *rstd = malloc((size_t)(N * ng) * 4);
    double *num = malloc((size_t)n * sizeof *num), *numg = malloc((size_t)C * 8), *numb = malloc((size_t)C * 8);
    fill(x, n, -2, 3);
    fill(w, n, -1, 1);
    fill(gamma, C, 0.5f, 1.5f);
    fill(beta, C, -0.5f, 0.5f);
    CHECK(repro_groupnorm_forward(cpu, y, mean, rstd, x, gamma, beta, N, C, HW, ng, eps, NULL) == REPRO_OK);
    CHECK(repro_groupnorm_backward(cpu, dx, dg, db, w, x, mean, rstd, gamma, N, C, HW, ng, NULL) == REPRO_OK);

    group_def *groups = malloc((size_t)(N * ng) * sizeof *groups);
    int64_t *pos = malloc((size_t)n * sizeof *pos), *ch = malloc((size_t)n * sizeof *ch), used = 0;
    for (int64_t s = 0; s < N; s++)
        for (int64_t g = 0; g < ng; g++) {
            groups[s * ng + g] = (group_def){pos + used, ch + used, cg * HW};
            for (int64_t q = 0; q < cg; q++)
                for (int64_t h = 0; h < HW; h++) {
                    pos[used] = (s * C + g * cg + q) * HW + h;
                    ch[used++] = g * cg + q;
                }
        }
    numeric_grads(num, numg, numb, groups, N * ng, x, gamma, beta, w, n, C, eps);
    char name[64];
    snprintf(name, sizeof name, "groupnorm dx groups=%lld", (long long)ng);
    compare(name, dx, num, n);
    snprintf(name, sizeof name, "groupnorm dgamma groups=%lld", (long long)ng);
    compare(name, dg, numg, C);
    snprintf(name, sizeof name, "groupnorm dbeta groups=%lld", (long long)ng);
    compare(name, db, numb, C);
    free(x), free(y), free(w), free(dx), free(gamma), free(beta), free(dg), free(db), free(mean), free(rstd);
    free(num), free(numg), free(numb), free(groups), free(pos), free(ch);
}

int main(void)
{
    repro_pool *pool;
    repro_error err;
    CHECK(repro_pool_create(2, &pool, &err) == REPRO_OK);
    repro_cpu cpu = {REPRO_ISA_SCALAR, pool};
    check_batchnorm(&cpu, 6, 3, 5, 6); /* one group: plain batch norm */
    check_batchnorm(&cpu, 6, 3, 5, 3); /* two ghost batches */
    check_batchnorm(&cpu, 12, 4, 1, 4); /* [N][C] input, groups of 4 samples */
    check_groupnorm(&cpu, 3, 6, 5, 2);
    check_groupnorm(&cpu, 2, 6, 4, 6); /* instance norm */
    check_groupnorm(&cpu, 2, 4, 7, 1); /* layer norm over C*HW */
    repro_pool_destroy(pool);
    return test_finish("test_gradcheck_norm");
}
