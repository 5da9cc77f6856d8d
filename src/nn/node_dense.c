/* Nodes over the last axis, and elementwise ones: linear, the activations,
 * dropout, layer norm. A sample of shape [..., D] is rows of D values: a
 * linear layer maps each row (so it works on [features] and on
 * [tokens][features] alike), an activation each value. */
#include <string.h>

#include "nn/nodes.h"

/* Rows of the last axis in b samples of shape s, and the last axis's size. */
static int64_t rows_of(const repro_shape *s, int64_t b)
{
    int64_t r = b;
    for (int i = 0; i + 1 < s->ndim; i++)
        r *= s->d[i];
    return r;
}

static int64_t last_dim(const repro_shape *s)
{
    return s->d[s->ndim - 1];
}

static int64_t elems(const node *n, const node_io *io)
{
    return io->b * repro_shape_numel(&n->out);
}

/* ---- linear: y[r][o] = x[r][:] . W[o][:] + bias[o], per row r (linear.h) ----
 * x [b][...][I] -> y [b][...][O]; weight [O][I], bias [O]. */

static repro_status linear_plan(repro_model *m, node *n, repro_error *err)
{
    const repro_layer_config *c = &n->cfg;
    if (c->out < 1)
        return repro_node_fail(n, err, "a linear layer needs 'out' >= 1");
    int64_t in = last_dim(&n->in_shape[0]);
    n->out = n->in_shape[0];
    n->out.d[n->out.ndim - 1] = c->out;
    repro_shape w = {2, {c->out, in}}, bias = {1, {c->out}};
    repro_model_add_param(m, n, "weight", &w, (int)in, c->out, c->weight_init, c->weight_init_value,
                          REPRO_INIT_KAIMING_UNIFORM);
    if (c->bias)
        repro_model_add_param(m, n, "bias", &bias, (int)in, c->out, c->bias_init, c->bias_init_value,
                              REPRO_INIT_ZEROS);
    return REPRO_OK;
}

static repro_status linear_forward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    const float *bias = n->n_param > 1 ? repro_node_param(io, n, 1) : NULL;
    return repro_be_linear_forward(be, n->y, io->x[0], repro_node_param(io, n, 0), bias,
                                   rows_of(&n->in_shape[0], io->b), last_dim(&n->in_shape[0]), n->cfg.out, err);
}

static repro_status linear_backward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    float *db = n->n_param > 1 ? repro_node_grad(io, n, 1) : NULL;
    return repro_be_linear_backward(be, io->dx[0], repro_node_grad(io, n, 0), db, io->dy, io->x[0],
                                    repro_node_param(io, n, 0), rows_of(&n->in_shape[0], io->b),
                                    last_dim(&n->in_shape[0]), n->cfg.out, err);
}

const node_type repro_node_linear = {REPRO_LAYER_LINEAR, 1, 1, linear_plan, linear_forward, linear_backward, 0};

/* ---- activations, elementwise (formulas in src/ops/ops_math.h) ---- */

static repro_status same_shape_plan(repro_model *m, node *n, repro_error *err)
{
    (void)m;
    (void)err;
    n->out = n->in_shape[0];
    return REPRO_OK;
}

/* The activation of a node's layer kind: the rows of repro/layer_kinds.h
 * give both enums, so the case list is made from them. */
#define ACT_OF(ID, ...)                                                                            \
    case REPRO_LAYER_##ID: return REPRO_ACT_##ID;
static repro_act act_of(repro_layer_kind kind)
{
    switch (kind) {
        REPRO_LAYER_KINDS(REPRO_SKIP_ROW_, ACT_OF, REPRO_SKIP_ROW_)
    default: return REPRO_ACT_COUNT; /* no activation: the kernels refuse it */
    }
}

static repro_status act_forward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    return repro_be_act_forward(be, act_of(n->cfg.kind), n->y, io->x[0], elems(n, io), err);
}

/* backward reads the forward's input or its output, as the row says */
static repro_status act_backward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    if (!io->dx[0])
        return REPRO_OK;
    repro_act act = act_of(n->cfg.kind);
    const float *saved = repro_act_reads_output(act) ? n->y : io->x[0];
    return repro_be_act_backward(be, act, io->dx[0], io->dy, saved, elems(n, io), err);
}

/* one node type per activation (repro_node_relu, ...), from its row in repro/layer_kinds.h */
#define ACTIVATION_ROW(ID, name, ...)                                                              \
    const node_type repro_node_##name = {REPRO_LAYER_##ID, 1, 1, same_shape_plan, act_forward, act_backward, 0};
