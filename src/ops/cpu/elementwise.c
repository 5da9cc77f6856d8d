/* Elementwise helpers: y = y + x over contiguous element ranges. */
#include "ops/cpu/ops.h"

typedef struct add_ctx {
    float *y;
    const float *x;
} add_ctx;

static void add_range(void *p, int64_t begin, int64_t end)
{
    add_ctx *c = p;
    for (int64_t i = begin; i < end; i++)
        c->y[i] = c->y[i] + c->x[i];
}

repro_status repro_add_inplace(const repro_cpu *cpu, float *y, const float *x, int64_t n, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    add_ctx c = {y, x};
    repro_pool_run(cpu->pool, n, add_range, &c);
    return REPRO_OK;
}

void repro_add_inplace_ref(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = y[i] + x[i];
}
