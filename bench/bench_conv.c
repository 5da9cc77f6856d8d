/* Milliseconds and GFLOP/s of the exact conv2d and max-pool kernels on the
 * Fashion CNN's layers at batch 128, each ISA path this CPU has, at 1 and
 * 2 threads (best of several repetitions: the machine is shared and noisy):
 *
 *   conv1  1 -> 32, 3x3, pad 1, 28x28    forward; backward dw + db (no dx:
 *                                         the input layer needs none)
 *   pool1  max 2x2 stride 2, 32x28x28     forward (with argmax); backward
 *   conv2  32 -> 64, 3x3, pad 1, 14x14   forward; backward dx + dw + db
 *   pool2  max 2x2 stride 2, 64x14x14     forward; backward
 *   conv1 + pool1 backward, fused (what training runs: dw + db straight
 *          from the pool's dy and argmax, repro_conv2d_backward_maxpool)
 *
 * GFLOP/s counts 2 per multiply-add of the chains as written, padding taps
 * included (what the kernels compute). The scalar path is ~100x slower and
 * is left out unless asked for.
 *
 *   build/bench/bench_conv [repetitions] [scalar]     (default 5) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops/cpu/conv.h"
#include "repro/isa.h"
#include "ops/cpu/pool2d.h"

enum { BATCH = 128 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *array(int64_t n)
{
    float *p = malloc((size_t)n * sizeof *p);
    for (int64_t i = 0; i < n; i++)
        p[i] = (float)(i % 23) * 0.01f - 0.11f;
    return p;
}

static void ok(repro_status st, const repro_error *err)
{
    if (st != REPRO_OK) {
        fprintf(stderr, "bench_conv: %s\n", err->message);
        exit(1);
    }
}

typedef struct conv_layer {
    const char *name;
    repro_conv2d_shape s;
    int want_dx;
    float *x, *w, *b, *y, *dy, *dx, *dw, *db;
} conv_layer;

static conv_layer conv_layer_of(const char *name, int64_t C, int64_t HW, int64_t O, int want_dx)
{
    conv_layer l = {.name = name, .want_dx = want_dx};
    l.s = (repro_conv2d_shape){.N = BATCH, .C = C, .H = HW, .W = HW, .O = O, .KH = 3, .KW = 3, .stride_h = 1,
                               .stride_w = 1, .pad_h = 1, .pad_w = 1, .dil_h = 1, .dil_w = 1, .groups = 1};
    repro_error err;
    ok(repro_conv2d_shape_check(&l.s, &err), &err);
    int64_t nx = BATCH * C * HW * HW, ny = BATCH * O * l.s.OH * l.s.OW, nw = O * C * 9;
    l.x = array(nx), l.dx = array(nx), l.w = array(nw), l.dw = array(nw), l.b = array(O), l.db = array(O);
    l.y = array(ny), l.dy = array(ny);
    return l;
}

typedef struct pool_layer {
    const char *name;
    repro_pool2d_shape s;
    float *x, *y, *dy, *dx;
    int32_t *argmax;
} pool_layer;

static pool_layer pool_layer_of(const char *name, int64_t C, int64_t HW)
{
    pool_layer l = {.name = name};
    l.s = (repro_pool2d_shape){.N = BATCH, .C = C, .H = HW, .W = HW, .KH = 2, .KW = 2, .stride_h = 2, .stride_w = 2};
    repro_error err;
    ok(repro_pool2d_shape_check(&l.s, &err), &err);
    int64_t nx = BATCH * C * HW * HW, ny = BATCH * C * l.s.OH * l.s.OW;
    l.x = array(nx), l.dx = array(nx), l.y = array(ny), l.dy = array(ny);
    l.argmax = calloc((size_t)ny, sizeof *l.argmax);
    return l;
}

/* What one timed call does. */
typedef enum phase { FWD, BWD } phase;

static void run_conv(const conv_layer *l, phase ph, const repro_cpu *cpu)
{
    repro_error err;
    if (ph == FWD)
        ok(repro_conv2d_forward(cpu, &l->s, l->y, l->x, l->w, l->b, &err), &err);
    else
        ok(repro_conv2d_backward(cpu, &l->s, l->want_dx ? l->dx : NULL, l->dw, l->db, l->dy, l->x, l->w, &err), &err);
}

static void run_pool(const pool_layer *l, phase ph, const repro_cpu *cpu)
{
    repro_error err;
    if (ph == FWD)
        ok(repro_maxpool2d_forward(cpu, &l->s, l->y, l->argmax, l->x, &err), &err);
    else
        ok(repro_maxpool2d_backward(cpu, &l->s, l->dx, l->dy, l->argmax, &err), &err);
}

