/* Model construction and the forward/backward walks: see model.h and the
 * order written in graph.h. The ops themselves are node types (node_*.c,
 * one per row of repro/layer_kinds.h); this file only lays out the graph,
 * its buffers and its order. */
#include "nn/model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/graph.h"
#include "nn/init.h"
#include "nn/nodes.h"

/* ---- shapes ---- */

int64_t repro_shape_numel(const repro_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++)
        n *= s->d[i];
    return n;
}

void repro_shape_format(const repro_shape *s, char *out, size_t size)
{
    size_t len = (size_t)snprintf(out, size, "[");
    for (int i = 0; i < s->ndim && len < size; i++)
        len += (size_t)snprintf(out + len, size - len, "%s%lld", i ? ", " : "", (long long)s->d[i]);
    if (len < size)
        snprintf(out + len, size - len, "]");
}

/* ---- messages ---- */

repro_status repro_node_fail(const node *n, repro_error *err, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return repro_fail(err, REPRO_ERR_CONFIG, "%s '%s' (%s): %s", n->where, n->name,
                      repro_layer_kind_name(n->cfg.kind), msg);
}

/* Prefixes a construction error with "source:line: " when both are known. */
static repro_status at_line(repro_status st, const char *source, int line, repro_error *err)
{
    if (st == REPRO_OK || !source || !source[0] || line <= 0)
        return st;
    return repro_error_prefix(err, "%s:%d", source, line);
}

/* ---- parameters and buffers ---- */

static int add_tensor(repro_param_info *t, int64_t *total, const node *n, const char *what, const repro_shape *shape)
{
    snprintf(t->name, sizeof t->name, "%s.%s", n->name, what);
    t->ndim = shape->ndim;
    for (int i = 0; i < REPRO_MAX_DIMS; i++)
        t->shape[i] = i < shape->ndim ? shape->d[i] : 0;
    t->numel = repro_shape_numel(shape);
    t->offset = *total;
    *total += t->numel;
    return 0;
}

int repro_model_add_param(repro_model *m, node *n, const char *what, const repro_shape *shape, int fan_in,
                          int fan_out, repro_init_kind kind, float value, repro_init_kind default_kind)
{
    int i = m->n_tensors++;
    add_tensor(&m->tensors[i], &m->n_params, n, what, shape);
    m->init[i].kind = kind;
    m->init[i].default_kind = default_kind;
    m->init[i].value = value;
    m->init[i].fan_in = fan_in;
    m->init[i].fan_out = fan_out;
    n->param[n->n_param++] = i;
    return i;
}

int repro_model_add_buffer(repro_model *m, node *n, const char *what, int64_t n_elems, float init)
{
    int i = m->n_buffer_tensors++;
    repro_shape s = {1, {n_elems}};
    add_tensor(&m->buffer_tensors[i], &m->n_buffers, n, what, &s);
    m->buffer_init[i] = init;
    n->buffer[n->n_buffer++] = i;
    return i;
}

const float *repro_node_param(const node_io *io, const node *n, int k)
{
    return io->params + io->model->tensors[n->param[k]].offset;
}

float *repro_node_grad(const node_io *io, const node *n, int k)
{
    return io->grads + io->model->tensors[n->param[k]].offset;
}

float *repro_node_buffer(const node_io *io, const node *n, int k)
{
    return io->buffers + io->model->buffer_tensors[n->buffer[k]].offset;
}

/* ---- construction: the nodes in order ---- */

/* Appends a node for layer cfg named `name`, reading `inputs` (node indices,
 * -1 = the model input). */
node *repro_model_append(repro_model *m, const repro_layer_config *cfg, const char *name, const char *where,
                         const int *inputs, int n_in)
{
    node *n = &m->nodes[m->n_nodes];
    memset(n, 0, sizeof *n);
    n->cfg = *cfg;
    snprintf(n->name, sizeof n->name, "%s", name);
    snprintf(n->where, sizeof n->where, "%s", where);
    n->type = repro_node_type_of(cfg->kind);
    n->index = (uint32_t)m->n_nodes;
    n->n_in = n_in;
    memcpy(n->in, inputs, (size_t)n_in * sizeof *inputs);
    m->n_nodes++;
    return n;
}

static int find_node(const repro_model *m, const char *name)
{
    if (!strcmp(name, "input"))
        return -1;
    for (int i = 0; i < m->n_nodes; i++)
        if (!strcmp(m->nodes[i].name, name) || !strcmp(m->nodes[i].alias, name))
            return i;
    return -2;
}

/* A stack of layers (the trunk, or a head's layers) reading node `from`;
 * returns the last node (or `from` for an empty stack). */
