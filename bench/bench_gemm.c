/* The exact GEMM against OpenBLAS's cblas_sgemm at the products of training
 * the two example models, at 1 and 2 threads, on one ISA path:
 *
 *   MLP 784-256-256-10, batch 256 (examples/fashion_mlp.yaml): the forward
 *     y = x W^T, dX = dY W and dW += dY^T X of each linear layer (no dX for
 *     the first: its input is the data);
 *   CNN, batch 128 (examples/fashion_cnn.yaml): the two linear layers the
 *     same way, and the products conv2d.c makes for conv1 (1->32, 28x28)
 *     and conv2 (32->64, 14x14), per image: forward (pixels x taps x
 *     channels), dX of conv2 and dW (taps + the bias row, over pixels;
 *     conv1's B is dy pixel-major, as its max pool's backward writes it
 *     for the fused kernel, conv2's dy as planes, transposed);
 *   1024^3 for reference.
 *
 * The machine is shared, so ours and OpenBLAS's are timed interleaved in
 * the same process (each repetition times both, in alternating order) and
 * the figures are medians over the repetitions (1 thread: CPU time of the
 * calling thread, which does all the work then and which leaves out the
 * time other programs hold the core; 2 threads: wall time); "ratio" is the median of
 * the per-repetition ratios, ours / OpenBLAS, and "middle" their quartiles
 * (the middle half of them): on a shared machine a ratio moves by a few
 * percent from one repetition to the next, and this says by how much in
 * the run at hand. "%peak" is ours as a share of
 * the FMA peak of one core on the same path (fma_peak.h, measured here),
 * times the thread count. Then the MLP's whole linear work of one training
 * step (three layers forward and backward, bias gradients included) in
 * milliseconds, against the same calls through OpenBLAS (linear_blas.c).
 *
 * The path: REPRO_ISA=avx2|avx512|scalar (default: the best this CPU has).
 * OpenBLAS is held to the kernels of the same path: the program re-runs
 * itself with OPENBLAS_CORETYPE=Haswell on the AVX2 path, and with
 * SkylakeX on the AVX-512 path unless OpenBLAS's own detection chose
 * AVX-512 kernels (it does not know every new Xeon). An OPENBLAS_CORETYPE
 * inherited from the environment is replaced (a machine may set one:
 * Haswell on a Zen 5 runs at 0.55-0.6x SkylakeX there); choose the kernels
 * with BENCH_OPENBLAS_CORETYPE (bench/blas_core.sh, the same rule for the
 * scripts' peers).
 *
 * After a call, OpenBLAS's threads spin for 2^28 cycles (about 0.1 s) by
 * default before they sleep; our pool spins 0.1 ms (core/pool.c). Timed
 * in turn in one process, OpenBLAS's spinning threads held a core through
 * our next product, whose second thread then waited for a core: at 2
 * threads, 8 of 15 readings of the large products (`bench_gemm 5 fc1`,
 * three runs on a 2-core Zen 4) came out at one thread's speed, 1 of 15
 * with OpenBLAS's threads spinning as long as ours. So both spin alike:
 * the program sets OPENBLAS_THREAD_TIMEOUT=18 (2^18 cycles, about 0.1 ms)
 * unless the environment chose one.
 *
 *   build/bench/bench_gemm [repetitions [name filter]]     (default 9, all shapes)
 *   build/bench/bench_gemm 9 step                          (the MLP's step alone)
 *   REPRO_ISA=avx2 build/bench/bench_gemm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fma_peak.h"
#include "ops/cpu/gemm.h"
#include "ops/cpu/linear.h"
#include "repro/isa.h"

#ifdef REPRO_HAVE_OPENBLAS
#include <cblas.h>
#endif

/* A(m,k) is stored M x K (a_t = 0) or K x M (a_t = 1), B(k,n) K x N or
 * N x K, all tight; accumulate as in gemm.h. */
typedef struct shape {
    const char *name;
    int64_t M, N, K;
    int a_t, b_t;
    int accumulate;
} shape;

