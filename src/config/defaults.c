/* defaults.c: every default value of a config, in one place
 * (docs/config.md lists the same). */
#include <stdio.h>
#include <string.h>

#include "config/schema.h"

void cfg_layer_defaults(repro_layer_config *layer)
{
    memset(layer, 0, sizeof *layer);
    layer->kind = REPRO_LAYER_LINEAR;
    layer->out = 0; /* required for linear: checked by cfg_validate */
    layer->bias = true;
    layer->p = 0.5f;
    layer->eps = 1e-5f;
    layer->dilation = 1;
    layer->groups = 1;
    layer->group_size = 32;
    layer->momentum = 0.1f;
    layer->axes = 1;
    layer->heads = 1;
    layer->dim_feedforward = 2048;
    layer->num_layers = 1;
    layer->pad_id = -1; /* required for pad_mask: checked by cfg_validate */
    layer->weight_init = REPRO_INIT_DEFAULT;
    layer->bias_init = REPRO_INIT_DEFAULT;
}

void cfg_head_defaults(repro_head_config *head, int index)
{
    memset(head, 0, sizeof *head);
    snprintf(head->name, sizeof head->name, "head%d", index);
    head->loss = REPRO_LOSS_CROSS_ENTROPY;
    head->weight = 1.0f;
    head->huber_delta = 1.0f;
    head->ignore_index = -1; /* none */
}

void repro_config_defaults(repro_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 0;
    cfg->mode = REPRO_MODE_EXACT;
    cfg->determinism = REPRO_DETERMINISM_STRICT; /* warn when mode is fast: config.c */
    cfg->device = REPRO_DEVICE_CPU;
    cfg->threads = 0; /* the machine's cores: threads never change a bit */
    cfg->epochs = 10;
    cfg->max_steps = 0;
    cfg->batch_size = 256;
    cfg->accum_steps = 1;
    cfg->eval_batch_size = 1000;

    repro_data_config *d = &cfg->data;
    d->format = REPRO_DATA_IDX;
    d->scale = 1.0f / 255.0f;
    d->header = true;
    d->val_fraction = 0.1f;
    d->y_is_label = true;

    repro_optim_config *o = &cfg->optim;
    o->name = REPRO_OPTIM_ADAM;
    o->lr = 1e-3f;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;

    cfg->schedule.name = REPRO_SCHEDULE_CONSTANT;
    cfg->schedule.step_size = 1000;
    cfg->schedule.gamma = 0.1f;

    cfg->ema.decay = 0.999f;

    cfg->early_stopping.metric = REPRO_METRIC_VAL_LOSS;
    cfg->early_stopping.patience = 3;
    cfg->early_stopping.restore_best = true;

    cfg->ledger.hash_every = 50;
    cfg->checkpoint.every_steps = 0;
    cfg->checkpoint.keep = 2;
    /* a killed run can always be resumed, losing at most an epoch or five
     * minutes, whichever is less */
    cfg->checkpoint.every_epoch = true;
    cfg->checkpoint.every_seconds = 300.0f;

    repro_sampler_config *s = &cfg->sampler;
    s->name = REPRO_SAMPLER_RANDOM;
    s->drop_last = false;
    s->samples_per_epoch = 0;
    s->block_size = 1024;
    s->buffer_blocks = 8;

    /* every transform off (p = 0); the parameters ready for when one is turned on */
    repro_augment_config *a = &cfg->augment;
    a->shift_pixels = 2;
    a->noise_std = 0.1f;
    a->erase_min_area = 0.02f;
    a->erase_max_area = 0.2f;
    a->feature_noise_std = 0.1f;
    a->feature_drop_rate = 0.1f;

    cfg->loader.workers = 0;
    cfg->loader.prefetch = 2;
}