static int append_stack(repro_model *m, const repro_layer_config *layers, int n, const char *prefix,
                        const char *where, int from)
{
    for (int i = 0; i < n; i++) {
        char name[2 * REPRO_NAME_MAX + 8], at[64];
        snprintf(name, sizeof name, "%s.%d", prefix, i);
        snprintf(at, sizeof at, "%s.%d", where, i);
        repro_model_append(m, &layers[i], name, at, &from, 1);
        from = m->n_nodes - 1;
    }
    return from;
}

static int valid_node_name(const char *s)
{
    return s[0] && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == strlen(s);
}

/* The name of the node that input `want` of node i refers to, as a cycle
 * "a -> b -> a" when it leads back to node i through later nodes. */
static int leads_back(const repro_model_config *mc, int from, int target, int depth)
{
    if (depth > REPRO_MAX_NODES)
        return 0;
    const repro_layer_config *c = &mc->nodes[from];
    for (int k = 0; k < c->n_inputs; k++) {
        for (int j = 0; j < mc->n_nodes; j++) {
            if (strcmp(mc->nodes[j].name, c->inputs[k]))
                continue;
            if (j == target || (j > from && leads_back(mc, j, target, depth + 1)))
                return 1;
        }
    }
    return 0;
}

/* model.nodes: each reads earlier nodes by name (default: the node before). */
static repro_status append_nodes(repro_model *m, const repro_model_config *mc, const char *source,
                                 repro_error *err)
{
    /* what expanded nodes may use: the node array less the heads' layers */
    int room = (int)(sizeof m->nodes / sizeof m->nodes[0]);
    for (int h = 0; h < mc->n_heads; h++)
        room -= mc->heads[h].n_layers;
    for (int i = 0; i < mc->n_nodes; i++) {
        const repro_layer_config *c = &mc->nodes[i];
        char where[64];
        snprintf(where, sizeof where, "model.nodes.%d", i);
        node probe = {0};
        probe.cfg = *c;
        snprintf(probe.where, sizeof probe.where, "%s", where);
        snprintf(probe.name, sizeof probe.name, "%s", c->name[0] ? c->name : "?");
        repro_status st = REPRO_OK;
        if (!valid_node_name(c->name))
            st = repro_node_fail(&probe, err, "a node needs a name of letters, digits, '_', '-' or '.'");
        else if (!strcmp(c->name, "input") || find_node(m, c->name) >= 0)
            st = repro_node_fail(&probe, err, "the name '%s' is already taken%s", c->name,
                                 strcmp(c->name, "input") ? " by an earlier node" : " (the model's input)");
        int in[REPRO_MAX_INPUTS], n_in = c->n_inputs;
        if (n_in == 0) {
            in[0] = m->n_nodes - 1;
            n_in = 1;
        }
        for (int k = 0; st == REPRO_OK && k < c->n_inputs; k++) {
            in[k] = find_node(m, c->inputs[k]);
            if (in[k] != -2)
                continue;
            int later = -1;
            for (int j = i; j < mc->n_nodes && later < 0; j++)
                if (!strcmp(mc->nodes[j].name, c->inputs[k]))
                    later = j;
            if (later < 0)
                st = repro_node_fail(&probe, err, "input '%s' does not exist (inputs name earlier nodes or 'input')",
                                     c->inputs[k]);
            else if (later == i || leads_back(mc, later, i, 0))
                st = repro_node_fail(&probe, err, "input '%s' forms a cycle (a node cannot depend on itself)",
                                     c->inputs[k]);
            else
                st = repro_node_fail(&probe, err, "input '%s' is written later, in model.nodes.%d (list a node "
                                     "after its inputs)", c->inputs[k], later);
        }
        if (st == REPRO_OK && (c->kind == REPRO_LAYER_TRANSFORMER_ENCODER_LAYER ||
                               c->kind == REPRO_LAYER_TRANSFORMER_ENCODER))
            st = repro_expand_encoder(m, c, where, in, n_in, room - (mc->n_nodes - 1 - i), err);
        else if (st == REPRO_OK)
            repro_model_append(m, c, c->name, where, in, n_in);
        if (st != REPRO_OK)
            return at_line(st, source, c->line, err);
    }
    return REPRO_OK;
}

/* The nodes of either form, then each head's layers; sets head_node[]. */
static repro_status build_order(repro_model *m, const repro_model_config *mc, const char *source, repro_error *err)
{
    int last = -1;
    if (mc->n_nodes > 0) {
        repro_status st = append_nodes(m, mc, source, err);
        if (st != REPRO_OK)
            return st;
        last = m->n_nodes - 1;
    } else {
        last = append_stack(m, mc->trunk, mc->n_trunk, "trunk", "model.trunk", -1);
    }
    m->n_heads = mc->n_heads;
    for (int h = 0; h < mc->n_heads; h++) {
        const repro_head_config *hc = &mc->heads[h];
        int from = last;
        if (hc->input[0]) {
            from = find_node(m, hc->input);
            if (from == -2 || from >= (mc->n_nodes > 0 ? last + 1 : m->n_nodes))
                return repro_fail(err, REPRO_ERR_CONFIG, "model.heads.%d.input: no node is named '%s'", h,
                                  hc->input);
        }
        char prefix[REPRO_NAME_MAX + 8], where[64];
        snprintf(prefix, sizeof prefix, "heads.%s", hc->name);
        snprintf(where, sizeof where, "model.heads.%d.layers", h);
        m->head_node[h] = append_stack(m, hc->layers, hc->n_layers, prefix, where, from);
    }
    return REPRO_OK;
}