static const shape shapes[] = {
    {"1024^3 NN", 1024, 1024, 1024, 0, 0, 0},
    /* MLP, batch 256: linear.c's three products per layer */
    {"mlp fc1 fwd  256x256x784", 256, 256, 784, 0, 1, 0},
    {"mlp fc1 dW   256x784x256", 256, 784, 256, 1, 0, 1},
    {"mlp fc2 fwd  256x256x256", 256, 256, 256, 0, 1, 0},
    {"mlp fc2 dX   256x256x256", 256, 256, 256, 0, 0, 0},
    {"mlp fc2 dW   256x256x256", 256, 256, 256, 1, 0, 1},
    {"mlp fc3 fwd  256x10x256", 256, 10, 256, 0, 1, 0},
    {"mlp fc3 dX   256x256x10", 256, 256, 10, 0, 0, 0},
    {"mlp fc3 dW   10x256x256", 10, 256, 256, 1, 0, 1},
    /* CNN, batch 128: the linear layers */
    {"cnn fc1 fwd  128x128x3136", 128, 128, 3136, 0, 1, 0},
    {"cnn fc1 dX   128x3136x128", 128, 3136, 128, 0, 0, 0},
    {"cnn fc1 dW   128x3136x128", 128, 3136, 128, 1, 0, 1},
    {"cnn fc2 fwd  128x10x128", 128, 10, 128, 0, 1, 0},
    {"cnn fc2 dX   128x128x10", 128, 128, 10, 0, 0, 0},
    {"cnn fc2 dW   10x128x128", 10, 128, 128, 1, 0, 1},
    /* CNN conv layers, one image (conv2d.c's orientations) */
    {"conv1 fwd    784x32x9", 784, 32, 9, 1, 1, 0},
    {"conv1 dW     10x32x784", 10, 32, 784, 0, 0, 1}, /* B: the pool's dy, pixel-major */
    {"conv2 fwd    196x64x288", 196, 64, 288, 1, 1, 0},
    {"conv2 dX     196x32x576", 196, 32, 576, 1, 0, 0},
    {"conv2 dW     289x64x196", 289, 64, 196, 0, 1, 1},
};

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

/* Waits until both sides' threads have stopped spinning after their last
 * call (ours after 0.1 ms, OpenBLAS's after 2^18 cycles: see the top), so
 * that a timed batch starts with the other side's threads asleep, as it
 * would in a program that calls only one of them. */
static void settle(void)
{
    struct timespec ts = {0, 2000000}; /* 2 ms */
    nanosleep(&ts, NULL);
}

/* Seconds per call over enough calls to last ~10 ms (cpu NULL: OpenBLAS):
 * CPU time at one thread (steady on a shared machine), wall time at two. */
