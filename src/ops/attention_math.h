/* Scaled dot-product attention, one row at a time: the written order that
 * the CPU kernels (src/ops/cpu/attention.c) and the CUDA twins
 * (src/ops/cuda/attention.cu) share as one source text (REPRO_HD), so a
 * row's bits do not depend on which device, thread or batch computes it.
 *
 * Shapes (B samples, T tokens, H heads of hd values, D = H * hd):
 *   qkv  [B][T][3][H][hd]  q, k, v of token t, head h (the in-projection's
 *                          output [B][T][3D] as it comes out of a linear layer)
 *   o    [B][T][H][hd]     the attention output ([B][T][D])
 *   stat [B][3][H][T]      per row (b, h, i): m (running max), l (sum of
 *                          exponentials), dsum (backward: dO_i . O_i)
 *   kpm  [B][T] or NULL    key padding: key j of sample b is ignored when
 *                          kpm[b][j] != 0 (torch's key_padding_mask)
 *   keep [B][H][T][T] or NULL  dropout on the attention weights: 1 = kept
 *
 * Keys of row (b, h, i): j < kend (kend = i + 1 when causal, else T) that
 * kpm does not mask, ascending. A padded query (kpm masks token i) has no
 * keys: its output is zeros and it sends no gradient (what it would send
 * in torch is multiplied by a loss gradient that masking makes zero). s_j = dot(q_i, k_j) * scale, the dot
 * product acc = fmaf(q[d], k[d], acc), d ascending from +0.
 *
 * Forward (online softmax over key blocks of REPRO_ATTN_BLOCK keys: the
 * block size is part of the contract). m = -inf, l = +0, acc[d] = +0; for
 * each block [jb, jb + 64) clipped to kend, with at least one key kept by kpm:
 *   mb   = max of the block's s_j (j ascending, mb = s > mb ? s : mb from -inf)
 *   mn   = mb > m ? mb : m
 *   c    = repro_expf(m - mn)              (0 for the first block)
 *   l    = l * c;  acc[d] = acc[d] * c
 *   for each key j of the block, ascending:
 *     p  = repro_expf(s_j - mn);  l = l + p
 *     pd = keep ? (keep[j] ? p * scale_drop : 0) : p
 *     acc[d] = fmaf(pd, v_j[d], acc[d])    d ascending
 *   m = mn
 * o[d] = l > 0 ? acc[d] / l : +0 (a row with no key gives zeros). Keys
 * that kpm masks, and whole blocks past kend, are skipped, so a sequence
 * padded with masked keys at its end gives the bits of the unpadded one.
 *
 * Dropout: keep[b][h][i][j] = repro_rng_uniform(key_h, sample_pos[b],
 * step lo, step hi, (i << 17) | j) >= p, key_h = repro_rng_derive(seed,
 * REPRO_RNG_DROPOUT, node, 1 + h): coordinates (seed, step, node, sample,
 * head, i, j), independent of the batch, the padding length and the
 * device (a plain dropout node uses (node, 0)). T <= 2^17.
 *
 * Backward, P recomputed from the saved m and l:
 *   P_ij  = l_i > 0 ? repro_expf(s_ij - m_i) / l_i : 0
 *   Pd_ij = keep ? (keep_ij ? P_ij * scale_drop : 0) : P_ij
 *   dsum_i = dot(dO_i, O_i)                       (d ascending, fmaf)
 *   dPd_ij = dot(dO_i, v_j)
 *   dP_ij  = keep ? (keep_ij ? dPd_ij * scale_drop : 0) : dPd_ij
 *   dS_ij  = P_ij * (dP_ij - dsum_i)
 *   dq_i[d] = (sum over the row's keys j ascending: fmaf(dS_ij, k_j[d], .)) * scale
 *   dk_j[d] = (sum over the unpadded queries i that see j, ascending: fmaf(dS_ij, q_i[d], .)) * scale
 *   dv_j[d] =  sum over the unpadded queries i that see j, ascending: fmaf(Pd_ij, dO_i[d], .)
 * Each of dq, dk, dv is one chain per output element: no atomics, no
 * split sums. A key masked by kpm gets dk = dv = 0. */
