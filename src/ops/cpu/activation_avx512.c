/* ReLU on 16 lanes: activation_simd.h. */
#include <immintrin.h>

#include "ops/cpu/activation_simd.h"

int64_t repro_relu_fwd_avx512(float *y, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        /* NLE_UQ: x > 0 or NaN; the other lanes (x <= 0, -0 included) become +0 */
        __mmask16 keep = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NLE_UQ);
        _mm512_storeu_ps(y + i, _mm512_maskz_mov_ps(keep, v));
    }
    return i;
}

int64_t repro_relu_bwd_avx512(float *dx, const float *dy, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __mmask16 pos = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), _mm512_setzero_ps(), _CMP_GT_OQ);
        _mm512_storeu_ps(dx + i, _mm512_maskz_mov_ps(pos, _mm512_loadu_ps(dy + i)));
    }
    return i;
}
