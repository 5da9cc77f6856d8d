/* Multi-head self-attention (torch.nn.MultiheadAttention with
 * batch_first=True, q = k = v = the input), softmax over the last axis and
 * GELU in its exact (erf) form, the ops of a transformer.
 *
 *   x [b][T][D] --in_proj (linear, weight [3D][D], bias [3D])--> qkv [b][T][3][H][hd]
 *     --attention (src/ops/attention_math.h: blocked online softmax,
 *       optional causal mask, key padding, dropout on the weights)--> ao [b][T][D]
 *     --out_proj (linear, weight [D][D], bias [D])--> y [b][T][D]
 *
 * An optional second input [T] (or any shape of T values) is the key
 * padding mask: key j is ignored where it is nonzero. The parameter names
 * are torch's (in_proj_weight, in_proj_bias, out_proj.weight,
 * out_proj.bias), so a node named "layers.0.self_attn" holds
 * "layers.0.self_attn.in_proj_weight", as a torch state_dict does. */
#include <math.h>
#include <string.h>

#include "backend/ops/ops.h"
#include "nn/nodes.h"
#include "repro/math.h"

enum { SAVED_QKV, SAVED_AO, SAVED_STAT, SAVED_KEEP, SAVED_DQKV };

static int64_t seq_len(const node *n)
{
    return n->in_shape[0].d[0];
}

static int64_t d_model(const node *n)
{
    return n->in_shape[0].d[1];
}

static repro_status mha_plan(repro_model *m, node *n, repro_error *err)
{
    const repro_shape *in = &n->in_shape[0];
    char text[96];
    repro_shape_format(in, text, sizeof text);
    if (in->ndim != 2)
        return repro_node_fail(n, err, "needs [tokens, d_model], got %s", text);
    int64_t T = in->d[0], D = in->d[1], H = n->cfg.heads > 0 ? n->cfg.heads : 1;
    if (D % H != 0)
        return repro_node_fail(n, err, "d_model %lld is not divisible by heads %lld", (long long)D, (long long)H);
    if (D / H > REPRO_ATTN_MAX_HD)
        return repro_node_fail(n, err, "head_dim %lld (d_model %lld / heads %lld) is more than %d", (long long)(D / H),
                               (long long)D, (long long)H, REPRO_ATTN_MAX_HD);
    if (T > REPRO_ATTN_MAX_T)
        return repro_node_fail(n, err, "%lld tokens are more than %d", (long long)T, REPRO_ATTN_MAX_T);
    if (n->n_in > 1 && repro_shape_numel(&n->in_shape[1]) != T) {
        char mask[96];
        repro_shape_format(&n->in_shape[1], mask, sizeof mask);
        return repro_node_fail(n, err, "the key padding mask %s does not have one value for each of the %lld tokens of %s",
                               mask, (long long)T, text);
    }
    repro_shape w_in = {2, {3 * D, D}}, b_in = {1, {3 * D}}, w_out = {2, {D, D}}, b_out = {1, {D}};
    /* torch's initialisation: xavier_uniform in-projection, zero biases,
     * the out-projection a default linear layer's weight */
    repro_model_add_param(m, n, "in_proj_weight", &w_in, (int)D, (int)(3 * D), REPRO_INIT_XAVIER_UNIFORM, 0.0f,
                          REPRO_INIT_XAVIER_UNIFORM);
    if (n->cfg.bias)
        repro_model_add_param(m, n, "in_proj_bias", &b_in, (int)D, (int)(3 * D), REPRO_INIT_ZEROS, 0.0f,
                              REPRO_INIT_ZEROS);
    repro_model_add_param(m, n, "out_proj.weight", &w_out, (int)D, (int)D, REPRO_INIT_KAIMING_UNIFORM, 0.0f,
                          REPRO_INIT_KAIMING_UNIFORM);
    if (n->cfg.bias)
        repro_model_add_param(m, n, "out_proj.bias", &b_out, (int)D, (int)D, REPRO_INIT_ZEROS, 0.0f,
                              REPRO_INIT_ZEROS);
    n->saved_bytes[SAVED_QKV] = (size_t)(T * 3 * D) * sizeof(float);
    n->saved_bytes[SAVED_AO] = (size_t)(T * D) * sizeof(float);
    n->saved_bytes[SAVED_STAT] = (size_t)(3 * H * T) * sizeof(float);
    n->saved_bytes[SAVED_KEEP] = n->cfg.dropout > 0.0f ? (size_t)(H * T * T) : 0;
    n->saved_bytes[SAVED_DQKV] = (size_t)(T * 3 * D) * sizeof(float);
    n->out = *in;
    return REPRO_OK;
}

