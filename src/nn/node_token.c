/* Token nodes: embedding (ids -> vectors), the pad mask (ids -> the key
 * padding mask), learned and fixed positions, and patchify (an image's
 * patches as a vision transformer's tokens).
 *
 * Token ids are float-coded integers (src/ops/token_math.h): the model's
 * input stays a float tensor, the loader and staging stay as they are, and
 * every id a vocabulary of code points can hold (< 2^24) is exact. */
#include "backend/ops/ops.h"
#include "nn/nodes.h"

/* ---- embedding: ids [T] -> y [T][dim]; weight [num_embeddings][dim] ----
 * Backward: only the table's gradient (the ids have none). */

static repro_status embedding_plan(repro_model *m, node *n, repro_error *err)
{
    const repro_layer_config *c = &n->cfg;
    if (c->num_embeddings < 1 || c->dim < 1)
        return repro_node_fail(n, err, "an embedding needs 'num_embeddings' >= 1 and 'dim' >= 1");
    if (c->num_embeddings > 16777216)
        return repro_node_fail(n, err, "num_embeddings %d is over 2^24, the ids a float codes exactly",
                               c->num_embeddings);
    if (n->in_shape[0].ndim + 1 > REPRO_MAX_DIMS)
        return repro_node_fail(n, err, "input has %d axes; the output would have more than %d",
                               n->in_shape[0].ndim, REPRO_MAX_DIMS);
    n->out = n->in_shape[0];
    n->out.d[n->out.ndim++] = c->dim;
    repro_shape w = {2, {c->num_embeddings, c->dim}};
    /* N(0, 1) as PyTorch's nn.Embedding: kaiming_normal's sqrt(2 / fan_in) with fan_in 2 */
    repro_model_add_param(m, n, "weight", &w, 2, 0, REPRO_INIT_DEFAULT, 0.0f, REPRO_INIT_KAIMING_NORMAL);
    return REPRO_OK;
}

static repro_embedding_args embedding_args(const node *n, const node_io *io)
{
    repro_embedding_args a = {0};
    a.N = io->b * repro_shape_numel(&n->in_shape[0]);
    a.V = n->cfg.num_embeddings;
    a.D = n->cfg.dim;
    a.ids = io->x[0];
    return a;
}

static repro_status embedding_forward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    repro_embedding_args a = embedding_args(n, io);
    a.y = n->y;
    a.w = repro_node_param(io, n, 0);
    return repro_be_run(be, &repro_k_embedding_forward, &a, err);
}

static repro_status embedding_backward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    repro_embedding_args a = embedding_args(n, io);
    a.dw = repro_node_grad(io, n, 0);
    a.dy = io->dy;
    return repro_be_run(be, &repro_k_embedding_backward, &a, err);
}

const node_type repro_node_embedding = {REPRO_LAYER_EMBEDDING, 1, 1, embedding_plan, embedding_forward,
                                        embedding_backward, 0};

/* ---- pad_mask: ids [T] -> y [T], 1 where the id is pad_id, else 0 ----
 * multihead_attention's key padding mask made from the token ids. No
 * parameters; backward: no gradient (the input is ids), dx = 0 if wanted. */

static repro_status pad_mask_plan(repro_model *m, node *n, repro_error *err)
{
    (void)m;
    if (n->in_shape[0].ndim != 1) {
        char s[96];
        repro_shape_format(&n->in_shape[0], s, sizeof s);
        return repro_node_fail(n, err, "a pad_mask reads token ids [T]; its input is %s", s);
    }
    if (n->cfg.pad_id < 0 || n->cfg.pad_id > 16777215)
        return repro_node_fail(n, err, "needs 'pad_id' in 0..16777215 (an id a float codes exactly), got %d",
                               n->cfg.pad_id);
    n->out = n->in_shape[0];
    return REPRO_OK;
}

static repro_status pad_mask_forward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    repro_pad_mask_args a = {io->b * n->out.d[0], (float)n->cfg.pad_id, n->y, io->x[0]};
    return repro_be_run(be, &repro_k_pad_mask_forward, &a, err);
}

static repro_status pad_mask_backward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    if (!io->dx[0])
        return REPRO_OK;
    return repro_be_zero(be, io->dx[0], (size_t)(io->b * n->out.d[0]) * sizeof(float), err);
}

const node_type repro_node_pad_mask = {REPRO_LAYER_PAD_MASK, 1, 1, pad_mask_plan, pad_mask_forward,
                                       pad_mask_backward, 0};

/* ---- pos_embedding: x [T][D] -> y[t][d] = x[t][d] + P[t][d]; P [T][D] ----
 * Forward adds P to each sample; backward: dx = dy, and
 *   dP[t][d] accumulates: for b ascending, dP = dP + dy[b][t][d]
 * (repro_be_add_inplace sample after sample: the order of linear's bias
 * gradient, so micro-batches in order give one batch's bits). */

