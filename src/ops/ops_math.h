/* The per-element arithmetic of every non-GEMM kernel, written once.
 *
 * Each function here is the evaluation order of its op: every + - * / is one
 * binary32 operation rounded to nearest even, in the order the parentheses
 * say, with no contraction (fmaf only where written). The CPU kernels
 * (src/ops/cpu/) and the CUDA kernels include this same text (REPRO_HD), so
 * the two can only differ in how they split work, never in the bits.
 *
 * NaN policy: a NaN input gives a NaN output wherever the formula lets it
 * through, so a diverging run shows up in the loss instead of being masked. */
#ifndef REPRO_OPS_MATH_H
#define REPRO_OPS_MATH_H

#include <stdint.h>

#include "repro/defs.h"
#include "repro/math.h"

/* ---- ReLU ----
 * y  = isnan(x) ? x : (x > 0 ? x : +0)      (-0 -> +0, NaN kept)
 * dx = x > 0 ? dy : +0                      (x = 0 and NaN get +0) */
REPRO_HD REPRO_INLINE float repro_relu_f(float x)
{
    return (x != x) ? x : (x > 0.0f ? x : 0.0f);
}

REPRO_HD REPRO_INLINE float repro_relu_df(float dy, float x)
{
    return x > 0.0f ? dy : 0.0f;
}

/* ---- GELU, tanh form ----
 * x3 = (x * x) * x
 * u  = 0.7978845608f * (x + 0.044715f * x3)
 * t  = repro_tanhf(u)
 * y  = (0.5f * x) * (1.0f + t)
 * Large x: x3 overflows to +-inf, t = +-1, y = x or -0; x = -inf gives
 * (-inf) * 0 = NaN, left so (an infinite activation is already divergence). */
#define REPRO_GELU_C 0.7978845608f /* sqrt(2 / pi) */
#define REPRO_GELU_A 0.044715f
#define REPRO_GELU_3A 0.134145f    /* 3 * 0.044715, as a decimal constant */

REPRO_HD REPRO_INLINE float repro_gelu_t(float x)
{
    float x3 = (x * x) * x;
    float u = REPRO_GELU_C * (x + REPRO_GELU_A * x3);
    return repro_tanhf(u);
}

REPRO_HD REPRO_INLINE float repro_gelu_f(float x)
{
    float t = repro_gelu_t(x);
    return (0.5f * x) * (1.0f + t);
}

/* dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) du/dx,  du/dx = c (1 + 3a x^2):
 * t  = repro_gelu_t(x)                      (as in the forward)
 * s  = 1.0f - t * t
 * du = 0.7978845608f * (1.0f + 0.134145f * (x * x))
 * q  = s == 0 ? +0 : ((0.5f * x) * s) * du  (s == 0 once |u| saturates tanh;
 *                                            the guard keeps 0 * inf = NaN out
 *                                            for |x| > 1.8e19 and x = +-inf)
 * g  = (0.5f * (1.0f + t)) + q
 * dx = dy * g */
REPRO_HD REPRO_INLINE float repro_gelu_df(float dy, float x)
{
    float t = repro_gelu_t(x);
    float s = 1.0f - t * t;
    float du = REPRO_GELU_C * (1.0f + REPRO_GELU_3A * (x * x));
    float q = (s == 0.0f) ? 0.0f : ((0.5f * x) * s) * du;
    float g = (0.5f * (1.0f + t)) + q;
    return dy * g;
}

/* ---- tanh and sigmoid: the backward reads the saved output y ----
 * tanh:    y = repro_tanhf(x);     dx = dy * (1.0f - y * y)
 * sigmoid: y = repro_sigmoidf(x);  dx = dy * (y * (1.0f - y)) */
REPRO_HD REPRO_INLINE float repro_tanh_f(float x)
{
    return repro_tanhf(x);
}

REPRO_HD REPRO_INLINE float repro_sigmoid_f(float x)
{
    return repro_sigmoidf(x);
}

REPRO_HD REPRO_INLINE float repro_tanh_df(float dy, float y)
{
    return dy * (1.0f - y * y);
}

