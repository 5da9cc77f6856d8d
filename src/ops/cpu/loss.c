/* Per-sample losses and their gradients. Each row's loss depends on that
 * row alone (batch invariance); the caller sums loss[] over the step's
 * samples with the canonical reduction. Threads split rows. The formulas
 * and their order are in src/ops/ops_math.h. */
#include <inttypes.h>

#include "ops/cpu/ops.h"
#include "ops/cpu/xent_simd.h"
#include "ops/ops_math.h"

typedef enum loss_kind { LOSS_XENT, LOSS_MSE, LOSS_HUBER } loss_kind;

typedef struct loss_ctx {
    loss_kind kind;
    float *out;            /* loss [B] (forward) or the gradient [B][W] (backward) */
    int32_t *pred;         /* cross-entropy argmax [B], may be NULL */
    const float *p;        /* logits / predictions [B][W] */
    const float *target;   /* regression targets [B][W] */
    const int32_t *labels; /* class labels [B] */
    int64_t W;             /* row width: C or T */
    float delta, scale;
    repro_isa isa;         /* the cross-entropy's rows on its lanes (xent_simd.h); scalar: the reference */
} loss_ctx;

enum { XENT_CHUNK = 64 }; /* rows whose statistics are taken at once */

/* The statistics of rows [b0, b1) of the logits, a chunk at a time, to fn. */
static void xent_rows(const loss_ctx *c, int64_t b0, int64_t b1,
                      void (*fn)(const loss_ctx *c, int64_t b, repro_xent_stats st))
{
    repro_xent_stats st[XENT_CHUNK];
    for (int64_t b = b0; b < b1; b += XENT_CHUNK) {
        int64_t n = b1 - b < XENT_CHUNK ? b1 - b : XENT_CHUNK;
        repro_xent_stats_rows(c->isa, c->p + b * c->W, c->W, c->W, n, st);
        for (int64_t r = 0; r < n; r++)
            fn(c, b + r, st[r]);
    }
}

static void xent_loss_row(const loss_ctx *c, int64_t b, repro_xent_stats st)
{
    c->out[b] = repro_xent_loss(st, c->p[b * c->W + c->labels[b]]);
    if (c->pred)
        c->pred[b] = st.arg;
}

static void xent_grad_row(const loss_ctx *c, int64_t b, repro_xent_stats st)
{
    repro_xent_dz_row(c->isa, c->out + b * c->W, c->p + b * c->W, c->W, c->labels[b], st, c->scale);
}

static void forward_rows(const loss_ctx *c, int64_t begin, int64_t end)
{
    int64_t W = c->W;
    if (c->kind == LOSS_XENT) {
        xent_rows(c, begin, end, xent_loss_row);
        return;
    }
    for (int64_t b = begin; b < end; b++) {
        const float *p = c->p + b * W;
        const float *y = c->target + b * W;
        float acc = 0.0f;
        for (int64_t t = 0; t < W; t++)
            acc = acc + (c->kind == LOSS_MSE ? repro_mse_term(p[t], y[t]) : repro_huber_term(p[t], y[t], c->delta));
        c->out[b] = acc / (float)W;
    }
}

