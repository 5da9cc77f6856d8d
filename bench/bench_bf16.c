/* What an audit of a bf16 run costs on a CPU: GFLOP/s of the tensor-core
 * model (repro_gemm_bf16, src/ops/cpu/gemm_bf16.c) next to the exact fp32
 * GEMM (repro_gemm) on each ISA path, 1 thread, at the Fashion MLP's
 * products (784-256-256-10, batch 256). Both are measured in this run,
 * interleaved, best of the repetitions, in thread CPU time (the machine
 * may be shared).
 *
 *   build/bench/bench_bf16 [repetitions]     (default 5) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ops/cpu/gemm.h"
#include "ops/cpu/gemm_bf16.h"
#include "repro/isa.h"

typedef struct shape {
    const char *name;
    int64_t M, N, K;
    int a_t, b_t, accumulate;
} shape;

static const shape shapes[] = {
    {"fwd  x W^T  256x256x784", 256, 256, 784, 0, 1, 0},
    {"dx   dy W   256x784x256", 256, 784, 256, 0, 0, 0},
    {"dW   dy^T x 256x784x256", 256, 784, 256, 1, 0, 1},
    {"fwd  x W^T  256x256x256", 256, 256, 256, 0, 1, 0},
};

/* This thread's CPU time: single-threaded work on a shared machine is
 * measured by what it used, not by the wall clock others take from. */
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double run(const shape *s, const repro_cpu *cpu, const float *A, const float *B, float *C, int bf16)
{
    int64_t a_rs = s->a_t ? 1 : s->K, a_cs = s->a_t ? s->M : 1, b_rs = s->b_t ? 1 : s->N, b_cs = s->b_t ? s->K : 1;
    repro_error err;
    double t0 = now();
    repro_status st = bf16 ? repro_gemm_bf16(cpu, s->M, s->N, s->K, A, a_rs, a_cs, B, b_rs, b_cs, NULL, C, s->N,
                                             s->accumulate, &err)
                           : repro_gemm(cpu, s->M, s->N, s->K, A, a_rs, a_cs, B, b_rs, b_cs, NULL, C, s->N,
                                        s->accumulate, &err);
    if (st != REPRO_OK) {
        fprintf(stderr, "bench_bf16: %s\n", err.message);
        exit(1);
    }
    return now() - t0;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    static const repro_isa isas[] = {REPRO_ISA_SCALAR, REPRO_ISA_AVX2, REPRO_ISA_AVX512};
    printf("| product | ISA | fp32 exact GFLOP/s | bf16 model GFLOP/s | bf16 / fp32 |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const shape *s = &shapes[i];
        size_t na = (size_t)(s->M * s->K), nb = (size_t)(s->K * s->N), nc = (size_t)(s->M * s->N);
        float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B), *C = calloc(nc, sizeof *C);
        for (size_t j = 0; j < na; j++) A[j] = (float)((j * 2654435761u) % 2001) / 1000.0f - 1.0f;
        for (size_t j = 0; j < nb; j++) B[j] = (float)((j * 40503u) % 1999) / 1000.0f - 1.0f;
        double flops = 2.0 * (double)s->M * (double)s->N * (double)s->K;
        for (size_t k = 0; k < 3; k++) {
            if (!repro_isa_supported(isas[k]))
                continue;
            repro_cpu cpu = {isas[k], NULL};
            double best32 = 1e30, best16 = 1e30;
            for (int r = 0; r < reps; r++) { /* interleaved, so both see the same machine */
                double t32 = run(s, &cpu, A, B, C, 0), t16 = run(s, &cpu, A, B, C, 1);
                best32 = t32 < best32 ? t32 : best32;
                best16 = t16 < best16 ? t16 : best16;
            }
            printf("| %s | %s | %.1f | %.1f | %.2f |\n", s->name, repro_isa_name(isas[k]), flops / best32 * 1e-9,
                   flops / best16 * 1e-9, best32 / best16);
        }
        free(A), free(B), free(C);
    }
    return 0;
}
