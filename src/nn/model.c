/* Model construction, forward and backward: see model.h.
 *
 * A "stack" is a list of layers applied in order (the trunk, or one head).
 * Each layer owns its output buffer y [capacity][out]; a layer's input is
 * the previous layer's y (or the stack's input). Backward walks a stack in
 * reverse with two ping-pong gradient buffers. */
#include "nn/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "nn/init.h"
#include "ops/cpu/linear.h"

typedef struct layer {
    repro_layer_config cfg;
    int in, out;
    uint32_t index;     /* position among all layers of the model: dropout's key id */
    int w_tensor;       /* tensor index of the weight (linear) or gamma (layernorm), -1 if none */
    int b_tensor;       /* tensor index of the bias (linear) or beta (layernorm), -1 if none */
    float *y;           /* [capacity][out] output of the last forward */
    uint8_t *mask;      /* dropout: [capacity][out] */
    float *mean, *rstd; /* layernorm: [capacity] */
} layer;

typedef struct stack {
    char name[REPRO_NAME_MAX];
    int n;
    layer layers[REPRO_MAX_LAYERS];
    int in, out;
} stack;

struct repro_model {
    const repro_backend *be; /* where every buffer below lives */
    int64_t capacity;
    int input;
    stack trunk;
    int n_heads;
    stack heads[REPRO_MAX_HEADS];
    int n_tensors;
    repro_param_info tensors[2 * REPRO_MAX_LAYERS * (REPRO_MAX_HEADS + 1)];
    int64_t n_params;
    float *params, *grads;
    float *scratch[2]; /* [capacity][max width]: backward ping-pong */
    float *d_trunk;    /* [capacity][trunk out]: sum of the heads' gradients */
    float *d_head;     /* [capacity][trunk out]: one head's input gradient */
    const float *trunk_input; /* x of the last forward */
    repro_trace *trace;       /* NULL: not tracing */
    int blas;                 /* linear layers through OpenBLAS (mode: fast; not bit-exact) */
};

/* ---- construction ---- */

static int add_tensor(repro_model *m, const char *prefix, int layer_i, const char *what,
                      int ndim, int64_t d0, int64_t d1)
{
    repro_param_info *t = &m->tensors[m->n_tensors];
    snprintf(t->name, sizeof t->name, "%s.%d.%s", prefix, layer_i, what);
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = ndim == 2 ? d1 : 0;
    t->numel = ndim == 2 ? d0 * d1 : d0;
    t->offset = m->n_params;
    m->n_params += t->numel;
    return m->n_tensors++;
}

/* Lays out one stack's layers and parameter tensors; returns its output width. */
static repro_status build_stack(repro_model *m, stack *s, const char *prefix,
                                const repro_layer_config *cfgs, int n, int in,
                                uint32_t *layer_index, repro_error *err)
{
    snprintf(s->name, sizeof s->name, "%s", prefix);
    s->n = n;
    s->in = in;
    int width = in;
    for (int i = 0; i < n; i++) {
        layer *L = &s->layers[i];
        L->cfg = cfgs[i];
        L->in = width;
        L->index = (*layer_index)++;
        L->w_tensor = L->b_tensor = -1;
        if (L->cfg.kind == REPRO_LAYER_LINEAR) {
            if (L->cfg.out < 1)
                return repro_fail(err, REPRO_ERR_CONFIG, "%s.%d: linear layer needs out >= 1", prefix, i);
            L->out = L->cfg.out;
            L->w_tensor = add_tensor(m, prefix, i, "weight", 2, L->out, L->in);
            if (L->cfg.bias)
                L->b_tensor = add_tensor(m, prefix, i, "bias", 1, L->out, 0);
        } else {
            L->out = width;
            if (L->cfg.kind == REPRO_LAYER_LAYERNORM) {
                L->w_tensor = add_tensor(m, prefix, i, "weight", 1, width, 0);
                L->b_tensor = add_tensor(m, prefix, i, "bias", 1, width, 0);
            }
        }
        width = L->out;
    }
    s->out = width;
    return REPRO_OK;
}

static repro_status alloc_floats(const repro_model *m, float **p, int64_t n, repro_error *err)
{
    return repro_be_alloc(m->be, (size_t)n * sizeof(float), (void **)p, err);
}

