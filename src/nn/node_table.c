/* Every node kind's type, from its row in repro/layer_kinds.h: a LAYER or
 * ACTIVATION row named `name` is the node type repro_node_<name> (defined
 * beside its forward and backward in src/nn/node_*.c); a COMPOSITE row has
 * none (the builder expands it). */
#include "nn/graph.h"
#include "nn/nodes.h"

#define NODE_ROW(ID, name, ...) [REPRO_LAYER_##ID] = &repro_node_##name,

const node_type *repro_node_type_of(repro_layer_kind kind)
{
    static const node_type *const rows[REPRO_LAYER_KIND_COUNT] = {
        REPRO_LAYER_KINDS(NODE_ROW, NODE_ROW, REPRO_SKIP_ROW_)
    };
    if ((unsigned)kind >= sizeof rows / sizeof rows[0])
        return NULL;
    return rows[kind];
}
