/* Attention's block functions on SIMD lanes (private to attention_avx2.c,
 * LANES 8, and attention_avx512.c, LANES 16): src/ops/attention_math.h's
 * rows, several at a time, with every output bit the scalar one.
 *
 * A unit is 64 (REPRO_ATTN_BLOCK) query rows of one (b, h) (forward, dq)
 * or 64 keys of one (b, h) (dk, dv); one thread computes a unit whole, so
 * the split over threads changes no sum. For each block of the other side
 * (keys, or queries) the unmasked vectors are packed once, transposed, into
 * scratch (pk[d][t], t the packed index), and every row of the unit reuses
 * them: a score s_ij = dot(q_i, k_j) is one chain acc = fmaf(x[d], y[d],
 * acc), d ascending, and LANES chains (LANES keys, or queries) run in the
 * lanes of one register, loading pk[d][t..t+LANES) contiguously (no
 * gathers); the FMA rounds once as fmaf does, and fmaf(a, b, c) =
 * fmaf(b, a, c) (the product is exact). Packed columns past a block's last
 * key are zeros whose lanes nobody reads.
 *
 * The per-d updates acc[d] = fmaf(p_t, v_t[d], acc[d]), t ascending, run
 * LANES d at a time with acc kept in a register over the whole key loop:
 * each d is still its own chain in the written order. Rows (keys) go in
 * pairs, each packed column load feeding both rows' chains. The
 * exponentials and dS, Pd are independent per pair and run on lanes too
 * (repro_expf's double steps lane by lane); the running max and sum and
 * the dropout draws stay scalar, in the written order (a Philox block of 4
 * words drawn once for its 4 keys). Masked keys and padded queries are
 * left out of the packing, so they are skipped, not added as zeros. d past
 * the last whole vector is done by scalar fmaf, in the same order.
 *
 * The includer defines LANES, the vector type vf and VZERO(), VSET1(x),
 * VLOAD(p), VSTORE(p, v), VFMA(a, b, c) (a * b + c rounded once), VMUL(a,
 * b), and FN(name) (the name with its ISA suffix). */
#ifndef LANES
#error "define LANES before including attention_lanes.h"
#endif

#include <string.h>

#include "ops/cpu/attention_simd.h"

enum {
    BLK = REPRO_ATTN_BLOCK,
    NV = 4 /* score vectors per pass over d: independent chains in flight */
};

typedef struct unit_of {
    int64_t b, h, lo, hi; /* the unit's rows (or keys) [lo, hi) of (b, h) */
} unit_of;

static unit_of unit_at(const repro_attn_args *a, int64_t u)
{
    int64_t nb = (a->T + BLK - 1) / BLK, blk = u % nb, bh = u / nb;
    unit_of r = {bh / a->H, bh % a->H, blk * BLK, blk * BLK + BLK < a->T ? blk * BLK + BLK : a->T};
    return r;
}

/* The unmasked tokens of [lo, hi) of sample b, ascending, into idx; their
 * count. */
static int compact(const repro_attn_args *a, int64_t b, int64_t lo, int64_t hi, int64_t *idx)
{
    int n = 0;
    for (int64_t j = lo; j < hi; j++)
        if (!repro_attn_masked(a, b, j))
            idx[n++] = j;
    return n;
}

/* pk[d * BLK + t] = src_t[d] for the n vectors src_t = base + idx[t] *
 * stride; columns [n, n rounded up to LANES) zeroed. */
static void pack(float *pk, const float *base, int64_t stride, const int64_t *idx, int n, int64_t hd)
{
    int nr = (n + LANES - 1) / LANES * LANES;
    for (int t = 0; t < n; t++) {
        const float *src = base + idx[t] * stride;
        for (int64_t d = 0; d < hd; d++)
            pk[d * BLK + t] = src[d];
    }
    for (int64_t d = 0; d < hd; d++)
        for (int t = n; t < nr; t++)
            pk[d * BLK + t] = 0.0f;
}

