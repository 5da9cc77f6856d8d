/* GFLOP/s of repro_gemm on each ISA path at 1 and 2 threads, next to
 * OpenBLAS's cblas_sgemm (when the build found it) with the same thread
 * count, at 1024^3 and at the products of training the Fashion MLP
 * (784-256-256-10, batch 256). Best of several repetitions: the machine is
 * shared and noisy. Then the milliseconds of the MLP's linear layers in one
 * training step (forward of the three layers; backward: dW, db of all three
 * and dx of the upper two), the figure to hold against PyTorch's
 * F.linear forward + backward at the same thread count.
 *
 *   build/bench/bench_gemm [repetitions]     (default 7) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ops/cpu/gemm.h"
#include "repro/isa.h"
#include "ops/cpu/linear.h"

#ifdef REPRO_HAVE_OPENBLAS
#include <cblas.h>
#endif

typedef struct shape {
    const char *name;
    int64_t M, N, K;
    int a_t, b_t; /* A stored K x M (transposed), B stored N x K */
    int accumulate;
} shape;

static const shape shapes[] = {
    {"1024^3 (NN)", 1024, 1024, 1024, 0, 0, 0},
    {"fwd  x W^T  256x256x784", 256, 256, 784, 0, 1, 0},
    {"dx   dy W   256x784x256", 256, 784, 256, 0, 0, 0},
    {"dW   dy^T x 256x784x256", 256, 784, 256, 1, 0, 1},
    {"fwd  x W^T  256x256x256", 256, 256, 256, 0, 1, 0},
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct operands {
    const shape *s;
    float *A, *B, *C;
} operands;

static void run_repro(const operands *o, const repro_cpu *cpu)
{
    const shape *s = o->s;
    repro_error err;
    repro_status st = repro_gemm(cpu, s->M, s->N, s->K, o->A, s->a_t ? 1 : s->K, s->a_t ? s->M : 1,
                                 o->B, s->b_t ? 1 : s->N, s->b_t ? s->K : 1, NULL, o->C, s->N,
                                 s->accumulate, &err);
    if (st != REPRO_OK) {
        fprintf(stderr, "bench_gemm: %s\n", err.message);
        exit(1);
    }
}

#ifdef REPRO_HAVE_OPENBLAS
static void run_blas(const operands *o)
{
    const shape *s = o->s;
    cblas_sgemm(CblasRowMajor, s->a_t ? CblasTrans : CblasNoTrans, s->b_t ? CblasTrans : CblasNoTrans,
                (int)s->M, (int)s->N, (int)s->K, 1.0f, o->A, s->a_t ? (int)s->M : (int)s->K, o->B,
                s->b_t ? (int)s->K : (int)s->N, s->accumulate ? 1.0f : 0.0f, o->C, (int)s->N);
}
#endif

/* Best GFLOP/s over `reps` timings, each of enough calls to last ~20 ms. */
static double best_gflops(const operands *o, const repro_cpu *cpu, int reps)
{
    const shape *s = o->s;
    double flops = 2.0 * (double)s->M * (double)s->N * (double)s->K, best = 0.0;
    int calls = (int)(2e8 / flops) + 1;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (int c = 0; c < calls; c++) {
#ifdef REPRO_HAVE_OPENBLAS
            if (!cpu) {
                run_blas(o);
                continue;
            }
#endif
            run_repro(o, cpu);
        }
        double g = flops * calls / (now() - t0) * 1e-9;
        if (g > best)
            best = g;
    }
    return best;
}

/* One training step's linear work for 784-256-256-10 at batch 256. */
typedef struct mlp {
    float *x, *w[3], *b[3], *h[3], *dh[3], *dw[3], *db[3];
} mlp;

static const int64_t mlp_dims[4] = {784, 256, 256, 10}, mlp_batch = 256;

static void mlp_step(mlp *n, const repro_cpu *cpu)
{
    repro_error err;
    const float *in = n->x;
    for (int l = 0; l < 3; l++) {
        if (repro_linear_forward(cpu, n->h[l], in, n->w[l], n->b[l], mlp_batch, mlp_dims[l],
                                 mlp_dims[l + 1], &err) != REPRO_OK)
            fprintf(stderr, "bench_gemm: %s\n", err.message), exit(1);
        in = n->h[l];
    }
    for (int l = 2; l >= 0; l--) {
        /* dh[l] is the gradient at layer l's output; dh[l-1] receives dx */
        if (repro_linear_backward(cpu, l ? n->dh[l - 1] : NULL, n->dw[l], n->db[l], n->dh[l],
                                  l ? n->h[l - 1] : n->x, n->w[l], mlp_batch, mlp_dims[l],
                                  mlp_dims[l + 1], &err) != REPRO_OK)
            fprintf(stderr, "bench_gemm: %s\n", err.message), exit(1);
    }
}

