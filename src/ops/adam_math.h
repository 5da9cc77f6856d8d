/* Adam / AdamW, one element at a time: the written order, shared by the
 * scalar loop, the SIMD twins (adam_avx2.c, adam_avx512.c, adam_neon.c: the
 * same operations on 8, 16 or 4 lanes; _mm*_div_ps, _mm*_sqrt_ps, vdivq_f32
 * and vsqrtq_f32 round correctly, like / and sqrt) and the CUDA kernel. */
#ifndef REPRO_OPS_ADAM_MATH_H
#define REPRO_OPS_ADAM_MATH_H

#include <stdint.h>

#include "repro/defs.h"
#include "repro/math.h"

typedef struct repro_adam_coef {
    float lr, eps;
    float b1, b2;
    float one_minus_b1, one_minus_b2; /* 1 - b1, 1 - b2 */
    float c1, c2;                     /* 1 - b1^t, 1 - b2^t */
    float l2;                         /* adam: g = g + l2 * p (0 = off) */
    float decay_factor;               /* adamw: p = p * decay_factor first (1 = off) */
} repro_adam_coef;

/* One element, in this order:
 *   p = p * decay_factor                      (adamw)
 *   g = g + l2 * p                            (adam with weight decay)
 *   m = b1 * m + (1 - b1) * g
 *   v = b2 * v + (1 - b2) * (g * g)
 *   p = p - lr * ((m / c1) / (sqrt(v / c2) + eps)) */
REPRO_HD static inline void repro_adam_elem(const repro_adam_coef *c, float *p, float *m, float *v, float g)
{
    float w = *p * c->decay_factor;
    g = g + c->l2 * w;
    float mi = c->b1 * *m + c->one_minus_b1 * g;
    float vi = c->b2 * *v + c->one_minus_b2 * (g * g);
    *m = mi;
    *v = vi;
    *p = w - c->lr * ((mi / c->c1) / (repro_sqrtf(vi / c->c2) + c->eps));
}

/* Asks for the cache lines `REPRO_ADAM_AHEAD` floats past element i of the
 * four streams (p, m, v read and written, g read). The optimizer's state
 * comes from L3 or memory each step, and the hardware prefetcher alone left
 * the SIMD loops waiting on it: in the MLP's step (269 k parameters, four
 * arrays of 1.08 MB) Adam's time fell by about a quarter with these hints
 * (docs/performance.md). A hint: it changes no value. */
#ifndef __CUDACC__
#define REPRO_ADAM_AHEAD 1024
static inline void repro_adam_prefetch(const float *p, const float *m, const float *v, const float *g,
                                       int64_t i, int64_t end)
{
    if (i + REPRO_ADAM_AHEAD < end) {
        __builtin_prefetch(p + i + REPRO_ADAM_AHEAD, 1, 3);
        __builtin_prefetch(m + i + REPRO_ADAM_AHEAD, 1, 3);
        __builtin_prefetch(v + i + REPRO_ADAM_AHEAD, 1, 3);
        __builtin_prefetch(g + i + REPRO_ADAM_AHEAD, 0, 3);
    }
}
#endif

/* Elements [begin, end) with 8 (AVX2), 16 (AVX-512) or 4 (NEON) lanes; the
 * tail uses repro_adam_elem. Bitwise equal to the scalar loop. Each exists
 * only on its architecture (x86-64; aarch64). */
void repro_adam_range_avx2(const repro_adam_coef *c, float *p, float *m, float *v, const float *g,
                           int64_t begin, int64_t end);
void repro_adam_range_avx512(const repro_adam_coef *c, float *p, float *m, float *v, const float *g,
                             int64_t begin, int64_t end);
void repro_adam_range_neon(const repro_adam_coef *c, float *p, float *m, float *v, const float *g,
                           int64_t begin, int64_t end);

#endif
