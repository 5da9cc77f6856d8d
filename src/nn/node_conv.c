/* Image nodes over [C, H, W] samples: conv2d, max and average pooling,
 * global average pooling. The arithmetic and its order are the kernels'
 * (src/ops/cpu/conv.h, pool2d.h); a node only fills in the shape. */
#include <stdio.h>
#include <string.h>

#include "backend/ops/ops.h"
#include "nn/nodes.h"

/* The kernels' shape messages without their own "conv2d: " or "pool2d: "
 * prefix (the node's message already names its type). */
static const char *shape_message(const repro_error *e)
{
    static const char *const prefixes[] = {"conv2d: ", "pool2d: ", "max_pool2d: ", "avg_pool2d: "};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (!strncmp(e->message, prefixes[i], strlen(prefixes[i])))
            return e->message + strlen(prefixes[i]);
    return e->message;
}

static repro_status need_image(node *n, repro_error *err)
{
    if (n->in_shape[0].ndim == 3)
        return REPRO_OK;
    char text[96];
    repro_shape_format(&n->in_shape[0], text, sizeof text);
    return repro_node_fail(n, err, "needs an image input [channels, height, width], got %s%s", text,
                           n->in_shape[0].ndim == 1 ? " (set model.input_shape, e.g. [1, 28, 28])" : "");
}

static int kernel_w(const repro_layer_config *c)
{
    return c->kernel_w > 0 ? c->kernel_w : c->kernel;
}

/* ---- conv2d: weight [O][C/groups][KH][KW], bias [O] ---- */

static repro_conv2d_shape conv_shape(const node *n, int64_t N)
{
    const repro_layer_config *c = &n->cfg;
    const repro_shape *in = &n->in_shape[0];
    int stride = c->stride > 0 ? c->stride : 1;
    repro_conv2d_shape s = {N, in->d[0], in->d[1], in->d[2], c->out, c->kernel, kernel_w(c), stride, stride,
                            c->padding, c->padding, c->dilation > 0 ? c->dilation : 1, c->dilation > 0 ? c->dilation : 1,
                            c->groups > 0 ? c->groups : 1, 0, 0};
    return s;
}

/* The kernels' own shape check, its message turned into the node's. */
static repro_status check_conv(node *n, repro_conv2d_shape *s, repro_error *err)
{
    repro_error e;
    if (repro_conv2d_shape_check(s, &e) == REPRO_OK)
        return REPRO_OK;
    char text[96];
    repro_shape_format(&n->in_shape[0], text, sizeof text);
    return repro_node_fail(n, err, "%s (input %s)", shape_message(&e), text);
}

static repro_status conv_plan(repro_model *m, node *n, repro_error *err)
{
    repro_status st = need_image(n, err);
    if (st != REPRO_OK)
        return st;
    const repro_layer_config *c = &n->cfg;
    repro_conv2d_shape s = conv_shape(n, 1);
    if ((st = check_conv(n, &s, err)) != REPRO_OK)
        return st;
    n->out = (repro_shape){3, {s.O, s.OH, s.OW}};
    repro_shape w = {4, {s.O, s.C / s.groups, s.KH, s.KW}}, bias = {1, {s.O}};
    int fan_in = (int)(s.C / s.groups * s.KH * s.KW), fan_out = (int)(s.O / s.groups * s.KH * s.KW);
    repro_model_add_param(m, n, "weight", &w, fan_in, fan_out, c->weight_init, c->weight_init_value,
                          REPRO_INIT_KAIMING_UNIFORM);
    if (c->bias)
        repro_model_add_param(m, n, "bias", &bias, fan_in, fan_out, c->bias_init, c->bias_init_value,
                              REPRO_INIT_ZEROS);
    return REPRO_OK;
}

static repro_status conv_run(const repro_backend *be, node *n, const node_io *io, int backward, repro_error *err)
{
    repro_conv2d_args a;
    memset(&a, 0, sizeof a);
    a.shape = conv_shape(n, io->b);
    repro_status st = check_conv(n, &a.shape, err);
    if (st != REPRO_OK)
        return st;
    a.x = io->x[0];
    a.w = repro_node_param(io, n, 0);
    if (!backward) {
        a.y = n->y;
        a.bias = n->n_param > 1 ? repro_node_param(io, n, 1) : NULL;
        return repro_be_run(be, &repro_k_conv2d_forward, &a, err);
    }
    a.dy = io->dy;
    a.dx = io->dx[0];
    a.dw = repro_node_grad(io, n, 0);
    a.db = n->n_param > 1 ? repro_node_grad(io, n, 1) : NULL;
    return repro_be_run(be, &repro_k_conv2d_backward, &a, err);
}

static repro_status conv_forward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    return conv_run(be, n, io, 0, err);
}

static repro_status conv_backward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    return conv_run(be, n, io, 1, err);
}

const node_type repro_node_conv2d = {REPRO_LAYER_CONV2D, 1, 1, conv_plan, conv_forward, conv_backward, 0};

/* ---- max and average pooling ---- */

static repro_pool2d_shape pool_shape(const node *n, int64_t N)
{
    const repro_layer_config *c = &n->cfg;
    const repro_shape *in = &n->in_shape[0];
    int kw = kernel_w(c);
    int sh = c->stride > 0 ? c->stride : c->kernel, sw = c->stride > 0 ? c->stride : kw;
    repro_pool2d_shape s = {N, in->d[0], in->d[1], in->d[2], c->kernel, kw, sh, sw, c->padding, c->padding, 0, 0};
    return s;
}