static float *mlp_array(int64_t n)
{
    float *p = malloc((size_t)n * sizeof *p);
    for (int64_t i = 0; i < n; i++)
        p[i] = (float)(i % 23) * 0.01f - 0.11f;
    return p;
}

static double mlp_best_ms(const repro_cpu *cpu, int reps)
{
    mlp n;
    n.x = mlp_array(mlp_batch * mlp_dims[0]);
    for (int l = 0; l < 3; l++) {
        n.w[l] = mlp_array(mlp_dims[l] * mlp_dims[l + 1]);
        n.dw[l] = mlp_array(mlp_dims[l] * mlp_dims[l + 1]);
        n.b[l] = mlp_array(mlp_dims[l + 1]);
        n.db[l] = mlp_array(mlp_dims[l + 1]);
        n.h[l] = mlp_array(mlp_batch * mlp_dims[l + 1]);
        n.dh[l] = mlp_array(mlp_batch * mlp_dims[l + 1]);
    }
    double best = 1e30;
    for (int r = 0; r < reps * 3; r++) {
        double t0 = now();
        for (int i = 0; i < 10; i++)
            mlp_step(&n, cpu);
        double t = (now() - t0) / 10;
        if (t < best)
            best = t;
    }
    free(n.x);
    for (int l = 0; l < 3; l++)
        free(n.w[l]), free(n.dw[l]), free(n.b[l]), free(n.db[l]), free(n.h[l]), free(n.dh[l]);
    return best * 1e3;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (reps < 1)
        reps = 1;
    repro_pool *pools[3] = {NULL, NULL, NULL};
    for (int t = 1; t <= 2; t++) {
        repro_error err;
        if (repro_pool_create(t, &pools[t], &err) != REPRO_OK) {
            fprintf(stderr, "bench_gemm: %s\n", err.message);
            return 1;
        }
    }
    const repro_isa isas[] = {REPRO_ISA_SCALAR, REPRO_ISA_AVX2, REPRO_ISA_AVX512};
    printf("GFLOP/s, best of %d (higher is better)\n%-26s", reps, "shape");
    for (int i = 0; i < 3; i++)
        if (repro_isa_supported(isas[i]))
            printf(" %7s/1 %7s/2", repro_isa_name(isas[i]), repro_isa_name(isas[i]));
#ifdef REPRO_HAVE_OPENBLAS
    printf(" %7s/1 %7s/2", "openblas", "openblas");
#endif
    printf("\n");
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const shape *s = &shapes[si];
        operands o = {s, malloc((size_t)(s->M * s->K) * sizeof(float)),
                      malloc((size_t)(s->K * s->N) * sizeof(float)),
                      malloc((size_t)(s->M * s->N) * sizeof(float))};
        for (int64_t i = 0; i < s->M * s->K; i++)
            o.A[i] = (float)(i % 17) * 0.01f - 0.08f;
        for (int64_t i = 0; i < s->K * s->N; i++)
            o.B[i] = (float)(i % 13) * 0.01f - 0.06f;
        for (int64_t i = 0; i < s->M * s->N; i++)
            o.C[i] = 0.0f;
        printf("%-26s", s->name);
        for (int i = 0; i < 3; i++) {
            if (!repro_isa_supported(isas[i]))
                continue;
            for (int t = 1; t <= 2; t++) {
                repro_cpu cpu = {isas[i], pools[t]};
                /* the scalar path is ~100x slower: one repetition says enough */
                printf(" %9.1f", best_gflops(&o, &cpu, isas[i] == REPRO_ISA_SCALAR ? 1 : reps));
                fflush(stdout);
            }
        }
#ifdef REPRO_HAVE_OPENBLAS
        for (int t = 1; t <= 2; t++) {
            openblas_set_num_threads(t);
            printf(" %9.1f", best_gflops(&o, NULL, reps));
            fflush(stdout);
        }
#endif
        printf("\n");
        free(o.A), free(o.B), free(o.C);
    }
    printf("\nMLP 784-256-256-10, batch 256: linear layers forward + backward, ms per step (best of %d)\n", reps * 3);
    for (int i = 1; i < 3; i++) {
        if (!repro_isa_supported(isas[i]))
            continue;
        for (int t = 1; t <= 2; t++) {
            repro_cpu cpu = {isas[i], pools[t]};
            printf("  %-6s %d thread%s: %.3f ms\n", repro_isa_name(isas[i]), t, t > 1 ? "s" : "", mlp_best_ms(&cpu, reps));
        }
    }
    repro_pool_destroy(pools[1]);
    repro_pool_destroy(pools[2]);
    return 0;
}
