/* Nodes that only move or add values: add (residual connections), concat,
 * flatten, reshape. */
#include <stdio.h>
#include <string.h>

#include "nn/nodes.h"

static int same_shape(const repro_shape *a, const repro_shape *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->d[i] != b->d[i])
            return 0;
    return 1;
}

static size_t sample_bytes(const repro_shape *s)
{
    return (size_t)repro_shape_numel(s) * sizeof(float);
}

/* ---- add: y = ((x0 + x1) + x2) ..., one rounding each; every input's
 * gradient is dy ---- */

static repro_status add_plan(repro_model *m, node *n, repro_error *err)
{
    (void)m;
    for (int k = 1; k < n->n_in; k++) {
        if (same_shape(&n->in_shape[0], &n->in_shape[k]))
            continue;
        char a[96], b[96];
        repro_shape_format(&n->in_shape[0], a, sizeof a);
        repro_shape_format(&n->in_shape[k], b, sizeof b);
        return repro_node_fail(n, err, "cannot add input %d of shape %s to input 0 of shape %s", k, b, a);
    }
    n->out = n->in_shape[0];
    return REPRO_OK;
}

static repro_status add_forward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    int64_t count = io->b * repro_shape_numel(&n->out);
    repro_status st = repro_be_copy(be, n->y, io->x[0], (size_t)count * sizeof(float), err);
    for (int k = 1; st == REPRO_OK && k < n->n_in; k++)
        st = repro_be_add_inplace(be, n->y, io->x[k], count, err);
    return st;
}

static repro_status add_backward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    size_t bytes = (size_t)io->b * sample_bytes(&n->out);
    repro_status st = REPRO_OK;
    for (int k = 0; st == REPRO_OK && k < n->n_in; k++)
        if (io->dx[k])
            st = repro_be_copy(be, io->dx[k], io->dy, bytes, err);
    return st;
}

const node_type repro_node_add = {REPRO_LAYER_ADD, 2, REPRO_MAX_INPUTS, add_plan, add_forward, add_backward, 0};

/* ---- concat along a sample axis: each sample's output holds, for each
 * index of the axes before `axis`, input 0's block, then input 1's, ... ---- */

static repro_status concat_plan(repro_model *m, node *n, repro_error *err)
{
    (void)m;
    int axis = n->cfg.axis;
    const repro_shape *first = &n->in_shape[0];
    if (axis >= first->ndim)
        return repro_node_fail(n, err, "axis %d is outside its inputs' %d axes", axis, first->ndim);
    n->out = *first;
    for (int k = 1; k < n->n_in; k++) {
        const repro_shape *s = &n->in_shape[k];
        int fits = s->ndim == first->ndim;
        for (int i = 0; fits && i < s->ndim; i++)
            fits = i == axis || s->d[i] == first->d[i];
        if (!fits) {
            char a[96], b[96];
            repro_shape_format(first, a, sizeof a);
            repro_shape_format(s, b, sizeof b);
            return repro_node_fail(n, err, "cannot concatenate input %d of shape %s with input 0 of shape %s along "
                                   "axis %d", k, b, a, axis);
        }
        n->out.d[axis] += s->d[axis];
    }
    return REPRO_OK;
}

/* Blocks per sample before the axis, and the bytes of one block of input k. */
static int64_t outer_blocks(const node *n)
{
    int64_t r = 1;
    for (int i = 0; i < n->cfg.axis; i++)
        r *= n->out.d[i];
    return r;
}

static size_t block_bytes(const repro_shape *s, int axis)
{
    size_t r = sizeof(float);
    for (int i = axis; i < s->ndim; i++)
        r *= (size_t)s->d[i];
    return r;
}

/* forward 1 copies each input's blocks into y, forward 0 copies dy's back
 * out to the inputs' gradients */
static repro_status concat_copy(const repro_backend *be, node *n, const node_io *io, int forward, repro_error *err)
{
    size_t out_block = block_bytes(&n->out, n->cfg.axis), at = 0;
    size_t rows = (size_t)(io->b * outer_blocks(n));
    repro_status st = REPRO_OK;
    for (int k = 0; st == REPRO_OK && k < n->n_in; k++) {
        size_t w = block_bytes(&n->in_shape[k], n->cfg.axis);
        if (forward)
            st = repro_be_copy_2d(be, (char *)n->y + at, out_block, io->x[k], w, w, rows, err);
        else if (io->dx[k])
            st = repro_be_copy_2d(be, io->dx[k], w, (const char *)io->dy + at, out_block, w, rows, err);
        at += w;
    }
    return st;
}

static repro_status concat_forward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    return concat_copy(be, n, io, 1, err);
}

static repro_status concat_backward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    return concat_copy(be, n, io, 0, err);
}

const node_type repro_node_concat = {REPRO_LAYER_CONCAT, 2, REPRO_MAX_INPUTS, concat_plan, concat_forward,
                                     concat_backward, 0};

/* ---- flatten and reshape: the same values under another shape ---- */

static repro_status flatten_plan(repro_model *m, node *n, repro_error *err)
{
    (void)m;
    (void)err;
    n->out.ndim = 1;
    n->out.d[0] = repro_shape_numel(&n->in_shape[0]);
    return REPRO_OK;
}

static repro_status reshape_plan(repro_model *m, node *n, repro_error *err)
{
    (void)m;
    if (n->cfg.n_shape == 0)
        return repro_node_fail(n, err, "a reshape needs 'shape' (a sample's new shape, batch axis not included)");
    n->out.ndim = n->cfg.n_shape;
    for (int i = 0; i < n->out.ndim; i++)
        n->out.d[i] = n->cfg.shape[i];
    if (repro_shape_numel(&n->out) != repro_shape_numel(&n->in_shape[0])) {
        char a[96], b[96];
        repro_shape_format(&n->in_shape[0], a, sizeof a);
        repro_shape_format(&n->out, b, sizeof b);
        return repro_node_fail(n, err, "cannot reshape %s (%lld values) to %s (%lld values)", a,
                               (long long)repro_shape_numel(&n->in_shape[0]), b,
                               (long long)repro_shape_numel(&n->out));
    }
    return REPRO_OK;
}

static repro_status view_forward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    return repro_be_copy(be, n->y, io->x[0], (size_t)io->b * sample_bytes(&n->out), err);
}

static repro_status view_backward(const repro_backend *be, node *n, const node_io *io, repro_error *err)
{
    if (!io->dx[0])
        return REPRO_OK;
    return repro_be_copy(be, io->dx[0], io->dy, (size_t)io->b * sample_bytes(&n->out), err);
}

const node_type repro_node_flatten = {REPRO_LAYER_FLATTEN, 1, 1, flatten_plan, view_forward, view_backward, 0};
const node_type repro_node_reshape = {REPRO_LAYER_RESHAPE, 1, 1, reshape_plan, view_forward, view_backward, 0};
