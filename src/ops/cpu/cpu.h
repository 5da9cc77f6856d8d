/* The CPU compute context every CPU kernel takes: which instruction-set
 * path to use and the thread pool to split output elements over.
 *
 * Every ISA path of every kernel gives the same bits as the scalar
 * reference (tests/test_gemm.c, tests/test_ops.c check it), so `isa` and
 * the pool's thread count only change speed. */
#ifndef REPRO_OPS_CPU_H
#define REPRO_OPS_CPU_H

#include "core/pool.h"

typedef enum repro_isa {
    REPRO_ISA_SCALAR = 0, /* plain C: the reference */
    REPRO_ISA_AVX2,       /* AVX2 + FMA */
    REPRO_ISA_AVX512      /* AVX-512 F/BW/VL/DQ + FMA */
} repro_isa;

typedef struct repro_cpu {
    repro_isa isa;
    repro_pool *pool; /* may be NULL: run inline */
} repro_cpu;

#endif
