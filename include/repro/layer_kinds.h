/* repro/layer_kinds.h: every layer kind a model can use, one row each.
 *
 * The rows make config.h's repro_layer_kind (REPRO_LAYER_<ID>, in row order)
 * and the names a config writes (`type: <name>`), so the two cannot drift.
 * A new kind goes at the end: the values of the others stay as they are.
 *
 *   LAYER(ID, name)
 *       A node with its own code: the node type repro_node_<name>, defined
 *       in one of src/nn/node_*.c (the node table and its declaration come
 *       from this row).
 *   COMPOSITE(ID, name)
 *       A kind the model builder expands into other nodes (src/nn/model.c);
 *       it has no node type of its own.
 *   ACTIVATION(ID, name, reads, module)
 *       An elementwise activation, and nothing else to write: its forward is
 *       repro_<name>_f(x) and its backward repro_<name>_df(dy, saved), both
 *       in src/ops/ops_math.h, where `saved` is the forward's INPUT x or its
 *       OUTPUT y as `reads` says; the CPU and CUDA kernels, the node, the
 *       generic tests and `repro export` come from this row. `module` is the
 *       PyTorch module that computes the same function (what `repro export`
 *       writes). docs/model.md lists them. */
#ifndef REPRO_LAYER_KINDS_H
#define REPRO_LAYER_KINDS_H

#define REPRO_LAYER_KINDS(LAYER, ACTIVATION, COMPOSITE)                                          \
    LAYER(LINEAR, linear)                                                                        \
    ACTIVATION(RELU, relu, INPUT, "nn.ReLU()")                                                   \
    ACTIVATION(GELU, gelu, INPUT, "nn.GELU(approximate='tanh')") /* tanh form */                 \
    ACTIVATION(TANH, tanh, OUTPUT, "nn.Tanh()")                                                  \
    ACTIVATION(SIGMOID, sigmoid, OUTPUT, "nn.Sigmoid()")                                         \
    LAYER(DROPOUT, dropout)                                                                      \
    LAYER(LAYERNORM, layernorm)                                                                  \
    ACTIVATION(SILU, silu, INPUT, "nn.SiLU()")                                                   \
    LAYER(CONV2D, conv2d)                                                                        \
    LAYER(MAX_POOL2D, max_pool2d)                                                                \
    LAYER(AVG_POOL2D, avg_pool2d)                                                                \
    LAYER(GLOBAL_AVG_POOL, global_avg_pool)                                                      \
    LAYER(BATCH_NORM, batch_norm)                                                                \
    LAYER(GROUP_NORM, group_norm)                                                                \
    LAYER(ADD, add)                                                                              \
    LAYER(CONCAT, concat)                                                                        \
    LAYER(FLATTEN, flatten)                                                                      \
    LAYER(RESHAPE, reshape)                                                                      \
    LAYER(EMBEDDING, embedding)         /* token ids [T] -> [T][dim] (docs/model.md) */          \
    LAYER(POS_EMBEDDING, pos_embedding) /* learned positions: [T][D] + P[T][D] */                \
    LAYER(PATCHIFY, patchify)           /* [C][H][W] -> [patches][C*patch*patch] (ViT tokens) */ \
    LAYER(SINUSOIDAL, sinusoidal)       /* fixed positions: [T][D] + sin/cos encoding */         \
    LAYER(MULTIHEAD_ATTENTION, multihead_attention)                                              \
    LAYER(SOFTMAX, softmax)                                                                      \
    COMPOSITE(TRANSFORMER_ENCODER_LAYER, transformer_encoder_layer) /* expands to nodes */       \
    COMPOSITE(TRANSFORMER_ENCODER, transformer_encoder)             /* num_layers of them */     \
    LAYER(GELU_ERF, gelu_erf) /* GELU, exact (erf) form: torch's F.gelu; own SIMD twins */       \
    LAYER(PAD_MASK, pad_mask) /* token ids [T] -> [T]: 1 where the id is pad_id, else 0 */       \
    ACTIVATION(HARDSWISH, hardswish, INPUT, "nn.Hardswish()")

#endif
