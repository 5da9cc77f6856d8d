/* The node types (node_table.c maps the layer kinds to them). Internal to src/nn. */
#ifndef REPRO_NN_NODES_H
#define REPRO_NN_NODES_H

#include "nn/graph.h"

/* Every node type: repro_node_<name> for each LAYER and ACTIVATION row of
 * repro/layer_kinds.h, defined beside its forward and backward in one of
 * src/nn/node_*.c (node_dense.c holds every activation's); node_table.c
 * maps the kinds to them. */
#define REPRO_NODE_DECL_(ID, name, ...) extern const node_type repro_node_##name;
REPRO_LAYER_KINDS(REPRO_NODE_DECL_, REPRO_NODE_DECL_, REPRO_SKIP_ROW_)
#undef REPRO_NODE_DECL_

int64_t repro_bn_group(const node *n); /* node_norm.c: a batch-norm node's samples per group */

/* node_conv.c: conv node c's forward and max-pool node p's over its
 * output in one kernel (model.c folds a ReLU between them into the pool):
 * p's output and argmax; c's output buffer is a workspace. */
repro_status repro_conv_maxpool_forward(const repro_backend *be, node *c, node *p, const node_io *io,
                                        repro_error *err);
/* Their backwards in one, for a conv whose input needs no gradient: c's
 * weight and bias gradients from p's dy (the ReLU's mask applied) and
 * argmax; c's output buffer again a workspace. */
repro_status repro_conv_maxpool_backward(const repro_backend *be, node *c, node *p, const node_io *io,
                                         repro_error *err);

#endif
