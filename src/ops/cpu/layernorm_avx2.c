/* The AVX2 twin of layer norm's parameter gradients (layernorm_simd.h), 8
 * lanes: layernorm_lanes.h's body, the same bits as the scalar loop. */
#include <immintrin.h>

#define LANES 8
typedef __m256 vf;
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#define VSET1(x) _mm256_set1_ps(x)
#define VSUB(a, b) _mm256_sub_ps(a, b)
#define VMUL(a, b) _mm256_mul_ps(a, b)
#define VADD(a, b) _mm256_add_ps(a, b)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define FN(name) name##_avx2

#include "ops/cpu/layernorm_lanes.h"