REPRO_HD REPRO_INLINE float repro_sigmoid_df(float dy, float y)
{
    return dy * (y * (1.0f - y));
}

/* ---- SiLU (swish), the backward reads the forward's input x ----
 * y  = x * repro_sigmoidf(x)
 * s  = repro_sigmoidf(x)
 * dx = dy * (s * (1.0f + x * (1.0f - s)))
 * Tails: x > 40 gives s = 1, y = x, dx = dy; x < -104 gives s = +0,
 * y = -0, dx = dy * (0 * (1 + x)) = +-0. x = -inf gives (-inf) * 0 = NaN
 * (forward and backward) and x = +inf a NaN gradient (inf * 0), left so as
 * for GELU: an infinite activation is already divergence. */
REPRO_HD REPRO_INLINE float repro_silu_f(float x)
{
    return x * repro_sigmoidf(x);
}

REPRO_HD REPRO_INLINE float repro_silu_df(float dy, float x)
{
    float s = repro_sigmoidf(x);
    return dy * (s * (1.0f + x * (1.0f - s)));
}

/* ---- hard swish (MobileNetV3), the backward reads the forward's input x ----
 * t  = x + 3.0f;  t = t < 0 ? +0 : t;  t = t > 6 ? 6 : t   (NaN stays NaN)
 * y  = (x * t) / 6.0f
 * dx = x < -3 ? +0 : (x >= 3 ? dy : dy * ((x / 3.0f) + 0.5f))
 * The order of PyTorch's vectorised CPU kernel (x * clamp(x + 3, 0, 6) / 6,
 * x >= 3 the upper branch), so both match it bit for bit (2.1 million
 * values, a million of them random bit patterns, against torch 1.13). Its
 * scalar tail differs at two points we do not copy: x = 3 takes the middle
 * branch (1.5 dy) and a NaN x gives dy. Here x = -inf gives (-inf) * 0 = NaN
 * and a NaN x gives NaN both ways. */
REPRO_HD REPRO_INLINE float repro_hardswish_f(float x)
{
    float t = x + 3.0f;
    t = t < 0.0f ? 0.0f : t;
    t = t > 6.0f ? 6.0f : t;
    return (x * t) / 6.0f;
}

REPRO_HD REPRO_INLINE float repro_hardswish_df(float dy, float x)
{
    if (x < -3.0f)
        return 0.0f;
    if (x >= 3.0f)
        return dy;
    return dy * ((x / 3.0f) + 0.5f);
}

/* ---- dropout ----
 * scale = 1.0f / (1.0f - p), computed once in float
 * y  = keep ? x * scale : +0
 * dx = keep ? dy * scale : +0 */
REPRO_HD REPRO_INLINE float repro_dropout_scale(float p)
{
    return 1.0f / (1.0f - p);
}

REPRO_HD REPRO_INLINE float repro_dropout_f(float x, int keep, float scale)
{
    return keep ? x * scale : 0.0f;
}

/* ---- layer norm, per element of a row (mean, rstd of the row given) ----
 * xhat = (x - mean) * rstd
 * y    = (xhat * gamma) + beta
 * rstd = 1.0f / repro_sqrtf(var + eps)
 * dx   = rstd * ((dxhat - m1) - xhat * m2)   with dxhat = dy * gamma,
 *        m1 = mean of dxhat, m2 = mean of dxhat * xhat (canonical sums / D) */
REPRO_HD REPRO_INLINE float repro_layernorm_xhat(float x, float mean, float rstd)
{
    return (x - mean) * rstd;
}

REPRO_HD REPRO_INLINE float repro_layernorm_f(float x, float mean, float rstd, float gamma, float beta)
{
    return (repro_layernorm_xhat(x, mean, rstd) * gamma) + beta;
}

REPRO_HD REPRO_INLINE float repro_layernorm_rstd(float var, float eps)
{
    return 1.0f / repro_sqrtf(var + eps);
}

REPRO_HD REPRO_INLINE float repro_layernorm_dx(float dxhat, float xhat, float rstd, float m1, float m2)
{
    return rstd * ((dxhat - m1) - xhat * m2);
}

