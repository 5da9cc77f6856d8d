/* Optimisers, schedules, clipping, EMA: see optim.h.
 *
 * The formulas, in float, in the order evaluated (g = gradient, p = param,
 * t = the 1-based step count, wd = weight_decay):
 *   sgd:   g = g + wd * p                  (when wd != 0)
 *          buf = g (t == 1), else buf = momentum * buf + g   (when momentum != 0)
 *          d = nesterov ? g + momentum * buf : buf           (d = g without momentum)
 *          p = p - lr * d
 *   adam, adamw: repro_adam_elem in optim/adam.h, with
 *          c1 = 1 - b1^t, c2 = 1 - b2^t (repro_powif) and (1 - b1), (1 - b2),
 *          adamw's decay factor (1 - lr * wd) computed once per step;
 *          adam's weight decay is L2 (g + wd * p), as torch.optim.Adam. */
#include "optim/optim.h"

#include <stdlib.h>
#include <string.h>

#include "ops/cpu/ops.h"
#include "optim/adam.h"
#include "optim/update.h"
#include "repro/record.h"
#include "repro/math.h"

struct repro_optim {
    repro_optim_config cfg;
    int64_t n;
    int64_t t;
    float *m; /* sgd momentum buffer, or adam's first moment */
    float *v; /* adam's second moment */
};

repro_status repro_optim_create(const repro_optim_config *cfg, int64_t n_params, repro_optim **out,
                                repro_error *err)
{
    repro_optim *o = calloc(1, sizeof *o);
    if (!o)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the optimiser");
    o->cfg = *cfg;
    o->n = n_params;
    int adam = cfg->name != REPRO_OPTIM_SGD;
    if (adam || cfg->momentum != 0.0f)
        o->m = calloc((size_t)n_params, sizeof(float));
    if (adam)
        o->v = calloc((size_t)n_params, sizeof(float));
    if ((adam || cfg->momentum != 0.0f) && (!o->m || (adam && !o->v))) {
        repro_optim_free(o);
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate optimiser state for %lld parameters",
                          (long long)n_params);
    }
    *out = o;
    return REPRO_OK;
}

void repro_optim_free(repro_optim *o)
{
    if (!o)
        return;
    free(o->m);
    free(o->v);
    free(o);
}

int64_t repro_optim_steps(const repro_optim *o) { return o->t; }

void repro_optim_state(repro_optim *o, float **m, float **v)
{
    *m = o->m;
    *v = o->v;
}

void repro_optim_set_steps(repro_optim *o, int64_t t) { o->t = t; }

/* ---- the elementwise updates, split over threads ---- */

typedef struct update_ctx {
    const repro_optim *o;
    float *p;
    const float *g;
    float lr;
    repro_isa isa;
    repro_adam_coef adam;
} update_ctx;

static void sgd_range(void *arg, int64_t begin, int64_t end)
{
    const update_ctx *c = arg;
    const repro_optim_config *cfg = &c->o->cfg;
    repro_sgd_coef k = {c->lr, cfg->weight_decay, cfg->momentum, cfg->nesterov, c->o->t == 1};
    float *buf = c->o->m;
    for (int64_t i = begin; i < end; i++)
        repro_sgd_elem(&k, c->p + i, buf ? buf + i : NULL, c->g[i]);
}

static void adam_range(void *arg, int64_t begin, int64_t end)
{
    const update_ctx *c = arg;
    float *m = c->o->m, *v = c->o->v;
    switch (c->isa) {
    case REPRO_ISA_AVX512:
        repro_adam_range_avx512(&c->adam, c->p, m, v, c->g, begin, end);
        return;
    case REPRO_ISA_AVX2:
        repro_adam_range_avx2(&c->adam, c->p, m, v, c->g, begin, end);
        return;
    case REPRO_ISA_SCALAR:
        break;
    }
    for (int64_t i = begin; i < end; i++)
        repro_adam_elem(&c->adam, c->p + i, m + i, v + i, c->g[i]);
}

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

void repro_optim_step(repro_optim *o, const repro_cpu *cpu, float *params, const float *grads, float lr)
{
    o->t++;
    update_ctx c = {.o = o, .p = params, .g = grads, .lr = lr};
    if (o->cfg.name == REPRO_OPTIM_SGD) {
        parallel_elements(cpu, o->n, sgd_range, &c);
        return;
    }
    int adamw = o->cfg.name == REPRO_OPTIM_ADAMW;
    c.isa = cpu->isa;
    c.adam = (repro_adam_coef){
        .lr = lr,
        .eps = o->cfg.eps,
        .b1 = o->cfg.beta1,
        .b2 = o->cfg.beta2,
        .one_minus_b1 = 1.0f - o->cfg.beta1,
        .one_minus_b2 = 1.0f - o->cfg.beta2,
        .c1 = 1.0f - repro_powif(o->cfg.beta1, o->t),
        .c2 = 1.0f - repro_powif(o->cfg.beta2, o->t),
        .l2 = adamw ? 0.0f : o->cfg.weight_decay,
        .decay_factor = adamw ? 1.0f - lr * o->cfg.weight_decay : 1.0f,
    };
    parallel_elements(cpu, o->n, adam_range, &c);
}

void repro_optim_hash(const repro_optim *o, char hex[65])
{
    repro_sha256 *h = repro_sha256_new();
    uint8_t t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)((uint64_t)o->t >> (8 * i));
    repro_sha256_update(h, t, sizeof t);
    if (o->m)
        repro_sha256_update(h, o->m, (size_t)o->n * sizeof(float));
    if (o->v)
        repro_sha256_update(h, o->v, (size_t)o->n * sizeof(float));
    repro_sha256_final(h, hex);
}

/* ---- schedules ----
 * warmup (step < W): lr * ((float)(step + 1) / (float)W)
 * constant:          lr
 * step:              lr * gamma^floor(step / step_size)          (repro_powif)
 * cosine:            q = (float)(step - W) / (float)(T - W), clamped to [0, 1]
 *                    min_lr + (lr - min_lr) * (0.5 * (1 + cospi(q))) */
float repro_schedule_lr(const repro_schedule_config *s, float base_lr, int64_t step, int64_t total_steps)
{
    int64_t w = s->warmup_steps;
    if (step < w)
        return base_lr * ((float)(step + 1) / (float)w);
    switch (s->name) {
    case REPRO_SCHEDULE_CONSTANT:
        return base_lr;
    case REPRO_SCHEDULE_STEP:
        return base_lr * repro_powif(s->gamma, step / s->step_size);
    case REPRO_SCHEDULE_COSINE: {
        int64_t span = total_steps - w;
        float q = span > 0 ? (float)(step - w) / (float)span : 1.0f;
        if (q > 1.0f)
            q = 1.0f;
        return s->min_lr + (base_lr - s->min_lr) * (0.5f * (1.0f + repro_cospif(q)));
    }
    }
    return base_lr;
}

/* ---- clipping and EMA ---- */

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

float repro_clip_grad_norm(const repro_cpu *cpu, float *grads, int64_t n, float max_norm)
{
    float norm = repro_sqrtf(repro_sumsq_canonical_mt(cpu, grads, n));
    if (repro_clip_needed(norm, max_norm)) {
        scale_ctx c = {grads, NULL, repro_clip_factor(norm, max_norm)};
        parallel_elements(cpu, n, scale_range, &c);
    }
    return norm;
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

void repro_ema_update(const repro_cpu *cpu, float *ema, const float *params, int64_t n, float decay)
{
    ema_ctx c = {ema, params, decay, 1.0f - decay};
    parallel_elements(cpu, n, ema_range, &c);
}
