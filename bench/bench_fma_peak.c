/* The FMA peak of one core on the best ISA path this CPU has (or the one
 * named: bench_fma_peak avx2). The ceiling that the CPU GFLOP/s figures
 * of bench_gemm, bench_conv and bench/mlp_step.sh are read against.
 *   bench_fma_peak [avx2|avx512]     GFLOP/s of one core (2 flops a lane per fma) */
#include <stdio.h>
#include <string.h>

#include "fma_peak.h"

int main(int argc, char **argv)
{
    repro_isa isa = repro_isa_best();
    if (argc > 1 && strcmp(argv[1], "avx2") == 0 && repro_isa_supported(REPRO_ISA_AVX2))
        isa = REPRO_ISA_AVX2;
    if (isa == REPRO_ISA_SCALAR) {
        puts("FMA peak: no AVX2+FMA path on this CPU");
        return 0;
    }
    printf("FMA peak, one core, %s: %.1f GFLOP/s\n", repro_isa_name(isa), fma_peak_gflops(isa, 50000000, 5));
    return 0;
}