static void backward_rows(const loss_ctx *c, int64_t begin, int64_t end)
{
    int64_t W = c->W;
    float fW = (float)W;
    if (c->kind == LOSS_XENT) {
        xent_rows(c, begin, end, xent_grad_row);
        return;
    }
    for (int64_t b = begin; b < end; b++) {
        const float *p = c->p + b * W;
        float *g = c->out + b * W;
        const float *y = c->target + b * W;
        for (int64_t t = 0; t < W; t++)
            g[t] = c->kind == LOSS_MSE ? repro_mse_dp(p[t], y[t], fW, c->scale)
                                       : repro_huber_dp(p[t], y[t], c->delta, fW, c->scale);
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

/* Labels come from data files: refuse one outside [0, C) before any row is
 * computed, naming the first bad row. */
static repro_status check_labels(const int32_t *labels, int64_t B, int64_t C, repro_error *err)
{
    if (C < 1)
        return repro_fail(err, REPRO_ERR_ARG, "softmax cross-entropy: need at least 1 class, got %" PRId64, C);
    for (int64_t b = 0; b < B; b++)
        if (labels[b] < 0 || labels[b] >= C)
            return repro_fail(err, REPRO_ERR_ARG,
                              "softmax cross-entropy: label %" PRId32 " of row %" PRId64
                              " is outside [0, %" PRId64 ")",
                              labels[b], b, C);
    return REPRO_OK;
}

/* Runs rows [0, B) of c threaded (cpu given) or inline (cpu NULL). */
static void run(const repro_cpu *cpu, int64_t B, repro_pool_fn fn, loss_ctx *c)
{
    if (cpu)
        repro_pool_run(cpu->pool, B, fn, c);
    else
        fn(c, 0, B);
}

static repro_status xent_forward(const repro_cpu *cpu, float *loss, int32_t *pred, const float *z,
                                 const int32_t *labels, int64_t B, int64_t C, repro_error *err)
{
    repro_status st = check_labels(labels, B, C, err);
    if (st != REPRO_OK)
        return st;
    loss_ctx c = {LOSS_XENT, loss, pred, z, NULL, labels, C, 0.0f, 0.0f, cpu ? cpu->isa : REPRO_ISA_SCALAR};
    run(cpu, B, forward_task, &c);
    return REPRO_OK;
}

static repro_status xent_backward(const repro_cpu *cpu, float *dz, const float *z, const int32_t *labels,
                                  int64_t B, int64_t C, float scale, repro_error *err)
{
    repro_status st = check_labels(labels, B, C, err);
    if (st != REPRO_OK)
        return st;
    loss_ctx c = {LOSS_XENT, dz, NULL, z, NULL, labels, C, 0.0f, scale, cpu ? cpu->isa : REPRO_ISA_SCALAR};
    run(cpu, B, backward_task, &c);
    return REPRO_OK;
}

repro_status repro_softmax_xent_forward(const repro_cpu *cpu, float *loss, int32_t *pred, const float *z,
                                        const int32_t *labels, int64_t B, int64_t C, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    return xent_forward(cpu, loss, pred, z, labels, B, C, err);
}

repro_status repro_softmax_xent_forward_ref(float *loss, int32_t *pred, const float *z,
                                            const int32_t *labels, int64_t B, int64_t C, repro_error *err)
{
    return xent_forward(NULL, loss, pred, z, labels, B, C, err);
}

repro_status repro_softmax_xent_backward(const repro_cpu *cpu, float *dz, const float *z,
                                         const int32_t *labels, int64_t B, int64_t C, float scale,
                                         repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    return xent_backward(cpu, dz, z, labels, B, C, scale, err);
}

repro_status repro_softmax_xent_backward_ref(float *dz, const float *z, const int32_t *labels, int64_t B,
                                             int64_t C, float scale, repro_error *err)
{
    return xent_backward(NULL, dz, z, labels, B, C, scale, err);
}

repro_status repro_mse_forward(const repro_cpu *cpu, float *loss, const float *pred, const float *target,
                       int64_t B, int64_t T, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    loss_ctx c = {LOSS_MSE, loss, NULL, pred, target, NULL, T, 0.0f, 0.0f, REPRO_ISA_SCALAR};
    run(cpu, B, forward_task, &c);
    return REPRO_OK;
}

void repro_mse_forward_ref(float *loss, const float *pred, const float *target, int64_t B, int64_t T)
{
    loss_ctx c = {LOSS_MSE, loss, NULL, pred, target, NULL, T, 0.0f, 0.0f, REPRO_ISA_SCALAR};
    run(NULL, B, forward_task, &c);
}

repro_status repro_mse_backward(const repro_cpu *cpu, float *dpred, const float *pred, const float *target,
                        int64_t B, int64_t T, float scale, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    loss_ctx c = {LOSS_MSE, dpred, NULL, pred, target, NULL, T, 0.0f, scale, REPRO_ISA_SCALAR};
    run(cpu, B, backward_task, &c);
    return REPRO_OK;
}

void repro_mse_backward_ref(float *dpred, const float *pred, const float *target, int64_t B, int64_t T,
                            float scale)
{
    loss_ctx c = {LOSS_MSE, dpred, NULL, pred, target, NULL, T, 0.0f, scale, REPRO_ISA_SCALAR};
    run(NULL, B, backward_task, &c);
}

repro_status repro_huber_forward(const repro_cpu *cpu, float *loss, const float *pred, const float *target,
                         int64_t B, int64_t T, float delta, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    loss_ctx c = {LOSS_HUBER, loss, NULL, pred, target, NULL, T, delta, 0.0f, REPRO_ISA_SCALAR};
    run(cpu, B, forward_task, &c);
    return REPRO_OK;
}

void repro_huber_forward_ref(float *loss, const float *pred, const float *target, int64_t B, int64_t T,
                             float delta)
{
    loss_ctx c = {LOSS_HUBER, loss, NULL, pred, target, NULL, T, delta, 0.0f, REPRO_ISA_SCALAR};
    run(NULL, B, forward_task, &c);
}

repro_status repro_huber_backward(const repro_cpu *cpu, float *dpred, const float *pred, const float *target,
                          int64_t B, int64_t T, float delta, float scale, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    loss_ctx c = {LOSS_HUBER, dpred, NULL, pred, target, NULL, T, delta, scale, REPRO_ISA_SCALAR};
    run(cpu, B, backward_task, &c);
    return REPRO_OK;
}

void repro_huber_backward_ref(float *dpred, const float *pred, const float *target, int64_t B, int64_t T,
                              float delta, float scale)
{
    loss_ctx c = {LOSS_HUBER, dpred, NULL, pred, target, NULL, T, delta, scale, REPRO_ISA_SCALAR};
    run(NULL, B, backward_task, &c);
}
