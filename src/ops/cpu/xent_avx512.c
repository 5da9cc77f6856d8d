/* The AVX-512 twins of the softmax cross-entropy's rows (xent_simd.h),
 * 16 lanes: xent_lanes.h's bodies, the same bits as the scalar code. */
#define LANES 16
#define FN(name) name##_avx512

#include "ops/cpu/xent_lanes.h"
