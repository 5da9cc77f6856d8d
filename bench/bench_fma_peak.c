/* The FMA peak of one core on the best ISA path this CPU has (or the one
 * named: bench_fma_peak avx2). The ceiling that the CPU GFLOP/s figures
 * of bench_gemm, bench_conv and bench/mlp_step.sh are read against.
 *
 * With --cores N it also runs the same loop on N threads at once and
 * prints what they reach together against one alone (both wall time, in
 * the same run): the ceiling of N-thread scaling for FMA-bound work on
 * this machine now. A virtual machine's cores need not be separate
 * physical cores: on this project's 2-core VM the two vCPUs at times
 * shared one core's FMA units (together 1.0x one), at other times not
 * (2.0x), so a scaling figure means little without this one beside it.
 *
 * --stream adds the same for memory-bound work: one pass of y = max(x, 0)
 * over a tensor far larger than the caches (64 MB in, 64 MB out), split
 * into N even parts, on one thread and on N at once. Where a layer's
 * tensors do not fit in the caches (the conv net's first layer: 12.8 MB
 * each at batch 128) no program scales past this figure either.
 *
 *   bench_fma_peak [avx2|avx512] [--cores N] [--stream]
 *       GFLOP/s of one core (2 flops a lane per fma), then of N together;
 *       GB/s of the streaming pass (bytes read + written) on 1 and N */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fma_peak.h"

enum { MAX_CORES = 256, CORE_ITERS = 50000000, CORE_REPS = 3 };

/* One thread's run as the thread saw it: its own start and end. */
typedef struct span {
    double t0, t1;
} span;

typedef struct core_run {
    repro_isa isa;
    pthread_barrier_t *start;
    volatile float sink;
    span *span;
} core_run;

/* The wall time of n threads' runs: from the first one's start to the last
 * one's end, as each thread saw them. (Timed by the main thread instead,
 * the figures could be absurd: with as many workers as cores, the main
 * thread may wait for a core until the workers are done, and start its
 * clock then; 2.2 TB/s were seen.) */
static double wall_of(const span *s, int n)
{
    double first = s[0].t0, last = s[0].t1;
    for (int i = 1; i < n; i++) {
        first = s[i].t0 < first ? s[i].t0 : first;
        last = s[i].t1 > last ? s[i].t1 : last;
    }
    return last - first;
}

static float run_once(repro_isa isa)
{
#if defined(__x86_64__)
    return isa == REPRO_ISA_AVX512 ? fma_peak_run_avx512(CORE_ITERS) : fma_peak_run_avx2(CORE_ITERS);
#else
    (void)isa;
    return 0.0f;
#endif
}

static void *core_main(void *p)
{
    core_run *r = p;
    pthread_barrier_wait(r->start);
    r->span->t0 = fma_peak_now();
    r->sink = run_once(r->isa);
    r->span->t1 = fma_peak_now();
    return NULL;
}

/* GFLOP/s of n threads running the loop at once (wall time from a common
 * start to the last one's end), best of CORE_REPS. */
static double cores_gflops(repro_isa isa, int n)
{
    const int lanes = isa == REPRO_ISA_AVX512 ? 16 : 8;
    double best = 0;
    for (int rep = 0; rep < CORE_REPS; rep++) {
        pthread_t th[MAX_CORES];
        core_run runs[MAX_CORES];
        span spans[MAX_CORES];
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, (unsigned)n + 1);
        for (int i = 0; i < n; i++) {
            runs[i] = (core_run){.isa = isa, .start = &start, .span = &spans[i]};
            pthread_create(&th[i], NULL, core_main, &runs[i]);
        }
        pthread_barrier_wait(&start);
        for (int i = 0; i < n; i++)
            pthread_join(th[i], NULL);
        double g = (double)n * CORE_ITERS * FMA_PEAK_ACCS * lanes * 2 / wall_of(spans, n) / 1e9;
        best = g > best ? g : best;
        pthread_barrier_destroy(&start);
    }
    return best;
}

