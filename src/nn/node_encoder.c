/* transformer_encoder_layer and transformer_encoder: config sugar that
 * expands, when the model is built, into the nodes of PyTorch's
 * nn.TransformerEncoderLayer (batch_first=True), named as its state_dict:
 *
 *   post-norm (norm_first: false, torch's default):
 *     x = norm1(x + dropout1(self_attn(x)))
 *     x = norm2(x + dropout2(linear2(dropout(activation(linear1(x))))))
 *   pre-norm (norm_first: true):
 *     x = x + dropout1(self_attn(norm1(x)))
 *     x = x + dropout2(linear2(dropout(activation(linear1(norm2(x))))))
 *
 * d_model is required (torch's first argument); a layer whose input's last
 * axis is not d_model fails at its residual sum, naming both shapes.
 * Nodes "<P>.self_attn" (multihead_attention: heads, causal, dropout on
 * the attention weights, bias), "<P>.linear1" [dim_feedforward],
 * "<P>.linear2" [d_model], "<P>.norm1", "<P>.norm2" (layernorm, eps), the
 * activation "<P>.activation", the dropouts "<P>.dropout1", "<P>.dropout",
 * "<P>.dropout2" (only when dropout > 0: p = 0 is the identity), the
 * residual sums "<P>.add1", "<P>.add2" (x first, then the branch, as
 * torch adds them). P is the node's name for a transformer_encoder_layer
 * and "<name>.layers.<i>" for layer i of a transformer_encoder, so the
 * parameters are "<P>.self_attn.in_proj_weight", "<P>.linear1.weight", ...
 * The last node of the expansion answers to the config node's name. A
 * second input is the key padding mask, handed to every self_attn.
 *
 * activation gelu is the erf form (gelu_erf, torch's "gelu"), gelu_tanh
 * the tanh form (torch's approximate='tanh'). */
#include <stdio.h>
#include <string.h>

#include "nn/graph.h"

typedef struct expander {
    repro_model *m;
    const repro_layer_config *c;
    char prefix[2 * REPRO_NAME_MAX + 8];
    char where[64];
    int mask;     /* node index of the key padding mask, or -2: none */
    int left;     /* nodes that may still be appended */
} expander;

enum { NO_ROOM = -3 }; /* node indices are >= -1 (-1: the model input) */

/* Appends node "<prefix>.<what>" of kind reading in[0..n_in); returns its index, NO_ROOM. */
static int add(expander *e, repro_layer_kind kind, const char *what, const int *in, int n_in)
{
    if (e->left <= 0)
        return NO_ROOM;
    repro_layer_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.line = e->c->line;
    c.bias = e->c->bias;
    c.eps = e->c->eps;
    c.axes = 1;
    c.heads = e->c->heads;
    c.causal = e->c->causal;
    c.p = e->c->dropout;
    c.dropout = e->c->dropout;
    c.out = kind != REPRO_LAYER_LINEAR ? 0 : !strcmp(what, "linear1") ? e->c->dim_feedforward : e->c->d_model;
    char name[2 * REPRO_NAME_MAX + 8], where[64];
    int w = snprintf(name, sizeof name, "%s.%s", e->prefix, what);
    if (w < 0 || (size_t)w >= sizeof name)
        return NO_ROOM;
    snprintf(where, sizeof where, "%.40s (%.16s)", e->where, what);
    snprintf(c.name, sizeof c.name, "%.*s", (int)sizeof c.name - 1, name);
    node *n = repro_model_append(e->m, &c, name, where, in, n_in);
    e->left--;
    return (int)n->index;
}

/* A single-input node after `from` (NO_ROOM stays NO_ROOM). */
static int then(expander *e, repro_layer_kind kind, const char *what, int from)
{
    return from < -1 ? from : add(e, kind, what, &from, 1);
}

static int dropout(expander *e, const char *what, int from)
{
    return e->c->dropout > 0.0f ? then(e, REPRO_LAYER_DROPOUT, what, from) : from;
}

static int residual(expander *e, const char *what, int x, int branch)
{
    int in[2] = {x, branch};
    return x < -1 || branch < -1 ? NO_ROOM : add(e, REPRO_LAYER_ADD, what, in, 2);
}

/* One layer reading x; returns its last node (NO_ROOM). */
static int layer(expander *e, int x)
{
    int pre = e->c->norm_first;
    int a = pre ? then(e, REPRO_LAYER_LAYERNORM, "norm1", x) : x;
    int in[2] = {a, e->mask};
    a = a < -1 ? NO_ROOM : add(e, REPRO_LAYER_MULTIHEAD_ATTENTION, "self_attn", in, e->mask >= -1 ? 2 : 1);
    a = dropout(e, "dropout1", a);
    x = residual(e, "add1", x, a);
    if (!pre)
        x = then(e, REPRO_LAYER_LAYERNORM, "norm1", x);
    int f = pre ? then(e, REPRO_LAYER_LAYERNORM, "norm2", x) : x;
    f = then(e, REPRO_LAYER_LINEAR, "linear1", f);
    repro_layer_kind act = e->c->activation == REPRO_ACTIVATION_GELU        ? REPRO_LAYER_GELU_ERF
                           : e->c->activation == REPRO_ACTIVATION_GELU_TANH ? REPRO_LAYER_GELU
                                                                           : REPRO_LAYER_RELU;
    f = then(e, act, "activation", f);
    f = dropout(e, "dropout", f);
    f = then(e, REPRO_LAYER_LINEAR, "linear2", f);
    f = dropout(e, "dropout2", f);
    x = residual(e, "add2", x, f);
    if (!pre)
        x = then(e, REPRO_LAYER_LAYERNORM, "norm2", x);
    return x;
}

repro_status repro_expand_encoder(repro_model *m, const repro_layer_config *c, const char *where, const int *in,
                                  int n_in, int room, repro_error *err)
{
    const char *kind = c->kind == REPRO_LAYER_TRANSFORMER_ENCODER ? "transformer_encoder" : "transformer_encoder_layer";
    if (c->d_model < 1)
        return repro_fail(err, REPRO_ERR_CONFIG, "%s '%s' (%s): needs 'd_model' (its tokens' width)", where, c->name,
                          kind);
    int heads = c->heads > 0 ? c->heads : 1;
    if (c->d_model % heads != 0)
        return repro_fail(err, REPRO_ERR_CONFIG, "%s '%s' (%s): d_model %d is not divisible by heads %d", where,
                          c->name, kind, c->d_model, heads);
    expander e;
    memset(&e, 0, sizeof e);
    e.m = m;
    e.c = c;
    e.mask = n_in > 1 ? in[1] : -2;
    e.left = room;
    snprintf(e.where, sizeof e.where, "%s", where);
    int encoder = c->kind == REPRO_LAYER_TRANSFORMER_ENCODER;
    int layers = encoder ? c->num_layers : 1, x = in[0], first = m->n_nodes;
    for (int i = 0; i < layers && x >= -1; i++) {
        if (encoder)
            snprintf(e.prefix, sizeof e.prefix, "%s.layers.%d", c->name, i);
        else
            snprintf(e.prefix, sizeof e.prefix, "%s", c->name);
        x = layer(&e, x);
    }
    if (x < -1 || x < first)
        return repro_fail(err, REPRO_ERR_CONFIG,
                          "%s '%s' (%s): its %d layer(s) expand to more nodes than a model holds (%d in all)", where,
                          c->name, kind, layers,
                          (int)(sizeof m->nodes / sizeof m->nodes[0]));
    snprintf(m->nodes[x].alias, sizeof m->nodes[x].alias, "%s", c->name);
    return REPRO_OK;
}