/* out[t .. t + nv * LANES) = dot(x, column t') (times scale when scaled). */
static inline __attribute__((always_inline)) void dots_nv(const float *x, const float *pk, int64_t hd, int t,
                                                          int nv, float scale, int scaled, float *out)
{
    vf acc[NV];
    for (int v = 0; v < nv; v++)
        acc[v] = VZERO();
    for (int64_t d = 0; d < hd; d++) {
        vf xd = VSET1(x[d]);
        const float *row = pk + d * BLK + t;
        for (int v = 0; v < nv; v++)
            acc[v] = VFMA(xd, VLOAD(row + v * LANES), acc[v]);
    }
    for (int v = 0; v < nv; v++)
        VSTORE(out + t + v * LANES, scaled ? VMUL(acc[v], VSET1(scale)) : acc[v]);
}

/* out[t] = dot(x, column t) (times scale when scaled), for the columns
 * [t0, n) (and the others of their vectors). */
static void dots(const float *x, const float *pk, int64_t hd, int t0, int n, float scale, int scaled, float *out)
{
    for (int t = t0 / LANES * LANES; t < n; t += NV * LANES) {
        int nv = (n - t + LANES - 1) / LANES;
        switch (nv < NV ? nv : NV) {
        case 1:
            dots_nv(x, pk, hd, t, 1, scale, scaled, out);
            break;
        case 2:
            dots_nv(x, pk, hd, t, 2, scale, scaled, out);
            break;
        case 3:
            dots_nv(x, pk, hd, t, 3, scale, scaled, out);
            break;
        default:
            dots_nv(x, pk, hd, t, NV, scale, scaled, out);
            break;
        }
    }
}

/* dots_nv for two vectors x0, x1 against the same columns (each column
 * load serves both). */
static inline __attribute__((always_inline)) void dots_nv2(const float *x0, const float *x1, const float *pk,
                                                           int64_t hd, int t, int nv, float scale, int scaled,
                                                           float *out0, float *out1)
{
    vf acc0[NV], acc1[NV];
    for (int v = 0; v < nv; v++)
        acc0[v] = acc1[v] = VZERO();
    for (int64_t d = 0; d < hd; d++) {
        vf xd0 = VSET1(x0[d]), xd1 = VSET1(x1[d]);
        const float *row = pk + d * BLK + t;
        for (int v = 0; v < nv; v++) {
            vf y = VLOAD(row + v * LANES);
            acc0[v] = VFMA(xd0, y, acc0[v]);
            acc1[v] = VFMA(xd1, y, acc1[v]);
        }
    }
    for (int v = 0; v < nv; v++) {
        VSTORE(out0 + t + v * LANES, scaled ? VMUL(acc0[v], VSET1(scale)) : acc0[v]);
        VSTORE(out1 + t + v * LANES, scaled ? VMUL(acc1[v], VSET1(scale)) : acc1[v]);
    }
}

/* dots for x0 into out0 and, when x1 is not NULL, x1 into out1. */
static void dots2(const float *x0, const float *x1, const float *pk, int64_t hd, int t0, int n, float scale,
                  int scaled, float *out0, float *out1)
{
    if (!x1) {
        dots(x0, pk, hd, t0, n, scale, scaled, out0);
        return;
    }
    for (int t = t0 / LANES * LANES; t < n; t += NV * LANES) {
        int nv = (n - t + LANES - 1) / LANES;
        switch (nv < NV ? nv : NV) {
        case 1:
            dots_nv2(x0, x1, pk, hd, t, 1, scale, scaled, out0, out1);
            break;
        case 2:
            dots_nv2(x0, x1, pk, hd, t, 2, scale, scaled, out0, out1);
            break;
        case 3:
            dots_nv2(x0, x1, pk, hd, t, 3, scale, scaled, out0, out1);
            break;
        default:
            dots_nv2(x0, x1, pk, hd, t, NV, scale, scaled, out0, out1);
            break;
        }
    }
}

/* acc[d] = fmaf(w[t], y_t[d], acc[d]) for t in [t0, n) ascending, y_t = base
 * + idx[t] * stride, after acc[d] = acc[d] * c when scaled. */
