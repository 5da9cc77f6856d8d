/* The NEON twins of attention's row functions (src/ops/attention_math.h),
 * a row at a time on 4 lanes (the x86-64 twins work on blocks of 64 rows
 * instead: attention_lanes.h), the same bits: a score s_ij is one chain
 * acc = fmaf(q[d], k[d], acc), d ascending, and 4 such chains (4 keys, or 4
 * queries) run side by side in the lanes of one register, each lane the
 * scalar chain exactly (vfmaq rounds once, as fmaf; it is used only where
 * the reference has fmaf); the updates acc[d] = fmaf(p, v[d], acc[d]) are
 * independent per d and run 4 d at a time. NEON has no gather: 4 rows' next
 * 4 values are loaded and transposed, so each register holds one d of the
 * 4 chains. The exponentials, the running max and the dropout draws stay
 * scalar, in the written order. Lanes past a group's end are done by the
 * scalar code. aarch64 only. */
#include <arm_neon.h>

#include "ops/cpu/attention_simd.h"

enum { LANES = 4 };

/* out[l] = dot(x, y_l) for 4 vectors y_l = ybase + off[l] (x broadcast):
 * lane l is fmaf(x[d], y_l[d], acc), d ascending. */
static void dots4(const float *x, const float *ybase, const int32_t *off, int64_t hd, float *out)
{
    const float *y0 = ybase + off[0], *y1 = ybase + off[1], *y2 = ybase + off[2], *y3 = ybase + off[3];
    float32x4_t acc = vdupq_n_f32(0.0f);
    int64_t d = 0;
    for (; d + 4 <= hd; d += 4) {
        /* rows l = 0..3, values d..d+3 -> columns: col[j] lane l = y_l[d + j] */
        float32x4_t r0 = vld1q_f32(y0 + d), r1 = vld1q_f32(y1 + d), r2 = vld1q_f32(y2 + d), r3 = vld1q_f32(y3 + d);
        float32x4_t t0 = vtrn1q_f32(r0, r1), t1 = vtrn2q_f32(r0, r1);
        float32x4_t t2 = vtrn1q_f32(r2, r3), t3 = vtrn2q_f32(r2, r3);
        float64x2_t u0 = vreinterpretq_f64_f32(t0), u1 = vreinterpretq_f64_f32(t1);
        float64x2_t u2 = vreinterpretq_f64_f32(t2), u3 = vreinterpretq_f64_f32(t3);
        float32x4_t c0 = vreinterpretq_f32_f64(vtrn1q_f64(u0, u2)), c1 = vreinterpretq_f32_f64(vtrn1q_f64(u1, u3));
        float32x4_t c2 = vreinterpretq_f32_f64(vtrn2q_f64(u0, u2)), c3 = vreinterpretq_f32_f64(vtrn2q_f64(u1, u3));
        acc = vfmaq_n_f32(acc, c0, x[d]);
        acc = vfmaq_n_f32(acc, c1, x[d + 1]);
        acc = vfmaq_n_f32(acc, c2, x[d + 2]);
        acc = vfmaq_n_f32(acc, c3, x[d + 3]);
    }
    for (; d < hd; d++) {
        const float col[4] = {y0[d], y1[d], y2[d], y3[d]};
        acc = vfmaq_n_f32(acc, vld1q_f32(col), x[d]);
    }
    vst1q_f32(out, acc);
}

/* acc[d] = fmaf(p, v[d], acc[d]), d < hd */
static void axpy(float p, const float *v, float *acc, int64_t hd)
{
    const float32x4_t vp = vdupq_n_f32(p);
    int64_t d = 0;
    for (; d + LANES <= hd; d += LANES)
        vst1q_f32(acc + d, vfmaq_f32(vld1q_f32(acc + d), vp, vld1q_f32(v + d)));
    for (; d < hd; d++)
        acc[d] = fmaf(p, v[d], acc[d]);
}

