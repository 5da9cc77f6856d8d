/* Layer norm over the last dimension. Row statistics use the canonical sum
 * (src/ops/reduce.h) so that a row's mean does not depend on how a backend
 * would like to split it; the per-element formulas are in ops_math.h.
 * Threads split rows (y, dx) and features (dgamma, dbeta). */
#include <math.h>
#include <stddef.h>

#include "ops/cpu/layernorm_simd.h"
#include "ops/cpu/ops.h"
#include "ops/ops_math.h"

/* ---- forward ---- */

typedef struct ln_fwd_ctx {
    float *y, *mean, *rstd;           /* [B][D], [B], [B] */
    const float *x, *gamma, *beta;    /* [B][D], [D], [D] */
    int64_t D;
    float eps;
} ln_fwd_ctx;

static void forward_rows(const ln_fwd_ctx *c, int64_t begin, int64_t end)
{
    int64_t D = c->D;
    float fD = (float)D;
    for (int64_t b = begin; b < end; b++) {
        const float *x = c->x + b * D;
        float *y = c->y + b * D;
        repro_canon_src sum = {REPRO_CANON_X, x, NULL, 0.0f, 0.0f, 0, 0};
        float mean = repro_canon_sum(&sum, D) / fD;
        repro_canon_src sq = {REPRO_CANON_CENTRED_SQ, x, NULL, mean, 0.0f, 0, 0};
        float var = repro_canon_sum(&sq, D) / fD;
        float rstd = repro_layernorm_rstd(var, c->eps);
        for (int64_t d = 0; d < D; d++)
            y[d] = repro_layernorm_f(x[d], mean, rstd, c->gamma[d], c->beta[d]);
        c->mean[b] = mean;
        c->rstd[b] = rstd;
    }
}

static void forward_task(void *p, int64_t begin, int64_t end)
{
    forward_rows(p, begin, end);
}

repro_status repro_layernorm_forward(const repro_cpu *cpu, float *y, float *mean, float *rstd, const float *x,
                             const float *gamma, const float *beta, int64_t B, int64_t D, float eps, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    ln_fwd_ctx c = {y, mean, rstd, x, gamma, beta, D, eps};
    repro_pool_run(cpu->pool, B, forward_task, &c);
    return REPRO_OK;
}

void repro_layernorm_forward_ref(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                                 const float *beta, int64_t B, int64_t D, float eps)
{
    ln_fwd_ctx c = {y, mean, rstd, x, gamma, beta, D, eps};
    forward_rows(&c, 0, B);
}

/* ---- backward ---- */

typedef struct ln_bwd_ctx {
    float *dx, *dgamma, *dbeta;                         /* [B][D], [D], [D] */
    const float *dy, *x, *mean, *rstd, *gamma;          /* [B][D], [B][D], [B], [B], [D] */
    int64_t B, D;
    repro_isa isa; /* dgamma, dbeta on its lanes (layernorm_simd.h); scalar: the loop below */
} ln_bwd_ctx;

/* dx for rows [begin, end); dx doubles as the dxhat scratch row. */
static void dx_rows(const ln_bwd_ctx *c, int64_t begin, int64_t end)
{
    int64_t D = c->D;
    float fD = (float)D;
    for (int64_t b = begin; b < end; b++) {
        const float *dy = c->dy + b * D, *x = c->x + b * D;
        float *dx = c->dx + b * D;
        float mean = c->mean[b], rstd = c->rstd[b];
        for (int64_t d = 0; d < D; d++)
            dx[d] = dy[d] * c->gamma[d];
        repro_canon_src s1 = {REPRO_CANON_X, dx, NULL, 0.0f, 0.0f, 0, 0};
        float m1 = repro_canon_sum(&s1, D) / fD;
        repro_canon_src s2 = {REPRO_CANON_Y_XHAT, x, dx, mean, rstd, 0, 0};
        float m2 = repro_canon_sum(&s2, D) / fD;
        for (int64_t d = 0; d < D; d++)
            dx[d] = repro_layernorm_dx(dx[d], repro_layernorm_xhat(x[d], mean, rstd), rstd, m1, m2);
    }
}

/* dgamma, dbeta for features [begin, end), samples b ascending. */
static void param_features(const ln_bwd_ctx *c, int64_t begin, int64_t end)
{
    int64_t D = c->D;
#if defined(__x86_64__)
    if (c->isa == REPRO_ISA_AVX512) {
        repro_layernorm_params_avx512(c->dgamma, c->dbeta, c->dy, c->x, c->mean, c->rstd, c->B, D, begin, end);
        return;
    }
    if (c->isa == REPRO_ISA_AVX2) {
        repro_layernorm_params_avx2(c->dgamma, c->dbeta, c->dy, c->x, c->mean, c->rstd, c->B, D, begin, end);
        return;
    }
#endif
    for (int64_t d = begin; d < end; d++) {
        float g = c->dgamma[d], bt = c->dbeta[d];
        for (int64_t b = 0; b < c->B; b++) {
            float dy = c->dy[b * D + d];
            float xhat = repro_layernorm_xhat(c->x[b * D + d], c->mean[b], c->rstd[b]);
            g = fmaf(dy, xhat, g);
            bt = bt + dy;
        }
        c->dgamma[d] = g;
        c->dbeta[d] = bt;
    }
}

static void dx_task(void *p, int64_t begin, int64_t end)
{
    dx_rows(p, begin, end);
}

static void param_task(void *p, int64_t begin, int64_t end)
{
    param_features(p, begin, end);
}

repro_status repro_layernorm_backward(const repro_cpu *cpu, float *dx, float *dgamma, float *dbeta,
                              const float *dy, const float *x, const float *mean, const float *rstd,
                              const float *gamma, int64_t B, int64_t D, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    ln_bwd_ctx c = {dx, dgamma, dbeta, dy, x, mean, rstd, gamma, B, D, cpu->isa};
    repro_pool_run(cpu->pool, D, param_task, &c);
    repro_pool_run(cpu->pool, B, dx_task, &c);
    return REPRO_OK;
}

void repro_layernorm_backward_ref(float *dx, float *dgamma, float *dbeta, const float *dy,
                                  const float *x, const float *mean, const float *rstd,
                                  const float *gamma, int64_t B, int64_t D)
{
    ln_bwd_ctx c = {dx, dgamma, dbeta, dy, x, mean, rstd, gamma, B, D, REPRO_ISA_SCALAR};
    param_features(&c, 0, D);
    dx_rows(&c, 0, B);
}