static repro_status alloc_stack(repro_model *m, stack *s, repro_error *err)
{
    repro_status st = REPRO_OK;
    for (int i = 0; st == REPRO_OK && i < s->n; i++) {
        layer *L = &s->layers[i];
        st = alloc_floats(m, &L->y, m->capacity * L->out, err);
        if (st == REPRO_OK && L->cfg.kind == REPRO_LAYER_DROPOUT)
            st = repro_be_alloc(m->be, (size_t)(m->capacity * L->out), (void **)&L->mask, err);
        if (st == REPRO_OK && L->cfg.kind == REPRO_LAYER_LAYERNORM)
            st = alloc_floats(m, &L->mean, m->capacity, err);
        if (st == REPRO_OK && L->cfg.kind == REPRO_LAYER_LAYERNORM)
            st = alloc_floats(m, &L->rstd, m->capacity, err);
    }
    return st;
}

static int stack_max_width(const stack *s)
{
    int w = s->in;
    for (int i = 0; i < s->n; i++)
        if (s->layers[i].out > w)
            w = s->layers[i].out;
    return w;
}

repro_status repro_model_create(const repro_model_config *mc, int input, int64_t capacity,
                                const repro_backend *be, repro_model **out, repro_error *err)
{
    *out = NULL;
    if (input < 1)
        return repro_fail(err, REPRO_ERR_CONFIG, "model input must be >= 1, got %d", input);
    if (mc->n_heads < 1)
        return repro_fail(err, REPRO_ERR_CONFIG, "model.heads: at least one head is required");
    repro_model *m = calloc(1, sizeof *m);
    if (!m)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the model");
    m->be = be;
    m->capacity = capacity;
    m->input = input;
    uint32_t layer_index = 0;
    repro_status st = build_stack(m, &m->trunk, "trunk", mc->trunk, mc->n_trunk, input, &layer_index, err);
    m->n_heads = mc->n_heads;
    for (int h = 0; st == REPRO_OK && h < mc->n_heads; h++) {
        char prefix[REPRO_NAME_MAX + 8];
        snprintf(prefix, sizeof prefix, "heads.%s", mc->heads[h].name);
        st = build_stack(m, &m->heads[h], prefix, mc->heads[h].layers, mc->heads[h].n_layers,
                         m->trunk.out, &layer_index, err);
    }
    int width = stack_max_width(&m->trunk);
    for (int h = 0; st == REPRO_OK && h < m->n_heads; h++) {
        int w = stack_max_width(&m->heads[h]);
        width = w > width ? w : width;
    }
    if (st == REPRO_OK)
        st = alloc_floats(m, &m->params, m->n_params, err);
    if (st == REPRO_OK)
        st = alloc_floats(m, &m->grads, m->n_params, err);
    if (st == REPRO_OK)
        st = repro_be_zero(be, m->grads, (size_t)m->n_params * sizeof(float), err);
    if (st == REPRO_OK)
        st = repro_be_zero(be, m->params, (size_t)m->n_params * sizeof(float), err);
    for (int i = 0; st == REPRO_OK && i < 2; i++)
        st = alloc_floats(m, &m->scratch[i], capacity * width, err);
    if (st == REPRO_OK)
        st = alloc_floats(m, &m->d_trunk, capacity * m->trunk.out, err);
    if (st == REPRO_OK)
        st = alloc_floats(m, &m->d_head, capacity * m->trunk.out, err);
    if (st == REPRO_OK)
        st = alloc_stack(m, &m->trunk, err);
    for (int h = 0; st == REPRO_OK && h < m->n_heads; h++)
        st = alloc_stack(m, &m->heads[h], err);
    if (st != REPRO_OK) {
        repro_model_free(m);
        return st;
    }
    *out = m;
    return REPRO_OK;
}

static void free_stack(const repro_model *m, stack *s)
{
    for (int i = 0; i < s->n; i++) {
        repro_be_free(m->be, s->layers[i].y);
        repro_be_free(m->be, s->layers[i].mask);
        repro_be_free(m->be, s->layers[i].mean);
        repro_be_free(m->be, s->layers[i].rstd);
    }
}

void repro_model_free(repro_model *m)
{
    if (!m)
        return;
    free_stack(m, &m->trunk);
    for (int h = 0; h < m->n_heads; h++)
        free_stack(m, &m->heads[h]);
    repro_be_free(m->be, m->params);
    repro_be_free(m->be, m->grads);
    repro_be_free(m->be, m->scratch[0]);
    repro_be_free(m->be, m->scratch[1]);
    repro_be_free(m->be, m->d_trunk);
    repro_be_free(m->be, m->d_head);
    free(m);
}

/* ---- accessors ---- */

