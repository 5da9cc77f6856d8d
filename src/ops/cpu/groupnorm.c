/* Group norm over NCHW (contract and order: src/ops/cpu/norm.h). A
 * (sample n, group g) pair's values are one contiguous run of
 * (C / groups) * HW values, so its canonical sums are contiguous ones.
 * Threads split (n, g) pairs for the statistics, y and dx, and channels
 * for dgamma/dbeta. */
#include <stddef.h>

#include "ops/cpu/norm.h"
#include "ops/cpu/norm_param.h"
#include "ops/cpu/norm_seq.h"
#include "ops/norm_args.h"

/* The values of sample n, group g of x [N][C][HW]: channels g*cg .. g*cg+cg. */
static norm_seq gn_seq(int64_t n, int64_t g, int64_t C, int64_t HW, int64_t cg)
{
    norm_seq s = {(n * C + g * cg) * HW, cg, HW, HW, g * cg, 1};
    return s;
}

/* ---- forward ---- */

typedef struct gn_fwd_ctx {
    float *y, *mean, *rstd;        /* [N][C][HW], [N][groups], [N][groups] */
    const float *x, *gamma, *beta; /* [N][C][HW], [C], [C] */
    int64_t C, HW, groups;
    float eps;
    repro_isa isa; /* the statistics' sums (reduce_simd.h) */
} gn_fwd_ctx;

/* Pairs t = n * groups + g in [begin, end). */
static void forward_pairs(const gn_fwd_ctx *k, int64_t begin, int64_t end)
{
    int64_t cg = k->C / k->groups;
    for (int64_t t = begin; t < end; t++) {
        norm_seq s = gn_seq(t / k->groups, t % k->groups, k->C, k->HW, cg);
        float mean, var;
        norm_seq_stats(&s, k->isa, k->x, &mean, &var);
        float rstd = repro_layernorm_rstd(var, k->eps);
        norm_seq_apply(&s, k->y, k->x, mean, rstd, k->gamma, k->beta);
        k->mean[t] = mean;
        k->rstd[t] = rstd;
    }
}

static void forward_task(void *p, int64_t begin, int64_t end)
{
    forward_pairs(p, begin, end);
}

repro_status repro_groupnorm_forward(const repro_cpu *cpu, float *y, float *mean, float *rstd, const float *x,
                                     const float *gamma, const float *beta, int64_t N, int64_t C, int64_t HW,
                                     int64_t groups, float eps, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = repro_groupnorm_check(N, C, HW, groups, err);
    if (st != REPRO_OK)
        return st;
    gn_fwd_ctx k = {y, mean, rstd, x, gamma, beta, C, HW, groups, eps, cpu->isa};
    repro_pool_run(cpu->pool, N * groups, forward_task, &k);
    return REPRO_OK;
}

repro_status repro_groupnorm_forward_ref(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                                         const float *beta, int64_t N, int64_t C, int64_t HW, int64_t groups,
                                         float eps, repro_error *err)
{
    repro_status st = repro_groupnorm_check(N, C, HW, groups, err);
    if (st != REPRO_OK)
        return st;
    gn_fwd_ctx k = {y, mean, rstd, x, gamma, beta, C, HW, groups, eps, REPRO_ISA_SCALAR};
    forward_pairs(&k, 0, N * groups);
    return REPRO_OK;
}

/* ---- backward ---- */

typedef struct gn_bwd_ctx {
    float *dx, *dgamma, *dbeta;                /* [N][C][HW], [C], [C] */
    const float *dy, *x, *mean, *rstd, *gamma; /* [N][C][HW] x 2, [N][groups] x 2, [C] */
    int64_t N, C, HW, groups;
    repro_isa isa; /* the parameter gradients' path (norm_param.h) */
} gn_bwd_ctx;

/* Sample n's statistics for channel c: those of (n, the group of c). */
static int64_t gn_stat_of(int64_t n, int64_t c, const void *arg)
{
    const gn_bwd_ctx *k = arg;
    return n * k->groups + c / (k->C / k->groups);
}

static void param_channels(const gn_bwd_ctx *k, int64_t begin, int64_t end)
{
    repro_norm_param_args a = {k->dgamma, k->dbeta, k->dy, k->x, k->mean, k->rstd, k->N, k->C, k->HW, gn_stat_of, k};
    repro_norm_params(k->isa, &a, begin, end);
}

/* Pairs t = n * groups + g in [begin, end). */
static void dx_pairs(const gn_bwd_ctx *k, int64_t begin, int64_t end)
{
    int64_t cg = k->C / k->groups;
    for (int64_t t = begin; t < end; t++) {
        norm_seq s = gn_seq(t / k->groups, t % k->groups, k->C, k->HW, cg);
        norm_seq_dx(&s, k->isa, k->dx, k->dy, k->x, k->mean[t], k->rstd[t], k->gamma);
    }
}

static void param_task(void *p, int64_t begin, int64_t end)
{
    param_channels(p, begin, end);
}

static void dx_task(void *p, int64_t begin, int64_t end)
{
    dx_pairs(p, begin, end);
}

repro_status repro_groupnorm_backward(const repro_cpu *cpu, float *dx, float *dgamma, float *dbeta, const float *dy,
                                      const float *x, const float *mean, const float *rstd, const float *gamma,
                                      int64_t N, int64_t C, int64_t HW, int64_t groups, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = repro_groupnorm_check(N, C, HW, groups, err);
    if (st != REPRO_OK)
        return st;
    gn_bwd_ctx k = {dx, dgamma, dbeta, dy, x, mean, rstd, gamma, N, C, HW, groups, cpu->isa};
    repro_pool_run(cpu->pool, C, param_task, &k);
    repro_pool_run(cpu->pool, N * groups, dx_task, &k);
    return REPRO_OK;
}

repro_status repro_groupnorm_backward_ref(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                          const float *mean, const float *rstd, const float *gamma, int64_t N,
                                          int64_t C, int64_t HW, int64_t groups, repro_error *err)
{
    repro_status st = repro_groupnorm_check(N, C, HW, groups, err);
    if (st != REPRO_OK)
        return st;
    gn_bwd_ctx k = {dx, dgamma, dbeta, dy, x, mean, rstd, gamma, N, C, HW, groups, REPRO_ISA_SCALAR};
    param_channels(&k, 0, C);
    dx_pairs(&k, 0, N * groups);
    return REPRO_OK;
}
