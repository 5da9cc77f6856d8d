/* The names `repro export --format torch` gives a model's parameters
 * ("0.weight", ...), without a run: init.from reads files saved under them
 * (src/train/init_from.c). The same walk as the export, so they agree. */
#ifndef REPRO_RECORD_TORCH_NAMES_H
#define REPRO_RECORD_TORCH_NAMES_H

#include "repro/config.h"
#include "repro/status.h"

/* For config_json (repro_config_to_json), up to max pairs: torch[i] is the
 * nn.Sequential name of repro[i] (every linear, conv and norm layer's weight
 * and bias, whether or not it has a bias). REPRO_ERR_UNSUPPORTED as
 * repro_export_torch for a model with no nn.Sequential equivalent. */
repro_status repro_torch_names(const char *config_json, int max, char (*torch)[REPRO_NAME_MAX * 3],
                               char (*repro)[REPRO_NAME_MAX * 3], int *n, repro_error *err);

#endif