#ifndef REPRO_OPS_ATTENTION_MATH_H
#define REPRO_OPS_ATTENTION_MATH_H

#include <math.h>
#include <stdint.h>

#include "repro/defs.h"
#include "repro/math.h"
#include "repro/rng.h"

enum {
    REPRO_ATTN_BLOCK = 64,     /* keys a block of the online softmax (the contract) */
    REPRO_ATTN_MAX_HD = 256,   /* head_dim limit (per-row accumulators live in registers/stack) */
    REPRO_ATTN_MAX_T = 1 << 17 /* dropout coordinates (i << 17) | j */
};

typedef struct repro_attn_args {
    int64_t B, T, H, hd;
    float scale;               /* applied to every score: 1 / sqrt(hd) by default */
    int causal;
    float p;                   /* attention dropout; keep != NULL when p > 0 (training) */
    uint64_t seed, step;
    uint32_t node;
    const uint32_t *sample_pos;/* [B] (dropout) */
    const float *qkv, *kpm;
    float *o, *stat;
    uint8_t *keep;
    /* backward */
    const float *dout;         /* [B][T][H][hd] */
    float *dqkv;               /* [B][T][3][H][hd], overwritten */
} repro_attn_args;

/* q, k or v (which = 0, 1, 2) of token t, head h of sample b. */
REPRO_HD static inline const float *repro_attn_qkv(const repro_attn_args *a, int64_t b, int64_t t, int which,
                                                   int64_t h)
{
    return a->qkv + ((b * a->T + t) * 3 + which) * a->H * a->hd + h * a->hd;
}

REPRO_HD static inline float repro_attn_dot(const float *x, const float *y, int64_t n)
{
    float acc = 0.0f;
    for (int64_t d = 0; d < n; d++)
        acc = fmaf(x[d], y[d], acc);
    return acc;
}

REPRO_HD static inline int repro_attn_masked(const repro_attn_args *a, int64_t b, int64_t j)
{
    return a->kpm && a->kpm[b * a->T + j] != 0.0f;
}

/* The end of row i's keys: 0 for a padded query (kpm masks token i). */
REPRO_HD static inline int64_t repro_attn_kend(const repro_attn_args *a, int64_t b, int64_t i)
{
    if (repro_attn_masked(a, b, i))
        return 0;
    return a->causal ? i + 1 : a->T;
}

/* Row r = (b * H + h) * T + i's stat k (0 m, 1 l, 2 dsum). */
REPRO_HD static inline float *repro_attn_stat(const repro_attn_args *a, int64_t b, int64_t h, int64_t i, int k)
{
    return a->stat + ((b * 3 + k) * a->H + h) * a->T + i;
}

REPRO_HD static inline int64_t repro_attn_keep_at(const repro_attn_args *a, int64_t b, int64_t h, int64_t i,
                                                  int64_t j)
{
    return ((b * a->H + h) * a->T + i) * a->T + j;
}