static const float *param_or_null(const node_io *io, const node *n, int k, int present)
{
    return present ? repro_node_param(io, n, k) : NULL;
}

/* Parameter k's index among the declared ones (the biases may be absent). */
static int w_in_k(const node *n)
{
    (void)n;
    return 0;
}

static int w_out_k(const node *n)
{
    return n->cfg.bias ? 2 : 1;
}

static repro_attn_args attn_args(const node *n, const node_io *io)
{
    repro_attn_args a;
    memset(&a, 0, sizeof a);
    a.B = io->b;
    a.T = seq_len(n);
    a.H = n->cfg.heads > 0 ? n->cfg.heads : 1;
    a.hd = d_model(n) / a.H;
    a.scale = 1.0f / repro_sqrtf((float)a.hd);
    a.causal = n->cfg.causal;
    a.qkv = n->saved[SAVED_QKV];
    a.kpm = n->n_in > 1 ? io->x[1] : NULL;
    a.o = n->saved[SAVED_AO];
    a.stat = n->saved[SAVED_STAT];
    a.node = n->index;
    return a;
}

static repro_status mha_forward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    int64_t rows = io->b * seq_len(n), D = d_model(n);
    int bias = n->cfg.bias;
    repro_status st = repro_be_linear_forward(be, n->saved[SAVED_QKV], io->x[0], repro_node_param(io, n, w_in_k(n)),
                                              param_or_null(io, n, 1, bias), rows, D, 3 * D, err);
    repro_attn_args a = attn_args(n, io);
    if (io->training && n->cfg.dropout > 0.0f) {
        a.p = n->cfg.dropout;
        a.keep = n->saved[SAVED_KEEP];
        a.seed = io->seed;
        a.step = io->step;
        a.sample_pos = io->sample_pos;
    }
    if (st == REPRO_OK)
        st = repro_be_run(be, &repro_k_attention_forward, &a, err);
    if (st == REPRO_OK)
        st = repro_be_linear_forward(be, n->y, n->saved[SAVED_AO], repro_node_param(io, n, w_out_k(n)),
                                     param_or_null(io, n, 3, bias), rows, D, D, err);
    return st;
}

/* Backward after a training forward: the keep mask is the forward's
 * (dropout > 0 always trains through a training forward). */
static repro_status mha_backward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    int64_t rows = io->b * seq_len(n), D = d_model(n);
    int bias = n->cfg.bias;
    float *d_ao = io->scratch; /* [b][T][D]: the widest input fits */
    repro_status st = repro_be_linear_backward(be, d_ao, repro_node_grad(io, n, w_out_k(n)),
                                               bias ? repro_node_grad(io, n, 3) : NULL, io->dy, n->saved[SAVED_AO],
                                               repro_node_param(io, n, w_out_k(n)), rows, D, D, err);
    repro_attn_args a = attn_args(n, io);
    if (n->cfg.dropout > 0.0f) {
        a.p = n->cfg.dropout;
        a.keep = n->saved[SAVED_KEEP];
        a.sample_pos = NULL;
    }
    a.dout = d_ao;
    a.dqkv = n->saved[SAVED_DQKV];
    if (st == REPRO_OK)
        st = repro_be_run(be, &repro_k_attention_backward, &a, err);
    if (st == REPRO_OK)
        st = repro_be_linear_backward(be, io->dx[0], repro_node_grad(io, n, w_in_k(n)),
                                      bias ? repro_node_grad(io, n, 1) : NULL, n->saved[SAVED_DQKV], io->x[0],
                                      repro_node_param(io, n, w_in_k(n)), rows, D, 3 * D, err);
    if (st == REPRO_OK && n->n_in > 1 && io->dx[1]) /* the mask is not differentiable */
        st = repro_be_zero(be, io->dx[1], (size_t)(io->b * seq_len(n)) * sizeof(float), err);
    return st;
}

