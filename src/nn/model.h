/* A model built from a config: a shared trunk of layers and one or more
 * named heads, each a stack of layers of its own.
 *
 *   x [b][input] -> trunk -> t [b][trunk_out] -+-> head 0 -> out0 [b][o0]
 *                                               +-> head 1 -> out1 [b][o1] ...
 *
 * All parameters live in one contiguous buffer (and their gradients in a
 * second of the same shape), tensor after tensor in a fixed order: trunk
 * layers first, then each head's, each linear layer's weight [out][in]
 * before its bias [out], each layernorm's gamma [d] before beta [d]. So the
 * parameter hash, the optimiser update and the gradient norm are single
 * passes over one buffer, and `params_sha256` is the SHA-256 of its bytes.
 *
 * Forward saves what backward needs (each layer's output, dropout masks,
 * layernorm statistics) for up to `capacity` rows. */
#ifndef REPRO_NN_MODEL_H
#define REPRO_NN_MODEL_H

#include <stdint.h>

#include "backend/backend.h"
#include "repro/config.h"
#include "repro/status.h"
#include "train/trace.h"

typedef struct repro_model repro_model;

/* One parameter tensor: a named view into the model's parameter buffer. */
typedef struct repro_param_info {
    char name[96];     /* e.g. "trunk.0.weight", "heads.class.0.bias" */
    int ndim;          /* 1 or 2 */
    int64_t shape[2];
    int64_t offset;    /* into repro_model_params() */
    int64_t numel;
} repro_param_info;

/* Builds the model for `input` features, with activation buffers for up to
 * `capacity` rows per forward pass. Parameters start at +0: call
 * repro_model_init_params. */
repro_status repro_model_create(const repro_model_config *mc, int input, int64_t capacity,
                                const repro_backend *be, repro_model **out, repro_error *err);
void repro_model_free(repro_model *m);

/* Draws every parameter from Philox at (seed, REPRO_RNG_INIT, tensor index)
 * with the layer's initialiser; the formulas are in nn/init.h. */
repro_status repro_model_init_params(repro_model *m, uint64_t seed, repro_error *err);

int64_t repro_model_n_params(const repro_model *m);
float *repro_model_params(repro_model *m);  /* [n_params] */
float *repro_model_grads(repro_model *m);   /* [n_params] */
int repro_model_n_tensors(const repro_model *m);
const repro_param_info *repro_model_tensor(const repro_model *m, int i);
int repro_model_n_heads(const repro_model *m);
int repro_model_head_width(const repro_model *m, int head);

/* Evaluates x [b][input] (b <= capacity). With training != 0 dropout is
 * applied at coordinates (seed, layer, step, sample_pos[r], element) and
 * everything backward needs is saved; sample_pos may be NULL otherwise.
 * Reads parameters from `params` (the model's own buffer, or an EMA copy of
 * the same layout). */
repro_status repro_model_forward(repro_model *m, const repro_backend *be, const float *params,
                                 const float *x, int64_t b, int training, uint64_t seed,
                                 uint64_t step, const uint32_t *sample_pos, repro_error *err);

/* While t is set (NULL: off, the default), every forward and backward pass
 * records its input, each layer's output "<layer>.out" and each input
 * gradient "<layer>.dx" into t (see train/trace.h). Costs one pointer test
 * per layer when off. */
void repro_model_set_trace(repro_model *m, repro_trace *t);

/* on != 0: linear layers go through OpenBLAS sgemm (linear.h), which is
 * NOT bit-exact: only for mode: fast, where determinism allowed it. */
void repro_model_use_blas(repro_model *m, int on);

/* Head h's output of the last forward pass: [b][head_width]. */
const float *repro_model_head_output(const repro_model *m, int head);

/* Backpropagates d_out[h] [b][head_width(h)] (the loss gradients with
 * respect to each head's output) through the last training forward pass and
 * accumulates into repro_model_grads(): every weight gradient continues its
 * in-order sum over rows from its current value, so micro-batches fed in
 * order give exactly the bits of one large batch. */
repro_status repro_model_backward(repro_model *m, const repro_backend *be, const float *x, int64_t b,
                                  float *const *d_out, repro_error *err);

#endif
