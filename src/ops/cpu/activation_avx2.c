/* ReLU on 8 lanes: activation_simd.h. */
#include <immintrin.h>

#include "ops/cpu/activation_simd.h"

int64_t repro_relu_fwd_avx2(float *y, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        /* NLE_UQ: x > 0 or NaN; the other lanes (x <= 0, -0 included) become +0 */
        __m256 keep = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NLE_UQ);
        _mm256_storeu_ps(y + i, _mm256_and_ps(keep, v));
    }
    return i;
}

int64_t repro_relu_bwd_avx2(float *dx, const float *dy, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 pos = _mm256_cmp_ps(_mm256_loadu_ps(x + i), _mm256_setzero_ps(), _CMP_GT_OQ);
        _mm256_storeu_ps(dx + i, _mm256_and_ps(pos, _mm256_loadu_ps(dy + i)));
    }
    return i;
}
