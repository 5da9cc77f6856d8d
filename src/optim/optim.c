/* Optimisers, schedules, clipping, EMA: see optim.h.
 *
 * The formulas, in float, in the order evaluated (g = gradient, p = param,
 * t = the 1-based step count, wd = weight_decay):
 *   sgd:   g = g + wd * p                  (when wd != 0)
 *          buf = g (t == 1), else buf = momentum * buf + g   (when momentum != 0)
 *          d = nesterov ? g + momentum * buf : buf           (d = g without momentum)
 *          p = p - lr * d
 *   adam, adamw: repro_adam_elem in ops/adam_math.h, with
 *          c1 = 1 - b1^t, c2 = 1 - b2^t (repro_powif) and (1 - b1), (1 - b2),
 *          adamw's decay factor (1 - lr * wd) computed once per step;
 *          adam's weight decay is L2 (g + wd * p), as torch.optim.Adam. */
#include "optim/optim.h"

#include <stdlib.h>
#include <string.h>

#include "ops/adam_math.h"
#include "ops/update_math.h"
#include "repro/math.h"
#include "repro/record.h"

struct repro_optim {
    repro_optim_config cfg;
    const repro_backend *be;
    int64_t n;
    int64_t t;
    float *m; /* sgd momentum buffer, or adam's first moment (backend memory) */
    float *v; /* adam's second moment (backend memory) */
};

repro_status repro_optim_create(const repro_optim_config *cfg, const repro_backend *be, int64_t n_params,
                                repro_optim **out, repro_error *err)
{
    repro_optim *o = calloc(1, sizeof *o);
    if (!o)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the optimiser");
    o->cfg = *cfg;
    o->be = be;
    o->n = n_params;
    int adam = cfg->name != REPRO_OPTIM_SGD;
    size_t bytes = (size_t)n_params * sizeof(float);
    repro_status st = REPRO_OK;
    if (adam || cfg->momentum != 0.0f)
        st = repro_be_alloc(be, bytes, (void **)&o->m, err);
    if (st == REPRO_OK && adam)
        st = repro_be_alloc(be, bytes, (void **)&o->v, err);
    if (st == REPRO_OK && o->m)
        st = repro_be_zero(be, o->m, bytes, err);
    if (st == REPRO_OK && o->v)
        st = repro_be_zero(be, o->v, bytes, err);
    if (st != REPRO_OK) {
        repro_optim_free(o);
        return st;
    }
    *out = o;
    return REPRO_OK;
}

void repro_optim_free(repro_optim *o)
{
    if (!o)
        return;
    repro_be_free(o->be, o->m);
    repro_be_free(o->be, o->v);
    free(o);
}

int64_t repro_optim_steps(const repro_optim *o) { return o->t; }

void repro_optim_state(repro_optim *o, float **m, float **v)
{
    *m = o->m;
    *v = o->v;
}

void repro_optim_set_steps(repro_optim *o, int64_t t) { o->t = t; }

repro_status repro_optim_step(repro_optim *o, float *params, const float *grads, float lr, repro_error *err)
{
    o->t++;
    if (o->cfg.name == REPRO_OPTIM_SGD) {
        repro_sgd_coef c = {lr, o->cfg.weight_decay, o->cfg.momentum, o->cfg.nesterov, o->t == 1};
        return repro_be_sgd(o->be, &c, params, o->m, grads, o->n, err);
    }
    int adamw = o->cfg.name == REPRO_OPTIM_ADAMW;
    repro_adam_coef c = {
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
    return repro_be_adam(o->be, &c, params, o->m, o->v, grads, o->n, err);
}

void repro_optim_hash_host(int64_t t, const float *m, const float *v, int64_t n, char hex[65])
{
    repro_sha256 *h = repro_sha256_new();
    uint8_t tb[8];
    for (int i = 0; i < 8; i++)
        tb[i] = (uint8_t)((uint64_t)t >> (8 * i));
    repro_sha256_update(h, tb, sizeof tb);
    if (m)
        repro_sha256_update(h, m, (size_t)n * sizeof(float));
    if (v)
        repro_sha256_update(h, v, (size_t)n * sizeof(float));
    repro_sha256_final(h, hex);
}

repro_status repro_optim_hash(const repro_optim *o, char hex[65], repro_error *err)
{
    size_t bytes = (size_t)o->n * sizeof(float);
    float *host[2] = {NULL, NULL};
    const float *bufs[2] = {o->m, o->v};
    repro_status st = REPRO_OK;
    for (int i = 0; i < 2 && st == REPRO_OK; i++) {
        if (!bufs[i])
            continue;
        if (!(host[i] = malloc(bytes)))
            st = repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate a buffer to hash the optimiser state");
        else
            st = repro_be_download(o->be, host[i], bufs[i], bytes, err);
    }
    if (st == REPRO_OK)
        repro_optim_hash_host(o->t, host[0], host[1], o->n, hex);
    free(host[0]);
    free(host[1]);
    return st;
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

