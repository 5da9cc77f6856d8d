/* Parameter initialisers: see init.h. */
#include "nn/init.h"

#include "repro/math.h"
#include "repro/rng.h"

void repro_init_tensor(float *dst, int64_t n, int fan_in, int fan_out, repro_init_kind kind,
                       float value, repro_init_kind default_kind, uint64_t seed, uint32_t tensor_index)
{
    if (kind == REPRO_INIT_DEFAULT)
        kind = default_kind;
    repro_rng_key key = repro_rng_derive(seed, REPRO_RNG_INIT, tensor_index, 0);
    float fan_sum = (float)fan_in + (float)fan_out;
    switch (kind) {
    case REPRO_INIT_DEFAULT: /* resolved above; DEFAULT as default_kind means zeros */
    case REPRO_INIT_ZEROS:
        for (int64_t i = 0; i < n; i++)
            dst[i] = 0.0f;
        return;
    case REPRO_INIT_CONSTANT:
        for (int64_t i = 0; i < n; i++)
            dst[i] = value;
        return;
    case REPRO_INIT_TORCH_DEFAULT: { /* nn.Linear / nn.Conv2d reset_parameters(), weight and bias alike */
        float bound = 1.0f / repro_sqrtf((float)fan_in);
        for (int64_t i = 0; i < n; i++) {
            float u = repro_rng_uniform(key, 0, 0, 0, (uint64_t)i);
            dst[i] = (2.0f * u - 1.0f) * bound;
        }
        return;
    }
    case REPRO_INIT_KAIMING_UNIFORM:
    case REPRO_INIT_XAVIER_UNIFORM: {
        float denom = kind == REPRO_INIT_KAIMING_UNIFORM ? (float)fan_in : fan_sum;
        float bound = repro_sqrtf(6.0f / denom);
        for (int64_t i = 0; i < n; i++) {
            float u = repro_rng_uniform(key, 0, 0, 0, (uint64_t)i);
            dst[i] = (2.0f * u - 1.0f) * bound;
        }
        return;
    }
    case REPRO_INIT_KAIMING_NORMAL:
    case REPRO_INIT_XAVIER_NORMAL: {
        float denom = kind == REPRO_INIT_KAIMING_NORMAL ? (float)fan_in : fan_sum;
        float std = repro_sqrtf(2.0f / denom);
        for (int64_t i = 0; i < n; i++)
            dst[i] = repro_rng_normal(key, 0, 0, 0, (uint64_t)i) * std;
        return;
    }
    }
}