static void update(float *acc, int64_t hd, int scaled, float c, const float *w, const float *base, int64_t stride,
                   const int64_t *idx, int t0, int n)
{
    int64_t d = 0;
    for (; d + LANES <= hd; d += LANES) {
        vf x = VLOAD(acc + d);
        if (scaled)
            x = VMUL(x, VSET1(c));
        for (int t = t0; t < n; t++)
            x = VFMA(VSET1(w[t]), VLOAD(base + idx[t] * stride + d), x);
        VSTORE(acc + d, x);
    }
    for (; d < hd; d++) {
        float x = scaled ? acc[d] * c : acc[d];
        for (int t = t0; t < n; t++)
            x = fmaf(w[t], base[idx[t] * stride + d], x);
        acc[d] = x;
    }
}

/* The same for two accumulators over two sets of vectors (dk, dv). */
static void update2(float *acc, float *acc2, int64_t hd, const float *w, const float *w2, const float *base,
                    const float *base2, int64_t stride, int64_t stride2, const int64_t *idx, int t0, int n)
{
    int64_t d = 0;
    for (; d + LANES <= hd; d += LANES) {
        vf x = VLOAD(acc + d), y = VLOAD(acc2 + d);
        for (int t = t0; t < n; t++) {
            x = VFMA(VSET1(w[t]), VLOAD(base + idx[t] * stride + d), x);
            y = VFMA(VSET1(w2[t]), VLOAD(base2 + idx[t] * stride2 + d), y);
        }
        VSTORE(acc + d, x);
        VSTORE(acc2 + d, y);
    }
    for (; d < hd; d++) {
        float x = acc[d], y = acc2[d];
        for (int t = t0; t < n; t++) {
            x = fmaf(w[t], base[idx[t] * stride + d], x);
            y = fmaf(w2[t], base2[idx[t] * stride2 + d], y);
        }
        acc[d] = x;
        acc2[d] = y;
    }
}

/* How many of the n ascending idx are below end. */
static int below(const int64_t *idx, int n, int64_t end)
{
    while (n > 0 && idx[n - 1] >= end)
        n--;
    return n;
}

/* ---- exponentials and dS on lanes (GCC vector types: lane by lane the
 * same IEEE operations as the scalar code, -ffp-contract=off keeps them
 * unfused) ---- */

#include "ops/cpu/expf_lanes.h"

/* p[t] = repro_expf(s[t] - mn) for the whole vectors over [0, n). */
static void exps(const float *s, float mn, int n, float *p)
{
    for (int t = 0; t < n; t += LANES) {
        gf e = expf_lanes(loadf(s + t) - mn);
        memcpy(p + t, &e, sizeof e);
    }
}

/* repro_attn_ds_from on each lane of the whole vectors over [t0, n): the
 * row statistics m, l, dsum per lane (the arrays; one row's when row), kept
 * the keep flags (dropout only). */
static void ds_lanes(const float *s, const float *dp, const float *m, const float *l, const float *dsum, int row,
                     int dropout, const int32_t *kept, float sd, int t0, int n, float *ds, float *pd)
{
    for (int t = t0 / LANES * LANES; t < n; t += LANES) {
        gf mv = row ? splatf(m[0]) : loadf(m + t), lv = row ? splatf(l[0]) : loadf(l + t);
        gf sv = row ? splatf(dsum[0]) : loadf(dsum + t), dpv = loadf(dp + t);
        gf P = pickf(lv > 0.0f, expf_lanes(loadf(s + t) - mv) / lv, splatf(0.0f)), pdv = P;
        if (dropout) {
            gi kv;
            memcpy(&kv, kept + t, sizeof kv);
            gi kp = kv != 0;
            pdv = pickf(kp, P * sd, splatf(0.0f));
            dpv = pickf(kp, dpv * sd, splatf(0.0f));
        }
        gf dsv = P * (dpv - sv);
        memcpy(ds + t, &dsv, sizeof dsv);
        memcpy(pd + t, &pdv, sizeof pdv);
    }
}

/* The forward of unit u's rows: o, m, l and the keep mask. */
/* y[i] = repro_expf(x[i]) through expf_lanes, n a multiple of LANES: the
 * lane copy of exp's written order, swept against the scalar function by
 * tests/test_attention.c. */
void FN(repro_attn_expf_lanes)(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i + LANES <= n; i += LANES) {
        gf e = expf_lanes(loadf(x + i));
        memcpy(y + i, &e, sizeof e);
    }
}

