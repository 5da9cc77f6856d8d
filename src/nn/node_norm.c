/* Batch norm (over fixed groups of samples) and group norm, on [C] or
 * [C, H, W] samples. Their arithmetic is the kernels' (src/ops/cpu/norm.h);
 * docs/model.md says why batch norm's statistics come from groups. */
#include <stdio.h>
#include <string.h>

#include "backend/ops/ops.h"
#include "nn/nodes.h"

static repro_status norm_plan(repro_model *m, node *n, repro_error *err)
{
    const repro_shape *in = &n->in_shape[0];
    if (in->ndim != 1 && in->ndim != 3) {
        char text[96];
        repro_shape_format(in, text, sizeof text);
        return repro_node_fail(n, err, "needs [channels] or [channels, height, width], got %s", text);
    }
    int64_t C = in->d[0];
    int batch = n->cfg.kind == REPRO_LAYER_BATCH_NORM;
    int groups = n->cfg.groups > 0 ? n->cfg.groups : 1;
    if (!batch && C % groups != 0)
        return repro_node_fail(n, err, "groups %d does not divide its %lld channels", groups, (long long)C);
    repro_shape p = {1, {C}};
    repro_model_add_param(m, n, "weight", &p, (int)C, (int)C, REPRO_INIT_CONSTANT, 1.0f, REPRO_INIT_CONSTANT);
    repro_model_add_param(m, n, "bias", &p, (int)C, (int)C, REPRO_INIT_ZEROS, 0.0f, REPRO_INIT_ZEROS);
    if (batch) {
        repro_model_add_buffer(m, n, "running_mean", C, 0.0f);
        repro_model_add_buffer(m, n, "running_var", C, 1.0f);
    }
    /* mean, rstd: batch norm [groups of the batch][C] (at most one a sample),
     * group norm [N][groups] */
    n->saved_bytes[0] = n->saved_bytes[1] = (size_t)(batch ? C : groups) * sizeof(float);
    n->out = *in;
    return REPRO_OK;
}

int64_t repro_bn_group(const node *n)
{
    return n->cfg.group_size > 0 ? n->cfg.group_size : 32;
}

static repro_norm_args norm_args(const node *n, const node_io *io)
{
    const repro_shape *in = &n->in_shape[0];
    repro_norm_args a;
    memset(&a, 0, sizeof a);
    a.N = io->b;
    a.C = in->d[0];
    a.HW = repro_shape_numel(in) / a.C;
    a.eps = n->cfg.eps;
    a.momentum = n->cfg.momentum;
    a.group = n->cfg.kind == REPRO_LAYER_BATCH_NORM ? repro_bn_group(n) : (n->cfg.groups > 0 ? n->cfg.groups : 1);
    a.gamma = repro_node_param(io, n, 0);
    a.beta = repro_node_param(io, n, 1);
    a.mean = n->saved[0];
    a.rstd = n->saved[1];
    return a;
}

/* Batch norm over b samples: the full groups, then the shorter last group
 * (the short last batch of an epoch); each part's statistics go to its own
 * rows of mean/rstd, and the running statistics see the groups in order. */
static repro_status batch_parts(const repro_backend *be, const repro_kernel *k, repro_norm_args a, int64_t b,
                                int backward, repro_error *err)
{
    int64_t full = b / a.group * a.group, sample = a.C * a.HW;
    repro_status st = REPRO_OK;
    if (full > 0) {
        a.N = full;
        st = repro_be_run(be, k, &a, err);
    }
    if (st != REPRO_OK || full == b)
        return st;
    int64_t groups = full / a.group;
    a.N = b - full;
    a.group = b - full;
    a.mean += groups * a.C;
    a.rstd += groups * a.C;
    if (a.group_stats)
        a.group_stats += groups * 2 * a.C;
    if (!backward) {
        a.x += full * sample;
        a.y += full * sample;
    } else {
        a.x += full * sample;
        a.dy += full * sample;
        a.dx += full * sample;
    }
    return repro_be_run(be, k, &a, err);
}

static repro_status batchnorm_forward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    repro_norm_args a = norm_args(n, io);
    a.x = io->x[0];
    a.y = n->y;
    a.running_mean = repro_node_buffer(io, n, 0);
    a.running_var = repro_node_buffer(io, n, 1);
    if (!io->training)
        return repro_be_run(be, &repro_k_batchnorm_eval, &a, err);
    /* a data-parallel step: the groups' statistics go to the log, to be
     * replayed in global order (train/bn_world.h) */
    repro_status st = repro_node_bn_log(io, n, (io->b + a.group - 1) / a.group, &a.group_stats, err);
    if (a.group_stats)
        a.running_mean = a.running_var = NULL;
    return st == REPRO_OK ? batch_parts(be, &repro_k_batchnorm_train, a, io->b, 0, err) : st;
}

/* dx is always computed: the kernel uses it as scratch (dx_always) */
static repro_status batchnorm_backward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    repro_norm_args a = norm_args(n, io);
    a.x = io->x[0];
    a.dy = io->dy;
    a.dx = io->dx[0];
    a.dgamma = repro_node_grad(io, n, 0);
    a.dbeta = repro_node_grad(io, n, 1);
    return batch_parts(be, &repro_k_batchnorm_backward, a, io->b, 1, err);
}

const node_type repro_node_batch_norm = {REPRO_LAYER_BATCH_NORM, 1, 1, norm_plan, batchnorm_forward,
                                         batchnorm_backward, 1};

static repro_status groupnorm_forward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    repro_norm_args a = norm_args(n, io);
    a.x = io->x[0];
    a.y = n->y;
    return repro_be_run(be, &repro_k_groupnorm_forward, &a, err);
}

static repro_status groupnorm_backward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    repro_norm_args a = norm_args(n, io);
    a.x = io->x[0];
    a.dy = io->dy;
    a.dx = io->dx[0];
    a.dgamma = repro_node_grad(io, n, 0);
    a.dbeta = repro_node_grad(io, n, 1);
    return repro_be_run(be, &repro_k_groupnorm_backward, &a, err);
}

const node_type repro_node_group_norm = {REPRO_LAYER_GROUP_NORM, 1, 1, norm_plan, groupnorm_forward,
                                         groupnorm_backward, 1};
