/* The bf16 GEMM's NEON kernel: gemm_bf16_avx2.c on 4 lanes, 32 outputs of a
 * row at once (eight groups of 4), each block of 16 products in two passes
 * (the alignment exponent, then the aligned sum). See gemm_bf16_kernel.h for
 * why each step is exact; vcvtq_s32_f32 (FCVTZS) truncates toward zero like
 * cvttps, and in range (|x| < 2^31) neither saturates. tests/test_gemm_bf16.c
 * checks the bits against repro_gemm_bf16_ref. aarch64 only. */
#include <arm_neon.h>
#include <string.h>

#include "ops/cpu/gemm_bf16_kernel.h"

enum { GROUPS = REPRO_BF16_PANEL / 4, RANGE = 100 };

/* 2^e for |e| <= 127 - 2, as floats: e's biased exponent in place. */
static inline float32x4_t pow2(int32x4_t e)
{
    return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(e, vdupq_n_s32(127)), 23));
}

/* The exponents of c's lanes as repro_bf16_block_exp gives them. */
static inline int32x4_t exps_of(float32x4_t c)
{
    uint32x4_t bits = vreinterpretq_u32_f32(c);
    int32x4_t E = vreinterpretq_s32_u32(vandq_u32(vshrq_n_u32(bits, 23), vdupq_n_u32(0xff)));
    int32x4_t frac = vreinterpretq_s32_u32(vandq_u32(bits, vdupq_n_u32(0x7fffff)));
    int32x4_t e = vsubq_s32(E, vdupq_n_s32(127));
    int32x4_t sub = vbslq_s32(vcgtq_s32(frac, vdupq_n_s32(0)), vdupq_n_s32(-126), vdupq_n_s32(REPRO_BF16_ZERO_EXP));
    return vbslq_s32(vceqq_s32(E, vdupq_n_s32(0)), sub, e);
}

/* int32 -> float rounded toward zero. vcvtq_f32_s32 rounds to nearest (the
 * FPCR default, like cvtepi32_ps), so a fix-up: step back one ulp where
 * that went up in magnitude
 * (|s| < 2^31 - 2^26, so the float converts back exactly). */
static inline float32x4_t to_float_rz(int32x4_t s)
{
    float32x4_t f = vcvtq_f32_s32(s);
    int32x4_t back = vcvtq_s32_f32(f);
    uint32x4_t pos = vcgtq_s32(s, vdupq_n_s32(-1));
    uint32x4_t up = vbslq_u32(pos, vcgtq_s32(back, s), vcgtq_s32(s, back));
    /* up is all ones (-1) where it went up: one less in the bits */
    return vreinterpretq_f32_u32(vaddq_u32(vreinterpretq_u32_f32(f), up));
}

/* One block for 32 outputs (eight groups of 4, independent chains side by
 * side): c + the 16 products of row m, columns n0.. */