/* ---- batch norm's running statistics, per channel, after a group ----
 * unbiased = var * ((float)cnt / (float)(cnt - 1))      (cnt >= 2 values)
 * run      = (1.0f - momentum) * run + momentum * stat  (each product
 *            rounded, then the sum: no fmaf) */
REPRO_HD REPRO_INLINE float repro_batchnorm_unbiased(float var, int64_t cnt)
{
    return var * ((float)cnt / (float)(cnt - 1));
}

REPRO_HD REPRO_INLINE float repro_batchnorm_running(float run, float stat, float momentum)
{
    return (1.0f - momentum) * run + momentum * stat;
}

/* ---- softmax cross-entropy, one row z[0..C) ----
 * m   = z[0]; for j = 1..C-1 ascending: if (z[j] > m) { m = z[j]; arg = j }
 *       (the first maximum; pred = arg)
 * s   = +0; for j ascending: s = s + repro_expf(z[j] - m)
 * lse = m + repro_logf(s)
 * loss = lse - z[label]
 * dz[j] = (repro_expf(z[j] - m) / s - (j == label ? 1.0f : 0)) * scale
 *         (the "- 0" is not performed: p - 0.0f == p for every p >= 0) */
typedef struct repro_xent_stats {
    float m;     /* the row's first maximum */
    float s;     /* sum of repro_expf(z[j] - m) */
    int32_t arg; /* index of the first maximum */
} repro_xent_stats;

REPRO_HD REPRO_INLINE repro_xent_stats repro_xent_row_stats(const float *z, int64_t C)
{
    repro_xent_stats st;
    st.m = z[0];
    st.arg = 0;
    for (int64_t j = 1; j < C; j++)
        if (z[j] > st.m) {
            st.m = z[j];
            st.arg = (int32_t)j;
        }
    st.s = 0.0f;
    for (int64_t j = 0; j < C; j++)
        st.s = st.s + repro_expf(z[j] - st.m);
    return st;
}

REPRO_HD REPRO_INLINE float repro_xent_loss(repro_xent_stats st, float z_label)
{
    float lse = st.m + repro_logf(st.s);
    return lse - z_label;
}

REPRO_HD REPRO_INLINE float repro_xent_dz(float zj, int is_label, repro_xent_stats st, float scale)
{
    float p = repro_expf(zj - st.m) / st.s;
    if (is_label)
        p = p - 1.0f;
    return p * scale;
}

/* ---- mean squared error, one row of T targets ----
 * d = p - y;  acc = +0; for t ascending: acc = acc + d * d;  loss = acc / (float)T
 * dp = ((2.0f * d) / (float)T) * scale */
REPRO_HD REPRO_INLINE float repro_mse_term(float p, float y)
{
    float d = p - y;
    return d * d;
}

REPRO_HD REPRO_INLINE float repro_mse_dp(float p, float y, float T, float scale)
{
    float d = p - y;
    return ((2.0f * d) / T) * scale;
}

/* ---- Huber with threshold delta, one row of T targets ----
 * d = p - y;  a = fabsf(d)
 * l = a <= delta ? (0.5f * d) * d : delta * (a - 0.5f * delta)
 * acc = +0; for t ascending: acc = acc + l;  loss = acc / (float)T
 * c  = d < -delta ? -delta : (d > delta ? delta : d)   (NaN d stays NaN)
 * dp = (c / (float)T) * scale
 * fabsf is written as a sign test so the text has no libm dependency. */
REPRO_HD REPRO_INLINE float repro_huber_term(float p, float y, float delta)
{
    float d = p - y;
    float a = d < 0.0f ? -d : d;
    return a <= delta ? (0.5f * d) * d : delta * (a - 0.5f * delta);
}

REPRO_HD REPRO_INLINE float repro_huber_dp(float p, float y, float delta, float T, float scale)
{
    float d = p - y;
    float c = d < -delta ? -delta : (d > delta ? delta : d);
    return (c / T) * scale;
}

#endif
