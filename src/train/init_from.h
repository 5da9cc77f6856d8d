/* init.from: the parameters start from a safetensors file (docs/config.md#init). */
#ifndef REPRO_TRAIN_INIT_FROM_H
#define REPRO_TRAIN_INIT_FROM_H

#include "backend/backend.h"
#include "nn/model.h"
#include "repro/config.h"

/* Replaces every parameter of m with the tensor of the same name in
 * cfg->init.from: repro's name ("trunk.0.weight") or, failing that, the
 * name `repro export --format torch` gives it ("0.weight"). Batch-norm
 * running statistics are read too when the file has them. Every parameter
 * must be there with the model's shape and every tensor of the file must
 * find a parameter: else REPRO_ERR_CONFIG naming the tensor (and both
 * shapes). The values are copied bit for bit. */
repro_status repro_init_from(repro_model *m, const repro_backend *be, const repro_config *cfg, repro_error *err);

#endif
