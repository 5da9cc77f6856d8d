/* SGD, EMA and the clipping factor, one element at a time: the written
 * order shared by the CPU loops (optim.c) and the CUDA kernels
 * (src/ops/cuda/optim.cu), so the two can only differ in how they split
 * the elements. Every + - * / is one binary32 operation, round to nearest. */
#ifndef REPRO_OPS_UPDATE_MATH_H
#define REPRO_OPS_UPDATE_MATH_H

#include "repro/defs.h"

typedef struct repro_sgd_coef {
    float lr, weight_decay, momentum;
    int nesterov;
    int first; /* the first step (t == 1): the momentum buffer starts at g */
} repro_sgd_coef;

/* One SGD element, in this order:
 *   g   = g + wd * p                                   (when wd != 0)
 *   buf = first ? g : momentum * buf + g               (when momentum != 0)
 *   d   = nesterov ? g + momentum * buf : buf          (d = g without momentum)
 *   p   = p - lr * d
 * buf may be NULL when momentum == 0. */
REPRO_HD static inline void repro_sgd_elem(const repro_sgd_coef *c, float *p, float *buf, float g)
{
    if (c->weight_decay != 0.0f)
        g = g + c->weight_decay * *p;
    float d = g;
    if (c->momentum != 0.0f) {
        *buf = c->first ? g : c->momentum * *buf + g;
        d = c->nesterov ? g + c->momentum * *buf : *buf;
    }
    *p = *p - c->lr * d;
}

/* ema = decay * ema + one_minus_decay * p, one_minus_decay = 1 - decay in float. */
REPRO_HD static inline float repro_ema_elem(float ema, float p, float decay, float one_minus_decay)
{
    return decay * ema + one_minus_decay * p;
}

/* Global-norm clipping: 1 when norm <= max_norm (no scaling at all),
 * else max_norm / (norm + 1e-6f); each g becomes g * factor. A NaN norm
 * fails the comparison and leaves the gradients as they are. */
REPRO_HD static inline int repro_clip_needed(float norm, float max_norm)
{
    return norm > max_norm;
}

REPRO_HD static inline float repro_clip_factor(float norm, float max_norm)
{
    return max_norm / (norm + 1e-6f);
}

#endif
