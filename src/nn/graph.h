/* The inside of a model (internal to src/nn): a graph of nodes over N-D
 * tensors, walked in one written order.
 *
 * Order. The nodes are model.nodes in the order written (a node may read
 * only nodes written before it, so that order is topological), then each
 * head's own layers, head after head. The trunk/heads form expands to the
 * same thing: trunk layer i is node "trunk.<i>", head layer j is node
 * "heads.<head>.<j>". Forward runs the nodes in this order; backward runs
 * them in reverse.
 *
 * Tensors. A node's output holds `b` samples of out.d[0] x ... x
 * out.d[ndim-1] floats, sample after sample, row-major (images are
 * [channels][height][width]). Parameters are slices of one buffer in the
 * order the nodes declare them; batch-norm running statistics are slices
 * of a second ("buffers": saved in checkpoints, not trained, not part of
 * params_sha256).
 *
 * Gradients. A node's output gradient is the sum of what its consumers
 * send back. Consumers are its edges in forward order: (consumer node,
 * input slot) for every node reading it, then every head reading it. Edge
 * 0 writes the node's dy, edge e >= 1 its own buffer, and when the reverse
 * walk reaches the node they are added left to right:
 * dy = ((e0 + e1) + e2) + ... (one rounding each, repro_be_add_inplace). */
#ifndef REPRO_NN_GRAPH_H
#define REPRO_NN_GRAPH_H

#include <stdint.h>

#include "backend/backend.h"
#include "nn/model.h"

enum { REPRO_MAX_EDGES = 16, REPRO_NODE_SAVED = 6, REPRO_NODE_PARAMS = 4 };

typedef struct repro_shape {
    int ndim;                     /* 1 .. REPRO_MAX_DIMS */
    int64_t d[REPRO_MAX_DIMS];
} repro_shape;

int64_t repro_shape_numel(const repro_shape *s);
/* "[1, 28, 28]" */
void repro_shape_format(const repro_shape *s, char *out, size_t size);

typedef struct node node;

/* What a node's forward and backward see (every pointer backend memory). */
typedef struct node_io {
    const repro_model *model;
    const float *x[REPRO_MAX_INPUTS]; /* inputs [b][in_shape[i]] */
    float *dx[REPRO_MAX_INPUTS];      /* backward: input gradients to overwrite; NULL = not wanted */
    const float *dy;                  /* backward: [b][out] */
    int64_t b;                        /* samples */
    const float *params;              /* the model's parameters (or an EMA copy) */
    float *grads;                     /* backward: parameter gradients, accumulated into */
    float *buffers;                   /* running statistics */
    int training;
    uint64_t seed, step;
    const uint32_t *sample_pos;       /* [b] each sample's position in the epoch (training) */
    float *scratch;                   /* [capacity * max node width] for a node that needs one */
} node_io;

/* One per node kind (src/nn/node_*.c; node_table.c maps the kinds to them). */
typedef struct node_type {
    repro_layer_kind kind;
    int min_inputs, max_inputs;
    /* Checks n->in_shape[], sets n->out, declares parameters and buffers
     * (repro_model_add_param / _add_buffer) and n->saved_bytes. A shape that
     * does not fit is REPRO_ERR_CONFIG naming both shapes. */
    repro_status (*plan)(repro_model *m, node *n, repro_error *err);
    repro_status (*forward)(const repro_backend *be, node *n, const node_io *io, repro_error *err);
    /* Overwrites each wanted io->dx[i] and accumulates parameter gradients. */
    repro_status (*backward)(const repro_backend *be, node *n, const node_io *io, repro_error *err);
    /* 1: backward needs an io->dx[0] buffer even when nobody wants the input
     * gradient (the norms use it as scratch). */
    int dx_always;
} node_type;

const node_type *repro_node_type_of(repro_layer_kind kind);