static void block32(const repro_bf16_operands *o, int64_t m, int64_t n0, int64_t k0, float32x4_t c[GROUPS])
{
    const float *a = o->Af + m * o->Kp + k0;
    const int32_t *ae = o->Ae + m * o->Kp + k0;
    int32x4_t top[GROUPS], sum[GROUPS];
    float32x4_t scale[GROUPS];
    for (int g = 0; g < GROUPS; g++)
        top[g] = exps_of(c[g]);
    for (int k = 0; k < REPRO_BF16_BLOCK; k++) {
        if (ae[k] == REPRO_BF16_ZERO_EXP)
            continue;
        const int16_t *eb = o->Be + repro_bf16_b_at(o, k0 + k, n0);
        int32x4_t ea = vdupq_n_s32(ae[k]);
        for (int g = 0; g < GROUPS; g++)
            top[g] = vmaxq_s32(top[g], vaddq_s32(ea, vmovl_s16(vld1_s16(eb + 4 * g))));
    }
    uint32x4_t slow = vdupq_n_u32(0);
    for (int g = 0; g < GROUPS; g++) {
        /* lanes with only zero terms: top stays very low, their sum is +0 */
        top[g] = vbicq_s32(top[g], vreinterpretq_s32_u32(vcltq_s32(top[g], vdupq_n_s32(-500))));
        uint32x4_t out_of_range = vorrq_u32(vcgtq_s32(top[g], vdupq_n_s32(RANGE)), vcltq_s32(top[g], vdupq_n_s32(-RANGE)));
        slow = vorrq_u32(slow, out_of_range);
        top[g] = vbicq_s32(top[g], vreinterpretq_s32_u32(out_of_range));
        scale[g] = pow2(vsubq_s32(vdupq_n_s32(25), top[g]));
        sum[g] = vdupq_n_s32(0);
    }
    for (int k = 0; k < REPRO_BF16_BLOCK; k++) {
        if (ae[k] == REPRO_BF16_ZERO_EXP)
            continue;
        const float *b = o->Bf + repro_bf16_b_at(o, k0 + k, n0);
        const float32x4_t av = vdupq_n_f32(a[k]);
        for (int g = 0; g < GROUPS; g++) {
            float32x4_t p = vmulq_f32(av, vld1q_f32(b + 4 * g)); /* exact */
            sum[g] = vaddq_s32(sum[g], vcvtq_s32_f32(vmulq_f32(p, scale[g])));
        }
    }
    /* |sum| < 16 * 2^27 = 2^31; c's term (< 2^26) on top must leave room for
     * to_float_rz (|s| < 2^31 - 2^26): larger sums take the slow path */
    const int32x4_t lim = vdupq_n_s32((1 << 30) + (1 << 29) + (1 << 28) + (1 << 27));
    const int32x4_t neg_lim = vnegq_s32(lim);
    float32x4_t r[GROUPS];
    for (int g = 0; g < GROUPS; g++) {
        slow = vorrq_u32(slow, vorrq_u32(vcgtq_s32(sum[g], lim), vcltq_s32(sum[g], neg_lim)));
        int32x4_t s = vaddq_s32(sum[g], vcvtq_s32_f32(vmulq_f32(c[g], scale[g])));
        r[g] = vmulq_f32(to_float_rz(s), pow2(vsubq_s32(top[g], vdupq_n_s32(25))));
    }
    if (vmaxvq_u32(slow) != 0) { /* rare: redo this block's lanes that need it with the model */
        for (int g = 0; g < GROUPS; g++) {
            float rv[4], cv[4];
            vst1q_f32(rv, r[g]);
            vst1q_f32(cv, c[g]);
            for (int j = 0; j < 4; j++)
                if (n0 + 4 * g + j < o->N)
                    rv[j] = repro_bf16_block_slow(o, m, n0 + 4 * g + j, k0, cv[j]);
            r[g] = vld1q_f32(rv);
        }
    }
    for (int g = 0; g < GROUPS; g++)
        c[g] = r[g];
}

/* Panels of 32 columns outermost, so a panel of B (Kp x 32 values and
 * exponents) stays in cache while every row of A passes over it. */
void repro_gemm_bf16_rows_neon(const repro_bf16_operands *o, int64_t m0, int64_t m1)
{
    float tmp[REPRO_BF16_PANEL];
    for (int64_t n0 = 0; n0 < o->Np; n0 += REPRO_BF16_PANEL)
        for (int64_t m = m0; m < m1; m++) {
            int w = o->N - n0 < REPRO_BF16_PANEL ? (int)(o->N - n0) : REPRO_BF16_PANEL;
            float *crow = o->C + m * o->ldc + n0;
            memset(tmp, 0, sizeof tmp);
            if (o->accumulate)
                memcpy(tmp, crow, sizeof(float) * (size_t)w);
            float32x4_t c[GROUPS];
            for (int g = 0; g < GROUPS; g++)
                c[g] = vld1q_f32(tmp + 4 * g);
            for (int64_t k0 = 0; k0 < o->Kp; k0 += REPRO_BF16_BLOCK)
                block32(o, m, n0, k0, c);
            for (int g = 0; g < GROUPS; g++)
                vst1q_f32(tmp + 4 * g, c[g]);
            for (int j = 0; j < w; j++)
                crow[j] = o->bias ? tmp[j] + o->bias[n0 + j] : tmp[j];
        }
}
