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

/* The id a float codes, or -1 when it is not an integer in [0, V). */
REPRO_HD REPRO_INLINE int64_t repro_token_id(float v, int64_t V)
{
    if (!(v >= 0.0f && v < (float)V && v < 16777216.0f))
        return -1;
    int64_t id = (int64_t)v;
    return (float)id == v ? id : -1;
}

#endif