static repro_status pos_plan(repro_model *m, node *n, repro_error *err)
{
    if (n->in_shape[0].ndim != 2)
        return repro_node_fail(n, err, "a pos_embedding reads [tokens, features]; its input has %d axes",
                               n->in_shape[0].ndim);
    n->out = n->in_shape[0];
    repro_shape p = n->in_shape[0];
    repro_model_add_param(m, n, "weight", &p, (int)p.d[1], (int)p.d[1], REPRO_INIT_DEFAULT, 0.0f,
                          REPRO_INIT_ZEROS);
    return REPRO_OK;
}

static repro_status pos_forward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    int64_t s = repro_shape_numel(&n->out);
    repro_status st = repro_be_copy(be, n->y, io->x[0], (size_t)(io->b * s) * sizeof(float), err);
    for (int64_t b = 0; st == REPRO_OK && b < io->b; b++)
        st = repro_be_add_inplace(be, n->y + b * s, repro_node_param(io, n, 0), s, err);
    return st;
}

static repro_status pos_backward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    int64_t s = repro_shape_numel(&n->out);
    repro_status st = REPRO_OK;
    if (io->dx[0])
        st = repro_be_copy(be, io->dx[0], io->dy, (size_t)(io->b * s) * sizeof(float), err);
    for (int64_t b = 0; st == REPRO_OK && b < io->b; b++)
        st = repro_be_add_inplace(be, repro_node_grad(io, n, 0), io->dy + b * s, s, err);
    return st;
}

const node_type repro_node_pos_embedding = {REPRO_LAYER_POS_EMBEDDING, 1, 1, pos_plan, pos_forward, pos_backward, 0};

/* ---- sinusoidal: x [T][D] -> y = x + PE (src/ops/token_math.h); no
 * parameters; backward dx = dy ---- */

static repro_status sinusoidal_plan(repro_model *m, node *n, repro_error *err)
{
    (void)m;
    if (n->in_shape[0].ndim != 2)
        return repro_node_fail(n, err, "a sinusoidal node reads [tokens, features]; its input has %d axes",
                               n->in_shape[0].ndim);
    if (n->in_shape[0].d[0] > (1 << 20))
        return repro_node_fail(n, err, "%lld positions; the encoding's angles stay exact-domain up to 2^20",
                               (long long)n->in_shape[0].d[0]);
    n->out = n->in_shape[0];
    return REPRO_OK;
}

static repro_status sinusoidal_forward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    repro_sinusoidal_args a = {io->b, n->out.d[0], n->out.d[1], n->y, io->x[0]};
    return repro_be_run(be, &repro_k_sinusoidal_forward, &a, err);
}

static repro_status sinusoidal_backward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    if (!io->dx[0])
        return REPRO_OK;
    return repro_be_copy(be, io->dx[0], io->dy, (size_t)(io->b * repro_shape_numel(&n->out)) * sizeof(float), err);
}

const node_type repro_node_sinusoidal = {REPRO_LAYER_SINUSOIDAL, 1, 1, sinusoidal_plan, sinusoidal_forward,
                                         sinusoidal_backward, 0};

/* ---- patchify: [C][H][W] -> [NP][C*P*P] (src/ops/cpu/patchify.h) ---- */

static repro_status patchify_plan(repro_model *m, node *n, repro_error *err)
{
    (void)m;
    const repro_shape *x = &n->in_shape[0];
    int64_t P = n->cfg.patch;
    if (P < 1)
        return repro_node_fail(n, err, "a patchify node needs 'patch' >= 1");
    if (x->ndim != 3 || x->d[1] % P || x->d[2] % P) {
        char s[96];
        repro_shape_format(x, s, sizeof s);
        return repro_node_fail(n, err, "patch %lld does not tile input %s (needs [C, H, W] with H and W multiples "
                               "of the patch)", (long long)P, s);
    }
    n->out.ndim = 2;
    n->out.d[0] = (x->d[1] / P) * (x->d[2] / P);
    n->out.d[1] = x->d[0] * P * P;
    return REPRO_OK;
}

static repro_patchify_args patchify_args(const node *n, const node_io *io)
{
    repro_patchify_args a = {0};
    a.shape = (repro_patchify_shape){io->b, n->in_shape[0].d[0], n->in_shape[0].d[1], n->in_shape[0].d[2],
                                     n->cfg.patch};
    return a;
}

static repro_status patchify_forward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    repro_patchify_args a = patchify_args(n, io);
    a.y = n->y;
    a.x = io->x[0];
    return repro_be_run(be, &repro_k_patchify_forward, &a, err);
}

static repro_status patchify_backward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    if (!io->dx[0])
        return REPRO_OK;
    repro_patchify_args a = patchify_args(n, io);
    a.dx = io->dx[0];
    a.dy = io->dy;
    return repro_be_run(be, &repro_k_patchify_backward, &a, err);
}

const node_type repro_node_patchify = {REPRO_LAYER_PATCHIFY, 1, 1, patchify_plan, patchify_forward,
                                       patchify_backward, 0};
