/* The FMA peak of one core on the best ISA path this CPU has: independent
 * fused multiply-adds in registers (12 accumulators, enough to cover the
 * FMA latency on two ports), nothing loaded. The ceiling that the CPU
 * GFLOP/s figures of bench_gemm and bench_conv are read against.
 *   bench_fma_peak            GFLOP/s of one core (2 flops a lane per fma) */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#include "repro/isa.h"

enum { ACCS = 12 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* iters x ACCS fmas of 16 lanes; returns a value so nothing is dropped */
__attribute__((target("avx512f,fma"))) static float run_avx512(long iters)
{
    __m512 acc[ACCS], a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < ACCS; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (long n = 0; n < iters; n++) {
#pragma GCC unroll 16 /* keep every accumulator in a register */
        for (int i = 0; i < ACCS; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
    __m512 s = acc[0];
    for (int i = 1; i < ACCS; i++)
        s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float run_avx2(long iters)
{
    __m256 acc[ACCS], a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < ACCS; i++)
        acc[i] = _mm256_set1_ps((float)i);
    for (long n = 0; n < iters; n++) {
#pragma GCC unroll 16
        for (int i = 0; i < ACCS; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    }
    float out[8];
    __m256 s = acc[0];
    for (int i = 1; i < ACCS; i++)
        s = _mm256_add_ps(s, acc[i]);
    _mm256_storeu_ps(out, s);
    return out[0] + out[7];
}

int main(void)
{
    repro_isa isa = repro_isa_best();
    if (isa == REPRO_ISA_SCALAR) {
        puts("FMA peak: no AVX2+FMA path on this CPU");
        return 0;
    }
    int lanes = isa == REPRO_ISA_AVX512 ? 16 : 8;
    long iters = 50000000;
    double best = 0;
    volatile float sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        sink += isa == REPRO_ISA_AVX512 ? run_avx512(iters) : run_avx2(iters);
        double gflops = (double)iters * ACCS * lanes * 2 / (now() - t0) / 1e9;
        best = gflops > best ? gflops : best;
    }
    printf("FMA peak, one core, %s: %.1f GFLOP/s\n", repro_isa_name(isa), best);
    return 0;
}