void FN(repro_attn_forward_block)(const repro_attn_args *a, int64_t u, float *scratch)
{
    unit_of un = unit_at(a, u);
    int64_t T = a->T, hd = a->hd, b = un.b, h = un.h, kstride = 3 * a->H * hd, rows = un.hi - un.lo;
    float *pk = scratch, *acc = scratch + 2 * hd * BLK; /* pk[hd][BLK], acc[rows][hd] */
    float m[BLK], l[BLK], s2[2][BLK], pd[BLK];
    int64_t kend[BLK], idx[BLK], kmax = 0;
    for (int64_t r = 0; r < rows; r++) {
        m[r] = -repro_math_inff();
        l[r] = 0.0f;
        kend[r] = repro_attn_kend(a, b, un.lo + r);
        kmax = kend[r] > kmax ? kend[r] : kmax;
        for (int64_t d = 0; d < hd; d++)
            acc[r * hd + d] = 0.0f;
    }
    float sd = a->keep ? 1.0f / (1.0f - a->p) : 1.0f;
    repro_rng_key key = {{0, 0}};
    if (a->keep)
        key = repro_rng_derive(a->seed, REPRO_RNG_DROPOUT, a->node, (uint32_t)(1 + h));
    uint32_t c1 = (uint32_t)a->step, c2 = (uint32_t)(a->step >> 32);
    const float *k0 = repro_attn_qkv(a, b, 0, 1, h), *v0 = repro_attn_qkv(a, b, 0, 2, h);
    for (int64_t jb = 0; jb < kmax; jb += BLK) {
        int n = compact(a, b, jb, jb + BLK < kmax ? jb + BLK : kmax, idx);
        if (!n)
            continue;
        pack(pk, k0, kstride, idx, n, hd);
        for (int64_t r0 = 0; r0 < rows; r0 += 2) { /* rows in pairs: their scores share the column loads */
            int nr = r0 + 1 < rows ? 2 : 1, nis[2] = {below(idx, n, kend[r0]), 0};
            if (nr == 2)
                nis[1] = below(idx, n, kend[r0 + 1]);
            if (!nis[0] && !nis[1])
                continue; /* no key of this block is theirs */
            dots2(repro_attn_qkv(a, b, un.lo + r0, 0, h), nr == 2 ? repro_attn_qkv(a, b, un.lo + r0 + 1, 0, h) : NULL,
                  pk, hd, 0, nis[0] > nis[1] ? nis[0] : nis[1], a->scale, 1, s2[0], s2[1]);
            for (int k = 0; k < nr; k++) {
                int64_t r = r0 + k, i = un.lo + r;
                int ni = nis[k];
                const float *s = s2[k];
                if (!ni)
                    continue;
                float mb = -repro_math_inff();
                for (int t = 0; t < ni; t++)
                    mb = s[t] > mb ? s[t] : mb;
                float mn = mb > m[r] ? mb : m[r];
                float c = repro_expf(m[r] - mn);
                float lr = l[r] * c;
                exps(s, mn, ni, pd); /* p of each key, then the sum and the draws in order */
                uint32_t w[4];
                int64_t group = -1; /* the Philox block of 4 words in w: keys 4g .. 4g + 3 */
                for (int t = 0; t < ni; t++) {
                    int64_t j = idx[t];
                    float p = pd[t];
                    lr = lr + p;
                    if (a->keep) {
                        uint64_t e = ((uint64_t)i << 17) | (uint64_t)j; /* repro_rng_uniform(key, ..., e): block e >> 2 */
                        if ((int64_t)(e >> 2) != group) {
                            group = (int64_t)(e >> 2);
                            repro_rng_block(key, (uint32_t)(e >> 2), a->sample_pos[b], c1, c2, w);
                        }
                        int kp = repro_rng_u32_to_uniform(w[e & 3]) >= a->p;
                        a->keep[repro_attn_keep_at(a, b, h, i, j)] = (uint8_t)kp;
                        pd[t] = kp ? p * sd : 0.0f;
                    }
                }
                l[r] = lr;
                update(acc + r * hd, hd, 1, c, pd, v0, kstride, idx, 0, ni);
                m[r] = mn;
            }
        }
    }
    for (int64_t r = 0; r < rows; r++) {
        int64_t i = un.lo + r;
        float *o = a->o + ((b * T + i) * a->H + h) * hd;
        for (int64_t d = 0; d < hd; d++)
            o[d] = l[r] > 0.0f ? acc[r * hd + d] / l[r] : 0.0f;
        *repro_attn_stat(a, b, h, i, 0) = m[r];
        *repro_attn_stat(a, b, h, i, 1) = l[r];
    }
}

