/* The node kinds (rows of node_table.c), grouped by file. Internal to src/nn. */
#ifndef REPRO_NN_NODES_H
#define REPRO_NN_NODES_H

#include "nn/graph.h"

/* node_dense.c: layers over the last axis and elementwise ones; an
 * activation's row is repro_node_<name> (the ACTIVATION rows of
 * repro/layer_kinds.h) */
extern const node_type repro_node_linear, repro_node_dropout, repro_node_layernorm;
#define REPRO_NODE_ACTIVATION_DECL_(ID, name, ...) extern const node_type repro_node_##name;
REPRO_LAYER_KINDS(REPRO_SKIP_ROW_, REPRO_NODE_ACTIVATION_DECL_)
/* node_conv.c: image nodes */
extern const node_type repro_node_conv2d, repro_node_max_pool2d, repro_node_avg_pool2d, repro_node_global_avg_pool;
/* node_norm.c: batch norm over fixed groups, group norm */
extern const node_type repro_node_batch_norm, repro_node_group_norm;
int64_t repro_bn_group(const node *n); /* a batch-norm node's samples per group */
/* node_structure.c: nodes that only move values */
extern const node_type repro_node_add, repro_node_concat, repro_node_flatten, repro_node_reshape;
/* node_token.c: token ids in (embedding, pad mask), positions, image patches as tokens */
extern const node_type repro_node_embedding, repro_node_pos_embedding, repro_node_patchify,
    repro_node_sinusoidal, repro_node_pad_mask;
/* node_attention.c: multi-head attention, softmax over the last axis, GELU (erf form) */
extern const node_type repro_node_multihead_attention, repro_node_softmax, repro_node_gelu_erf;

#endif
