/* Batch norm's layers and their batch-statistics log: see model.h
 * (repro_model_set_bn_log) and graph.h (repro_node_bn_log). */
#include "nn/graph.h"
#include "nn/nodes.h"

static int is_bn(const node *n)
{
    return n->cfg.kind == REPRO_LAYER_BATCH_NORM;
}

int repro_model_n_batch_norms(const repro_model *m)
{
    int k = 0;
    for (int j = 0; j < m->n_nodes; j++)
        k += is_bn(&m->nodes[j]);
    return k;
}

/* The i-th batch-norm node in model order, or NULL. */
static const node *nth_bn(const repro_model *m, int i)
{
    for (int j = 0; j < m->n_nodes; j++)
        if (is_bn(&m->nodes[j]) && i-- == 0)
            return &m->nodes[j];
    return NULL;
}

repro_bn_layer repro_model_batch_norm(const repro_model *m, int i)
{
    const node *n = nth_bn(m, i);
    repro_bn_layer l = {0};
    if (!n)
        return l;
    l.channels = n->in_shape[0].d[0];
    l.group = repro_bn_group(n);
    l.momentum = n->cfg.momentum;
    l.mean_offset = m->buffer_tensors[n->buffer[0]].offset;
    l.var_offset = m->buffer_tensors[n->buffer[1]].offset;
    return l;
}

void repro_model_set_bn_log(repro_model *m, float *const *rows, int64_t *used, const int64_t *cap)
{
    m->bn_rows = rows;
    m->bn_used = rows ? used : NULL;
    m->bn_cap = rows ? cap : NULL;
}

repro_status repro_node_bn_log(const node_io *io, const node *n, int64_t groups, float **rows, repro_error *err)
{
    const repro_model *m = io->model;
    *rows = NULL;
    if (!m->bn_rows)
        return REPRO_OK;
    int i = 0; /* n's place among the batch-norm layers */
    for (int j = 0; j < m->n_nodes && &m->nodes[j] != n; j++)
        i += is_bn(&m->nodes[j]);
    if (m->bn_used[i] + groups > m->bn_cap[i])
        return repro_fail(err, REPRO_ERR_INTERNAL, "%s '%s': its batch-statistics log holds %lld groups a step, "
                          "not %lld", n->where, n->name, (long long)m->bn_cap[i], (long long)(m->bn_used[i] + groups));
    *rows = m->bn_rows[i] + 2 * n->in_shape[0].d[0] * m->bn_used[i];
    m->bn_used[i] += groups;
    return REPRO_OK;
}
