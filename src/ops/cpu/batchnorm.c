/* Batch norm with ghost-batch groups over NCHW (contract and order:
 * src/ops/cpu/norm.h). A (group g, channel c) pair's values are `group`
 * runs of HW values, C * HW apart, summed through the segmented canonical
 * layout. Threads split (g, c) pairs for the statistics, y and dx, and
 * channels for the running statistics and dgamma/dbeta; the _ref twins are
 * the contract's loops read literally. */
#include <stddef.h>

#include "ops/cpu/norm.h"
#include "ops/cpu/norm_param.h"
#include "ops/cpu/norm_seq.h"
#include "ops/norm_args.h"

/* The values of group g, channel c of x [N][C][HW]. */
static norm_seq bn_seq(int64_t g, int64_t c, int64_t C, int64_t HW, int64_t group)
{
    norm_seq s = {(g * group * C + c) * HW, group, HW, C * HW, c, 0};
    return s;
}

static repro_status check_train(int64_t N, int64_t C, int64_t HW, int64_t group, const float *running_mean,
                                const float *running_var, repro_error *err)
{
    repro_status st = repro_batchnorm_check(N, C, HW, group, err);
    return st != REPRO_OK ? st : repro_batchnorm_check_running(running_mean, running_var, err);
}

/* ---- training forward ---- */

typedef struct bn_fwd_ctx {
    float *y, *mean, *rstd;           /* [N][C][HW], [G][C], [G][C] */
    float *running_mean, *running_var; /* [C] or NULL */
    float *group_stats;               /* [G][2][C] or NULL */
    const float *x, *gamma, *beta;    /* [N][C][HW], [C], [C] */
    int64_t C, HW, group, G;
    float eps, momentum;
    repro_isa isa; /* the statistics' sums (reduce_simd.h) */
} bn_fwd_ctx;

/* Pairs t = g * C + c in [begin, end): statistics and y; rstd[t] keeps the
 * pair's var until finish_channels turns it into rstd. */
static void stats_task(void *p, int64_t begin, int64_t end)
{
    const bn_fwd_ctx *k = p;
    for (int64_t t = begin; t < end; t++) {
        norm_seq s = bn_seq(t / k->C, t % k->C, k->C, k->HW, k->group);
        float mean, var;
        norm_seq_stats(&s, k->isa, k->x, &mean, &var);
        norm_seq_apply(&s, k->y, k->x, mean, repro_layernorm_rstd(var, k->eps), k->gamma, k->beta);
        k->mean[t] = mean;
        k->rstd[t] = var;
    }
}

/* Channels [begin, end): running statistics (or the groups' rows of
 * them) for g ascending, then rstd. */
static void finish_task(void *p, int64_t begin, int64_t end)
{
    const bn_fwd_ctx *k = p;
    int64_t cnt = k->group * k->HW;
    for (int64_t c = begin; c < end; c++)
        for (int64_t g = 0; g < k->G; g++) {
            float var = k->rstd[g * k->C + c];
            if (k->running_mean) {
                k->running_mean[c] = repro_batchnorm_running(k->running_mean[c], k->mean[g * k->C + c], k->momentum);
                k->running_var[c] =
                    repro_batchnorm_running(k->running_var[c], repro_batchnorm_unbiased(var, cnt), k->momentum);
            }
            if (k->group_stats) {
                k->group_stats[2 * g * k->C + c] = k->mean[g * k->C + c];
                k->group_stats[(2 * g + 1) * k->C + c] = repro_batchnorm_unbiased(var, cnt);
            }
            k->rstd[g * k->C + c] = repro_layernorm_rstd(var, k->eps);
        }
}

repro_status repro_batchnorm_forward_train(const repro_cpu *cpu, float *y, float *mean, float *rstd,
                                           float *running_mean, float *running_var, float *group_stats,
                                           const float *x, const float *gamma, const float *beta, int64_t N,
                                           int64_t C, int64_t HW, int64_t group, float eps, float momentum,
                                           repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = check_train(N, C, HW, group, running_mean, running_var, err);
    if (st != REPRO_OK)
        return st;
    bn_fwd_ctx k = {y, mean, rstd, running_mean, running_var, group_stats, x, gamma, beta, C, HW, group, N / group,
                    eps, momentum, cpu->isa};
    repro_pool_run(cpu->pool, k.G * C, stats_task, &k);
    repro_pool_run(cpu->pool, C, finish_task, &k);
    return REPRO_OK;
}

repro_status repro_batchnorm_forward_train_ref(float *y, float *mean, float *rstd, float *running_mean,
                                               float *running_var, float *group_stats, const float *x,
                                               const float *gamma, const float *beta, int64_t N, int64_t C, int64_t HW,
                                               int64_t group, float eps, float momentum, repro_error *err)
{
    repro_status st = check_train(N, C, HW, group, running_mean, running_var, err);
    if (st != REPRO_OK)
        return st;
    int64_t cnt = group * HW;
    for (int64_t g = 0; g < N / group; g++)
        for (int64_t c = 0; c < C; c++) {
            norm_seq s = bn_seq(g, c, C, HW, group);
            float mu, var;
            norm_seq_stats(&s, REPRO_ISA_SCALAR, x, &mu, &var);
            float rs = repro_layernorm_rstd(var, eps);
            norm_seq_apply(&s, y, x, mu, rs, gamma, beta);
            mean[g * C + c] = mu;
            rstd[g * C + c] = rs;
            if (running_mean) {
                running_mean[c] = repro_batchnorm_running(running_mean[c], mu, momentum);
                running_var[c] = repro_batchnorm_running(running_var[c], repro_batchnorm_unbiased(var, cnt), momentum);
            }
            if (group_stats) {
                group_stats[2 * g * C + c] = mu;
                group_stats[(2 * g + 1) * C + c] = repro_batchnorm_unbiased(var, cnt);
            }
        }
    return REPRO_OK;
}

