/* repro/export.h: a run's weights for other frameworks.
 *
 * repro_export_torch writes a run's model.safetensors again under the
 * names of a PyTorch nn.Sequential that computes the same function, and
 * returns that module's Python code. repro's tensors already have
 * PyTorch's layouts (linear weight [out][in], conv weight
 * [out][in/groups][kh][kw], NCHW activations), so only the names change:
 * the model's layers in order (model.nodes, or the trunk) then its head's
 * layers become modules 0, 1, 2, ... Details and the table of layers:
 * docs/python.md#pytorch. */
#ifndef REPRO_EXPORT_H
#define REPRO_EXPORT_H

#include "repro/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes out_path (safetensors, F32; metadata: "format": "pt",
 * "repro_run", "params_sha256", "repro_names": a JSON object from each
 * torch name to the repro name) from run_dir's run.json and
 * model.safetensors, and sets *module_code (malloc'd; caller frees) to
 * Python code that defines `model`, the nn.Sequential it loads into.
 * REPRO_ERR_UNSUPPORTED, naming the head, node or layer, for a model with
 * no nn.Sequential equivalent: more than one head, a node that joins
 * inputs (add, concat) or reads other than the node before it, a head
 * reading other than the last node, or batch_norm (its statistics over
 * fixed sample groups have no PyTorch module). */
repro_status repro_export_torch(const char *run_dir, const char *out_path, char **module_code, repro_error *err);

#ifdef __cplusplus
}
#endif
#endif
