/* A model built from a config: a graph of nodes over N-D tensors (model.nodes)
 * or its sugar, a shared trunk of layers and named heads:
 *
 *   x [b][input...] -> node -> node -> ... -+-> head 0 -> out0 [b][o0]
 *                        \-----(add)-------/ +-> head 1 -> out1 [b][o1] ...
 *
 * docs/model.md describes the config and the order every walk follows
 * (src/nn/graph.h has the details). All parameters live in one contiguous
 * buffer (their gradients in a second of the same shape), tensor after
 * tensor in the order the nodes declare them (a linear or conv2d layer's
 * weight before its bias, a norm's weight before its bias), so the
 * parameter hash, the optimiser update and the gradient norm are single
 * passes over one buffer, and `params_sha256` is the SHA-256 of its bytes.
 * Batch-norm running statistics live in a third ("buffers").
 *
 * Forward saves what backward needs for up to `capacity` samples. */
#ifndef REPRO_NN_MODEL_H
#define REPRO_NN_MODEL_H

#include <stdint.h>

#include "backend/backend.h"
#include "repro/config.h"
#include "repro/status.h"

enum { REPRO_MAX_TENSORS = 256 };

typedef struct repro_model repro_model;

/* One parameter (or buffer) tensor: a named view into the model's buffer. */
typedef struct repro_param_info {
    char name[160];    /* e.g. "trunk.0.weight", "heads.class.0.bias", "conv1.weight" */
    int ndim;          /* 1 .. REPRO_MAX_DIMS */
    int64_t shape[REPRO_MAX_DIMS];
    int64_t offset;    /* into repro_model_params() (or repro_model_buffers()) */
    int64_t numel;
} repro_param_info;

/* Builds the model for samples of `input` features (shaped by
 * mc->input_shape when given), with activation buffers for up to `capacity`
 * samples per forward pass. A graph that does not fit together (unknown or
 * later inputs, shapes that do not match, a kernel larger than its input,
 * ...) is REPRO_ERR_CONFIG naming the node, its shapes and, when source
 * (the YAML file) is given, "source:line". Parameters start at +0: call
 * repro_model_init_params. */
repro_status repro_model_create(const repro_model_config *mc, const char *source, int input, int64_t capacity,
                                const repro_backend *be, repro_model **out, repro_error *err);
void repro_model_free(repro_model *m);

/* What repro_model_create would allocate for the same arguments, worked out
 * without allocating a buffer (for the memory check before a run starts):
 * parameters, floats of activations and gradients per sample, bytes of
 * saved masks and statistics per sample, the widest node's values per
 * sample, and the node with the most parameters ("model.nodes.3", its
 * name and count). REPRO_ERR_CONFIG as repro_model_create for a graph that
 * does not fit. */
typedef struct repro_model_estimate {
    int64_t params;
    double act_floats, saved_bytes, widest;
    char largest_where[64], largest_name[160];
    int64_t largest_params;
    char widest_where[64];
} repro_model_estimate;
repro_status repro_model_estimate_of(const repro_model_config *mc, int input, repro_model_estimate *e,
                                     repro_error *err);

/* Draws every parameter from Philox at (seed, REPRO_RNG_INIT, tensor index)
 * with the layer's initialiser (nn/init.h), and sets every buffer to its
 * initial value (running mean 0, running variance 1). */
repro_status repro_model_init_params(repro_model *m, uint64_t seed, repro_error *err);

int64_t repro_model_n_params(const repro_model *m);
float *repro_model_params(repro_model *m);  /* [n_params] */
float *repro_model_grads(repro_model *m);   /* [n_params] */
int repro_model_n_tensors(const repro_model *m);
const repro_param_info *repro_model_tensor(const repro_model *m, int i);
int repro_model_n_heads(const repro_model *m);
int repro_model_head_width(const repro_model *m, int head);

/* Running statistics (batch norm): not trained, not in params_sha256;
 * saved in checkpoints and model.safetensors. 0 of them for most models. */
int64_t repro_model_n_buffers(const repro_model *m);
float *repro_model_buffers(repro_model *m); /* [n_buffers] */
int repro_model_n_buffer_tensors(const repro_model *m);
const repro_param_info *repro_model_buffer_tensor(const repro_model *m, int i);

/* Batch norm in a data-parallel step (train/bn_world.h, docs/parallel.md).
 * Layer i (batch-norm layers in model order) normalises groups of `group`
 * samples of `channels` channels; its running statistics are
 * repro_model_buffers() + mean_offset and + var_offset. */
typedef struct repro_bn_layer {
    int64_t channels, group;
    float momentum;
    int64_t mean_offset, var_offset;
} repro_bn_layer;
int repro_model_n_batch_norms(const repro_model *m);
repro_bn_layer repro_model_batch_norm(const repro_model *m, int i);

/* While a log is set (rows not NULL), a training forward leaves the running
 * statistics alone: batch-norm layer i instead writes, for each of its
 * groups in sample order, the two rows its update would consume (the
 * group's means [channels], then its unbiased variances [channels]) at
 * rows[i] + 2 * channels * used[i], and adds its groups to used[i]. rows[i]:
 * backend memory with room for cap[i] groups; a forward that would pass
 * that fails (REPRO_ERR_INTERNAL) before writing. */
void repro_model_set_bn_log(repro_model *m, float *const *rows, int64_t *used, const int64_t *cap);

/* Evaluates x [b][input] (b <= capacity). With training != 0 dropout is
 * applied at coordinates (seed, layer, step, sample_pos[r], element), batch
 * norm uses (and updates the running statistics from) its groups' own
 * statistics, and everything backward needs is saved; sample_pos may be
 * NULL otherwise. Reads parameters from `params` (the model's own buffer,
 * or an EMA copy of the same layout). */
repro_status repro_model_forward(repro_model *m, const repro_backend *be, const float *params,
                                 const float *x, int64_t b, int training, uint64_t seed,
                                 uint64_t step, const uint32_t *sample_pos, repro_error *err);

/* Tracing: while set (NULL: off, the default), every forward and backward
 * pass hands its input, each node's output "<node>.<kind>.out" and each
 * input gradient "<node>.<kind>.dx" to fn, as host data of rows x cols
 * floats (cols 0: a vector). The trainer records them (train/trace.h). */
typedef repro_status (*repro_model_trace_fn)(void *ctx, const char *op, const char *name, const float *host,
                                             int64_t rows, int64_t cols, repro_error *err);
void repro_model_set_trace(repro_model *m, repro_model_trace_fn fn, void *ctx);

/* Head h's output of the last forward pass: [b][head_width]. */
const float *repro_model_head_output(const repro_model *m, int head);

/* Backpropagates d_out[h] [b][head_width(h)] (the loss gradients with
 * respect to each head's output) through the last training forward pass and
 * accumulates into repro_model_grads(): every weight gradient continues its
 * in-order sum over samples from its current value, so micro-batches fed in
 * order give exactly the bits of one large batch. */
repro_status repro_model_backward(repro_model *m, const repro_backend *be, const float *x, int64_t b,
                                  float *const *d_out, repro_error *err);

#endif
