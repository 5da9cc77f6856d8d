/* One normalisation group of batch norm or group norm (internal to
 * batchnorm.c and groupnorm.c): the statistics, y and dx of the values one
 * (mean, rstd) pair covers, in the order of src/ops/cpu/norm.h.
 *
 * A group is `runs` runs of HW contiguous values, run q starting at
 * base + q * stride and holding channel c0 + q * cstep:
 *   batch norm (g, c):  runs = group samples, stride = C * HW, channel c (cstep 0)
 *   group norm (n, g):  runs = C / groups channels, stride = HW (contiguous),
 *                       channel g * cg + q (cstep 1)
 * Element i of the group's sequence is run i / HW, offset i % HW: the
 * segmented layout of src/ops/reduce.h, so the canonical sums see the
 * sequence in its written order. */
#ifndef REPRO_OPS_CPU_NORM_SEQ_H
#define REPRO_OPS_CPU_NORM_SEQ_H

#include <math.h>
#include <stdint.h>

#include "ops/ops_math.h"
#include "ops/cpu/reduce_simd.h"
#include "ops/reduce.h"

typedef struct norm_seq {
    int64_t base;      /* offset of the group's first value in x, y, dy, dx */
    int64_t runs, hw;  /* runs of hw values ... */
    int64_t stride;    /* ... stride apart */
    int64_t c0, cstep; /* run q holds channel c0 + q * cstep */
} norm_seq;

REPRO_INLINE int64_t norm_seq_count(const norm_seq *s)
{
    return s->runs * s->hw;
}

/* A canonical-sum source over the group (x and y offset by base). A run
 * stride equal to its length is contiguous: seg_len 0, the same offsets. */
REPRO_INLINE repro_canon_src norm_seq_src(const norm_seq *s, repro_canon_kind kind, const float *x, const float *y,
                                          float a, float b)
{
    repro_canon_src src = {kind, x + s->base, y ? y + s->base : NULL, a, b, s->stride == s->hw ? 0 : s->hw,
                           s->stride};
    return src;
}

/* mean = canon_sum(e) / cnt; var = canon_sum((e - mean)^2) / cnt. The
 * sums' blocks on isa's path (reduce_simd.h: the same bits on each). */
REPRO_INLINE void norm_seq_stats(const norm_seq *s, repro_isa isa, const float *x, float *mean_out, float *var_out)
{
    float cnt = (float)norm_seq_count(s);
    repro_canon_src sum = norm_seq_src(s, REPRO_CANON_X, x, NULL, 0.0f, 0.0f);
    float mean = repro_canon_sum_isa(isa, &sum, norm_seq_count(s)) / cnt;
    repro_canon_src sq = norm_seq_src(s, REPRO_CANON_CENTRED_SQ, x, NULL, mean, 0.0f);
    *mean_out = mean;
    *var_out = repro_canon_sum_isa(isa, &sq, norm_seq_count(s)) / cnt;
}

/* y = ((x - mean) * rstd) * gamma[c] + beta[c] over the group. */
REPRO_INLINE void norm_seq_apply(const norm_seq *s, float *y, const float *x, float mean, float rstd,
                                 const float *gamma, const float *beta)
{
    for (int64_t q = 0; q < s->runs; q++) {
        int64_t at = s->base + q * s->stride, c = s->c0 + q * s->cstep;
        float g = gamma[c], b = beta[c];
        for (int64_t k = 0; k < s->hw; k++)
            y[at + k] = repro_layernorm_f(x[at + k], mean, rstd, g, b);
    }
}

/* dx over the group (the sums on isa's path): dxhat = dy * gamma[c] into dx (scratch),
 * m1 = canon_sum(dxhat) / cnt, m2 = canon_sum(dxhat * xhat) / cnt,
 * dx = rstd * ((dxhat - m1) - xhat * m2). */
REPRO_INLINE void norm_seq_dx(const norm_seq *s, repro_isa isa, float *dx, const float *dy, const float *x, float mean,
                              float rstd, const float *gamma)
{
    for (int64_t q = 0; q < s->runs; q++) {
        int64_t at = s->base + q * s->stride;
        float g = gamma[s->c0 + q * s->cstep];
        for (int64_t k = 0; k < s->hw; k++)
            dx[at + k] = dy[at + k] * g;
    }
    float cnt = (float)norm_seq_count(s);
    repro_canon_src s1 = norm_seq_src(s, REPRO_CANON_X, dx, NULL, 0.0f, 0.0f);
    float m1 = repro_canon_sum_isa(isa, &s1, norm_seq_count(s)) / cnt;
    repro_canon_src s2 = norm_seq_src(s, REPRO_CANON_Y_XHAT, x, dx, mean, rstd);
    float m2 = repro_canon_sum_isa(isa, &s2, norm_seq_count(s)) / cnt;
    for (int64_t q = 0; q < s->runs; q++) {
        int64_t at = s->base + q * s->stride;
        for (int64_t k = 0; k < s->hw; k++)
            dx[at + k] = repro_layernorm_dx(dx[at + k], repro_layernorm_xhat(x[at + k], mean, rstd), rstd, m1, m2);
    }
}

/* dgamma[c], dbeta[c] from their current values over (n ascending, hw
 * ascending): dgamma = fmaf(dy, xhat, dgamma); dbeta = dbeta + dy, where
 * the statistics of sample n, channel c are mean[stat_of(n, c, arg)] and
 * rstd[...] (the index of its group). x, dy [N][C][HW]. */
REPRO_INLINE void norm_param_channel(float *dgamma, float *dbeta, const float *dy, const float *x, const float *mean,
                                     const float *rstd, int64_t N, int64_t C, int64_t HW, int64_t c,
                                     int64_t (*stat_of)(int64_t n, int64_t c, const void *arg), const void *arg)
{
    float g = dgamma[c], bt = dbeta[c];
    for (int64_t n = 0; n < N; n++) {
        int64_t at = (n * C + c) * HW, st = stat_of(n, c, arg);
        float mu = mean[st], rs = rstd[st];
        for (int64_t k = 0; k < HW; k++) {
            float v = dy[at + k];
            g = fmaf(v, repro_layernorm_xhat(x[at + k], mu, rs), g);
            bt = bt + v;
        }
    }
    dgamma[c] = g;
    dbeta[c] = bt;
}

#endif
