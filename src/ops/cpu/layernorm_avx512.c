/* The AVX-512 twin of layer norm's parameter gradients (layernorm_simd.h), 16
 * lanes: layernorm_lanes.h's body, the same bits as the scalar loop. */
#include <immintrin.h>

#define LANES 16
typedef __m512 vf;
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps(p, v)
#define VSET1(x) _mm512_set1_ps(x)
#define VSUB(a, b) _mm512_sub_ps(a, b)
#define VMUL(a, b) _mm512_mul_ps(a, b)
#define VADD(a, b) _mm512_add_ps(a, b)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define FN(name) name##_avx512

#include "ops/cpu/layernorm_lanes.h"