const node_type repro_node_multihead_attention = {REPRO_LAYER_MULTIHEAD_ATTENTION, 1, 2, mha_plan, mha_forward,
                                                  mha_backward, 0};

/* ---- softmax over the last axis (src/ops/cpu/softmax.h's order) ---- */

static repro_status same_shape(repro_model *m, node *n, repro_error *err)
{
    (void)m;
    (void)err;
    n->out = n->in_shape[0];
    return REPRO_OK;
}

static repro_softmax_args softmax_args(const node *n, const node_io *io)
{
    repro_softmax_args a;
    memset(&a, 0, sizeof a);
    a.n = n->out.d[n->out.ndim - 1];
    a.rows = io->b * repro_shape_numel(&n->out) / a.n;
    return a;
}

static repro_status softmax_forward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    repro_softmax_args a = softmax_args(n, io);
    a.x = io->x[0];
    a.y = n->y;
    return repro_be_run(be, &repro_k_softmax_forward, &a, err);
}

static repro_status softmax_backward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    if (!io->dx[0])
        return REPRO_OK;
    repro_softmax_args a = softmax_args(n, io);
    a.x = n->y; /* backward reads the forward's output */
    a.dy = io->dy;
    a.dx = io->dx[0];
    return repro_be_run(be, &repro_k_softmax_backward, &a, err);
}

const node_type repro_node_softmax = {REPRO_LAYER_SOFTMAX, 1, 1, same_shape, softmax_forward, softmax_backward, 0};

/* ---- GELU, erf form (src/ops/gelu_erf_math.h): torch's F.gelu. On the
 * CPU a training forward keeps Phi(x) in double (saved[0]) for its
 * backward, which would compute the same double again: most of the cost. */

static repro_status gelu_erf_plan(repro_model *m, node *n, repro_error *err)
{
    repro_status st = same_shape(m, n, err);
    if (st == REPRO_OK && m->be && repro_backend_cpu(m->be))
        n->saved_bytes[0] = (size_t)repro_shape_numel(&n->out) * sizeof(double);
    return st;
}

static repro_status gelu_erf_forward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    repro_gelu_erf_args a;
    memset(&a, 0, sizeof a);
    a.n = io->b * repro_shape_numel(&n->out);
    a.x = io->x[0];
    a.y = n->y;
    a.phi = io->training ? n->saved[0] : NULL;
    return repro_be_run(be, &repro_k_gelu_erf_forward, &a, err);
}

static repro_status gelu_erf_backward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    if (!io->dx[0])
        return REPRO_OK;
    repro_gelu_erf_args a;
    memset(&a, 0, sizeof a);
    a.n = io->b * repro_shape_numel(&n->out);
    a.x = io->x[0];
    a.dy = io->dy;
    a.dx = io->dx[0];
    a.phi = n->saved[0]; /* the last forward's, a training one */
    return repro_be_run(be, &repro_k_gelu_erf_backward, &a, err);
}

const node_type repro_node_gelu_erf = {REPRO_LAYER_GELU_ERF, 1, 1, gelu_erf_plan, gelu_erf_forward,
                                       gelu_erf_backward, 0};
