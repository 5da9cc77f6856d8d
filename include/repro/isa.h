/* repro/isa.h: which instruction-set path the CPU kernels take (x86-64:
 * AVX2, AVX-512; aarch64: NEON; any architecture: the scalar reference).
 *
 * Every path gives the same bits (each kernel's SIMD twins follow the scalar
 * reference's evaluation order), so the choice only changes speed. The
 * library never reads the environment for it: the CLI passes REPRO_ISA to
 * repro_isa_choose. */
#ifndef REPRO_ISA_H
#define REPRO_ISA_H

#include "repro/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum repro_isa {
    REPRO_ISA_SCALAR = 0, /* plain C: the reference */
    REPRO_ISA_AVX2,       /* AVX2 + FMA */
    REPRO_ISA_AVX512,     /* AVX-512 F/BW/VL/DQ + FMA */
    REPRO_ISA_NEON        /* aarch64 Advanced SIMD (ASIMD), fused vfmaq_f32 */
} repro_isa;

/* The values of repro_isa are 0 .. REPRO_ISA_COUNT - 1. A path of another
 * architecture is never supported: its twins are not even compiled. */
#define REPRO_ISA_COUNT 4

/* The fastest path this CPU and OS support. */
repro_isa repro_isa_best(void);

/* 1 if this CPU and OS can run `isa` (AVX-512: F/BW/VL/DQ + FMA and the OS
 * saves the zmm state; AVX2: AVX2 + FMA and the OS saves the ymm state;
 * NEON: an aarch64 CPU whose AT_HWCAP has ASIMD, always so on macOS).
 * Probed once per process; capped by the environment variable
 * REPRO_TEST_CPU_ISA_MAX=scalar|avx2 (a test knob: an AVX-512 host then
 * behaves exactly like a CPU without AVX-512). */
int repro_isa_supported(repro_isa isa);

/* The cap's name when REPRO_TEST_CPU_ISA_MAX lowers it, else NULL. */
const char *repro_isa_cap(void);

/* "scalar", "avx2", "avx512", "neon" ("unknown" for a value outside the enum). */
const char *repro_isa_name(repro_isa isa);

/* request NULL, "" or "auto": the best path; else "scalar", "avx2",
 * "avx512" or "neon". An unknown or unsupported request is REPRO_ERR_UNSUPPORTED
 * (unknown: REPRO_ERR_ARG) with a message naming it and the paths this CPU
 * supports. */
repro_status repro_isa_choose(const char *request, repro_isa *out, repro_error *err);

#ifdef __cplusplus
}
#endif
#endif
