/* The AVX-512 twins of attention's rows (src/ops/attention_math.h), 16
 * lanes: the block functions of attention_lanes.h, the same bits. */
#include <immintrin.h>

#define LANES 16
typedef __m512 vf;
#define VZERO() _mm512_setzero_ps()
#define VSET1(x) _mm512_set1_ps(x)
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps(p, v)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VMUL(a, b) _mm512_mul_ps(a, b)
#define FN(name) name##_avx512

#include "ops/cpu/attention_lanes.h"