/* dq of unit u's rows. */
void FN(repro_attn_dq_block)(const repro_attn_args *a, int64_t u, float *scratch)
{
    unit_of un = unit_at(a, u);
    int64_t T = a->T, hd = a->hd, b = un.b, h = un.h, kstride = 3 * a->H * hd, rows = un.hi - un.lo;
    float *pk = scratch, *pv = scratch + hd * BLK, *acc = scratch + 2 * hd * BLK;
    float s2[2][BLK], dp2[2][BLK], ds[BLK], pd[BLK];
    int32_t kept[BLK] = {0};
    int64_t kend[BLK], idx[BLK], kmax = 0;
    for (int64_t r = 0; r < rows; r++) {
        kend[r] = repro_attn_kend(a, b, un.lo + r);
        kmax = kend[r] > kmax ? kend[r] : kmax;
        for (int64_t d = 0; d < hd; d++)
            acc[r * hd + d] = 0.0f;
    }
    float sd = a->keep ? 1.0f / (1.0f - a->p) : 1.0f;
    const float *k0 = repro_attn_qkv(a, b, 0, 1, h), *v0 = repro_attn_qkv(a, b, 0, 2, h);
    for (int64_t jb = 0; jb < kmax; jb += BLK) {
        int n = compact(a, b, jb, jb + BLK < kmax ? jb + BLK : kmax, idx);
        if (!n)
            continue;
        pack(pk, k0, kstride, idx, n, hd);
        pack(pv, v0, kstride, idx, n, hd);
        for (int64_t r0 = 0; r0 < rows; r0 += 2) { /* rows in pairs, as in the forward */
            int nr = r0 + 1 < rows ? 2 : 1, nis[2] = {below(idx, n, kend[r0]), 0};
            if (nr == 2)
                nis[1] = below(idx, n, kend[r0 + 1]);
            int nmax = nis[0] > nis[1] ? nis[0] : nis[1];
            if (!nmax)
                continue;
            int64_t i0 = un.lo + r0, i1 = i0 + 1;
            const float *dO0 = a->dout + ((b * T + i0) * a->H + h) * hd, *dO1 = dO0 + a->H * hd;
            dots2(repro_attn_qkv(a, b, i0, 0, h), nr == 2 ? repro_attn_qkv(a, b, i1, 0, h) : NULL, pk, hd, 0, nmax,
                  a->scale, 1, s2[0], s2[1]);
            dots2(dO0, nr == 2 ? dO1 : NULL, pv, hd, 0, nmax, 1.0f, 0, dp2[0], dp2[1]);
            for (int k = 0; k < nr; k++) {
                int64_t r = r0 + k, i = un.lo + r;
                int ni = nis[k];
                if (!ni)
                    continue;
                float mi = *repro_attn_stat(a, b, h, i, 0), li = *repro_attn_stat(a, b, h, i, 1);
                float dsum = *repro_attn_stat(a, b, h, i, 2);
                if (a->keep)
                    for (int t = 0; t < ni; t++)
                        kept[t] = a->keep[repro_attn_keep_at(a, b, h, i, idx[t])];
                ds_lanes(s2[k], dp2[k], &mi, &li, &dsum, 1, a->keep != NULL, kept, sd, 0, ni, ds, pd);
                update(acc + r * hd, hd, 0, 1.0f, ds, k0, kstride, idx, 0, ni);
            }
        }
    }
    for (int64_t r = 0; r < rows; r++) {
        float *dq = a->dqkv + ((b * T + un.lo + r) * 3 + 0) * a->H * hd + h * hd;
        for (int64_t d = 0; d < hd; d++)
            dq[d] = acc[r * hd + d] * a->scale;
    }
}

