/* Adam on 4 NEON lanes: the order of repro_adam_elem (adam_math.h), lane by
 * lane. Multiplies and adds stay separate vmulq / vaddq (never vfmaq, which
 * would fuse what the scalar code rounds twice); vdivq_f32 and vsqrtq_f32
 * round correctly, like / and sqrt. aarch64 only. */
#include <arm_neon.h>

#include "ops/adam_math.h"

void repro_adam_range_neon(const repro_adam_coef *c, float *p, float *m, float *v, const float *g,
                           int64_t begin, int64_t end)
{
    const float32x4_t lr = vdupq_n_f32(c->lr), eps = vdupq_n_f32(c->eps);
    const float32x4_t b1 = vdupq_n_f32(c->b1), b2 = vdupq_n_f32(c->b2);
    const float32x4_t omb1 = vdupq_n_f32(c->one_minus_b1), omb2 = vdupq_n_f32(c->one_minus_b2);
    const float32x4_t c1 = vdupq_n_f32(c->c1), c2 = vdupq_n_f32(c->c2);
    const float32x4_t l2 = vdupq_n_f32(c->l2), decay = vdupq_n_f32(c->decay_factor);
    int64_t i = begin;
    for (; i + 4 <= end; i += 4) {
        float32x4_t w = vmulq_f32(vld1q_f32(p + i), decay);
        float32x4_t gi = vaddq_f32(vld1q_f32(g + i), vmulq_f32(l2, w));
        float32x4_t mi = vaddq_f32(vmulq_f32(b1, vld1q_f32(m + i)), vmulq_f32(omb1, gi));
        float32x4_t vi = vaddq_f32(vmulq_f32(b2, vld1q_f32(v + i)), vmulq_f32(omb2, vmulq_f32(gi, gi)));
        vst1q_f32(m + i, mi);
        vst1q_f32(v + i, vi);
        float32x4_t den = vaddq_f32(vsqrtq_f32(vdivq_f32(vi, c2)), eps);
        float32x4_t upd = vdivq_f32(vdivq_f32(mi, c1), den);
        vst1q_f32(p + i, vsubq_f32(w, vmulq_f32(lr, upd)));
    }
    for (; i < end; i++)
        repro_adam_elem(c, p + i, m + i, v + i, g[i]);
}