/* Shapes, parameters and saved buffers, node by node (each node's plan). */
static repro_status plan_nodes(repro_model *m, const char *source, repro_error *err)
{
    for (int i = 0; i < m->n_nodes; i++) {
        node *n = &m->nodes[i];
        repro_status st = REPRO_OK;
        if (!n->type && (n->cfg.kind == REPRO_LAYER_TRANSFORMER_ENCODER_LAYER ||
                         n->cfg.kind == REPRO_LAYER_TRANSFORMER_ENCODER))
            st = repro_node_fail(n, err, "a transformer encoder expands to several nodes: write it in model.nodes");
        else if (!n->type)
            st = repro_node_fail(n, err, "this layer type is not available in this build");
        else if (n->n_in < n->type->min_inputs || n->n_in > n->type->max_inputs)
            st = repro_node_fail(n, err, "takes %d to %d inputs, got %d", n->type->min_inputs, n->type->max_inputs,
                                 n->n_in);
        for (int k = 0; st == REPRO_OK && k < n->n_in; k++)
            n->in_shape[k] = n->in[k] < 0 ? m->input : m->nodes[n->in[k]].out;
        if (st == REPRO_OK)
            st = n->type->plan(m, n, err);
        if (st == REPRO_OK && repro_shape_numel(&n->out) > INT32_MAX)
            st = repro_node_fail(n, err, "its output of %lld values per sample is too large",
                                 (long long)repro_shape_numel(&n->out));
        if (st != REPRO_OK)
            return at_line(st, source, n->cfg.line, err);
    }
    return REPRO_OK;
}

/* Which nodes carry gradients, their consumer edges, and that every node
 * reaches a head. */
static repro_status plan_gradients(repro_model *m, const char *source, repro_error *err)
{
    int reaches[REPRO_MAX_NODES + REPRO_MAX_HEADS * REPRO_MAX_LAYERS] = {0};
    for (int h = 0; h < m->n_heads; h++)
        if (m->head_node[h] >= 0)
            reaches[m->head_node[h]] = 1;
    for (int i = m->n_nodes - 1; i >= 0; i--)
        for (int k = 0; reaches[i] && k < m->nodes[i].n_in; k++)
            if (m->nodes[i].in[k] >= 0)
                reaches[m->nodes[i].in[k]] = 1;
    for (int i = 0; i < m->n_nodes; i++) {
        node *n = &m->nodes[i];
        if (!reaches[i])
            return at_line(repro_node_fail(n, err, "its output reaches no head (every node must feed a head)"),
                           source, n->cfg.line, err);
        n->grad = n->n_param > 0;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0 && m->nodes[n->in[k]].grad)
                n->grad = 1;
    }
    for (int i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < m->nodes[i].n_in; k++)
            if (m->nodes[i].in[k] >= 0)
                m->nodes[m->nodes[i].in[k]].n_edges++;
    for (int h = 0; h < m->n_heads; h++)
        if (m->head_node[h] >= 0)
            m->nodes[m->head_node[h]].n_edges++;
    for (int i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].n_edges > REPRO_MAX_EDGES)
            return at_line(repro_node_fail(&m->nodes[i], err, "is read %d times (at most %d)", m->nodes[i].n_edges,
                                           REPRO_MAX_EDGES),
                           source, m->nodes[i].cfg.line, err);
    return REPRO_OK;
}

static repro_status alloc_floats(const repro_model *m, float **p, int64_t n, repro_error *err)
{
    return repro_be_alloc(m->be, (size_t)n * sizeof(float), (void **)p, err);
}

/* Edge e of node u: where its consumer writes u's gradient. */
static float *edge_buffer(node *u, int e)
{
    return e == 0 ? u->dy : u->edge_dy[e];
}

/* Whether node i, a ReLU, may write its output over its input: the input
 * comes from a convolution, a linear layer, a batch norm or a group norm
 * that nothing else reads (no other node, no head), and whose backward
 * never reads its own output. The ReLU's backward then reads its output
 * where it read its input: x > 0 and
 * relu(x) > 0 hold for the same x (NaN and +-0 included: src/ops/ops_math.h),
 * so every bit stays. The layer's output is traced before the ReLU runs.
 * Saves a pass over a fresh buffer and that buffer's memory: the conv net's
 * first layer writes 12.8 MB at batch 128, which this VM's memory
 * bandwidth does not give a second thread. */
