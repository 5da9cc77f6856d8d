/* The AVX2 twins of the softmax cross-entropy's rows (xent_simd.h),
 * 8 lanes: xent_lanes.h's bodies, the same bits as the scalar code. */
#define LANES 8
#define FN(name) name##_avx2

#include "ops/cpu/xent_lanes.h"
