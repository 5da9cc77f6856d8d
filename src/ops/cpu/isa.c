/* Run-time choice of the instruction-set path: see isa.h.
 *
 * x86-64: a feature flag in CPUID is not enough: the OS must also save the
 * wider registers on a context switch, which XCR0 (read with XGETBV) says.
 * This file is compiled without ISA flags; XGETBV itself belongs to XSAVE
 * and is only executed once CPUID says the OS enabled it (OSXSAVE).
 *
 * aarch64: the kernel's AT_HWCAP says ASIMD (NEON); macOS has no auxv, but
 * every Apple CPU has it. Each architecture compiles only its own probe, and
 * the other architecture's paths are simply never supported. */
#include "repro/isa.h"

#include "ops/cpu/cpu.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>

enum {
    XCR0_SSE = 1u << 1,
    XCR0_AVX = 1u << 2,       /* upper halves of ymm */
    XCR0_OPMASK = 1u << 5,    /* k0-k7 */
    XCR0_ZMM_HI256 = 1u << 6, /* upper halves of zmm0-15 */
    XCR0_HI16_ZMM = 1u << 7   /* zmm16-31 */
};

static uint64_t xcr0(void)
{
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE))
        return 0;
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static int x86_avx2(void)
{
    __builtin_cpu_init();
    uint64_t ymm_state = XCR0_SSE | XCR0_AVX;
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && (xcr0() & ymm_state) == ymm_state;
}

