/* Dropout on 4 NEON lanes: dropout_simd.h's formulas, lane by lane.
 * aarch64 only. */
#include <arm_neon.h>

#include "ops/cpu/dropout_simd.h"

/* Lanes where (float)(w >> 8) * 2^-24 >= p: all ones, else zero. The
 * shifted word is below 2^24, so the uint -> float conversion is exact, and
 * the scaling by a power of two is exact: the scalar code's value. */
static uint32x4_t keep_of(const uint32_t *w, float32x4_t p)
{
    float32x4_t f = vmulq_f32(vcvtq_f32_u32(vshrq_n_u32(vld1q_u32(w), 8)), vdupq_n_f32(0x1p-24f));
    return vcgeq_f32(f, p);
}

/* 16 lanes' 0/~0 masks (4 vectors, element order) -> 16 bytes of 0/1 */
static uint8x16_t mask_bytes(const uint32x4_t k[4])
{
    uint16x8_t lo = vcombine_u16(vmovn_u32(k[0]), vmovn_u32(k[1]));
    uint16x8_t hi = vcombine_u16(vmovn_u32(k[2]), vmovn_u32(k[3]));
    return vandq_u8(vcombine_u8(vmovn_u16(lo), vmovn_u16(hi)), vdupq_n_u8(1));
}

void repro_dropout_keep32_neon(const uint32_t *w, const float *x, float *y, uint8_t *mask, float p, float scale)
{
    const float32x4_t vp = vdupq_n_f32(p), vs = vdupq_n_f32(scale);
    for (int h = 0; h < 32; h += 16) {
        uint32x4_t keep[4];
        for (int q = 0; q < 4; q++) {
            const int o = h + 4 * q;
            keep[q] = keep_of(w + o, vp);
            /* keep ? x * scale : +0 (and-ing with zero gives +0) */
            uint32x4_t v = vreinterpretq_u32_f32(vmulq_f32(vld1q_f32(x + o), vs));
            vst1q_f32(y + o, vreinterpretq_f32_u32(vandq_u32(keep[q], v)));
        }
        vst1q_u8(mask + h, mask_bytes(keep));
    }
}

int64_t repro_dropout_back_neon(float *dx, const float *dy, const uint8_t *mask, int64_t n, float scale)
{
    const float32x4_t vs = vdupq_n_f32(scale);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint16x8_t m16 = vmovl_u8(vld1_u8(mask + i));
        /* vtst: all ones where the mask byte is nonzero (the scalar `keep ?`) */
        uint32x4_t m0 = vmovl_u16(vget_low_u16(m16)), m1 = vmovl_u16(vget_high_u16(m16));
        uint32x4_t k0 = vtstq_u32(m0, m0), k1 = vtstq_u32(m1, m1);
        uint32x4_t v0 = vreinterpretq_u32_f32(vmulq_f32(vld1q_f32(dy + i), vs));
        uint32x4_t v1 = vreinterpretq_u32_f32(vmulq_f32(vld1q_f32(dy + i + 4), vs));
        vst1q_f32(dx + i, vreinterpretq_f32_u32(vandq_u32(k0, v0)));
        vst1q_f32(dx + i + 4, vreinterpretq_f32_u32(vandq_u32(k1, v1)));
    }
    return i;
}