struct node {
    repro_layer_config cfg;
    char name[2 * REPRO_NAME_MAX + 8];  /* "trunk.0", "heads.class.1" or the node's own name */
    char where[64];                     /* "model.nodes.3", for messages */
    char alias[2 * REPRO_NAME_MAX + 8]; /* another name later nodes may read it by ("": none): the
                                           last node of an expanded transformer_encoder_layer */
    const node_type *type;
    uint32_t index;                     /* position in the order: dropout's key id */
    int n_in;
    int in[REPRO_MAX_INPUTS];           /* producer node index; -1 = the model input */
    repro_shape in_shape[REPRO_MAX_INPUTS];
    repro_shape out;
    int n_param;
    int param[REPRO_NODE_PARAMS];       /* tensor indices, in declaration order */
    int n_buffer;
    int buffer[2];                      /* buffer tensor indices */
    size_t saved_bytes[REPRO_NODE_SAVED]; /* per sample: masks, statistics, argmax (set by plan) */
    void *saved[REPRO_NODE_SAVED];      /* [capacity] x saved_bytes[i] */
    float *y;                           /* [capacity][out] */
    int y_in_place;                     /* y is its input's buffer (an in-place ReLU: model.c); not its own */
    int relu_before_max_pool;           /* a ReLU read only by a max pool: the two fold (model.c) */
    int conv_pool;                      /* a conv whose folded ReLU's pool runs in its kernel: the pool's
                                           index (model.c); -1: none */
    int grad;                           /* a parameter upstream (or here): gradients flow through it */
    float *dy;                          /* [capacity][out] when grad */
    int n_edges;
    float *edge_dy[REPRO_MAX_EDGES];    /* edge e >= 1's buffer ([capacity][out]) */
};

struct repro_model {
    const repro_backend *be;
    int64_t capacity;
    repro_shape input;
    int n_nodes;
    node nodes[REPRO_MAX_NODES + REPRO_MAX_HEADS * REPRO_MAX_LAYERS];
    int n_heads;
    int head_node[REPRO_MAX_HEADS];     /* the node each head reads (-1: the input) */
    float *head_dst[REPRO_MAX_HEADS];   /* where head h's gradient goes (an edge buffer) */
    int n_tensors;
    repro_param_info tensors[REPRO_MAX_TENSORS];
    struct tensor_init {
        repro_init_kind kind, default_kind;
        float value;
        int fan_in, fan_out;
    } init[REPRO_MAX_TENSORS];
    int64_t n_params;
    float *params, *grads;
    int n_buffer_tensors;
    repro_param_info buffer_tensors[REPRO_MAX_TENSORS];
    float buffer_init[REPRO_MAX_TENSORS]; /* each buffer tensor starts at this value */
    int64_t n_buffers;
    float *buffers;
    float *scratch;                     /* [capacity][widest node] */
    const float *input_x;               /* x of the last forward */
    repro_model_trace_fn trace;
    void *trace_ctx;
    int fold;                           /* the last forward folded each ReLU into its max pool (model.c) */
    float *const *bn_rows;              /* repro_model_set_bn_log, or NULL */
    int64_t *bn_used;
    const int64_t *bn_cap;
};

/* Appends a node for layer cfg named `name` reading `inputs` (node
 * indices, -1 = the model input); its type is cfg->kind's row. */
node *repro_model_append(repro_model *m, const repro_layer_config *cfg, const char *name, const char *where,
                         const int *inputs, int n_in);

/* node_encoder.c: appends the nodes of a transformer_encoder_layer (or
 * transformer_encoder) config c reading in[0] (and the key padding mask
 * in[1] when n_in is 2), the last one aliased c->name. `room`: nodes
 * that may still be appended; more is REPRO_ERR_CONFIG. */
repro_status repro_expand_encoder(repro_model *m, const repro_layer_config *c, const char *where, const int *in,
                                  int n_in, int room, repro_error *err);

/* Declares a parameter tensor "<node>.<what>" of the given shape; returns
 * its index. fan_in/fan_out feed the initialiser. */
int repro_model_add_param(repro_model *m, node *n, const char *what, const repro_shape *shape, int fan_in,
                          int fan_out, repro_init_kind kind, float value, repro_init_kind default_kind);
/* Declares a buffer tensor "<node>.<what>" of n_elems floats, all `init`. */
int repro_model_add_buffer(repro_model *m, node *n, const char *what, int64_t n_elems, float init);

/* Backend pointers to the node's k-th parameter tensor in io->params (or
 * its gradient in io->grads, or its k-th buffer tensor in io->buffers). */
const float *repro_node_param(const node_io *io, const node *n, int k);
float *repro_node_grad(const node_io *io, const node *n, int k);
float *repro_node_buffer(const node_io *io, const node *n, int k);

/* *rows: batch norm node n's rows for its next `groups` groups in the
 * model's batch-statistics log (repro_model_set_bn_log), which they are
 * then counted in; NULL when no log is set. REPRO_ERR_INTERNAL when the
 * log has no room for them (nn/bn_log.c). */
repro_status repro_node_bn_log(const node_io *io, const node *n, int64_t groups, float **rows, repro_error *err);

/* REPRO_ERR_CONFIG "<where> '<name>': <message>". */
repro_status repro_node_fail(const node *n, repro_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
