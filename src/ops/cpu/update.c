/* The optimiser updates, clipping and EMA on the CPU: the element formulas
 * of ops/adam_math.h and ops/update_math.h over a buffer, split over threads in
 * chunks (and, for Adam, over SIMD lanes): never a change in any bit. */
#include "ops/cpu/update.h"

#include "ops/cpu/ops.h"
#include "repro/math.h"

/* Elementwise work is split into chunks of this many elements per task. */
enum { UPDATE_CHUNK = 4096 };

typedef struct chunked {
    repro_pool_fn fn;
    void *ctx;
    int64_t n;
} chunked;

static void run_chunks(void *arg, int64_t begin, int64_t end)
{
    const chunked *c = arg;
    int64_t lo = begin * UPDATE_CHUNK, hi = end * UPDATE_CHUNK;
    c->fn(c->ctx, lo, hi < c->n ? hi : c->n);
}

static void parallel_elements(const repro_cpu *cpu, int64_t n, repro_pool_fn fn, void *ctx)
{
    chunked c = {fn, ctx, n};
    repro_pool_run(cpu->pool, (n + UPDATE_CHUNK - 1) / UPDATE_CHUNK, run_chunks, &c);
}

/* ---- Adam / AdamW ---- */

typedef struct adam_ctx {
    const repro_adam_coef *c;
    repro_isa isa;
    float *p, *m, *v;
    const float *g;
} adam_ctx;

static void adam_range(void *arg, int64_t begin, int64_t end)
{
    const adam_ctx *a = arg;
    /* each architecture's twins only exist there (repro_cpu_check refuses the others) */
    switch (a->isa) {
#if defined(__x86_64__)
    case REPRO_ISA_AVX512:
        repro_adam_range_avx512(a->c, a->p, a->m, a->v, a->g, begin, end);
        return;
    case REPRO_ISA_AVX2:
        repro_adam_range_avx2(a->c, a->p, a->m, a->v, a->g, begin, end);
        return;
#endif
#if defined(__aarch64__)
    case REPRO_ISA_NEON:
        repro_adam_range_neon(a->c, a->p, a->m, a->v, a->g, begin, end);
        return;
#endif
    default:
        break;
    }
    for (int64_t i = begin; i < end; i++)
        repro_adam_elem(a->c, a->p + i, a->m + i, a->v + i, a->g[i]);
}

repro_status repro_adam_cpu(const repro_cpu *cpu, const repro_adam_coef *c, float *p, float *m, float *v, const float *g,
                    int64_t n, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    adam_ctx a = {c, cpu->isa, p, m, v, g};
    parallel_elements(cpu, n, adam_range, &a);
    return REPRO_OK;
}

/* ---- SGD ---- */

typedef struct sgd_ctx {
    const repro_sgd_coef *c;
    float *p, *buf;
    const float *g;
} sgd_ctx;

static void sgd_range(void *arg, int64_t begin, int64_t end)
{
    const sgd_ctx *s = arg;
    for (int64_t i = begin; i < end; i++)
        repro_sgd_elem(s->c, s->p + i, s->buf ? s->buf + i : NULL, s->g[i]);
}

repro_status repro_sgd_cpu(const repro_cpu *cpu, const repro_sgd_coef *c, float *p, float *buf, const float *g, int64_t n, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    sgd_ctx s = {c, p, buf, g};
    parallel_elements(cpu, n, sgd_range, &s);
    return REPRO_OK;
}


typedef struct scale_ctx {
    float *x;
    const float *y;
    float a;
} scale_ctx;

static void scale_range(void *arg, int64_t begin, int64_t end)
{
    const scale_ctx *c = arg;
    for (int64_t i = begin; i < end; i++)
        c->x[i] = c->x[i] * c->a;
}

repro_status repro_clip_grad_norm(const repro_cpu *cpu, float *grads, int64_t n, float max_norm, float *out, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    float sumsq;
    repro_status st = repro_sumsq_canonical_mt(cpu, grads, n, &sumsq, err);
    if (st != REPRO_OK)
        return st;
    float norm = repro_sqrtf(sumsq);
    if (repro_clip_needed(norm, max_norm)) {
        scale_ctx c = {grads, NULL, repro_clip_factor(norm, max_norm)};
        parallel_elements(cpu, n, scale_range, &c);
    }
    *out = norm;
    return REPRO_OK;
}

typedef struct ema_ctx {
    float *ema;
    const float *p;
    float decay, one_minus_decay;
} ema_ctx;

static void ema_range(void *arg, int64_t begin, int64_t end)
{
    const ema_ctx *c = arg;
    for (int64_t i = begin; i < end; i++)
        c->ema[i] = repro_ema_elem(c->ema[i], c->p[i], c->decay, c->one_minus_decay);
}

repro_status repro_ema_update(const repro_cpu *cpu, float *ema, const float *params, int64_t n, float decay, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    ema_ctx c = {ema, params, decay, 1.0f - decay};
    parallel_elements(cpu, n, ema_range, &c);
    return REPRO_OK;
}