static int relu_in_place(const repro_model *m, int i, const int *consumers)
{
    const node *n = &m->nodes[i];
    if (n->cfg.kind != REPRO_LAYER_RELU || n->n_in != 1 || n->in[0] < 0)
        return 0;
    const node *p = &m->nodes[n->in[0]];
    return consumers[n->in[0]] == 1 && (p->cfg.kind == REPRO_LAYER_CONV2D || p->cfg.kind == REPRO_LAYER_LINEAR ||
                                         p->cfg.kind == REPRO_LAYER_BATCH_NORM || p->cfg.kind == REPRO_LAYER_GROUP_NORM);
}

/* Whether node i, a ReLU, is read by one max pool and nothing else. Then
 * the pair runs folded, the ReLU on the pool's side of it, a quarter of the
 * values in a 2x2 pool, with the same bits:
 *
 * forward: the pool reads the ReLU's input, and the ReLU runs over the
 *   pool's output. The maximum of relu(taps) is relu(the maximum of the
 *   taps): the first NaN of a window is the same tap either way (the ReLU
 *   keeps it), a window with a positive tap has the same first maximum,
 *   and any other window's value is +0 either way. Only the argmax of
 *   those +0 windows may differ, and their gradients are +0 (below).
 * backward: the pool's dy becomes relu'(dy) at the pool's output, and the
 *   pool's backward writes straight into the ReLU's dx. A window's output
 *   is its argmax tap's value (pool2d.h; 0 for a window with no real tap,
 *   whose argmax matches no tap), so every window that sends its gradient
 *   to tap t sees relu(x_t), and the ReLU's mask at t (relu(x_t) > 0) is
 *   the same test on every term of t's sum: if it holds the terms are dy's,
 *   in the pool's order; if not, each term and the sum are +0, which
 *   relu' would have written.
 *
 * The ReLU's output is then never written, and two passes over the pool's
 * input size go (12.8 MB in the conv net's first layer at batch 128). A
 * trace sees every node's values, so a traced pass runs the pair unfolded. */
static int relu_before_max_pool(const repro_model *m, int i, const int *consumers)
{
    const node *n = &m->nodes[i];
    if (n->cfg.kind != REPRO_LAYER_RELU || consumers[i] != 1)
        return 0;
    for (int j = i + 1; j < m->n_nodes; j++)
        if (m->nodes[j].n_in == 1 && m->nodes[j].in[0] == i)
            return m->nodes[j].cfg.kind == REPRO_LAYER_MAX_POOL2D;
    return 0; /* its reader is a head */
}

/* The max pool that reads node i, a conv, through a ReLU that writes over
 * the conv's output and folds into that pool: then the conv's kernel pools
 * each image's output while it is in cache (repro_conv_maxpool_forward),
 * and the conv's output is never written out: nothing reads it (the
 * conv's backward reads its input, the pool's reads its argmax and output,
 * the ReLU runs on the pool's output). -1: none. */
static int pool_of_conv(const repro_model *m, int i)
{
    if (m->nodes[i].cfg.kind != REPRO_LAYER_CONV2D)
        return -1;
    for (int r = i + 1; r < m->n_nodes; r++)
        if (m->nodes[r].y_in_place && m->nodes[r].in[0] == i && m->nodes[r].relu_before_max_pool)
            for (int p = r + 1; p < m->n_nodes; p++)
                if (m->nodes[p].n_in == 1 && m->nodes[p].in[0] == r)
                    return p;
    return -1;
}

