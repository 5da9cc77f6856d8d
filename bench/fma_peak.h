/* One core's FMA peak on an ISA path: independent fused multiply-adds in
 * registers (12 accumulators, enough to cover the FMA latency on two
 * ports), nothing loaded. The ceiling the CPU GFLOP/s figures are read
 * against (bench_fma_peak prints it; bench_gemm divides by it). */
#ifndef REPRO_BENCH_FMA_PEAK_H
#define REPRO_BENCH_FMA_PEAK_H

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <time.h>

#include "repro/isa.h"

enum { FMA_PEAK_ACCS = 12 };

static inline double fma_peak_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline double fma_peak_now(void)
{
    return fma_peak_clock(CLOCK_MONOTONIC);
}

/* The CPU time of the calling thread: on a shared machine it does not
 * count the time other programs hold our core, so one-thread figures taken
 * with it are steadier than wall time (caches are still shared). Not the
 * process's: OpenBLAS's idle workers spin in sched_yield and would count. */
static inline double fma_peak_cpu_now(void)
{
    return fma_peak_clock(CLOCK_THREAD_CPUTIME_ID);
}

#if defined(__x86_64__)
/* iters x ACCS fmas of 16 lanes; returns a value so nothing is dropped */
__attribute__((target("avx512f,fma"))) static float fma_peak_run_avx512(long iters)
{
    __m512 acc[FMA_PEAK_ACCS], a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < FMA_PEAK_ACCS; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (long n = 0; n < iters; n++) {
#pragma GCC unroll 16 /* keep every accumulator in a register */
        for (int i = 0; i < FMA_PEAK_ACCS; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
    __m512 s = acc[0];
    for (int i = 1; i < FMA_PEAK_ACCS; i++)
        s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float fma_peak_run_avx2(long iters)
{
    __m256 acc[FMA_PEAK_ACCS], a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < FMA_PEAK_ACCS; i++)
        acc[i] = _mm256_set1_ps((float)i);
    for (long n = 0; n < iters; n++) {
#pragma GCC unroll 16
        for (int i = 0; i < FMA_PEAK_ACCS; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    }
    float out[8];
    __m256 s = acc[0];
    for (int i = 1; i < FMA_PEAK_ACCS; i++)
        s = _mm256_add_ps(s, acc[i]);
    _mm256_storeu_ps(out, s);
    return out[0] + out[7];
}

#endif

/* Best GFLOP/s of one core over `reps` runs of `iters` iterations on the
 * AVX2 or AVX-512 path (0 for the scalar path, and off x86-64: no FMA peak
 * measured to read against). */
static double fma_peak_gflops(repro_isa isa, long iters, int reps)
{
#if !defined(__x86_64__)
    (void)isa, (void)iters, (void)reps;
    return 0.0;
#else
    if (isa == REPRO_ISA_SCALAR)
        return 0.0;
    int lanes = isa == REPRO_ISA_AVX512 ? 16 : 8;
    double best = 0;
    volatile float sink = 0;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = fma_peak_cpu_now();
        sink += isa == REPRO_ISA_AVX512 ? fma_peak_run_avx512(iters) : fma_peak_run_avx2(iters);
        double gflops = (double)iters * FMA_PEAK_ACCS * lanes * 2 / (fma_peak_cpu_now() - t0) / 1e9;
        best = gflops > best ? gflops : best;
    }
    (void)sink;
    return best;
#endif
}

#endif