REPRO_LAYER_KINDS(REPRO_SKIP_ROW_, ACTIVATION_ROW, REPRO_SKIP_ROW_)

/* ---- dropout: element (sample, e) of a sample's flattened values kept at
 * Philox (seed, DROPOUT, node index) counter (sample position, step, e):
 * ops.h; the identity at evaluation ---- */

static repro_status dropout_plan(repro_model *m, node *n, repro_error *err)
{
    n->saved_bytes[0] = (size_t)repro_shape_numel(&n->in_shape[0]); /* mask: one byte a value */
    return same_shape_plan(m, n, err);
}

static repro_status dropout_forward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    if (io->training && n->cfg.p > 0.0f)
        return repro_be_dropout_forward(be, n->y, n->saved[0], io->x[0], io->b, repro_shape_numel(&n->out),
                                        n->cfg.p, io->seed, n->index, io->step, io->sample_pos, err);
    return repro_be_copy(be, n->y, io->x[0], (size_t)elems(n, io) * sizeof(float), err);
}

static repro_status dropout_backward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    if (!io->dx[0])
        return REPRO_OK;
    if (n->cfg.p > 0.0f)
        return repro_be_dropout_backward(be, io->dx[0], io->dy, n->saved[0], io->b, repro_shape_numel(&n->out),
                                         n->cfg.p, err);
    return repro_be_copy(be, io->dx[0], io->dy, (size_t)elems(n, io) * sizeof(float), err);
}

const node_type repro_node_dropout = {REPRO_LAYER_DROPOUT, 1, 1, dropout_plan, dropout_forward,
                                      dropout_backward, 0};

/* ---- layer norm over the last `axes` axes (D values a row; ops.h's
 * order): weight and bias have those axes' shape ---- */

/* axes 0 (a config made in code) means 1, the default */
static int norm_axes(const node *n)
{
    return n->cfg.axes > 0 ? n->cfg.axes : 1;
}

static int64_t norm_width(const node *n)
{
    int64_t d = 1;
    for (int i = n->in_shape[0].ndim - norm_axes(n); i < n->in_shape[0].ndim; i++)
        d *= n->in_shape[0].d[i];
    return d;
}

static repro_status layernorm_plan(repro_model *m, node *n, repro_error *err)
{
    const repro_shape *in = &n->in_shape[0];
    int axes = norm_axes(n);
    if (axes > in->ndim) {
        char text[96];
        repro_shape_format(in, text, sizeof text);
        return repro_node_fail(n, err, "axes %d is more than the %d axes of its input %s", axes, in->ndim, text);
    }
    repro_shape p = {axes, {0}};
    for (int i = 0; i < axes; i++)
        p.d[i] = in->d[in->ndim - axes + i];
    int64_t d = norm_width(n);
    repro_model_add_param(m, n, "weight", &p, (int)d, (int)d, REPRO_INIT_CONSTANT, 1.0f, REPRO_INIT_CONSTANT);
    repro_model_add_param(m, n, "bias", &p, (int)d, (int)d, REPRO_INIT_ZEROS, 0.0f, REPRO_INIT_ZEROS);
    int64_t rows_per_sample = repro_shape_numel(in) / d;
    n->saved_bytes[0] = n->saved_bytes[1] = (size_t)rows_per_sample * sizeof(float); /* mean, rstd */
    return same_shape_plan(m, n, err);
}

static repro_status layernorm_forward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    int64_t d = norm_width(n);
    return repro_be_layernorm_forward(be, n->y, n->saved[0], n->saved[1], io->x[0], repro_node_param(io, n, 0),
                                      repro_node_param(io, n, 1), elems(n, io) / d, d, n->cfg.eps, err);
}

/* dx is always computed: the kernel uses it as scratch (dx_always) */
static repro_status layernorm_backward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    int64_t d = norm_width(n);
    return repro_be_layernorm_backward(be, io->dx[0], repro_node_grad(io, n, 0), repro_node_grad(io, n, 1), io->dy,
                                       io->x[0], n->saved[0], n->saved[1], repro_node_param(io, n, 0),
                                       elems(n, io) / d, d, err);
}

const node_type repro_node_layernorm = {REPRO_LAYER_LAYERNORM, 1, 1, layernorm_plan, layernorm_forward,
                                        layernorm_backward, 1};