static void scale_by(float c, float *acc, int64_t hd)
{
    const float32x4_t vc = vdupq_n_f32(c);
    int64_t d = 0;
    for (; d + LANES <= hd; d += LANES)
        vst1q_f32(acc + d, vmulq_f32(vld1q_f32(acc + d), vc));
    for (; d < hd; d++)
        acc[d] = acc[d] * c;
}

/* out[t] = dot(x, y_t) * scale (scale 1: no multiply) for the n vectors
 * y_t = ybase + off[t], 4 at a time. */
static void dots(const float *x, const float *ybase, const int32_t *off, int n, int64_t hd, float scale, int scaled,
                 float *out)
{
    int t = 0;
    for (; t + LANES <= n; t += LANES)
        dots4(x, ybase, off + t, hd, out + t);
    for (; t < n; t++)
        out[t] = repro_attn_dot(x, ybase + off[t], hd);
    if (scaled)
        for (t = 0; t < n; t++)
            out[t] = out[t] * scale;
}

void repro_attn_forward_row_neon(const repro_attn_args *a, int64_t r)
{
    int64_t T = a->T, hd = a->hd, i = r % T, h = (r / T) % a->H, b = r / (T * a->H);
    const float *q = repro_attn_qkv(a, b, i, 0, h), *k0 = repro_attn_qkv(a, b, 0, 1, h);
    int32_t stride = (int32_t)(3 * a->H * hd), off[REPRO_ATTN_BLOCK];
    int64_t idx[REPRO_ATTN_BLOCK];
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
        int n = 0;
        for (int64_t j = jb; j < je; j++)
            if (!repro_attn_masked(a, b, j)) {
                idx[n] = j;
                off[n++] = (int32_t)j * stride;
            }
        if (!n)
            continue;
        dots(q, k0, off, n, hd, a->scale, 1, s);
        float mb = -repro_math_inff();
        for (int t = 0; t < n; t++)
            mb = s[t] > mb ? s[t] : mb;
        float mn = mb > m ? mb : m;
        float c = repro_expf(m - mn);
        l = l * c;
        scale_by(c, acc, hd);
        for (int t = 0; t < n; t++) {
            int64_t j = idx[t];
            float p = repro_expf(s[t] - mn);
            l = l + p;
            float pd = p;
            if (a->keep) {
                uint32_t c1 = (uint32_t)a->step, c2 = (uint32_t)(a->step >> 32);
                int kp = repro_rng_uniform(key, a->sample_pos[b], c1, c2, ((uint64_t)i << 17) | (uint64_t)j) >= a->p;
                a->keep[repro_attn_keep_at(a, b, h, i, j)] = (uint8_t)kp;
                pd = kp ? p * sd : 0.0f;
            }
            axpy(pd, repro_attn_qkv(a, b, j, 2, h), acc, hd);
        }
        m = mn;
    }
    float *o = a->o + ((b * T + i) * a->H + h) * hd;
    for (int64_t d = 0; d < hd; d++)
        o[d] = l > 0.0f ? acc[d] / l : 0.0f;
    *repro_attn_stat(a, b, h, i, 0) = m;
    *repro_attn_stat(a, b, h, i, 1) = l;
}

