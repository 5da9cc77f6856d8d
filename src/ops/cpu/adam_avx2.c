/* Adam on 8 lanes: the order of repro_adam_elem (adam.h), lane by lane.
 * Multiplies and adds stay separate (no fma), as in the scalar code. */
#include <immintrin.h>

#include "ops/adam_math.h"

void repro_adam_range_avx2(const repro_adam_coef *c, float *p, float *m, float *v, const float *g,
                           int64_t begin, int64_t end)
{
    const __m256 lr = _mm256_set1_ps(c->lr), eps = _mm256_set1_ps(c->eps);
    const __m256 b1 = _mm256_set1_ps(c->b1), b2 = _mm256_set1_ps(c->b2);
    const __m256 omb1 = _mm256_set1_ps(c->one_minus_b1), omb2 = _mm256_set1_ps(c->one_minus_b2);
    const __m256 c1 = _mm256_set1_ps(c->c1), c2 = _mm256_set1_ps(c->c2);
    const __m256 l2 = _mm256_set1_ps(c->l2), decay = _mm256_set1_ps(c->decay_factor);
    int64_t i = begin;
    for (; i + 8 <= end; i += 8) {
        if (i % 16 == 0) /* one 64-byte line a stream every other step */
            repro_adam_prefetch(p, m, v, g, i, end);
        __m256 w = _mm256_mul_ps(_mm256_loadu_ps(p + i), decay);
        __m256 gi = _mm256_add_ps(_mm256_loadu_ps(g + i), _mm256_mul_ps(l2, w));
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(omb1, gi));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(omb2, _mm256_mul_ps(gi, gi)));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        __m256 den = _mm256_add_ps(_mm256_sqrt_ps(_mm256_div_ps(vi, c2)), eps);
        __m256 upd = _mm256_div_ps(_mm256_div_ps(mi, c1), den);
        _mm256_storeu_ps(p + i, _mm256_sub_ps(w, _mm256_mul_ps(lr, upd)));
    }
    for (; i < end; i++)
        repro_adam_elem(c, p + i, m + i, v + i, g[i]);
}