static repro_status alloc_nodes(repro_model *m, repro_error *err)
{
    int64_t widest = 1;
    repro_status st = REPRO_OK;
    int consumers[REPRO_MAX_NODES + REPRO_MAX_HEADS * REPRO_MAX_LAYERS] = {0}; /* nodes and heads reading each */
    for (int i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < m->nodes[i].n_in; k++)
            if (m->nodes[i].in[k] >= 0)
                consumers[m->nodes[i].in[k]]++;
    for (int h = 0; h < m->n_heads; h++)
        if (m->head_node[h] >= 0)
            consumers[m->head_node[h]]++;
    for (int i = 0; st == REPRO_OK && i < m->n_nodes; i++) {
        node *n = &m->nodes[i];
        int64_t w = repro_shape_numel(&n->out);
        for (int k = 0; k < n->n_in; k++)
            widest = repro_shape_numel(&n->in_shape[k]) > widest ? repro_shape_numel(&n->in_shape[k]) : widest;
        n->y_in_place = relu_in_place(m, i, consumers);
        n->relu_before_max_pool = relu_before_max_pool(m, i, consumers);
        if (n->y_in_place)
            n->y = m->nodes[n->in[0]].y;
        else
            st = alloc_floats(m, &n->y, m->capacity * w, err);
        for (int s = 0; st == REPRO_OK && s < REPRO_NODE_SAVED; s++)
            if (n->saved_bytes[s])
                st = repro_be_alloc(m->be, (size_t)m->capacity * n->saved_bytes[s], &n->saved[s], err);
        if (st == REPRO_OK && n->grad)
            st = alloc_floats(m, &n->dy, m->capacity * w, err);
        for (int e = 1; st == REPRO_OK && n->grad && e < n->n_edges; e++)
            st = alloc_floats(m, &n->edge_dy[e], m->capacity * w, err);
    }
    for (int i = 0; i < m->n_nodes; i++)
        m->nodes[i].conv_pool = pool_of_conv(m, i);
    if (st == REPRO_OK)
        st = alloc_floats(m, &m->scratch, m->capacity * widest, err);
    /* each head's gradient lands on its node's last edge (heads come after
     * every node in forward order) */
    int seen[REPRO_MAX_NODES + REPRO_MAX_HEADS * REPRO_MAX_LAYERS] = {0};
    for (int i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < m->nodes[i].n_in; k++)
            if (m->nodes[i].in[k] >= 0)
                seen[m->nodes[i].in[k]]++;
    for (int h = 0; st == REPRO_OK && h < m->n_heads; h++) {
        int u = m->head_node[h];
        m->head_dst[h] = u >= 0 && m->nodes[u].grad ? edge_buffer(&m->nodes[u], seen[u]++) : NULL;
    }
    return st;
}

static repro_status alloc_state(repro_model *m, repro_error *err)
{
    repro_status st = alloc_floats(m, &m->params, m->n_params, err);
    if (st == REPRO_OK)
        st = alloc_floats(m, &m->grads, m->n_params, err);
    if (st == REPRO_OK)
        st = repro_be_zero(m->be, m->grads, (size_t)m->n_params * sizeof(float), err);
    if (st == REPRO_OK)
        st = repro_be_zero(m->be, m->params, (size_t)m->n_params * sizeof(float), err);
    if (st == REPRO_OK)
        st = alloc_floats(m, &m->buffers, m->n_buffers, err);
    return st;
}

static repro_status input_shape(const repro_model_config *mc, int input, repro_shape *s, repro_error *err)
{
    if (input < 1)
        return repro_fail(err, REPRO_ERR_CONFIG, "model input must be >= 1, got %d", input);
    if (mc->n_input_shape == 0) {
        s->ndim = 1;
        s->d[0] = input;
        return REPRO_OK;
    }
    s->ndim = mc->n_input_shape;
    for (int i = 0; i < s->ndim; i++)
        s->d[i] = mc->input_shape[i];
    if (repro_shape_numel(s) != input) {
        char text[96];
        repro_shape_format(s, text, sizeof text);
        return repro_fail(err, REPRO_ERR_CONFIG, "model.input_shape: %s holds %lld values but a sample has %d",
                          text, (long long)repro_shape_numel(s), input);
    }
    return REPRO_OK;
}

repro_status repro_model_create(const repro_model_config *mc, const char *source, int input, int64_t capacity,
                                const repro_backend *be, repro_model **out, repro_error *err)
{
    *out = NULL;
    if (mc->n_heads < 1)
        return repro_fail(err, REPRO_ERR_CONFIG, "model.heads: at least one head is required");
    repro_model *m = calloc(1, sizeof *m);
    if (!m)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the model");
    m->be = be;
    m->capacity = capacity;
    repro_status st = input_shape(mc, input, &m->input, err);
    if (st == REPRO_OK)
        st = build_order(m, mc, source, err);
    if (st == REPRO_OK)
        st = plan_nodes(m, source, err);
    if (st == REPRO_OK)
        st = plan_gradients(m, source, err);
    if (st == REPRO_OK)
        st = alloc_state(m, err);
    if (st == REPRO_OK)
        st = alloc_nodes(m, err);
    if (st != REPRO_OK) {
        repro_model_free(m);
        return st;
    }
    *out = m;
    return REPRO_OK;
}