int64_t repro_model_n_params(const repro_model *m) { return m->n_params; }
float *repro_model_params(repro_model *m) { return m->params; }
float *repro_model_grads(repro_model *m) { return m->grads; }
int repro_model_n_tensors(const repro_model *m) { return m->n_tensors; }
const repro_param_info *repro_model_tensor(const repro_model *m, int i) { return &m->tensors[i]; }
int repro_model_n_heads(const repro_model *m) { return m->n_heads; }
int repro_model_head_width(const repro_model *m, int head) { return m->heads[head].out; }
void repro_model_set_trace(repro_model *m, repro_trace *t) { m->trace = t; }
void repro_model_use_blas(repro_model *m, int on) { m->blas = on; }

const float *repro_model_head_output(const repro_model *m, int head)
{
    const stack *s = &m->heads[head];
    const float *t = m->trunk.n ? m->trunk.layers[m->trunk.n - 1].y : m->trunk_input;
    return s->n ? s->layers[s->n - 1].y : t;
}

/* ---- initialisation ---- */

static void init_stack(const repro_model *m, const stack *s, uint64_t seed, float *params)
{
    for (int i = 0; i < s->n; i++) {
        const layer *L = &s->layers[i];
        if (L->cfg.kind == REPRO_LAYER_LINEAR) {
            const repro_param_info *w = &m->tensors[L->w_tensor];
            repro_init_tensor(params + w->offset, w->numel, L->in, L->out, L->cfg.weight_init,
                              L->cfg.weight_init_value, REPRO_INIT_KAIMING_UNIFORM, seed,
                              (uint32_t)L->w_tensor);
            if (L->b_tensor >= 0) {
                const repro_param_info *b = &m->tensors[L->b_tensor];
                repro_init_tensor(params + b->offset, b->numel, L->in, L->out, L->cfg.bias_init,
                                  L->cfg.bias_init_value, REPRO_INIT_ZEROS, seed, (uint32_t)L->b_tensor);
            }
        } else if (L->cfg.kind == REPRO_LAYER_LAYERNORM) {
            const repro_param_info *g = &m->tensors[L->w_tensor];
            for (int64_t j = 0; j < g->numel; j++)
                params[g->offset + j] = 1.0f;
            const repro_param_info *b = &m->tensors[L->b_tensor];
            for (int64_t j = 0; j < b->numel; j++)
                params[b->offset + j] = 0.0f;
        }
    }
}

repro_status repro_model_init_params(repro_model *m, uint64_t seed, repro_error *err)
{
    /* drawn on the host (the draws are pure functions of their coordinates,
     * so where they are drawn never matters), then copied to the backend */
    float *host = malloc((size_t)m->n_params * sizeof(float));
    if (!host)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the initial parameters");
    init_stack(m, &m->trunk, seed, host);
    for (int h = 0; h < m->n_heads; h++)
        init_stack(m, &m->heads[h], seed, host);
    repro_status st = repro_be_upload(m->be, m->params, host, (size_t)m->n_params * sizeof(float), err);
    free(host);
    return st;
}

/* ---- forward ---- */

static repro_status layer_forward(repro_model *m, layer *L, const repro_backend *be, const float *params,
                                  const float *x, int64_t b, int training, uint64_t seed,
                                  uint64_t step, const uint32_t *sample_pos, repro_error *err)
{
    int64_t n = b * L->out;
    switch (L->cfg.kind) {
    case REPRO_LAYER_LINEAR: {
        const float *w = params + m->tensors[L->w_tensor].offset;
        const float *bias = L->b_tensor >= 0 ? params + m->tensors[L->b_tensor].offset : NULL;
        if (m->blas) {
            repro_linear_forward_blas(L->y, x, w, bias, b, L->in, L->out);
            return REPRO_OK;
        }
        return repro_be_linear_forward(be, L->y, x, w, bias, b, L->in, L->out, err);
    }
    case REPRO_LAYER_RELU: return repro_be_act_forward(be, REPRO_ACT_RELU, L->y, x, n, err);
    case REPRO_LAYER_GELU: return repro_be_act_forward(be, REPRO_ACT_GELU, L->y, x, n, err);
    case REPRO_LAYER_TANH: return repro_be_act_forward(be, REPRO_ACT_TANH, L->y, x, n, err);
    case REPRO_LAYER_SIGMOID: return repro_be_act_forward(be, REPRO_ACT_SIGMOID, L->y, x, n, err);
    case REPRO_LAYER_DROPOUT:
        if (training && L->cfg.p > 0.0f)
            return repro_be_dropout_forward(be, L->y, L->mask, x, b, L->out, L->cfg.p, seed, L->index, step,
                                            sample_pos, err);
        return repro_be_copy(be, L->y, x, (size_t)n * sizeof(float), err);
    case REPRO_LAYER_LAYERNORM:
        return repro_be_layernorm_forward(be, L->y, L->mean, L->rstd, x, params + m->tensors[L->w_tensor].offset,
                                          params + m->tensors[L->b_tensor].offset, b, L->out, L->cfg.eps, err);
    }
    return repro_fail(err, REPRO_ERR_INTERNAL, "unknown layer kind %d", (int)L->cfg.kind);
}

