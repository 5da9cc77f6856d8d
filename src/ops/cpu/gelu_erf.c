/* GELU (erf form) on the CPU: src/ops/gelu_erf_math.h per element; the
 * twins on 8 double lanes (gelu_erf_avx512.c, the AVX-512 path only) and 4
 * (gelu_erf_avx2.c; both from gelu_erf_lanes.h) do the whole vectors of a
 * task, bit for bit the same, and the loops below the tail.
 *
 * Phi(x) in double, the expensive part, is a pure function of x: a forward
 * given `phi` keeps it there and the backward given the same `phi` reads
 * it instead of computing it again (the same double, so the same bits). A
 * NaN or |x| > 20 takes the special cases of gelu_erf_math.h, which read
 * no Phi (its slot holds 0). */
#include "ops/cpu/gelu_erf.h"

#include "ops/cpu/gelu_erf_simd.h"
#include "ops/gelu_erf_math.h"

enum { CHUNK = 4096 }; /* elements a task */

typedef struct ge_ctx {
    repro_isa isa;
    float *out;
    const float *x, *dy;
    double *phi; /* NULL: not kept (forward) / computed (backward) */
    int64_t n;
} ge_ctx;

static int special(float x)
{
    return x != x || x > 20.0f || x < -20.0f;
}

/* repro_gelu_erf_f, keeping Phi(x) */
static float forward_keep(float x, double *phi)
{
    *phi = 0.0;
    if (special(x))
        return repro_gelu_erf_f(x);
    double xd = (double)x;
    *phi = repro_gelu_phi_cdf_d(xd);
    return (float)(xd * *phi);
}

/* repro_gelu_erf_df with Phi(x) given: its order after the call */
static float backward_given(float dy, float x, double phi)
{
    if (special(x))
        return repro_gelu_erf_df(dy, x);
    return dy * (float)repro_gelu_grad_d((double)x, phi);
}

static void forward_range(const ge_ctx *c, int64_t begin, int64_t end)
{
    for (int64_t i = begin; i < end; i++)
        c->out[i] = c->phi ? forward_keep(c->x[i], &c->phi[i]) : repro_gelu_erf_f(c->x[i]);
}

static void backward_range(const ge_ctx *c, int64_t begin, int64_t end)
{
    for (int64_t i = begin; i < end; i++)
        c->out[i] = c->phi ? backward_given(c->dy[i], c->x[i], c->phi[i]) : repro_gelu_erf_df(c->dy[i], c->x[i]);
}

static int64_t tasks_of(int64_t n)
{
    return (n + CHUNK - 1) / CHUNK;
}

static void forward_task(void *p, int64_t begin, int64_t end)
{
    const ge_ctx *c = p;
    int64_t i = begin * CHUNK, stop = end * CHUNK < c->n ? end * CHUNK : c->n;
#if defined(__x86_64__) /* the twins exist only there */
    if (c->isa == REPRO_ISA_AVX512)
        i += repro_gelu_erf_fwd_avx512(c->out + i, c->phi ? c->phi + i : NULL, c->x + i, stop - i);
    if (c->isa == REPRO_ISA_AVX512 || c->isa == REPRO_ISA_AVX2) /* 8 lanes leave up to 7 */
        i += repro_gelu_erf_fwd_avx2(c->out + i, c->phi ? c->phi + i : NULL, c->x + i, stop - i);
#endif
    forward_range(c, i, stop);
}

static void backward_task(void *p, int64_t begin, int64_t end)
{
    const ge_ctx *c = p;
    int64_t i = begin * CHUNK, stop = end * CHUNK < c->n ? end * CHUNK : c->n;
#if defined(__x86_64__)
    if (c->isa == REPRO_ISA_AVX512)
        i += repro_gelu_erf_bwd_avx512(c->out + i, c->dy + i, c->x + i, c->phi ? c->phi + i : NULL, stop - i);
    if (c->isa == REPRO_ISA_AVX512 || c->isa == REPRO_ISA_AVX2)
        i += repro_gelu_erf_bwd_avx2(c->out + i, c->dy + i, c->x + i, c->phi ? c->phi + i : NULL, stop - i);
#endif
    backward_range(c, i, stop);
}

repro_status repro_gelu_erf_forward(const repro_cpu *cpu, float *y, double *phi, const float *x, int64_t n,
                                    repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    ge_ctx c = {cpu->isa, y, x, NULL, phi, n};
    repro_pool_run(cpu->pool, tasks_of(n), forward_task, &c);
    return REPRO_OK;
}

void repro_gelu_erf_forward_ref(float *y, const float *x, int64_t n)
{
    ge_ctx c = {REPRO_ISA_SCALAR, y, x, NULL, NULL, n};
    forward_range(&c, 0, n);
}

repro_status repro_gelu_erf_backward(const repro_cpu *cpu, float *dx, const float *dy, const float *x,
                                     const double *phi, int64_t n, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    ge_ctx c = {cpu->isa, dx, x, dy, (double *)phi, n};
    repro_pool_run(cpu->pool, tasks_of(n), backward_task, &c);
    return REPRO_OK;
}

void repro_gelu_erf_backward_ref(float *dx, const float *dy, const float *x, int64_t n)
{
    ge_ctx c = {REPRO_ISA_SCALAR, dx, x, dy, NULL, n};
    backward_range(&c, 0, n);
}
