/* ReLU on 4 NEON lanes: activation_simd.h. Selections only (compare masks
 * ANDed with the bits of the input), so every lane is the scalar answer.
 * aarch64 only. */
#include <arm_neon.h>

#include "ops/cpu/activation_simd.h"

int64_t repro_relu_fwd_neon(float *y, const float *x, int64_t n)
{
    const float32x4_t zero = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t v = vld1q_f32(x + i);
        /* keep = !(x <= 0): x > 0 or NaN; the other lanes (x <= 0, -0 included) become +0 */
        uint32x4_t keep = vmvnq_u32(vcleq_f32(v, zero));
        vst1q_f32(y + i, vreinterpretq_f32_u32(vandq_u32(keep, vreinterpretq_u32_f32(v))));
    }
    return i;
}

int64_t repro_relu_bwd_neon(float *dx, const float *dy, const float *x, int64_t n)
{
    const float32x4_t zero = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        /* x > 0 is false for 0, -0 and NaN: those lanes get +0 */
        uint32x4_t pos = vcgtq_f32(vld1q_f32(x + i), zero);
        uint32x4_t g = vreinterpretq_u32_f32(vld1q_f32(dy + i));
        vst1q_f32(dx + i, vreinterpretq_f32_u32(vandq_u32(pos, g)));
    }
    return i;
}
