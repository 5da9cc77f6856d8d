/* Adam on 16 lanes: the order of repro_adam_elem (adam.h), lane by lane.
 * Multiplies and adds stay separate (no fma), as in the scalar code. */
#include <immintrin.h>

#include "ops/adam_math.h"

void repro_adam_range_avx512(const repro_adam_coef *c, float *p, float *m, float *v, const float *g,
                           int64_t begin, int64_t end)
{
    const __m512 lr = _mm512_set1_ps(c->lr), eps = _mm512_set1_ps(c->eps);
    const __m512 b1 = _mm512_set1_ps(c->b1), b2 = _mm512_set1_ps(c->b2);
    const __m512 omb1 = _mm512_set1_ps(c->one_minus_b1), omb2 = _mm512_set1_ps(c->one_minus_b2);
    const __m512 c1 = _mm512_set1_ps(c->c1), c2 = _mm512_set1_ps(c->c2);
    const __m512 l2 = _mm512_set1_ps(c->l2), decay = _mm512_set1_ps(c->decay_factor);
    int64_t i = begin;
    for (; i + 16 <= end; i += 16) {
        repro_adam_prefetch(p, m, v, g, i, end); /* one 64-byte line a stream */
        __m512 w = _mm512_mul_ps(_mm512_loadu_ps(p + i), decay);
        __m512 gi = _mm512_add_ps(_mm512_loadu_ps(g + i), _mm512_mul_ps(l2, w));
        __m512 mi = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_loadu_ps(m + i)), _mm512_mul_ps(omb1, gi));
        __m512 vi = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_loadu_ps(v + i)), _mm512_mul_ps(omb2, _mm512_mul_ps(gi, gi)));
        _mm512_storeu_ps(m + i, mi);
        _mm512_storeu_ps(v + i, vi);
        __m512 den = _mm512_add_ps(_mm512_sqrt_ps(_mm512_div_ps(vi, c2)), eps);
        __m512 upd = _mm512_div_ps(_mm512_div_ps(mi, c1), den);
        _mm512_storeu_ps(p + i, _mm512_sub_ps(w, _mm512_mul_ps(lr, upd)));
    }
    for (; i < end; i++)
        repro_adam_elem(c, p + i, m + i, v + i, g[i]);
}
