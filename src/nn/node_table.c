/* Every node kind, one row each: a new op joins the graph here (its row is
 * defined beside its forward and backward in src/nn/node_*.c). */
#include "nn/graph.h"
#include "nn/nodes.h"

/* every activation: its row in repro/layer_kinds.h is enough */
#define ACTIVATION_ROW(ID, name, ...) [REPRO_LAYER_##ID] = &repro_node_##name,

const node_type *repro_node_type_of(repro_layer_kind kind)
{
    static const node_type *const rows[] = {
        [REPRO_LAYER_LINEAR] = &repro_node_linear,
        REPRO_LAYER_KINDS(REPRO_SKIP_ROW_, ACTIVATION_ROW)
        [REPRO_LAYER_DROPOUT] = &repro_node_dropout,
        [REPRO_LAYER_LAYERNORM] = &repro_node_layernorm,
        [REPRO_LAYER_CONV2D] = &repro_node_conv2d,
        [REPRO_LAYER_MAX_POOL2D] = &repro_node_max_pool2d,
        [REPRO_LAYER_AVG_POOL2D] = &repro_node_avg_pool2d,
        [REPRO_LAYER_GLOBAL_AVG_POOL] = &repro_node_global_avg_pool,
        [REPRO_LAYER_BATCH_NORM] = &repro_node_batch_norm,
        [REPRO_LAYER_GROUP_NORM] = &repro_node_group_norm,
        [REPRO_LAYER_ADD] = &repro_node_add,
        [REPRO_LAYER_CONCAT] = &repro_node_concat,
        [REPRO_LAYER_FLATTEN] = &repro_node_flatten,
        [REPRO_LAYER_RESHAPE] = &repro_node_reshape,
        [REPRO_LAYER_EMBEDDING] = &repro_node_embedding,
        [REPRO_LAYER_POS_EMBEDDING] = &repro_node_pos_embedding,
        [REPRO_LAYER_PATCHIFY] = &repro_node_patchify,
        [REPRO_LAYER_SINUSOIDAL] = &repro_node_sinusoidal,
        [REPRO_LAYER_MULTIHEAD_ATTENTION] = &repro_node_multihead_attention,
        [REPRO_LAYER_SOFTMAX] = &repro_node_softmax,
        [REPRO_LAYER_GELU_ERF] = &repro_node_gelu_erf,
        [REPRO_LAYER_PAD_MASK] = &repro_node_pad_mask,
    };
    if ((unsigned)kind >= sizeof rows / sizeof rows[0])
        return NULL;
    return rows[kind];
}
