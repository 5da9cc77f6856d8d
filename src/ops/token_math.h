/* Token ids as the graph carries them: float-coded integers.
 *
 * The graph passes float tensors from the loader to the model; a token id
 * travels as the float with its value. Every integer in [0, 2^24] is exact
 * in binary32, and a vocabulary of Unicode code points never holds more
 * than 0x110000 < 2^24 tokens, so the coding loses nothing (docs/model.md
 * "Token ids"). Shared by the CPU kernels and their CUDA twins. */
#ifndef REPRO_OPS_TOKEN_MATH_H
#define REPRO_OPS_TOKEN_MATH_H

#include <stdint.h>

#include "ops/ops_math.h"
#include "repro/math.h"

/* The id a float codes, or -1 when it is not an integer in [0, V). */
REPRO_HD REPRO_INLINE int64_t repro_token_id(float v, int64_t V)
{
    if (!(v >= 0.0f && v < (float)V && v < 16777216.0f))
        return -1;
    int64_t id = (int64_t)v;
    return (float)id == v ? id : -1;
}

/* lm_cross_entropy's ignored target (the head's ignore_index; ignore < 0:
 * none): a target equal to it counts nowhere, neither in the loss nor in
 * the gradient. */
REPRO_HD REPRO_INLINE int repro_token_ignored(float v, int64_t ignore)
{
    return ignore >= 0 && v == (float)ignore;
}

/* The positions among a sample's T targets that count: T without an
 * ignored id, else those whose target is not it. */
REPRO_HD REPRO_INLINE int64_t repro_lm_counted(const float *target, int64_t T, int64_t ignore)
{
    if (ignore < 0)
        return T;
    int64_t n = 0;
    for (int64_t t = 0; t < T; t++)
        n += !repro_token_ignored(target[t], ignore);
    return n;
}

/* pad_mask: 1 where the id is the pad id, else 0 (the key padding mask
 * multihead_attention reads: nonzero = ignore that key). A plain float
 * comparison: the id need not be a valid token of any vocabulary. */
REPRO_HD REPRO_INLINE float repro_pad_mask(float id, float pad)
{
    return id == pad ? 1.0f : 0.0f;
}

/* The sinusoidal positional encoding (Vaswani et al.) of position t,
 * feature d of D, written order (binary32):
 *   e = (float)(d - d % 2) / (float)D;  w = repro_expf(-(e * 9.21034049987792969f))  (ln 10000)
 *   a = (float)t * w;  pe = d even ? repro_sinf(a) : repro_cosf(a)
 * (t < 2^20, so a <= 2^20: repro_sinf's domain). */
REPRO_HD REPRO_INLINE float repro_sinusoidal_pe(int64_t t, int64_t d, int64_t D)
{
    float e = (float)(d - d % 2) / (float)D;
    float w = repro_expf(-(e * 9.21034049987792969f));
    float a = (float)t * w;
    return d % 2 == 0 ? repro_sinf(a) : repro_cosf(a);
}

#endif