/* ---- evaluation forward ---- */

typedef struct bn_eval_ctx {
    float *y;                                     /* [N][C][HW] */
    const float *x, *gamma, *beta, *rmean, *rvar; /* [N][C][HW], [C] x 4 */
    int64_t C, HW;
    float eps;
} bn_eval_ctx;

/* Rows r = n * C + c in [begin, end). */
static void eval_rows(const bn_eval_ctx *k, int64_t begin, int64_t end)
{
    for (int64_t r = begin; r < end; r++) {
        int64_t c = r % k->C;
        float mu = k->rmean[c], rs = repro_layernorm_rstd(k->rvar[c], k->eps), g = k->gamma[c], b = k->beta[c];
        const float *x = k->x + r * k->HW;
        float *y = k->y + r * k->HW;
        for (int64_t i = 0; i < k->HW; i++)
            y[i] = repro_layernorm_f(x[i], mu, rs, g, b);
    }
}

static void eval_task(void *p, int64_t begin, int64_t end)
{
    eval_rows(p, begin, end);
}

repro_status repro_batchnorm_forward_eval(const repro_cpu *cpu, float *y, const float *x, const float *gamma,
                                          const float *beta, const float *running_mean, const float *running_var,
                                          int64_t N, int64_t C, int64_t HW, float eps, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = repro_norm_check_shape("batch-norm", N, C, HW, err);
    if (st != REPRO_OK)
        return st;
    bn_eval_ctx k = {y, x, gamma, beta, running_mean, running_var, C, HW, eps};
    repro_pool_run(cpu->pool, N * C, eval_task, &k);
    return REPRO_OK;
}

repro_status repro_batchnorm_forward_eval_ref(float *y, const float *x, const float *gamma, const float *beta,
                                              const float *running_mean, const float *running_var, int64_t N,
                                              int64_t C, int64_t HW, float eps, repro_error *err)
{
    repro_status st = repro_norm_check_shape("batch-norm", N, C, HW, err);
    if (st != REPRO_OK)
        return st;
    bn_eval_ctx k = {y, x, gamma, beta, running_mean, running_var, C, HW, eps};
    eval_rows(&k, 0, N * C);
    return REPRO_OK;
}

/* ---- backward ---- */

typedef struct bn_bwd_ctx {
    float *dx, *dgamma, *dbeta;                /* [N][C][HW], [C], [C] */
    const float *dy, *x, *mean, *rstd, *gamma; /* [N][C][HW] x 2, [G][C] x 2, [C] */
    int64_t N, C, HW, group;
    repro_isa isa; /* the parameter gradients' path (norm_param.h) */
} bn_bwd_ctx;

/* Sample n's statistics for channel c: those of its group. */
static int64_t bn_stat_of(int64_t n, int64_t c, const void *arg)
{
    const bn_bwd_ctx *k = arg;
    return (n / k->group) * k->C + c;
}

static void param_channels(const bn_bwd_ctx *k, int64_t begin, int64_t end)
{
    repro_norm_param_args a = {k->dgamma, k->dbeta, k->dy, k->x, k->mean, k->rstd, k->N, k->C, k->HW, bn_stat_of, k};
    repro_norm_params(k->isa, &a, begin, end);
}

/* Pairs t = g * C + c in [begin, end). */
static void dx_pairs(const bn_bwd_ctx *k, int64_t begin, int64_t end)
{
    for (int64_t t = begin; t < end; t++) {
        norm_seq s = bn_seq(t / k->C, t % k->C, k->C, k->HW, k->group);
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

repro_status repro_batchnorm_backward(const repro_cpu *cpu, float *dx, float *dgamma, float *dbeta, const float *dy,
                                      const float *x, const float *mean, const float *rstd, const float *gamma,
                                      int64_t N, int64_t C, int64_t HW, int64_t group, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = repro_batchnorm_check(N, C, HW, group, err);
    if (st != REPRO_OK)
        return st;
    bn_bwd_ctx k = {dx, dgamma, dbeta, dy, x, mean, rstd, gamma, N, C, HW, group, cpu->isa};
    repro_pool_run(cpu->pool, C, param_task, &k);
    repro_pool_run(cpu->pool, (N / group) * C, dx_task, &k);
    return REPRO_OK;
}

repro_status repro_batchnorm_backward_ref(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                          const float *mean, const float *rstd, const float *gamma, int64_t N,
                                          int64_t C, int64_t HW, int64_t group, repro_error *err)
{
    repro_status st = repro_batchnorm_check(N, C, HW, group, err);
    if (st != REPRO_OK)
        return st;
    bn_bwd_ctx k = {dx, dgamma, dbeta, dy, x, mean, rstd, gamma, N, C, HW, group, REPRO_ISA_SCALAR};
    param_channels(&k, 0, C);
    dx_pairs(&k, 0, (N / group) * C);
    return REPRO_OK;
}
