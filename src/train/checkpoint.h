/* Checkpoints: everything a run needs to continue exactly where it stopped.
 *
 * A checkpoint is RUN/ckpt-<step, 8 digits>.safetensors holding the
 * parameters, the optimiser state, the EMA and best-epoch weights (when in
 * use), and in its metadata the position (step, epoch, step within the
 * epoch), the running epoch statistics, the early-stopping state, the config
 * hash, the repro version, the SHA-256 of the payload and meta_sha256, the
 * SHA-256 of all the other metadata (so no field can be edited unnoticed:
 * docs/reproducibility.md, "What a run directory guarantees"). There is no
 * random-generator state to save: every random number is addressed by
 * (seed, purpose, step, sample position, element), so the position is all a
 * resumed process needs (docs/reproducibility.md says why that is enough).
 * Files are written atomically (temporary file, fsync, rename, fsync of the
 * directory), so a crash never leaves a torn file under a checkpoint's name. */
#ifndef REPRO_TRAIN_CHECKPOINT_H
#define REPRO_TRAIN_CHECKPOINT_H

#include <stdint.h>

#include "nn/model.h"
#include "optim/optim.h"
#include "repro/record.h"

/* Where training stands between two optimiser steps. */
typedef struct repro_train_state {
    int64_t step;          /* optimiser steps done */
    int64_t epoch;         /* the epoch the next step belongs to */
    int64_t step_in_epoch; /* steps of that epoch already done */
    float epoch_loss_sum;  /* running sum of the epoch's step losses (for its train_loss) */
    int64_t epoch_seen;    /* samples of the epoch trained on */
    int es_has_best;       /* early stopping */
    float es_best;
    int es_bad_epochs;
    int finished;          /* training ended (all steps, or stopped early) */
    float last_loss;       /* the loss of step `step` (the run's final_loss) */
} repro_train_state;

/* The model's training state that a checkpoint carries, in host memory
 * (the trainer copies it from and back to its backend). */
typedef struct repro_ckpt_parts {
    const repro_model *model; /* tensor names, shapes and offsets */
    float *params;            /* [n_params] */
    float *m, *v;             /* optimiser state [n_params] or NULL */
    float *ema;               /* [n_params] or NULL */
    float *best;              /* [n_params] or NULL */
    float *buffers;           /* [n_buffers] (running statistics) or NULL when the model has none */
    int64_t optim_steps;      /* saved; set by a load */
} repro_ckpt_parts;

/* What the config and the data say a checkpoint's position must fit: a
 * loaded checkpoint's every field is checked against these (a field out of
 * range, or inconsistent with the others, is refused by name). */
typedef struct repro_ckpt_bounds {
    int64_t steps_per_epoch; /* >= 1 */
    int64_t total_steps;     /* the planned steps: min(epochs * steps_per_epoch, max_steps) */
    int64_t epochs;
    int64_t batch_size;
    int64_t epoch_len;       /* samples an epoch visits */
    int early_stopping;      /* early stopping is on and there is a validation set */
    int patience;
} repro_ckpt_bounds;

/* Writes RUN/ckpt-<step>.safetensors and removes all but the `keep` newest. */
repro_status repro_checkpoint_save(repro_run *run, int keep, const char *config_sha256,
                                   const repro_ckpt_parts *parts, const repro_train_state *s,
                                   repro_error *err);

/* Loads the newest checkpoint in dir that is whole and belongs to this
 * config (config_sha256 NULL: any config) into parts and *s. A newer one
 * that is torn or corrupt (payload or metadata checksum) is skipped and
 * named in `notes` (may be NULL). One whose checksums hold but whose
 * metadata does not fit `bounds` (or that belongs to another config) is
 * refused with REPRO_ERR_STATE, the field named: such a file was made to
 * pass, and no older one is tried. Checkpoints of the first format
 * ("repro-checkpoint/1", no meta_sha256) are read with the same checks but
 * the metadata checksum. path_out receives the file used. */
repro_status repro_checkpoint_load_newest(const char *dir, const char *config_sha256,
                                          const repro_ckpt_bounds *bounds,
                                          repro_ckpt_parts *parts, repro_train_state *s,
                                          char *notes, size_t notes_size, char *path_out,
                                          size_t path_size, repro_error *err);

#endif