repro_status repro_model_estimate_of(const repro_model_config *mc, int input, repro_model_estimate *e,
                                     repro_error *err)
{
    memset(e, 0, sizeof *e);
    repro_model *m = calloc(1, sizeof *m);
    if (!m)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the model's plan");
    m->capacity = 1;
    repro_status st = input_shape(mc, input, &m->input, err);
    if (st == REPRO_OK)
        st = build_order(m, mc, NULL, err);
    if (st == REPRO_OK)
        st = plan_nodes(m, NULL, err);
    if (st == REPRO_OK)
        st = plan_gradients(m, NULL, err);
    for (int i = 0; st == REPRO_OK && i < m->n_nodes; i++) {
        const node *n = &m->nodes[i];
        double w = (double)repro_shape_numel(&n->out);
        e->act_floats += w * (1 + (n->grad ? n->n_edges : 0)); /* y, dy and the edge buffers */
        for (int s = 0; s < REPRO_NODE_SAVED; s++)
            e->saved_bytes += (double)n->saved_bytes[s];
        if (w > e->widest) {
            e->widest = w;
            snprintf(e->widest_where, sizeof e->widest_where, "%s", n->where);
        }
        int64_t p = 0;
        for (int k = 0; k < n->n_param; k++)
            p += m->tensors[n->param[k]].numel;
        if (p > e->largest_params) {
            e->largest_params = p;
            snprintf(e->largest_where, sizeof e->largest_where, "%s", n->where);
            snprintf(e->largest_name, sizeof e->largest_name, "%s", n->name);
        }
    }
    e->params = m->n_params;
    free(m);
    return st;
}

void repro_model_free(repro_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_nodes; i++) {
        node *n = &m->nodes[i];
        if (!n->y_in_place)
            repro_be_free(m->be, n->y);
        repro_be_free(m->be, n->dy);
        for (int s = 0; s < REPRO_NODE_SAVED; s++)
            repro_be_free(m->be, n->saved[s]);
        for (int e = 1; e < n->n_edges; e++)
            repro_be_free(m->be, n->edge_dy[e]);
    }
    repro_be_free(m->be, m->params);
    repro_be_free(m->be, m->grads);
    repro_be_free(m->be, m->buffers);
    repro_be_free(m->be, m->scratch);
    free(m);
}

/* ---- accessors ---- */

int64_t repro_model_n_params(const repro_model *m) { return m->n_params; }
float *repro_model_params(repro_model *m) { return m->params; }
float *repro_model_grads(repro_model *m) { return m->grads; }
int repro_model_n_tensors(const repro_model *m) { return m->n_tensors; }
const repro_param_info *repro_model_tensor(const repro_model *m, int i) { return &m->tensors[i]; }
int64_t repro_model_n_buffers(const repro_model *m) { return m->n_buffers; }
float *repro_model_buffers(repro_model *m) { return m->buffers; }
int repro_model_n_buffer_tensors(const repro_model *m) { return m->n_buffer_tensors; }
const repro_param_info *repro_model_buffer_tensor(const repro_model *m, int i) { return &m->buffer_tensors[i]; }
int repro_model_n_heads(const repro_model *m) { return m->n_heads; }

void repro_model_set_trace(repro_model *m, repro_model_trace_fn fn, void *ctx)
{
    m->trace = fn;
    m->trace_ctx = ctx;
}

static const repro_shape *head_shape(const repro_model *m, int head)
{
    int u = m->head_node[head];
    return u >= 0 ? &m->nodes[u].out : &m->input;
}

int repro_model_head_width(const repro_model *m, int head)
{
    return (int)repro_shape_numel(head_shape(m, head));
}

const float *repro_model_head_output(const repro_model *m, int head)
{
    int u = m->head_node[head];
    return u >= 0 ? m->nodes[u].y : m->input_x;
}

/* ---- initialisation ---- */

repro_status repro_model_init_params(repro_model *m, uint64_t seed, repro_error *err)
{
    /* drawn on the host (the draws are pure functions of their coordinates,
     * so where they are drawn never matters), then copied to the backend */
    int64_t n = m->n_params > m->n_buffers ? m->n_params : m->n_buffers;
    float *host = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!host)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the initial parameters");
    for (int i = 0; i < m->n_tensors; i++) {
        const repro_param_info *t = &m->tensors[i];
        const struct tensor_init *in = &m->init[i];
        repro_init_tensor(host + t->offset, t->numel, in->fan_in, in->fan_out, in->kind, in->value,
                          in->default_kind, seed, (uint32_t)i);
    }
    repro_status st = repro_be_upload(m->be, m->params, host, (size_t)m->n_params * sizeof(float), err);
    for (int i = 0; i < m->n_buffer_tensors; i++)
        for (int64_t j = 0; j < m->buffer_tensors[i].numel; j++)
            host[m->buffer_tensors[i].offset + j] = m->buffer_init[i];
    if (st == REPRO_OK && m->n_buffers)
        st = repro_be_upload(m->be, m->buffers, host, (size_t)m->n_buffers * sizeof(float), err);
    free(host);
    return st;
}

/* ---- tracing ---- */

/* Hands backend data to the trace (copied to the host first on a GPU). */
static repro_status trace_data(repro_model *m, const char *op, const char *name, const float *data, int64_t rows,
                               int64_t cols, repro_error *err)
{
    if (repro_backend_device(m->be) == REPRO_DEVICE_CPU)
        return m->trace(m->trace_ctx, op, name, data, rows, cols, err);
    size_t bytes = (size_t)(rows * (cols ? cols : 1)) * sizeof(float);
    float *host = malloc(bytes ? bytes : 1);
    if (!host)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate a trace buffer");
    repro_status st = repro_be_download(m->be, host, data, bytes, err);
    if (st == REPRO_OK)
        st = m->trace(m->trace_ctx, op, name, host, rows, cols, err);
    free(host);
    return st;
}

