/* GELU (erf form) on the CPU: src/ops/gelu_erf_math.h per element. */
#include "ops/cpu/gelu_erf.h"

#include "ops/gelu_erf_math.h"

enum { CHUNK = 4096 }; /* elements a task */

typedef struct ge_ctx {
    float *out;
    const float *x, *dy;
    int64_t n;
} ge_ctx;

static void forward_range(const ge_ctx *c, int64_t begin, int64_t end)
{
    for (int64_t i = begin; i < end; i++)
        c->out[i] = repro_gelu_erf_f(c->x[i]);
}

static void backward_range(const ge_ctx *c, int64_t begin, int64_t end)
{
    for (int64_t i = begin; i < end; i++)
        c->out[i] = repro_gelu_erf_df(c->dy[i], c->x[i]);
}

static int64_t tasks_of(int64_t n)
{
    return (n + CHUNK - 1) / CHUNK;
}

static void forward_task(void *p, int64_t begin, int64_t end)
{
    const ge_ctx *c = p;
    forward_range(c, begin * CHUNK, end * CHUNK < c->n ? end * CHUNK : c->n);
}

static void backward_task(void *p, int64_t begin, int64_t end)
{
    const ge_ctx *c = p;
    backward_range(c, begin * CHUNK, end * CHUNK < c->n ? end * CHUNK : c->n);
}

repro_status repro_gelu_erf_forward(const repro_cpu *cpu, float *y, const float *x, int64_t n, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    ge_ctx c = {y, x, NULL, n};
    repro_pool_run(cpu->pool, tasks_of(n), forward_task, &c);
    return REPRO_OK;
}

void repro_gelu_erf_forward_ref(float *y, const float *x, int64_t n)
{
    ge_ctx c = {y, x, NULL, n};
    forward_range(&c, 0, n);
}

repro_status repro_gelu_erf_backward(const repro_cpu *cpu, float *dx, const float *dy, const float *x, int64_t n,
                                     repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    ge_ctx c = {dx, x, dy, n};
    repro_pool_run(cpu->pool, tasks_of(n), backward_task, &c);
    return REPRO_OK;
}

void repro_gelu_erf_backward_ref(float *dx, const float *dy, const float *x, int64_t n)
{
    ge_ctx c = {dx, x, dy, n};
    backward_range(&c, 0, n);
}
