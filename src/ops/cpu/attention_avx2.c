/* The AVX2 twins of attention's rows (src/ops/attention_math.h), 8 lanes:
 * the block functions of attention_lanes.h, the same bits. */
#include <immintrin.h>

#define LANES 8
typedef __m256 vf;
#define VZERO() _mm256_setzero_ps()
#define VSET1(x) _mm256_set1_ps(x)
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VMUL(a, b) _mm256_mul_ps(a, b)
#define FN(name) name##_avx2

#include "ops/cpu/attention_lanes.h"