enum { STREAM_FLOATS = 16 << 20, STREAM_REPS = 5 };

typedef struct stream_run {
    const float *x;
    float *y;
    int64_t n;
    pthread_barrier_t *start;
    span *span;
} stream_run;

static void *stream_main(void *p)
{
    stream_run *r = p;
    pthread_barrier_wait(r->start);
    r->span->t0 = fma_peak_now();
    for (int64_t i = 0; i < r->n; i++)
        r->y[i] = r->x[i] > 0.0f ? r->x[i] : 0.0f;
    r->span->t1 = fma_peak_now();
    return NULL;
}

/* GB/s (8 bytes an element: one read, one write) of the pass over x split
 * into n parts on n threads at once, best of STREAM_REPS. */
static double stream_gbps(const float *x, float *y, int n)
{
    double best = 0;
    for (int rep = 0; rep < STREAM_REPS; rep++) {
        pthread_t th[MAX_CORES];
        stream_run runs[MAX_CORES];
        span spans[MAX_CORES];
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, (unsigned)n + 1);
        for (int i = 0; i < n; i++) {
            int64_t b = (int64_t)STREAM_FLOATS * i / n, e = (int64_t)STREAM_FLOATS * (i + 1) / n;
            runs[i] = (stream_run){x + b, y + b, e - b, &start, &spans[i]};
            pthread_create(&th[i], NULL, stream_main, &runs[i]);
        }
        pthread_barrier_wait(&start);
        for (int i = 0; i < n; i++)
            pthread_join(th[i], NULL);
        double g = 8.0 * STREAM_FLOATS / wall_of(spans, n) / 1e9;
        best = g > best ? g : best;
        pthread_barrier_destroy(&start);
    }
    return best;
}

static int print_stream(int cores)
{
    float *x = malloc(sizeof(float) * STREAM_FLOATS), *y = malloc(sizeof(float) * STREAM_FLOATS);
    if (!x || !y) {
        free(x);
        free(y);
        fprintf(stderr, "bench_fma_peak: cannot allocate the streaming pass's 128 MB\n");
        return 1;
    }
    for (int64_t i = 0; i < STREAM_FLOATS; i++) { /* touched: no page faults in the timing */
        x[i] = (float)(i % 7) - 3.0f;
        y[i] = 0.0f;
    }
    double one = stream_gbps(x, y, 1), all = stream_gbps(x, y, cores);
    printf("streaming pass y = max(x, 0), 64 MB in and out, %d threads at once: %.1f GB/s = %.2fx one thread's %.1f "
           "(wall time, same run)\n", cores, all, all / one, one);
    free(x);
    free(y);
    return 0;
}

int main(int argc, char **argv)
{
    repro_isa isa = repro_isa_best();
    int cores = 0, stream = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "avx2") == 0 && repro_isa_supported(REPRO_ISA_AVX2))
            isa = REPRO_ISA_AVX2;
        else if (strcmp(argv[i], "--cores") == 0 && i + 1 < argc)
            cores = atoi(argv[++i]);
        else if (strcmp(argv[i], "--stream") == 0)
            stream = 1;
    }
    if (isa == REPRO_ISA_SCALAR) {
        puts("FMA peak: no AVX2+FMA path on this CPU");
        return 0;
    }
    printf("FMA peak, one core, %s: %.1f GFLOP/s\n", repro_isa_name(isa), fma_peak_gflops(isa, 50000000, 5));
    if (cores > 1) {
        cores = cores > MAX_CORES ? MAX_CORES : cores;
        double one = cores_gflops(isa, 1), all = cores_gflops(isa, cores);
        printf("FMA peak, %d cores at once, %s: %.1f GFLOP/s = %.2fx one core's %.1f (wall time, same run)\n", cores,
               repro_isa_name(isa), all, all / one, one);
    }
    if (stream)
        return print_stream(cores > 1 ? cores : 2);
    return 0;
}