/* "<node>.<kind>.<what>" under the op "<node>.<kind>.<phase>". */
static repro_status trace_node(repro_model *m, const node *n, const char *phase, const char *what, const float *data,
                               int64_t rows, int64_t cols, repro_error *err)
{
    char op[256], name[256];
    const char *kind = repro_layer_kind_name(n->cfg.kind);
    snprintf(op, sizeof op, "%s.%s.%s", n->name, kind, phase);
    snprintf(name, sizeof name, "%s.%s.%s", n->name, kind, what);
    return trace_data(m, op, name, data, rows, cols, err);
}

/* ---- forward ---- */

static const float *output_of(const repro_model *m, int u)
{
    return u >= 0 ? m->nodes[u].y : m->input_x;
}

static node_io io_for(const repro_model *m, const float *params, int64_t b, int training, uint64_t seed,
                      uint64_t step, const uint32_t *sample_pos)
{
    node_io io;
    memset(&io, 0, sizeof io);
    io.model = m;
    io.b = b;
    io.params = params;
    io.grads = m->grads;
    io.buffers = m->buffers;
    io.training = training;
    io.seed = seed;
    io.step = step;
    io.sample_pos = sample_pos;
    io.scratch = m->scratch;
    return io;
}

/* A max pool whose input is a ReLU that folds into it (relu_before_max_pool)
 * in the last forward pass, and then in its backward: the pool's backward
 * runs at the ReLU's turn, into the ReLU's dx. */
static int folds_relu(const repro_model *m, const node *n)
{
    return m->fold && n->cfg.kind == REPRO_LAYER_MAX_POOL2D && n->in[0] >= 0 &&
           m->nodes[n->in[0]].relu_before_max_pool;
}

/* Node i's forward: its own, or its part of a fold (relu_before_max_pool,
 * pool_of_conv). */
static repro_status node_forward(const repro_backend *be, repro_model *m, int i, node_io *io, repro_error *err)
{
    node *n = &m->nodes[i];
    if (m->fold && n->conv_pool >= 0)
        return repro_conv_maxpool_forward(be, n, &m->nodes[n->conv_pool], io, err);
    if (!folds_relu(m, n))
        return n->type->forward(be, n, io, err);
    const int conv = m->nodes[n->in[0]].in[0];
    repro_status st = REPRO_OK;
    io->x[0] = output_of(m, conv); /* the ReLU's input */
    if (conv < 0 || m->nodes[conv].conv_pool != i) /* else the conv's kernel pooled it */
        st = n->type->forward(be, n, io, err);
    if (st == REPRO_OK)
        st = repro_be_act_forward(be, REPRO_ACT_RELU, n->y, n->y, io->b * repro_shape_numel(&n->out), err);
    return st;
}

repro_status repro_model_forward(repro_model *m, const repro_backend *be, const float *params,
                                 const float *x, int64_t b, int training, uint64_t seed,
                                 uint64_t step, const uint32_t *sample_pos, repro_error *err)
{
    if (b > m->capacity)
        return repro_fail(err, REPRO_ERR_INTERNAL, "batch of %lld rows exceeds capacity %lld",
                          (long long)b, (long long)m->capacity);
    m->input_x = x;
    repro_status st = REPRO_OK;
    if (m->trace)
        st = trace_data(m, "input", "input", x, b, repro_shape_numel(&m->input), err);
    node_io io = io_for(m, params, b, training, seed, step, sample_pos);
    m->fold = !m->trace;
    for (int i = 0; st == REPRO_OK && i < m->n_nodes; i++) {
        node *n = &m->nodes[i];
        if (m->fold && n->relu_before_max_pool)
            continue; /* runs on its max pool's output */
        for (int k = 0; k < n->n_in; k++)
            io.x[k] = output_of(m, n->in[k]);
        st = node_forward(be, m, i, &io, err);
        if (st == REPRO_OK && m->trace)
            st = trace_node(m, n, "forward", "out", n->y, b, repro_shape_numel(&n->out), err);
    }
    return st;
}

/* ---- backward ---- */

/* Node u's dy: its first edge's gradient plus the others', left to right. */
static repro_status gather_edges(const repro_backend *be, repro_model *m, node *u, int64_t b, repro_error *err)
{
    int64_t n = b * repro_shape_numel(&u->out);
    repro_status st = REPRO_OK;
    for (int e = 1; st == REPRO_OK && e < u->n_edges; e++)
        st = repro_be_add_inplace(be, u->dy, u->edge_dy[e], n, err);
    if (st == REPRO_OK && m->trace && u->n_edges > 1)
        st = trace_node(m, u, "backward", "dy", u->dy, b, repro_shape_numel(&u->out), err);
    return st;
}

