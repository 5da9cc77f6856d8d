/* NEON twins of conv2d's copies (see conv2d_copy.h): rows in 4-float q
 * registers with a scalar tail, transposes in 4 x 4 blocks. Pure data
 * movement, no arithmetic. aarch64 only. */
#include <arm_neon.h>

#include "ops/cpu/conv2d_copy.h"

void repro_conv_copy2d_neon(float *dst, int64_t dst_ld, const float *src, int64_t src_ld, int64_t rows, int64_t n)
{
    const int64_t n4 = n / 4 * 4;
    for (int64_t r = 0; r < rows; r++) {
        float *d = dst + r * dst_ld;
        const float *s = src + r * src_ld;
        for (int64_t i = 0; i < n4; i += 4)
            vst1q_f32(d + i, vld1q_f32(s + i));
        for (int64_t i = n4; i < n; i++)
            d[i] = s[i];
    }
}

/* r[t] = row t of a 4 x 4 block -> column t: zip the rows pairwise as
 * 32-bit, then the pairs as 64-bit lanes. */
static void transpose4(float32x4_t r[4])
{
    float32x4_t t0 = vtrn1q_f32(r[0], r[1]), t1 = vtrn2q_f32(r[0], r[1]);
    float32x4_t t2 = vtrn1q_f32(r[2], r[3]), t3 = vtrn2q_f32(r[2], r[3]);
    r[0] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    r[1] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
    r[2] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    r[3] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
}

void repro_conv_transpose_neon(float *dst, int64_t dst_ld, const float *src, int64_t src_ld, int64_t rows,
                               int64_t cols)
{
    const int64_t r4 = rows / 4 * 4, c4 = cols / 4 * 4;
    for (int64_t r0 = 0; r0 < r4; r0 += 4) {
        for (int64_t c0 = 0; c0 < c4; c0 += 4) {
            float32x4_t b[4];
            for (int t = 0; t < 4; t++)
                b[t] = vld1q_f32(src + (r0 + t) * src_ld + c0);
            transpose4(b);
            for (int t = 0; t < 4; t++)
                vst1q_f32(dst + (c0 + t) * dst_ld + r0, b[t]);
        }
        for (int64_t c = c4; c < cols; c++)
            for (int64_t r = r0; r < r0 + 4; r++)
                dst[c * dst_ld + r] = src[r * src_ld + c];
    }
    for (int64_t c = 0; c < cols; c++)
        for (int64_t r = r4; r < rows; r++)
            dst[c * dst_ld + r] = src[r * src_ld + c];
}