/* dk and dv of unit u's keys. */
void FN(repro_attn_dkv_block)(const repro_attn_args *a, int64_t u, float *scratch)
{
    unit_of un = unit_at(a, u);
    int64_t T = a->T, hd = a->hd, b = un.b, h = un.h, qstride = 3 * a->H * hd, ostride = a->H * hd;
    int64_t keys = un.hi - un.lo;
    float *pq = scratch, *po = scratch + hd * BLK, *ak = scratch + 2 * hd * BLK, *av = ak + BLK * hd;
    float s2[2][BLK], dp2[2][BLK], ds[BLK], pd[BLK], mq[BLK] = {0}, lq[BLK] = {0}, sq[BLK] = {0};
    int32_t kept[BLK] = {0};
    int64_t idx[BLK];
    for (int64_t e = 0; e < keys * hd; e++)
        ak[e] = av[e] = 0.0f;
    float sd = a->keep ? 1.0f / (1.0f - a->p) : 1.0f;
    const float *q0 = repro_attn_qkv(a, b, 0, 0, h), *o0 = a->dout + (b * T * a->H + h) * hd;
    for (int64_t ib = a->causal ? un.lo : 0; ib < T; ib += BLK) { /* query blocks ascending */
        int n = compact(a, b, ib, ib + BLK < T ? ib + BLK : T, idx);
        if (!n)
            continue;
        pack(pq, q0, qstride, idx, n, hd);
        pack(po, o0, ostride, idx, n, hd);
        for (int t = 0; t < n; t++) {
            mq[t] = *repro_attn_stat(a, b, h, idx[t], 0);
            lq[t] = *repro_attn_stat(a, b, h, idx[t], 1);
            sq[t] = *repro_attn_stat(a, b, h, idx[t], 2);
        }
        for (int64_t r0 = 0; r0 < keys; r0 += 2) { /* keys in pairs: their scores share the column loads */
            int nr = r0 + 1 < keys ? 2 : 1, t0s[2] = {n, n};
            for (int k = 0; k < nr; k++) {
                int64_t j = un.lo + r0 + k;
                if (repro_attn_masked(a, b, j))
                    continue; /* t0 = n: no query */
                int t0 = 0; /* the first query that sees key j */
                if (a->causal)
                    while (t0 < n && idx[t0] < j)
                        t0++;
                t0s[k] = t0;
            }
            int tmin = t0s[0] < t0s[1] ? t0s[0] : t0s[1];
            if (tmin == n)
                continue;
            int64_t j0 = un.lo + r0, j1 = j0 + 1;
            dots2(repro_attn_qkv(a, b, j0, 1, h), nr == 2 ? repro_attn_qkv(a, b, j1, 1, h) : NULL, pq, hd, tmin, n,
                  a->scale, 1, s2[0], s2[1]);
            dots2(repro_attn_qkv(a, b, j0, 2, h), nr == 2 ? repro_attn_qkv(a, b, j1, 2, h) : NULL, po, hd, tmin, n,
                  1.0f, 0, dp2[0], dp2[1]);
            for (int k = 0; k < nr; k++) {
                int64_t r = r0 + k, j = un.lo + r;
                int t0 = t0s[k];
                if (t0 == n)
                    continue;
                if (a->keep)
                    for (int t = t0; t < n; t++)
                        kept[t] = a->keep[repro_attn_keep_at(a, b, h, idx[t], j)];
                ds_lanes(s2[k], dp2[k], mq, lq, sq, 0, a->keep != NULL, kept, sd, t0, n, ds, pd);
                update2(ak + r * hd, av + r * hd, hd, ds, pd, q0, o0, qstride, ostride, idx, t0, n);
            }
        }
    }
    for (int64_t r = 0; r < keys; r++) {
        int64_t j = un.lo + r;
        float *dk = a->dqkv + ((b * T + j) * 3 + 1) * a->H * hd + h * hd;
        float *dv = a->dqkv + ((b * T + j) * 3 + 2) * a->H * hd + h * hd;
        for (int64_t d = 0; d < hd; d++) {
            dk[d] = ak[r * hd + d] * a->scale;
            dv[d] = av[r * hd + d];
        }
    }
}