void repro_attn_dq_row_neon(const repro_attn_args *a, int64_t r)
{
    int64_t T = a->T, hd = a->hd, i = r % T, h = (r / T) % a->H, b = r / (T * a->H);
    const float *q = repro_attn_qkv(a, b, i, 0, h), *dO = a->dout + ((b * T + i) * a->H + h) * hd;
    const float *k0 = repro_attn_qkv(a, b, 0, 1, h), *v0 = repro_attn_qkv(a, b, 0, 2, h);
    int32_t stride = (int32_t)(3 * a->H * hd), off[REPRO_ATTN_BLOCK];
    int64_t idx[REPRO_ATTN_BLOCK];
    float acc[REPRO_ATTN_MAX_HD], s[REPRO_ATTN_BLOCK], dp[REPRO_ATTN_BLOCK];
    for (int64_t d = 0; d < hd; d++)
        acc[d] = 0.0f;
    int64_t kend = repro_attn_kend(a, b, i);
    for (int64_t jb = 0; jb < kend; jb += REPRO_ATTN_BLOCK) { /* groups of keys: j ascending all the same */
        int64_t je = jb + REPRO_ATTN_BLOCK < kend ? jb + REPRO_ATTN_BLOCK : kend;
        int n = 0;
        for (int64_t j = jb; j < je; j++)
            if (!repro_attn_masked(a, b, j)) {
                idx[n] = j;
                off[n++] = (int32_t)j * stride;
            }
        dots(q, k0, off, n, hd, a->scale, 1, s);
        dots(dO, v0, off, n, hd, 1.0f, 0, dp);
        for (int t = 0; t < n; t++) {
            float pd, ds = repro_attn_ds_of(a, b, h, i, idx[t], s[t], dp[t], &pd);
            axpy(ds, k0 + off[t], acc, hd);
        }
    }
    float *dq = a->dqkv + ((b * T + i) * 3 + 0) * a->H * hd + h * hd;
    for (int64_t d = 0; d < hd; d++)
        dq[d] = acc[d] * a->scale;
}

void repro_attn_dkv_row_neon(const repro_attn_args *a, int64_t r)
{
    int64_t T = a->T, hd = a->hd, j = r % T, h = (r / T) % a->H, b = r / (T * a->H);
    const float *k = repro_attn_qkv(a, b, j, 1, h), *v = repro_attn_qkv(a, b, j, 2, h);
    const float *q0 = repro_attn_qkv(a, b, 0, 0, h), *dO0 = a->dout + (b * T * a->H + h) * hd;
    int32_t qstride = (int32_t)(3 * a->H * hd), ostride = (int32_t)(a->H * hd);
    int32_t qoff[REPRO_ATTN_BLOCK], ooff[REPRO_ATTN_BLOCK];
    int64_t idx[REPRO_ATTN_BLOCK];
    float ak[REPRO_ATTN_MAX_HD], av[REPRO_ATTN_MAX_HD], s[REPRO_ATTN_BLOCK], dp[REPRO_ATTN_BLOCK];
    for (int64_t d = 0; d < hd; d++)
        ak[d] = av[d] = 0.0f;
    if (!repro_attn_masked(a, b, j)) {
        for (int64_t ib = a->causal ? j : 0; ib < T; ib += REPRO_ATTN_BLOCK) { /* queries ascending */
            int64_t ie = ib + REPRO_ATTN_BLOCK < T ? ib + REPRO_ATTN_BLOCK : T;
            int n = 0;
            for (int64_t i = ib; i < ie; i++)
                if (!repro_attn_masked(a, b, i)) {
                    idx[n] = i;
                    qoff[n] = (int32_t)i * qstride;
                    ooff[n++] = (int32_t)i * ostride;
                }
            /* s_ij = dot(q_i, k_j) and dp_ij = dot(dO_i, v_j): 4 queries in the
             * lanes, k_j[d] (v_j[d]) broadcast; fmaf(q, k, acc) == fmaf(k, q, acc) */
            for (int t = 0; t + LANES <= n; t += LANES) {
                dots4(k, q0, qoff + t, hd, s + t);
                vst1q_f32(s + t, vmulq_f32(vld1q_f32(s + t), vdupq_n_f32(a->scale)));
                dots4(v, dO0, ooff + t, hd, dp + t);
            }
            for (int t = n / LANES * LANES; t < n; t++) {
                s[t] = repro_attn_dot(q0 + qoff[t], k, hd) * a->scale;
                dp[t] = repro_attn_dot(dO0 + ooff[t], v, hd);
            }
            for (int t = 0; t < n; t++) {
                float pd, ds = repro_attn_ds_of(a, b, h, idx[t], j, s[t], dp[t], &pd);
                axpy(ds, q0 + qoff[t], ak, hd);
                axpy(pd, dO0 + ooff[t], av, hd);
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
