/* init.default: torch_default, resolved into every layer (schema.h). */
#include "config/schema.h"

static void resolve(repro_layer_config *layers, int n)
{
    for (int i = 0; i < n; i++) {
        repro_layer_config *l = &layers[i];
        if (l->kind != REPRO_LAYER_LINEAR && l->kind != REPRO_LAYER_CONV2D)
            continue;
        if (l->weight_init == REPRO_INIT_DEFAULT)
            l->weight_init = REPRO_INIT_TORCH_DEFAULT;
        if (l->bias_init == REPRO_INIT_DEFAULT)
            l->bias_init = REPRO_INIT_TORCH_DEFAULT;
    }
}

void repro_config_resolve_torch_default(repro_config *cfg)
{
    repro_model_config *m = &cfg->model;
    resolve(m->trunk, m->n_trunk);
    resolve(m->nodes, m->n_nodes);
    for (int h = 0; h < m->n_heads; h++)
        resolve(m->heads[h].layers, m->heads[h].n_layers);
}
