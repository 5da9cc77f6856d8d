/* Standard normals on AVX-512: 32 at a time, each bitwise equal to
 * repro_rng_normal (include/repro/rng.h) at the same coordinates. The words
 * come from repro_philox_blocks_avx512; log and cos(pi x) follow
 * repro_math_log_d / repro_math_sincospi_d (include/repro/math.h) operation
 * by operation on 8 double lanes: the same multiplies and adds in the same
 * order (never fused), the same comparisons, one rounding to float at the
 * end. Only the inputs Box-Muller produces are handled: u1 in (0, 1] (a
 * normal float) and 2*u2 in [0, 2), so none of the special cases of the
 * scalar functions can arise. */
#include <immintrin.h>

#include "rng/philox_simd.h"

#define PD(x) _mm512_set1_pd(x)

/* repro_math_log1p_core on 8 lanes */
static inline __m512d log1p_core(__m512d f)
{
    __m512d s = _mm512_div_pd(f, _mm512_add_pd(PD(2.0), f));
    __m512d s2 = _mm512_add_pd(s, s);
    __m512d z = _mm512_mul_pd(s, s);
    static const double c[] = {0.047619047619047616, 0.05263157894736842, 0.058823529411764705,
                               0.06666666666666667,  0.07692307692307693, 0.09090909090909091,
                               0.1111111111111111,   0.14285714285714285, 0.2,
                               0.3333333333333333};
    __m512d q = PD(0.043478260869565216);
    for (int i = 0; i < 10; i++)
        q = _mm512_add_pd(_mm512_mul_pd(q, z), PD(c[i]));
    return _mm512_add_pd(s2, _mm512_mul_pd(_mm512_mul_pd(s2, z), q));
}

/* repro_math_log_d on 8 lanes (positive normal inputs) */
static inline __m512d log_d(__m512d y)
{
    __m512i u = _mm512_castpd_si512(y);
    __m512i e = _mm512_sub_epi64(_mm512_and_si512(_mm512_srli_epi64(u, 52), _mm512_set1_epi64(0x7ff)),
                                 _mm512_set1_epi64(1023));
    u = _mm512_or_si512(_mm512_and_si512(u, _mm512_set1_epi64(0x000fffffffffffffLL)),
                        _mm512_set1_epi64(0x3ff0000000000000LL));
    __m512d m = _mm512_castsi512_pd(u);
    __mmask8 big = _mm512_cmp_pd_mask(m, PD(1.4142135623730951), _CMP_GT_OQ);
    m = _mm512_mask_mul_pd(m, big, m, PD(0.5));
    e = _mm512_mask_add_epi64(e, big, e, _mm512_set1_epi64(1));
    __m512d ed = _mm512_cvtepi64_pd(e);
    return _mm512_add_pd(log1p_core(_mm512_sub_pd(m, PD(1.0))), _mm512_mul_pd(ed, PD(0.6931471805599453)));
}

static inline __m512d horner(__m512d z, double first, const double *c, int n)
{
    __m512d p = PD(first);
    for (int i = 0; i < n; i++)
        p = _mm512_add_pd(_mm512_mul_pd(p, z), PD(c[i]));
    return p;
}

/* repro_math_sincospi_d(x, 1) on 8 lanes, for x in [0, 2) */
static inline __m512d cospi_d(__m512d d)
{
    static const double sc[] = {7.952054001475513e-07, -2.1915353447830217e-05, 0.00046630280576761255,
                                -0.0073704309457143504, 0.08214588661112823,   -0.5992645293207921,
                                2.5501640398773455,     -5.16771278004997,     3.141592653589793};
    static const double cc[] = {4.303069587032947e-06, -0.0001046381049248457, 0.0019295743094039231,
                                -0.02580689139001406,  0.2353306303588932,     -1.3352627688545895,
                                4.0587121264167685,    -4.934802200544679};
    /* j = (int)(2d + 0.5) (d >= 0: truncation is the scalar cast) */
    __m256i j = _mm512_cvttpd_epi32(_mm512_add_pd(_mm512_mul_pd(PD(2.0), d), PD(0.5)));
    __m512d r = _mm512_sub_pd(d, _mm512_mul_pd(PD(0.5), _mm512_cvtepi32_pd(j)));
    __m256i q = _mm256_and_si256(_mm256_add_epi32(j, _mm256_set1_epi32(1)), _mm256_set1_epi32(3));
    __m512d z = _mm512_mul_pd(r, r);
    __m512d s = _mm512_mul_pd(r, horner(z, -2.2948428997269873e-08, sc, 9));
    __m512d c = _mm512_add_pd(PD(1.0), _mm512_mul_pd(z, horner(z, -1.3878952462213771e-07, cc, 8)));
    __mmask8 q0 = _mm256_cmpeq_epi32_mask(q, _mm256_set1_epi32(0));
    __mmask8 q1 = _mm256_cmpeq_epi32_mask(q, _mm256_set1_epi32(1));
    __mmask8 q2 = _mm256_cmpeq_epi32_mask(q, _mm256_set1_epi32(2));
    __mmask8 zero = _mm512_cmp_pd_mask(r, PD(0.0), _CMP_EQ_OQ);
    /* -s and -c as the scalar unary minus: a flip of the sign bit */
    const __m512i sign = _mm512_set1_epi64((long long)0x8000000000000000ULL);
    __m512d neg_s = _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(s), sign));
    __m512d neg_c = _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(c), sign));
    __m512d out = neg_c;                                  /* q == 3 */
    out = _mm512_mask_mov_pd(out, q1, c);
    out = _mm512_mask_mov_pd(out, q2, neg_s);
    out = _mm512_mask_mov_pd(out, q0, s);
    out = _mm512_mask_mov_pd(out, (__mmask8)((q0 | q2) & zero), PD(0.0));
    return out;
}

void repro_normals_avx512(repro_rng_key key, uint32_t b0, uint32_t c0, uint32_t c1, uint32_t c2, float out[32])
{
    uint32_t w[64];
    repro_philox_blocks_avx512(key, b0, c0, c1, c2, w);
    for (int g = 0; g < 4; g++) {
        float u1[8], u2[8];
        for (int i = 0; i < 8; i++) {
            int e = 8 * g + i;
            u1[i] = (float)((w[2 * e] >> 8) + 1) * 0x1p-24f;
            u2[i] = (float)(w[2 * e + 1] >> 8) * 0x1p-24f;
        }
        __m256 vu1 = _mm256_loadu_ps(u1), vu2 = _mm256_loadu_ps(u2);
        __m256 l = _mm512_cvtpd_ps(log_d(_mm512_cvtps_pd(vu1)));
        __m256 r = _mm256_sqrt_ps(_mm256_mul_ps(_mm256_set1_ps(-2.0f), l));
        __m256 c = _mm512_cvtpd_ps(cospi_d(_mm512_cvtps_pd(_mm256_mul_ps(_mm256_set1_ps(2.0f), vu2))));
        _mm256_storeu_ps(out + 8 * g, _mm256_mul_ps(r, c));
    }
}
