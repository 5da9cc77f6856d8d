/* libFuzzer: the checkpoint loader (repro_checkpoint_load_newest): the
 * safetensors file, the tensors a model needs by name and size, the payload
 * and metadata checksums, every metadata field's parse, range and
 * consistency checks. The model: 4 inputs, a linear layer of 3, ReLU, a
 * head of 2 (23 parameters), Adam; 3 steps an epoch, 3 epochs.
 *
 * REPRO_FUZZ_MAKE_SEEDS=DIR in the environment writes seed checkpoints of
 * that model (steps 0, 4 and 9) to DIR and exits: fuzz/corpus/checkpoint/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "nn/model.h"
#include "repro/isa.h"
#include "repro/config.h"
#include "train/checkpoint.h"

static repro_backend *be;
static repro_model *model;
static float *params, *m, *v;
static const repro_ckpt_bounds bounds = {.steps_per_epoch = 3, .total_steps = 9, .epochs = 3, .batch_size = 4,
                                         .epoch_len = 12, .early_stopping = 0, .patience = 1};

static void die(const char *what, const repro_error *err)
{
    fprintf(stderr, "fuzz_checkpoint: %s: %s\n", what, err->message);
    exit(1);
}

static void make_seeds(const char *dir)
{
    repro_error err;
    repro_run *run;
    if (repro_run_create(dir, 1, &run, &err) != REPRO_OK)
        die("creating the seed directory", &err);
    int64_t np = repro_model_n_params(model);
    for (int64_t i = 0; i < np; i++)
        params[i] = (float)i / 8.0f, m[i] = 0.25f, v[i] = 0.5f;
    const repro_train_state states[] = {
        {0},
        {.step = 4, .epoch = 1, .step_in_epoch = 1, .epoch_seen = 4, .epoch_loss_sum = 1.5f, .last_loss = 1.5f},
        {.step = 9, .epoch = 3, .finished = 1, .last_loss = 0.75f},
    };
    for (size_t i = 0; i < sizeof states / sizeof *states; i++) {
        repro_ckpt_parts parts = {model, params, m, v, NULL, NULL, NULL, states[i].step};
        if (repro_checkpoint_save(run, 5, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", &parts,
                                  &states[i], &err) != REPRO_OK)
            die("writing a seed", &err);
    }
    repro_run_finish(run, "interrupted", "seeds for fuzz_checkpoint", &err);
    exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    repro_error err;
    repro_model_config mc;
    memset(&mc, 0, sizeof mc);
    mc.n_trunk = 2;
    mc.trunk[0] = (repro_layer_config){.kind = REPRO_LAYER_LINEAR, .out = 3, .bias = true};
    mc.trunk[1] = (repro_layer_config){.kind = REPRO_LAYER_RELU};
    mc.n_heads = 1;
    snprintf(mc.heads[0].name, sizeof mc.heads[0].name, "out");
    mc.heads[0].n_layers = 1;
    mc.heads[0].layers[0] = (repro_layer_config){.kind = REPRO_LAYER_LINEAR, .out = 2, .bias = true};
    if (repro_backend_create_cpu(REPRO_ISA_SCALAR, 1, &be, &err) != REPRO_OK)
        die("the backend", &err);
    if (repro_model_create(&mc, NULL, 4, 4, be, &model, &err) != REPRO_OK)
        die("the model", &err);
    size_t bytes = (size_t)repro_model_n_params(model) * sizeof(float);
    params = malloc(bytes);
    m = malloc(bytes);
    v = malloc(bytes);
    const char *seeds = getenv("REPRO_FUZZ_MAKE_SEEDS");
    if (seeds && *seeds)
        make_seeds(seeds);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512], dir[512];
    fuzz_write("ck/ckpt-00000010.safetensors", data, size, path, sizeof path);
    fuzz_path(dir, sizeof dir, "ck");
    repro_ckpt_parts parts = {model, params, m, v, NULL, NULL, NULL, 0};
    repro_train_state s;
    char notes[1024], used[1024];
    repro_error err;
    repro_checkpoint_load_newest(dir, NULL, &bounds, &parts, &s, notes, sizeof notes, used, sizeof used, &err);
    return 0;
}