/* ---- tracing ---- */

/* Records backend data (copied to the host first when it lives on a GPU). */
static repro_status trace_data(repro_model *m, const char *op, const char *name, const float *data, int64_t rows,
                               int64_t cols, repro_error *err)
{
    if (repro_backend_device(m->be) == REPRO_DEVICE_CPU)
        return repro_trace_tensor(m->trace, op, name, 1, data, rows, cols, err);
    size_t bytes = (size_t)(rows * (cols ? cols : 1)) * sizeof(float);
    float *host = malloc(bytes ? bytes : 1);
    if (!host)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate a trace buffer");
    repro_status st = repro_be_download(m->be, host, data, bytes, err);
    if (st == REPRO_OK)
        st = repro_trace_tensor(m->trace, op, name, 1, host, rows, cols, err);
    free(host);
    return st;
}

/* Records rows x cols of data as "<stack>.<i>.<kind>.<what>" under the op
 * "<stack>.<i>.<kind>.<phase>". */
static repro_status trace_layer(repro_model *m, const stack *s, int i, const char *phase, const char *what,
                                const float *data, int64_t rows, int64_t cols, repro_error *err)
{
    char op[160], name[160];
    const char *kind = repro_layer_kind_name(s->layers[i].cfg.kind);
    snprintf(op, sizeof op, "%s.%d.%s.%s", s->name, i, kind, phase);
    snprintf(name, sizeof name, "%s.%d.%s.%s", s->name, i, kind, what);
    return trace_data(m, op, name, data, rows, cols, err);
}

/* ---- forward ---- */

static repro_status stack_forward(repro_model *m, stack *s, const repro_backend *be, const float *params,
                                  const float *x, int64_t b, int training, uint64_t seed,
                                  uint64_t step, const uint32_t *sample_pos, repro_error *err)
{
    for (int i = 0; i < s->n; i++) {
        repro_status st = layer_forward(m, &s->layers[i], be, params, x, b, training, seed, step,
                                        sample_pos, err);
        if (st == REPRO_OK && m->trace)
            st = trace_layer(m, s, i, "forward", "out", s->layers[i].y, b, s->layers[i].out, err);
        if (st != REPRO_OK)
            return st;
        x = s->layers[i].y;
    }
    return REPRO_OK;
}

static const float *stack_output(const stack *s, const float *input)
{
    return s->n ? s->layers[s->n - 1].y : input;
}

repro_status repro_model_forward(repro_model *m, const repro_backend *be, const float *params,
                                 const float *x, int64_t b, int training, uint64_t seed,
                                 uint64_t step, const uint32_t *sample_pos, repro_error *err)
{
    if (b > m->capacity)
        return repro_fail(err, REPRO_ERR_INTERNAL, "batch of %lld rows exceeds capacity %lld",
                          (long long)b, (long long)m->capacity);
    m->trunk_input = x;
    if (m->trace) {
        repro_status st = trace_data(m, "input", "input", x, b, m->input, err);
        if (st != REPRO_OK)
            return st;
    }
    repro_status st = stack_forward(m, &m->trunk, be, params, x, b, training, seed, step, sample_pos, err);
    const float *t = stack_output(&m->trunk, x);
    for (int h = 0; st == REPRO_OK && h < m->n_heads; h++)
        st = stack_forward(m, &m->heads[h], be, params, t, b, training, seed, step, sample_pos, err);
    return st;
}

/* ---- backward ---- */

/* dx = d(layer)/d(input) applied to dy; parameter gradients accumulate. dx may
 * be NULL for the model's first layer (nobody needs the input gradient). */