/* The forward of row r = (b * H + h) * T + i: o, m, l and (dropout) keep. */
REPRO_HD static inline void repro_attn_forward_row(const repro_attn_args *a, int64_t r)
{
    int64_t T = a->T, hd = a->hd, i = r % T, h = (r / T) % a->H, b = r / (T * a->H);
    const float *q = repro_attn_qkv(a, b, i, 0, h);
    float acc[REPRO_ATTN_MAX_HD], s[REPRO_ATTN_BLOCK];
    for (int64_t d = 0; d < hd; d++)
        acc[d] = 0.0f;
    float m = -repro_math_inff(), l = 0.0f, sd = a->keep ? 1.0f / (1.0f - a->p) : 1.0f;
    repro_rng_key key = {{0, 0}};
    if (a->keep)
        key = repro_rng_derive(a->seed, REPRO_RNG_DROPOUT, a->node, (uint32_t)(1 + h));
    int64_t kend = repro_attn_kend(a, b, i);
    for (int64_t jb = 0; jb < kend; jb += REPRO_ATTN_BLOCK) {
        int64_t je = jb + REPRO_ATTN_BLOCK < kend ? jb + REPRO_ATTN_BLOCK : kend;
        float mb = -repro_math_inff();
        int any = 0;
        for (int64_t j = jb; j < je; j++) {
            if (repro_attn_masked(a, b, j))
                continue;
            float sj = repro_attn_dot(q, repro_attn_qkv(a, b, j, 1, h), hd) * a->scale;
            s[j - jb] = sj;
            mb = sj > mb ? sj : mb;
            any = 1;
        }
        if (!any)
            continue;
        float mn = mb > m ? mb : m;
        float c = repro_expf(m - mn);
        l = l * c;
        for (int64_t d = 0; d < hd; d++)
            acc[d] = acc[d] * c;
        for (int64_t j = jb; j < je; j++) {
            if (repro_attn_masked(a, b, j))
                continue;
            float p = repro_expf(s[j - jb] - mn);
            l = l + p;
            float pd = p;
            if (a->keep) {
                uint32_t c1 = (uint32_t)a->step, c2 = (uint32_t)(a->step >> 32);
                int k = repro_rng_uniform(key, a->sample_pos[b], c1, c2, ((uint64_t)i << 17) | (uint64_t)j) >= a->p;
                a->keep[repro_attn_keep_at(a, b, h, i, j)] = (uint8_t)k;
                pd = k ? p * sd : 0.0f;
            }
            const float *v = repro_attn_qkv(a, b, j, 2, h);
            for (int64_t d = 0; d < hd; d++)
                acc[d] = fmaf(pd, v[d], acc[d]);
        }
        m = mn;
    }
    float *o = a->o + ((b * T + i) * a->H + h) * hd;
    for (int64_t d = 0; d < hd; d++)
        o[d] = l > 0.0f ? acc[d] / l : 0.0f;
    *repro_attn_stat(a, b, h, i, 0) = m;
    *repro_attn_stat(a, b, h, i, 1) = l;
}

/* dsum of row r: dot(dO_i, O_i). */
REPRO_HD static inline void repro_attn_dsum_row(const repro_attn_args *a, int64_t r)
{
    int64_t T = a->T, hd = a->hd, i = r % T, h = (r / T) % a->H, b = r / (T * a->H);
    int64_t at = ((b * T + i) * a->H + h) * hd;
    *repro_attn_stat(a, b, h, i, 2) = repro_attn_dot(a->dout + at, a->o + at, hd);
}

/* dS_ij (and Pd_ij) of one (row, key) pair from its row's saved m, l and
 * dsum, its score s_ij and dPd_ij = dot(dO_i, v_j): the one expression that
 * every kernel computing dq, dk or dv uses (the SIMD twins and the tiled
 * GPU kernels compute s and dp several pairs at a time). `dropout` says
 * whether there is a keep mask, `kept` is the pair's flag in it and sd is
 * 1 / (1 - p). */
REPRO_HD static inline float repro_attn_ds_from(float m, float l, float dsum, int dropout, int kept, float sd,
                                                float s, float dp, float *pd_out)
{
    float P = l > 0.0f ? repro_expf(s - m) / l : 0.0f;
    float pd = P;
    if (dropout) {
        pd = kept ? P * sd : 0.0f;
        dp = kept ? dp * sd : 0.0f;
    }
    *pd_out = pd;
    return P * (dp - dsum);
}