/* A conv whose output a max pool reads through a folded ReLU
 * (pool_of_conv) and whose input needs no gradient (the first layer): its
 * backward and the pool's run as one kernel at the conv's turn
 * (repro_conv_maxpool_backward), which makes each image's gradient of the
 * conv's output in cache instead of writing it out and reading it back. */
static int conv_pool_backward(const repro_model *m, const node *n)
{
    return m->fold && n->conv_pool >= 0 && (n->in[0] < 0 || !m->nodes[n->in[0]].grad);
}

/* Node n's backward into dx: its own, or its part of a fold. A folded
 * ReLU runs its max pool's backward into its dx (the pool's dy masked at
 * the pool's turn), unless its conv takes that over. */
static repro_status node_backward(const repro_backend *be, repro_model *m, node *n, const node_io *io,
                                  repro_error *err)
{
    if (conv_pool_backward(m, n))
        return repro_conv_maxpool_backward(be, n, &m->nodes[n->conv_pool], io, err);
    if (!m->fold || !n->relu_before_max_pool)
        return n->type->backward(be, n, io, err);
    if (n->in[0] >= 0 && conv_pool_backward(m, &m->nodes[n->in[0]]))
        return REPRO_OK;
    int pool = (int)n->index + 1;
    while (m->nodes[pool].n_in != 1 || m->nodes[pool].in[0] != (int)n->index)
        pool++; /* the ReLU's one reader, after it in the order */
    node *p = &m->nodes[pool];
    node_io pio = *io;
    pio.x[0] = n->y;
    pio.dy = p->dy; /* relu'(dy) since the pool's turn */
    return p->type->backward(be, p, &pio, err);
}

repro_status repro_model_backward(repro_model *m, const repro_backend *be, const float *x, int64_t b,
                                  float *const *d_out, repro_error *err)
{
    (void)x;
    repro_status st = REPRO_OK;
    for (int h = 0; st == REPRO_OK && h < m->n_heads; h++)
        if (m->head_dst[h])
            st = repro_be_copy(be, m->head_dst[h], d_out[h],
                               (size_t)(b * repro_shape_numel(head_shape(m, h))) * sizeof(float), err);
    /* edge counters: the next edge of each producer, counted back from its last */
    int next[REPRO_MAX_NODES + REPRO_MAX_HEADS * REPRO_MAX_LAYERS];
    for (int i = 0; i < m->n_nodes; i++) {
        next[i] = m->nodes[i].n_edges - 1;
        for (int h = 0; h < m->n_heads; h++)
            if (m->head_node[h] == i)
                next[i]--;
    }
    node_io io = io_for(m, m->params, b, 1, 0, 0, NULL);
    for (int i = m->n_nodes - 1; st == REPRO_OK && i >= 0; i--) {
        node *n = &m->nodes[i];
        if (!n->grad)
            continue;
        st = gather_edges(be, m, n, b, err);
        /* this node's edges into its producers, in reverse slot order so that
         * the edge numbers (counted back) match forward order */
        float *dx[REPRO_MAX_INPUTS] = {NULL};
        for (int k = n->n_in - 1; k >= 0; k--) {
            int u = n->in[k];
            if (u >= 0 && m->nodes[u].grad)
                dx[k] = edge_buffer(&m->nodes[u], next[u]--);
        }
        if (n->type->dx_always && !dx[0])
            dx[0] = m->scratch;
        for (int k = 0; k < n->n_in; k++) {
            io.x[k] = output_of(m, n->in[k]);
            io.dx[k] = dx[k];
        }
        io.dy = n->dy;
        if (st == REPRO_OK && folds_relu(m, n)) /* the pool's dy masked in place; its backward comes next */
            st = repro_be_act_backward(be, REPRO_ACT_RELU, n->dy, n->dy, n->y, b * repro_shape_numel(&n->out), err);
        else if (st == REPRO_OK)
            st = node_backward(be, m, n, &io, err);
        for (int k = 0; st == REPRO_OK && m->trace && k < n->n_in; k++)
            if (dx[k] && dx[k] != m->scratch)
                st = trace_node(m, n, "backward", n->n_in == 1 ? "dx" : k == 0 ? "dx0" : k == 1 ? "dx1" : "dxn",
                                dx[k], b, repro_shape_numel(&n->in_shape[k]), err);
    }
    /* the parameter gradients some layers computed beside the pass
     * (kernel.h) are whole before anything after this reads them; joined
     * after a failure too, so no stream is left running on its own */
    repro_error ignored;
    repro_status joined = repro_be_join_side(be, st == REPRO_OK ? err : &ignored);
    return st == REPRO_OK ? joined : st;
}