static double conv_flops(const conv_layer *l, phase ph)
{
    const repro_conv2d_shape *s = &l->s;
    double taps = (double)(s->C / s->groups * s->KH * s->KW);
    double out = 2.0 * (double)(s->N * s->O * s->OH * s->OW) * taps; /* forward, and dw */
    if (ph == FWD)
        return out;
    double dx = 2.0 * (double)(s->N * s->C * s->H * s->W) * (double)(s->O / s->groups * s->KH * s->KW);
    return out + (l->want_dx ? dx : 0.0);
}


/* conv1's dw and db from pool1's dy and argmax in one kernel. */
static void run_fused(const conv_layer *c, const pool_layer *p, const repro_cpu *cpu)
{
    repro_error err;
    ok(repro_conv2d_backward_maxpool(cpu, &c->s, &p->s, c->dw, c->db, p->dy, p->argmax, c->x, &err), &err);
}

/* Best seconds of one call over reps timings, each of at least ~50 ms:
 * the conv's or the pool's phase, or both given, the fused backward. */
static double best_seconds(const conv_layer *c, const pool_layer *p, phase ph, const repro_cpu *cpu, int reps)
{
    double best = 1e30;
    int calls = 1;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (int i = 0; i < calls; i++) {
            if (c && p)
                run_fused(c, p, cpu);
            else if (c)
                run_conv(c, ph, cpu);
            else
                run_pool(p, ph, cpu);
        }
        double t = (now() - t0) / calls;
        if (t < best)
            best = t;
        if (r == 0 && t * calls < 0.05)
            calls = (int)(0.05 / t) + 1;
    }
    return best;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    int with_scalar = argc > 2 && strcmp(argv[2], "scalar") == 0;
    if (reps < 2)
        reps = 2;
    repro_pool *pools[3] = {NULL, NULL, NULL};
    for (int t = 1; t <= 2; t++) {
        repro_error err;
        ok(repro_pool_create(t, &pools[t], &err), &err);
    }
    conv_layer conv[2] = {conv_layer_of("conv1 1->32 28x28", 1, 28, 32, 0),
                          conv_layer_of("conv2 32->64 14x14", 32, 14, 64, 1)};
    pool_layer pool[2] = {pool_layer_of("pool1 32x28x28", 32, 28), pool_layer_of("pool2 64x14x14", 64, 14)};
    for (int l = 0; l < 2; l++) { /* argmax as training makes it: pool1 reads conv1's output */
        repro_cpu cpu = {repro_isa_best(), NULL};
        free(pool[l].x);
        pool[l].x = conv[l].y;
        run_conv(&conv[l], FWD, &cpu);
        run_pool(&pool[l], FWD, &cpu);
    }
    const repro_isa isas[] = {REPRO_ISA_SCALAR, REPRO_ISA_AVX2, REPRO_ISA_AVX512};
    printf("Fashion CNN layers, batch %d: ms per call (GFLOP/s), best of %d\n", BATCH, reps);
    for (int i = 0; i < 3; i++) {
        if (!repro_isa_supported(isas[i]) || (isas[i] == REPRO_ISA_SCALAR && !with_scalar))
            continue;
        for (int t = 1; t <= 2; t++) {
            repro_cpu cpu = {isas[i], pools[t]};
            printf("\n%s, %d thread%s\n", repro_isa_name(isas[i]), t, t > 1 ? "s" : "");
            double total = 0.0, conv_total = 0.0, conv_flop = 0.0;
            for (int l = 0; l < 2; l++) {
                for (int ph = FWD; ph <= BWD; ph++) {
                    double sec = best_seconds(&conv[l], NULL, (phase)ph, &cpu, reps);
                    double f = conv_flops(&conv[l], (phase)ph);
                    printf("  %-20s %-8s %8.3f ms  (%6.1f GFLOP/s)\n", conv[l].name,
                           ph == FWD ? "forward" : conv[l].want_dx ? "dx+dw+db" : "dw+db", sec * 1e3,
                           f / sec * 1e-9);
                    total += sec, conv_total += sec, conv_flop += f;
                }
                for (int ph = FWD; ph <= BWD; ph++) {
                    double sec = best_seconds(NULL, &pool[l], (phase)ph, &cpu, reps);
                    printf("  %-20s %-8s %8.3f ms\n", pool[l].name, ph == FWD ? "forward" : "backward", sec * 1e3);
                    total += sec;
                }
            }
            double sec = best_seconds(&conv[0], &pool[0], BWD, &cpu, reps);
            printf("  %-20s %-8s %8.3f ms  (%6.1f GFLOP/s)\n", "conv1 + pool1", "dw+db", sec * 1e3,
                   conv_flops(&conv[0], BWD) / sec * 1e-9);
            printf("  conv layers: %.3f ms (%.1f GFLOP/s); all four layers forward + backward: %.3f ms\n",
                   conv_total * 1e3, conv_flop / conv_total * 1e-9, total * 1e3);
        }
    }
    for (int t = 1; t <= 2; t++)
        repro_pool_destroy(pools[t]);
    return 0;
}