/* the AVX-512 path also runs AVX2 code (gemm's transposing pack) */
static int x86_avx512(void)
{
    uint64_t zmm_state = XCR0_SSE | XCR0_AVX | XCR0_OPMASK | XCR0_ZMM_HI256 | XCR0_HI16_ZMM;
    return x86_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           (xcr0() & zmm_state) == zmm_state;
}
#else
static int x86_avx2(void) { return 0; }
static int x86_avx512(void) { return 0; }
#endif

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1) /* the kernel's arch/arm64 uapi value */
#endif
static int arm_neon(void) { return (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0; }
#elif defined(__aarch64__)
static int arm_neon(void) { return 1; } /* macOS and others: ASIMD is part of every aarch64 CPU they run on */
#else
static int arm_neon(void) { return 0; }
#endif

static int hardware_supports(repro_isa isa)
{
    switch (isa) {
    case REPRO_ISA_SCALAR:
        return 1;
    case REPRO_ISA_AVX2:
        return x86_avx2();
    case REPRO_ISA_AVX512:
        return x86_avx512();
    case REPRO_ISA_NEON:
        return arm_neon();
    }
    return 0;
}

/* The probe runs once per process (CPUID and XGETBV are not free, and
 * XGETBV traps to the hypervisor in some VMs); its answer is a fact of the
 * machine, so caching it is not state. REPRO_TEST_CPU_ISA_MAX caps it: a
 * test-only knob that lets an AVX-512 host prove what an AVX2-only or a
 * scalar-only CPU does (see docs/design.md). */
typedef struct isa_probe {
    int supported[REPRO_ISA_COUNT]; /* by repro_isa */
    repro_isa cap;                  /* REPRO_ISA_COUNT: no cap */
} isa_probe;

static isa_probe probe;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

/* Whether the cap lets `isa` through: scalar leaves only the reference;
 * avx2 takes AVX-512 away (and nothing on aarch64). */
static int under_cap(repro_isa isa, repro_isa cap)
{
    if (cap == REPRO_ISA_SCALAR)
        return isa == REPRO_ISA_SCALAR;
    if (cap == REPRO_ISA_AVX2)
        return isa != REPRO_ISA_AVX512;
    return 1;
}

static void run_probe(void)
{
    probe.cap = REPRO_ISA_COUNT;
    const char *cap = getenv("REPRO_TEST_CPU_ISA_MAX");
    if (cap && strcmp(cap, "scalar") == 0)
        probe.cap = REPRO_ISA_SCALAR;
    else if (cap && strcmp(cap, "avx2") == 0)
        probe.cap = REPRO_ISA_AVX2;
    for (int i = 0; i < REPRO_ISA_COUNT; i++)
        probe.supported[i] = under_cap((repro_isa)i, probe.cap) && hardware_supports((repro_isa)i);
}

int repro_isa_supported(repro_isa isa)
{
    pthread_once(&probe_once, run_probe);
    if ((int)isa < 0 || (int)isa >= REPRO_ISA_COUNT)
        return 0;
    return probe.supported[isa];
}

const char *repro_isa_cap(void)
{
    pthread_once(&probe_once, run_probe);
    return probe.cap == REPRO_ISA_COUNT ? NULL : repro_isa_name(probe.cap);
}

repro_isa repro_isa_best(void)
{
    if (repro_isa_supported(REPRO_ISA_AVX512))
        return REPRO_ISA_AVX512;
    if (repro_isa_supported(REPRO_ISA_AVX2))
        return REPRO_ISA_AVX2;
    if (repro_isa_supported(REPRO_ISA_NEON))
        return REPRO_ISA_NEON;
    return REPRO_ISA_SCALAR;
}

const char *repro_isa_name(repro_isa isa)
{
    switch (isa) {
    case REPRO_ISA_SCALAR:
        return "scalar";
    case REPRO_ISA_AVX2:
        return "avx2";
    case REPRO_ISA_AVX512:
        return "avx512";
    case REPRO_ISA_NEON:
        return "neon";
    }
    return "unknown";
}

/* "scalar, avx2, avx512" (or "scalar, neon"): the paths this CPU supports, for messages (with
 * the test cap named when one applies). */
static void supported_list(char *out, size_t size)
{
    out[0] = '\0';
    for (int i = 0; i < REPRO_ISA_COUNT; i++) {
        if (!repro_isa_supported((repro_isa)i))
            continue;
        if (out[0])
            strncat(out, ", ", size - strlen(out) - 1);
        strncat(out, repro_isa_name((repro_isa)i), size - strlen(out) - 1);
    }
    if (repro_isa_cap()) {
        strncat(out, "; capped by REPRO_TEST_CPU_ISA_MAX=", size - strlen(out) - 1);
        strncat(out, repro_isa_cap(), size - strlen(out) - 1);
    }
}

repro_status repro_isa_choose(const char *request, repro_isa *out, repro_error *err)
{
    if (!request || !request[0] || strcmp(request, "auto") == 0) {
        *out = repro_isa_best();
        return REPRO_OK;
    }
    char supported[128];
    supported_list(supported, sizeof supported);
    for (int i = 0; i < REPRO_ISA_COUNT; i++) {
        if (strcmp(request, repro_isa_name((repro_isa)i)) != 0)
            continue;
        if (!repro_isa_supported((repro_isa)i))
            return repro_fail(err, REPRO_ERR_UNSUPPORTED,
                              "ISA path \"%s\" is not supported by this CPU (supported: %s)",
                              request, supported);
        *out = (repro_isa)i;
        return REPRO_OK;
    }
    return repro_fail(err, REPRO_ERR_ARG,
                      "unknown ISA path \"%s\" (expected auto, scalar, avx2, avx512 or neon; this CPU supports: %s)",
                      request, supported);
}

repro_status repro_cpu_check(const repro_cpu *cpu, repro_error *err)
{
    if (!cpu)
        return repro_fail(err, REPRO_ERR_ARG, "no CPU context given");
    if (repro_isa_supported(cpu->isa))
        return REPRO_OK;
    char supported[128];
    supported_list(supported, sizeof supported);
    return repro_fail(err, REPRO_ERR_UNSUPPORTED,
                      "ISA path \"%s\" is not supported by this CPU (supported: %s)",
                      repro_isa_name(cpu->isa), supported);
}