static repro_status check_pool(node *n, repro_pool2d_shape *s, repro_error *err)
{
    repro_error e;
    if (repro_pool2d_shape_check(s, &e) == REPRO_OK)
        return REPRO_OK;
    char text[96];
    repro_shape_format(&n->in_shape[0], text, sizeof text);
    return repro_node_fail(n, err, "%s (input %s)", shape_message(&e), text);
}

static repro_status pool_plan(repro_model *m, node *n, repro_error *err)
{
    (void)m;
    repro_status st = need_image(n, err);
    repro_pool2d_shape s = pool_shape(n, 1);
    if (st == REPRO_OK)
        st = check_pool(n, &s, err);
    if (st != REPRO_OK)
        return st;
    n->out = (repro_shape){3, {s.C, s.OH, s.OW}};
    if (n->cfg.kind == REPRO_LAYER_MAX_POOL2D)
        n->saved_bytes[0] = (size_t)repro_shape_numel(&n->out) * sizeof(int32_t); /* argmax */
    return REPRO_OK;
}

static repro_status pool_run(const repro_backend *be, node *n, const node_io *io, int backward, repro_error *err)
{
    repro_pool2d_args a;
    memset(&a, 0, sizeof a);
    a.shape = pool_shape(n, io->b);
    repro_status st = check_pool(n, &a.shape, err);
    if (st != REPRO_OK || (backward && !io->dx[0]))
        return st;
    int max = n->cfg.kind == REPRO_LAYER_MAX_POOL2D;
    a.argmax = n->saved[0];
    if (!backward) {
        a.y = n->y;
        a.x = io->x[0];
        return repro_be_run(be, max ? &repro_k_maxpool2d_forward : &repro_k_avgpool2d_forward, &a, err);
    }
    a.dx = io->dx[0];
    a.dy = io->dy;
    return repro_be_run(be, max ? &repro_k_maxpool2d_backward : &repro_k_avgpool2d_backward, &a, err);
}

static repro_status pool_forward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    return pool_run(be, n, io, 0, err);
}

static repro_status pool_backward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    return pool_run(be, n, io, 1, err);
}

/* The arguments both of conv c's and max pool p's kernels in one take:
 * shapes (checked), the conv's input, weight and output workspace, the
 * pool's argmax. */
static repro_status conv_maxpool_args(node *c, node *p, const node_io *io, repro_conv2d_maxpool_args *a,
                                      repro_error *err)
{
    memset(a, 0, sizeof *a);
    a->conv = conv_shape(c, io->b);
    a->pool = pool_shape(p, io->b);
    repro_status st = check_conv(c, &a->conv, err);
    if (st == REPRO_OK)
        st = check_pool(p, &a->pool, err);
    a->x = io->x[0];
    a->w = repro_node_param(io, c, 0);
    a->y = c->y;
    a->argmax = p->saved[0];
    return st;
}

repro_status repro_conv_maxpool_forward(const repro_backend *be, node *c, node *p, const node_io *io,
                                        repro_error *err)
{
    repro_conv2d_maxpool_args a;
    repro_status st = conv_maxpool_args(c, p, io, &a, err);
    if (st != REPRO_OK)
        return st;
    a.bias = c->n_param > 1 ? repro_node_param(io, c, 1) : NULL;
    a.pool_y = p->y;
    return repro_be_run(be, &repro_k_conv2d_maxpool_forward, &a, err);
}

repro_status repro_conv_maxpool_backward(const repro_backend *be, node *c, node *p, const node_io *io,
                                         repro_error *err)
{
    repro_conv2d_maxpool_args a;
    repro_status st = conv_maxpool_args(c, p, io, &a, err);
    if (st != REPRO_OK)
        return st;
    a.pool_dy = p->dy;
    a.dw = repro_node_grad(io, c, 0);
    a.db = c->n_param > 1 ? repro_node_grad(io, c, 1) : NULL;
    return repro_be_run(be, &repro_k_conv2d_maxpool_backward, &a, err);
}

const node_type repro_node_max_pool2d = {REPRO_LAYER_MAX_POOL2D, 1, 1, pool_plan, pool_forward, pool_backward, 0};
const node_type repro_node_avg_pool2d = {REPRO_LAYER_AVG_POOL2D, 1, 1, pool_plan, pool_forward, pool_backward, 0};

/* ---- global average pool: [C, H, W] -> [C] ---- */

static repro_status gap_plan(repro_model *m, node *n, repro_error *err)
{
    (void)m;
    repro_status st = need_image(n, err);
    n->out = (repro_shape){1, {n->in_shape[0].d[0]}};
    return st;
}

static repro_gap_args gap_args(const node *n, const node_io *io)
{
    const repro_shape *in = &n->in_shape[0];
    repro_gap_args a = {io->b, in->d[0], in->d[1] * in->d[2], NULL, NULL, NULL, NULL};
    return a;
}

static repro_status gap_forward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    repro_gap_args a = gap_args(n, io);
    a.y = n->y;
    a.x = io->x[0];
    return repro_be_run(be, &repro_k_gap_forward, &a, err);
}

static repro_status gap_backward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    if (!io->dx[0])
        return REPRO_OK;
    repro_gap_args a = gap_args(n, io);
    a.dx = io->dx[0];
    a.dy = io->dy;
    return repro_be_run(be, &repro_k_gap_backward, &a, err);
}

const node_type repro_node_global_avg_pool = {REPRO_LAYER_GLOBAL_AVG_POOL, 1, 1, gap_plan, gap_forward,
                                              gap_backward, 0};