static double time_calls(const operands *o, const repro_cpu *cpu, int calls, int threads)
{
    double (*now)(void) = threads == 1 ? fma_peak_cpu_now : fma_peak_now;
    settle();
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
    return (now() - t0) / calls;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

enum { MAX_REPS = 64 };

typedef struct figures {
    double ours, blas, ratio; /* GFLOP/s medians; median of ours / blas */
    double ratio_lo, ratio_hi; /* the middle half of the per-repetition ratios (their quartiles) */
} figures;

static figures measure(const operands *o, const repro_cpu *cpu, int threads, int reps, int have_blas)
{
    const shape *s = o->s;
    double flops = 2.0 * (double)s->M * (double)s->N * (double)s->K;
    int calls = (int)(2e9 / flops) + 1; /* about 10 ms at 200 GFLOP/s (time_calls) */
    double ours[MAX_REPS], blas[MAX_REPS], ratio[MAX_REPS];
    run_repro(o, cpu); /* warm the caches and the pool */
#ifdef REPRO_HAVE_OPENBLAS
    run_blas(o);
#endif
    for (int r = 0; r < reps; r++) {
        double to = 0, tb = 0;
        if (r % 2 == 0)
            to = time_calls(o, cpu, calls, threads);
        if (have_blas)
            tb = time_calls(o, NULL, calls, threads);
        if (r % 2 == 1)
            to = time_calls(o, cpu, calls, threads);
        ours[r] = flops / to * 1e-9;
        blas[r] = have_blas ? flops / tb * 1e-9 : 0.0;
        ratio[r] = have_blas ? tb / to : 0.0;
    }
    figures f = {median(ours, reps), median(blas, reps), median(ratio, reps), 0, 0};
    f.ratio_lo = ratio[reps / 4]; /* median() left ratio[] sorted */
    f.ratio_hi = ratio[reps - 1 - reps / 4];
    return f;
}

/* One training step's linear work for 784-256-256-10 at batch 256 (cpu
 * NULL: the same calls through OpenBLAS). */
typedef struct mlp {
    float *x, *w[3], *b[3], *h[3], *dh[3], *dw[3], *db[3];
} mlp;

static const int64_t mlp_dims[4] = {784, 256, 256, 10}, mlp_batch = 256;

static void mlp_step(mlp *n, const repro_cpu *cpu)
{
    repro_error err;
    const float *in = n->x;
    for (int l = 0; l < 3; l++) {
        if (!cpu)
            repro_linear_forward_blas(n->h[l], in, n->w[l], n->b[l], mlp_batch, mlp_dims[l], mlp_dims[l + 1]);
        else if (repro_linear_forward(cpu, n->h[l], in, n->w[l], n->b[l], mlp_batch, mlp_dims[l],
                                      mlp_dims[l + 1], &err) != REPRO_OK)
            fprintf(stderr, "bench_gemm: %s\n", err.message), exit(1);
        in = n->h[l];
    }
    for (int l = 2; l >= 0; l--) {
        /* dh[l] is the gradient at layer l's output; dh[l-1] receives dx */
        float *dx = l ? n->dh[l - 1] : NULL;
        const float *x = l ? n->h[l - 1] : n->x;
        if (!cpu)
            repro_linear_backward_blas(dx, n->dw[l], n->db[l], n->dh[l], x, n->w[l], mlp_batch, mlp_dims[l],
                                       mlp_dims[l + 1]);
        else if (repro_linear_backward(cpu, dx, n->dw[l], n->db[l], n->dh[l], x, n->w[l], mlp_batch,
                                       mlp_dims[l], mlp_dims[l + 1], &err) != REPRO_OK)
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

static double mlp_time(mlp *n, const repro_cpu *cpu, int threads)
{
    double (*now)(void) = threads == 1 ? fma_peak_cpu_now : fma_peak_now;
    settle();
    double t0 = now();
    for (int i = 0; i < 5; i++)
        mlp_step(n, cpu);
    return (now() - t0) / 5;
}

/* Median ms per step, ours and (have_blas) OpenBLAS's, interleaved. */
static void mlp_ms(const repro_cpu *cpu, int threads, int reps, int have_blas, double *ours, double *blas)
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
    double to[MAX_REPS], tb[MAX_REPS];
    mlp_step(&n, cpu);
    for (int r = 0; r < reps; r++) {
        to[r] = mlp_time(&n, cpu, threads);
        tb[r] = have_blas ? mlp_time(&n, NULL, threads) : 0.0;
    }
    *ours = median(to, reps) * 1e3;
    *blas = median(tb, reps) * 1e3;
    free(n.x);
    for (int l = 0; l < 3; l++)
        free(n.w[l]), free(n.dw[l]), free(n.b[l]), free(n.db[l]), free(n.h[l]), free(n.dh[l]);
}

/* OpenBLAS on the kernels of our path, so that the ratio compares like
 * with like: on the AVX2 path its AVX2 (Haswell) kernels; on the AVX-512
 * path its AVX-512 (SkylakeX) kernels where its own CPU detection chose
 * something less (OpenBLAS 0.3.21 takes a Xeon of CPU model 207, Emerald
 * Rapids, for a "Prescott" and runs SSE3 kernels at a tenth of the speed).
 * An OPENBLAS_CORETYPE from the environment is replaced by these unless
 * BENCH_OPENBLAS_CORETYPE chose it. OpenBLAS's threads spin as long as
 * ours after a call (OPENBLAS_THREAD_TIMEOUT, see the top) unless the
 * environment says otherwise. Both are read once when the library loads,
 * so set them and start again (the second run finds them set). */
static void hold_blas_to_path(repro_isa isa, char **argv)
{
#ifdef REPRO_HAVE_OPENBLAS
    const char *chosen = getenv("BENCH_OPENBLAS_CORETYPE"), *now = getenv("OPENBLAS_CORETYPE");
    const char *core = openblas_get_corename(), *want = NULL;
    if (chosen && *chosen)
        want = chosen;
    else if (isa == REPRO_ISA_AVX2)
        want = "Haswell";
    else if (isa == REPRO_ISA_AVX512 && !(!now && (strcmp(core, "SkylakeX") == 0 || strcmp(core, "Cooperlake") == 0 ||
                                                   strcmp(core, "SapphireRapids") == 0)))
        want = "SkylakeX";
    const int set_core = want && !(now && strcmp(now, want) == 0);
    const int set_spin = getenv("OPENBLAS_THREAD_TIMEOUT") == NULL;
    if (!set_core && !set_spin)
        return;
    if (set_core) {
        fprintf(stderr, "bench_gemm: OpenBLAS held to %s kernels (%s)%s%s\n", want,
                chosen && *chosen ? "BENCH_OPENBLAS_CORETYPE" : "those of our path",
                now ? "; the environment had OPENBLAS_CORETYPE=" : "", now ? now : "");
        setenv("OPENBLAS_CORETYPE", want, 1);
    }
    if (set_spin)
        setenv("OPENBLAS_THREAD_TIMEOUT", "18", 1);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "bench_gemm: re-running with OPENBLAS_CORETYPE=%s OPENBLAS_THREAD_TIMEOUT=%s: ",
            getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(unset)", getenv("OPENBLAS_THREAD_TIMEOUT"));
    perror(NULL);
#else
    (void)isa;
    (void)argv;
#endif
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 9;
    reps = reps < 1 ? 1 : reps > MAX_REPS ? MAX_REPS : reps;
    repro_isa isa;
    repro_error err;
    if (repro_isa_choose(getenv("REPRO_ISA"), &isa, &err) != REPRO_OK) {
        fprintf(stderr, "bench_gemm: %s\n", err.message);
        return 2;
    }
    hold_blas_to_path(isa, argv);
    repro_pool *pools[3] = {NULL, NULL, NULL};
    for (int t = 1; t <= 2; t++)
        if (repro_pool_create(t, &pools[t], &err) != REPRO_OK) {
            fprintf(stderr, "bench_gemm: %s\n", err.message);
            return 1;
        }
    int have_blas = 0;
#ifdef REPRO_HAVE_OPENBLAS
    have_blas = 1;
    const char *blas_core = openblas_get_corename();
#else
    const char *blas_core = "none (not found at build time)";
#endif
    double peak = fma_peak_gflops(isa, 20000000, 5);
    printf("exact GEMM, %s path (FMA peak of one core on it: %.1f GFLOP/s) vs OpenBLAS (%s kernels)\n",
           repro_isa_name(isa), peak, blas_core);
    if (have_blas)
        printf("threads spin after a call: ours 0.1 ms, OpenBLAS's 2^%s cycles (OPENBLAS_THREAD_TIMEOUT)\n",
               getenv("OPENBLAS_THREAD_TIMEOUT") ? getenv("OPENBLAS_THREAD_TIMEOUT") : "28");
    printf("GFLOP/s, medians of %d interleaved repetitions; ratio = ours / OpenBLAS (median), middle = the middle\n"
           "half of the repetitions' ratios (their quartiles: how far the machine moved them); %%peak = ours / (threads x peak)\n",
           reps);
    printf("%-27s %8s %8s %6s %9s %6s | %8s %8s %6s %9s %6s\n", "shape", "ours/1", "blas/1", "ratio", "middle",
           "%peak", "ours/2", "blas/2", "ratio", "middle", "%peak");
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const shape *s = &shapes[si];
        if (argc > 2 && !strstr(s->name, argv[2]))
            continue;
        operands o = {s, malloc((size_t)(s->M * s->K) * sizeof(float)),
                      malloc((size_t)(s->K * s->N) * sizeof(float)),
                      malloc((size_t)(s->M * s->N) * sizeof(float))};
        for (int64_t i = 0; i < s->M * s->K; i++)
            o.A[i] = (float)(i % 17) * 0.01f - 0.08f;
        for (int64_t i = 0; i < s->K * s->N; i++)
            o.B[i] = (float)(i % 13) * 0.01f - 0.06f;
        for (int64_t i = 0; i < s->M * s->N; i++)
            o.C[i] = 0.0f;
        printf("%-27s", s->name);
        for (int t = 1; t <= 2; t++) {
            repro_cpu cpu = {isa, pools[t]};
#ifdef REPRO_HAVE_OPENBLAS
            openblas_set_num_threads(t);
#endif
            /* the scalar path is ~100x slower: one repetition says enough */
            figures f = measure(&o, &cpu, t, isa == REPRO_ISA_SCALAR ? 1 : reps, have_blas);
            printf(" %8.1f %8.1f %6.2f %4.2f-%4.2f %5.0f%%%s", f.ours, f.blas, f.ratio, f.ratio_lo, f.ratio_hi,
                   peak > 0 ? 100.0 * f.ours / (t * peak) : 0.0, t == 1 ? " |" : "");
            fflush(stdout);
        }
        printf("\n");
        free(o.A), free(o.B), free(o.C);
    }
    if (argc > 2 && strcmp(argv[2], "step") != 0) /* "step": the MLP's step alone */
        return 0;
    printf("\nMLP 784-256-256-10, batch 256: the linear layers forward + backward of one step, ms (median of %d)\n",
           reps);
    for (int t = 1; t <= 2; t++) {
        repro_cpu cpu = {isa, pools[t]};
#ifdef REPRO_HAVE_OPENBLAS
        openblas_set_num_threads(t);
#endif
        double ours, blas;
        mlp_ms(&cpu, t, reps, have_blas, &ours, &blas);
        double gflop = 0;
        for (int l = 0; l < 3; l++) /* forward, dW and (above the first layer) dX: 2 flops a MAC */
            gflop += 2.0 * (double)mlp_batch * (double)(mlp_dims[l] * mlp_dims[l + 1]) * (l ? 3 : 2) * 1e-9;
        printf("  %d thread%s: ours %.3f ms (%.0f%% of peak), OpenBLAS %.3f ms, ratio %.2f\n", t, t > 1 ? "s" : " ",
               ours, peak > 0 ? 100.0 * gflop / (ours * 1e-3) / (t * peak) : 0.0, blas, have_blas ? blas / ours : 0.0);
    }
    repro_pool_destroy(pools[1]);
    repro_pool_destroy(pools[2]);
    return 0;
}