static repro_status layer_backward(repro_model *m, layer *L, const repro_backend *be, const float *x,
                                   const float *dy, float *dx, int64_t b, repro_error *err)
{
    int64_t n = b * L->out;
    switch (L->cfg.kind) {
    case REPRO_LAYER_LINEAR: {
        const float *w = m->params + m->tensors[L->w_tensor].offset;
        float *dw = m->grads + m->tensors[L->w_tensor].offset;
        float *db = L->b_tensor >= 0 ? m->grads + m->tensors[L->b_tensor].offset : NULL;
        if (m->blas) {
            repro_linear_backward_blas(dx, dw, db, dy, x, w, b, L->in, L->out);
            return REPRO_OK;
        }
        return repro_be_linear_backward(be, dx, dw, db, dy, x, w, b, L->in, L->out, err);
    }
    case REPRO_LAYER_RELU: return dx ? repro_be_act_backward(be, REPRO_ACT_RELU, dx, dy, x, n, err) : REPRO_OK;
    case REPRO_LAYER_GELU: return dx ? repro_be_act_backward(be, REPRO_ACT_GELU, dx, dy, x, n, err) : REPRO_OK;
    case REPRO_LAYER_TANH: return dx ? repro_be_act_backward(be, REPRO_ACT_TANH, dx, dy, L->y, n, err) : REPRO_OK;
    case REPRO_LAYER_SIGMOID:
        return dx ? repro_be_act_backward(be, REPRO_ACT_SIGMOID, dx, dy, L->y, n, err) : REPRO_OK;
    case REPRO_LAYER_DROPOUT:
        if (!dx)
            return REPRO_OK;
        if (L->cfg.p > 0.0f)
            return repro_be_dropout_backward(be, dx, dy, L->mask, b, L->out, L->cfg.p, err);
        return repro_be_copy(be, dx, dy, (size_t)n * sizeof(float), err);
    case REPRO_LAYER_LAYERNORM:
        return repro_be_layernorm_backward(be, dx, m->grads + m->tensors[L->w_tensor].offset,
                                           m->grads + m->tensors[L->b_tensor].offset, dy, x, L->mean, L->rstd,
                                           m->params + m->tensors[L->w_tensor].offset, b, L->out, err);
    }
    return repro_fail(err, REPRO_ERR_INTERNAL, "unknown layer kind %d", (int)L->cfg.kind);
}

/* Backpropagates dy (the gradient at the stack's output) through s, whose
 * input was x, alternating between the two scratch buffers. The gradient at
 * the stack's input goes to dx_out (NULL: not needed). */
static repro_status stack_backward(repro_model *m, stack *s, const repro_backend *be, const float *x,
                                   const float *dy, float *dx_out, int64_t b, repro_error *err)
{
    if (s->n == 0) {
        return dx_out ? repro_be_copy(be, dx_out, dy, (size_t)(b * s->in) * sizeof(float), err) : REPRO_OK;
    }
    for (int i = s->n - 1; i >= 0; i--) {
        layer *L = &s->layers[i];
        const float *in = i > 0 ? s->layers[i - 1].y : x;
        float *dx = i > 0 ? m->scratch[(s->n - 1 - i) & 1] : dx_out;
        /* layernorm's parameter gradients come with its input gradient */
        if (!dx && L->cfg.kind == REPRO_LAYER_LAYERNORM)
            dx = m->scratch[(s->n - 1 - i) & 1];
        repro_status st = layer_backward(m, L, be, in, dy, dx, b, err);
        if (st == REPRO_OK && m->trace && dx)
            st = trace_layer(m, s, i, "backward", "dx", dx, b, L->in, err);
        if (st != REPRO_OK)
            return st;
        dy = dx;
    }
    return REPRO_OK;
}

repro_status repro_model_backward(repro_model *m, const repro_backend *be, const float *x, int64_t b,
                                  float *const *d_out, repro_error *err)
{
    const float *t = stack_output(&m->trunk, x);
    /* The trunk's output gradient is the sum of the heads' input gradients,
     * added in head order: d_trunk = (g_0 + g_1) + g_2 ... */
    for (int h = 0; h < m->n_heads; h++) {
        float *dst = h == 0 ? m->d_trunk : m->d_head;
        repro_status st = stack_backward(m, &m->heads[h], be, t, d_out[h], dst, b, err);
        if (st != REPRO_OK)
            return st;
        if (h > 0 && (st = repro_be_add_inplace(be, m->d_trunk, m->d_head, b * m->trunk.out, err)) != REPRO_OK)
            return st;
    }
    if (m->trace && m->n_heads > 1) {
        repro_status st = trace_data(m, "trunk.backward", "trunk.dy", m->d_trunk, b, m->trunk.out, err);
        if (st != REPRO_OK)
            return st;
    }
    return stack_backward(m, &m->trunk, be, x, m->d_trunk, NULL, b, err);
}
