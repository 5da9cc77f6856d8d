/* Parameter initialisers. Every value is drawn from Philox at
 * (seed, REPRO_RNG_INIT, tensor index) and the element's flat index, so a
 * parameter's initial value never depends on the order, thread or device
 * that draws it, nor on the other tensors of the model. */
#ifndef REPRO_NN_INIT_H
#define REPRO_NN_INIT_H

#include <stdint.h>

#include "repro/config.h"

/* Fills dst[0..n) for a tensor of a layer with fan_in inputs and fan_out
 * outputs. kind REPRO_INIT_DEFAULT means default_kind. The formulas (all in
 * float, in this order; u uniform in [0,1), z standard normal):
 *   kaiming_uniform: bound = sqrt(6 / fan_in);            w = (2u - 1) * bound
 *   kaiming_normal:  std = sqrt(2 / fan_in);              w = z * std
 *   xavier_uniform:  bound = sqrt(6 / (fan_in + fan_out)); w = (2u - 1) * bound
 *   xavier_normal:   std = sqrt(2 / (fan_in + fan_out));   w = z * std
 *   torch_default:   bound = 1 / sqrt(fan_in);            w = (2u - 1) * bound
 *                    (PyTorch's nn.Linear / nn.Conv2d default for weight and bias:
 *                    kaiming_uniform(a = sqrt(5)) is U(+-1/sqrt(fan_in)); conv fan_in
 *                    = C/groups * KH * KW)
 *   zeros: +0;  constant: value */
void repro_init_tensor(float *dst, int64_t n, int fan_in, int fan_out, repro_init_kind kind,
                       float value, repro_init_kind default_kind, uint64_t seed, uint32_t tensor_index);

#endif