/* The same, reading the row's statistics and the pair's keep flag. */
REPRO_HD static inline float repro_attn_ds_of(const repro_attn_args *a, int64_t b, int64_t h, int64_t i, int64_t j,
                                              float s, float dp, float *pd_out)
{
    float m = *repro_attn_stat(a, b, h, i, 0), l = *repro_attn_stat(a, b, h, i, 1);
    float dsum = *repro_attn_stat(a, b, h, i, 2);
    int kept = a->keep ? a->keep[repro_attn_keep_at(a, b, h, i, j)] : 1;
    float sd = a->keep ? 1.0f / (1.0f - a->p) : 1.0f;
    return repro_attn_ds_from(m, l, dsum, a->keep != NULL, kept, sd, s, dp, pd_out);
}

/* The same, computing s_ij and dPd_ij here. */
REPRO_HD static inline float repro_attn_ds(const repro_attn_args *a, int64_t b, int64_t h, int64_t i, int64_t j,
                                           float *pd_out)
{
    const float *q = repro_attn_qkv(a, b, i, 0, h);
    float s = repro_attn_dot(q, repro_attn_qkv(a, b, j, 1, h), a->hd) * a->scale;
    const float *dO = a->dout + ((b * a->T + i) * a->H + h) * a->hd;
    float dp = repro_attn_dot(dO, repro_attn_qkv(a, b, j, 2, h), a->hd);
    return repro_attn_ds_of(a, b, h, i, j, s, dp, pd_out);
}

/* dq of row r = (b * H + h) * T + i. */
REPRO_HD static inline void repro_attn_dq_row(const repro_attn_args *a, int64_t r)
{
    int64_t T = a->T, hd = a->hd, i = r % T, h = (r / T) % a->H, b = r / (T * a->H);
    float acc[REPRO_ATTN_MAX_HD];
    for (int64_t d = 0; d < hd; d++)
        acc[d] = 0.0f;
    int64_t kend = repro_attn_kend(a, b, i);
    for (int64_t j = 0; j < kend; j++) {
        if (repro_attn_masked(a, b, j))
            continue;
        float pd, ds = repro_attn_ds(a, b, h, i, j, &pd);
        const float *k = repro_attn_qkv(a, b, j, 1, h);
        for (int64_t d = 0; d < hd; d++)
            acc[d] = fmaf(ds, k[d], acc[d]);
    }
    float *dq = a->dqkv + ((b * T + i) * 3 + 0) * a->H * hd + h * hd;
    for (int64_t d = 0; d < hd; d++)
        dq[d] = acc[d] * a->scale;
}

/* dk and dv of key r = (b * H + h) * T + j. */
REPRO_HD static inline void repro_attn_dkv_row(const repro_attn_args *a, int64_t r)
{
    int64_t T = a->T, hd = a->hd, j = r % T, h = (r / T) % a->H, b = r / (T * a->H);
    float ak[REPRO_ATTN_MAX_HD], av[REPRO_ATTN_MAX_HD];
    for (int64_t d = 0; d < hd; d++)
        ak[d] = av[d] = 0.0f;
    if (!repro_attn_masked(a, b, j)) {
        for (int64_t i = a->causal ? j : 0; i < T; i++) {
            if (repro_attn_masked(a, b, i))
                continue;
            float pd, ds = repro_attn_ds(a, b, h, i, j, &pd);
            const float *q = repro_attn_qkv(a, b, i, 0, h);
            const float *dO = a->dout + ((b * T + i) * a->H + h) * hd;
            for (int64_t d = 0; d < hd; d++) {
                ak[d] = fmaf(ds, q[d], ak[d]);
                av[d] = fmaf(pd, dO[d], av[d]);
            }
        }
    }
    float *dk = a->dqkv + ((b * T + j) * 3 + 1) * a->H * hd + h * hd;
    float *dv = a->dqkv + ((b * T + j) * 3 + 2) * a->H * hd + h * hd;
    for (int64_t d = 0; d < hd; d++) {
        dk[d] = ak[d] * a->scale;
        dv[d] = av[d];
    }
}

#endif
