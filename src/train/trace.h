/* Per-operation fingerprints of training steps: the data behind
 * `repro diff --trace`.
 *
 * A trace records, for every optimiser step in a chosen range, each tensor
 * the step computes, in the order it is computed:
 *
 *   op                         tensor                      when
 *   params                     params.<tensor>             first traced step, before it
 *   input                      input                       each micro-batch's x [b][in]
 *   <layer>.forward            <layer>.out                 e.g. trunk.0.linear.out
 *   heads.<h>.loss             heads.<h>.loss, .dout       per-sample losses, dL/d(output)
 *   <layer>.backward           <layer>.dx                  e.g. trunk.2.relu.dx
 *   trunk.backward             trunk.dy                    sum of the heads' gradients (2+ heads)
 *   grad                       grad.<tensor>               after the whole step's backward
 *   step                       loss                        the step's loss
 *
 * With gradient accumulation the per-micro-batch tensors (input to
 * trunk.dy) are prefixed with "mb<k>." (k from 0): "mb1.trunk.0.linear.out".
 * Layer names are <stack>.<index>.<kind>: "trunk.3.linear",
 * "heads.class.0.linear".
 *
 * DIR/trace.jsonl holds one line per tensor:
 *   {"step":5,"op":"trunk.0.linear.forward","tensor":"trunk.0.linear.out",
 *    "shape":[128,64],"n":8192,"offset":0,"sha256":"<64 hex>"}
 * and DIR/trace.bin the tensors' raw binary32 values back to back
 * (host byte order), the line's "offset" counting bytes. Both are plain
 * files, written in order and flushed when the trace is closed. */
#ifndef REPRO_TRAIN_TRACE_H
#define REPRO_TRAIN_TRACE_H

#include <stdint.h>

#include "repro/status.h"

typedef struct repro_trace repro_trace;

/* Creates DIR (and its parents) and the two files in it, replacing earlier
 * ones, for steps first..last (1-based, like the ledger; first <= last). */
repro_status repro_trace_open(const char *dir, int64_t first, int64_t last, repro_trace **out,
                              repro_error *err);

/* Whether step (1-based) is in the traced range. */
int repro_trace_wants(const repro_trace *t, int64_t step);

/* The step being recorded (1-based) and the micro-batch within it (-1: the
 * step has one micro-batch, no prefix; else the "mb<k>." prefix). */
void repro_trace_at(repro_trace *t, int64_t step, int micro);

/* Records one tensor data [rows][cols] (or [rows] when cols = 0) under op
 * and name (letters, digits, '.', '_', '-': written into JSON as they are);
 * the micro-batch prefix is added when per_micro is set and the step has
 * several micro-batches. */
repro_status repro_trace_tensor(repro_trace *t, const char *op, const char *name, int per_micro,
                                const float *data, int64_t rows, int64_t cols, repro_error *err);

/* Flushes and closes both files and frees t (also on failure; NULL is fine). */
repro_status repro_trace_close(repro_trace *t, repro_error *err);

#endif
