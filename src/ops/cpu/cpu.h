/* The CPU compute context every CPU kernel takes: which instruction-set
 * path to use and the thread pool to split output elements over.
 *
 * Every ISA path of every kernel gives the same bits as the scalar
 * reference (tests/test_gemm.c, tests/test_ops.c check it), so `isa` and
 * the pool's thread count only change speed. */
#ifndef REPRO_OPS_CPU_H
#define REPRO_OPS_CPU_H

#include "core/pool.h"
#include "repro/isa.h"
#include "repro/status.h"

typedef struct repro_cpu {
    repro_isa isa;
    repro_pool *pool; /* may be NULL: run inline */
} repro_cpu;

/* The one check every kernel entry point that takes a repro_cpu makes
 * first: REPRO_OK, or REPRO_ERR_UNSUPPORTED naming cpu->isa and the paths
 * this CPU supports (nothing executed; implemented in src/ops/cpu/isa.c). A hand-built repro_cpu with an ISA
 * the CPU lacks is refused here instead of dying of SIGILL in a kernel. */
repro_status repro_cpu_check(const repro_cpu *cpu, repro_error *err);

/* `return`s the check's failure from the calling entry point. */
#define REPRO_CPU_CHECK(cpu, err)                                                                  \
    do {                                                                                           \
        repro_status cpu_check_st_ = repro_cpu_check((cpu), (err));                                \
        if (cpu_check_st_ != REPRO_OK)                                                             \
            return cpu_check_st_;                                                                  \
    } while (0)

#endif
