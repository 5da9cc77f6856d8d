/* Softmax over the last axis: src/ops/cpu/softmax.h's order, rows split
 * over threads. */
#include "ops/cpu/softmax.h"

#include "ops/reduce.h"
#include "repro/math.h"

typedef struct sm_ctx {
    float *out;           /* y (forward) or dx (backward) [rows][n] */
    const float *x, *dy;  /* x (forward) or y (backward); dy (backward) */
    int64_t n;
} sm_ctx;

static void forward_rows(const sm_ctx *c, int64_t begin, int64_t end)
{
    for (int64_t r = begin; r < end; r++) {
        const float *x = c->x + r * c->n;
        float *y = c->out + r * c->n, m = -repro_math_inff();
        for (int64_t k = 0; k < c->n; k++)
            m = x[k] > m ? x[k] : m;
        for (int64_t k = 0; k < c->n; k++)
            y[k] = repro_expf(x[k] - m);
        repro_canon_src src = {REPRO_CANON_X, y, NULL, 0.0f, 0.0f, 0, 0};
        float s = repro_canon_sum(&src, c->n);
        for (int64_t k = 0; k < c->n; k++)
            y[k] = y[k] / s;
    }
}

static void backward_rows(const sm_ctx *c, int64_t begin, int64_t end)
{
    for (int64_t r = begin; r < end; r++) {
        const float *y = c->x + r * c->n, *dy = c->dy + r * c->n;
        float *dx = c->out + r * c->n;
        repro_canon_src src = {REPRO_CANON_XY, dy, y, 0.0f, 0.0f, 0, 0};
        float g = repro_canon_sum(&src, c->n);
        for (int64_t k = 0; k < c->n; k++)
            dx[k] = y[k] * (dy[k] - g);
    }
}

static void forward_task(void *p, int64_t begin, int64_t end)
{
    forward_rows(p, begin, end);
}

static void backward_task(void *p, int64_t begin, int64_t end)
{
    backward_rows(p, begin, end);
}

repro_status repro_softmax_forward(const repro_cpu *cpu, float *y, const float *x, int64_t rows, int64_t n,
                                   repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    sm_ctx c = {y, x, NULL, n};
    repro_pool_run(cpu->pool, rows, forward_task, &c);
    return REPRO_OK;
}

void repro_softmax_forward_ref(float *y, const float *x, int64_t rows, int64_t n)
{
    sm_ctx c = {y, x, NULL, n};
    forward_rows(&c, 0, rows);
}

repro_status repro_softmax_backward(const repro_cpu *cpu, float *dx, const float *dy, const float *y, int64_t rows,
                                    int64_t n, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    sm_ctx c = {dx, y, dy, n};
    repro_pool_run(cpu->pool, rows, backward_task, &c);
    return REPRO_OK;
}

void repro_softmax_backward_ref(float *dx, const float *dy, const float *y, int64_t rows, int64_t n)
{
    sm_ctx c = {dx, y, dy, n};
    backward_rows(&c, 0, rows);
}
