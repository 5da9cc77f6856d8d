/* validate.c: rules that tie several keys together, checked after every
 * key has been read on its own (schema.c). Each message names the keys. */
#include <stdio.h>
#include <string.h>

#include "config/schema.h"

static repro_status check_training(const cfg_ctx *ctx, const repro_config *cfg)
{
    if (cfg->batch_size % cfg->accum_steps != 0)
        return cfg_fail_path(ctx, "accum_steps", "accum_steps (%d) must divide batch_size (%d)",
                             cfg->accum_steps, cfg->batch_size);
    const repro_optim_config *o = &cfg->optim;
    if (o->nesterov && (o->name != REPRO_OPTIM_SGD || o->momentum == 0.0f))
        return cfg_fail_path(ctx, "optim.nesterov",
                             "optim.nesterov: needs optim.name sgd and optim.momentum > 0");
    if (cfg->schedule.name == REPRO_SCHEDULE_COSINE && cfg->schedule.min_lr > o->lr)
        return cfg_fail_path(ctx, "schedule.min_lr",
                             "schedule.min_lr (%.9g) must not exceed optim.lr (%.9g)",
                             (double)cfg->schedule.min_lr, (double)o->lr);
    if (cfg->allow_tf32 && (cfg->mode != REPRO_MODE_FAST || cfg->device != REPRO_DEVICE_CUDA))
        return cfg_fail_path(ctx, "allow_tf32", "allow_tf32: needs mode: fast and device: cuda "
                             "(TF32 products are not exact)");
    /* bf16 sums a weight gradient over samples in blocks of 16 (the tensor
     * core's k-block, src/ops/tc_model.h): micro-batches must cut the batch
     * on block boundaries, or accumulation would change the blocks. */
    int micro = cfg->batch_size / cfg->accum_steps;
    if (cfg->precision == REPRO_PRECISION_BF16 && cfg->accum_steps > 1 && micro % 16 != 0)
        return cfg_fail_path(ctx, "accum_steps",
                             "accum_steps (%d): with precision: bf16 the micro-batch (batch_size %d / accum_steps "
                             "%d = %d) must be a multiple of 16, the tensor core's block of products",
                             cfg->accum_steps, cfg->batch_size, cfg->accum_steps, micro);
    if (cfg->precision == REPRO_PRECISION_BF16 && cfg->mode == REPRO_MODE_FAST)
        return cfg_fail_path(ctx, "precision",
                             "precision: bf16 is an exact mode of its own (tensor cores with one written order); "
                             "use it with mode: exact");
    if (cfg->world.shards > 0 && cfg->batch_size % cfg->world.shards != 0)
        return cfg_fail_path(ctx, "world.shards", "world.shards (%d) must divide batch_size (%d)",
                             cfg->world.shards, cfg->batch_size);
    if (cfg->world.shards > 0) { /* a micro-batch never straddles two shards */
        int shard = cfg->batch_size / cfg->world.shards, micro = cfg->batch_size / cfg->accum_steps;
        int chunk = micro < shard ? micro : shard;
        if (shard % chunk != 0)
            return cfg_fail_path(ctx, "world.shards", "world.shards %d cuts batch_size %d into shards of %d "
                                 "samples, which accum_steps %d's micro-batches of %d do not divide",
                                 cfg->world.shards, cfg->batch_size, shard, cfg->accum_steps, micro);
    }
    if (cfg->early_stopping.enabled && cfg->data.val_fraction == 0.0f)
        return cfg_fail_path(ctx, "early_stopping.enabled",
                             "early_stopping.enabled: needs a validation set (data.val_fraction > 0)");
    return REPRO_OK;
}

/* Keys of the other format must stay empty: a set key is never ignored. */
static repro_status check_unused(const cfg_ctx *ctx, bool is_set, const char *key,
                                 const char *format)
{
    if (!is_set)
        return REPRO_OK;
    return cfg_fail_path(ctx, key, "%s: not used when data.format is %s", key, format);
}

/* A column may serve one role only. names[n] is checked against itself and
 * against the label. */
static repro_status check_columns(const cfg_ctx *ctx, const char *key, const repro_data_config *d,
                                  const char (*names)[REPRO_NAME_MAX], int n)
{
    for (int i = 0; i < n; i++) {
        if (d->label_column[0] && !strcmp(names[i], d->label_column))
            return cfg_fail_path(ctx, key, "%s: '%s' is also data.label_column", key, names[i]);
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j]))
                return cfg_fail_path(ctx, key, "%s: '%s' is listed twice", key, names[i]);
    }
    return REPRO_OK;
}

static repro_status check_idx_unused(const cfg_ctx *ctx, const repro_data_config *d,
                                     const char *format)
{
    repro_status st;
    if ((st = check_unused(ctx, d->train_images[0], "data.train_images", format)) ||
        (st = check_unused(ctx, d->train_labels[0], "data.train_labels", format)) ||
        (st = check_unused(ctx, d->test_images[0], "data.test_images", format)) ||
        (st = check_unused(ctx, d->test_labels[0], "data.test_labels", format)))
        return st;
    return REPRO_OK;
}

static repro_status check_csv_unused(const cfg_ctx *ctx, const repro_data_config *d,
                                     const char *format)
{
    repro_status st;
    if ((st = check_unused(ctx, d->train_csv[0], "data.train_csv", format)) ||
        (st = check_unused(ctx, d->test_csv[0], "data.test_csv", format)) ||
        (st = check_unused(ctx, d->n_feature_columns, "data.feature_columns", format)) ||
        (st = check_unused(ctx, d->label_column[0], "data.label_column", format)) ||
        (st = check_unused(ctx, d->n_target_columns, "data.target_columns", format)))
        return st;
    return REPRO_OK;
}

/* y_is_label is a boolean with a default: only its non-default value can be
 * told apart from "not set", and that one is refused outside npy. */
static repro_status check_npy_unused(const cfg_ctx *ctx, const repro_data_config *d,
                                     const char *format)
{
    repro_status st;
    if ((st = check_unused(ctx, d->train_x[0], "data.train_x", format)) ||
        (st = check_unused(ctx, d->train_y[0], "data.train_y", format)) ||
        (st = check_unused(ctx, d->test_x[0], "data.test_x", format)) ||
        (st = check_unused(ctx, d->test_y[0], "data.test_y", format)) ||
        (st = check_unused(ctx, !d->y_is_label, "data.y_is_label", format)))
        return st;
    return REPRO_OK;
}

/* train_text, context, text_samples and separator belong to the text format alone. */
static repro_status check_text_unused(const cfg_ctx *ctx, const repro_data_config *d,
                                      const char *format)
{
    repro_status st;
    if ((st = check_unused(ctx, d->train_text[0], "data.train_text", format)) ||
        (st = check_unused(ctx, d->context != 0, "data.context", format)) ||
        (st = check_unused(ctx, d->text_samples != REPRO_TEXT_WINDOWS, "data.text_samples", format)) ||
        (st = check_unused(ctx, d->separator[0], "data.separator", format)))
        return st;
    return REPRO_OK;
}

static repro_status check_text(const cfg_ctx *ctx, const repro_data_config *d)
{
    if (!d->train_text[0])
        return cfg_fail_path(ctx, "data", "data: format text needs train_text (a file or a glob)");
    if (d->context < 1)
        return cfg_fail_path(ctx, "data", "data: format text needs context (tokens per sample, >= 1)");
    if (d->separator[0] && d->text_samples != REPRO_TEXT_DOCUMENTS)
        return cfg_fail_path(ctx, "data.separator",
                             "data.separator: only used when data.text_samples is documents");
    /* a separator is a whole line: a newline in it could never match one */
    if (strchr(d->separator, '\n'))
        return cfg_fail_path(ctx, "data.separator",
                             "data.separator: the text of one line (without its newline); it holds a line break");
    repro_status st;
    if ((st = check_idx_unused(ctx, d, "text")) || (st = check_csv_unused(ctx, d, "text")) ||
        (st = check_npy_unused(ctx, d, "text")))
        return st;
    return REPRO_OK;
}

static repro_status check_idx(const cfg_ctx *ctx, const repro_data_config *d)
{
    if (!d->train_images[0] || !d->train_labels[0])
        return cfg_fail_path(ctx, "data", "data: format idx needs train_images and train_labels");
    if (!d->test_images[0] != !d->test_labels[0])
        return cfg_fail_path(ctx, "data", "data: test_images and test_labels go together");
    repro_status st = check_csv_unused(ctx, d, "idx");
    if (!st)
        st = check_text_unused(ctx, d, "idx");
    return st ? st : check_npy_unused(ctx, d, "idx");
}

static repro_status check_npy(const cfg_ctx *ctx, const repro_data_config *d)
{
    if (!d->train_x[0] || !d->train_y[0])
        return cfg_fail_path(ctx, "data", "data: format npy needs train_x and train_y");
    if (!d->test_x[0] != !d->test_y[0])
        return cfg_fail_path(ctx, "data", "data: test_x and test_y go together");
    repro_status st = check_idx_unused(ctx, d, "npy");
    if (!st)
        st = check_text_unused(ctx, d, "npy");
    return st ? st : check_csv_unused(ctx, d, "npy");
}

/* memory: the data comes from the caller (repro_train_options.train_data). */
static repro_status check_memory(const cfg_ctx *ctx, const repro_data_config *d)
{
    repro_status st = check_idx_unused(ctx, d, "memory");
    if (!st)
        st = check_csv_unused(ctx, d, "memory");
    return st ? st : check_npy_unused(ctx, d, "memory");
}

static repro_status check_csv(const cfg_ctx *ctx, const repro_data_config *d)
{
    repro_status st = REPRO_OK;
    if (!d->train_csv[0])
        return cfg_fail_path(ctx, "data", "data: format csv needs train_csv");
    if (!d->label_column[0] && d->n_target_columns == 0)
        return cfg_fail_path(ctx, "data", "data: format csv needs a label_column or target_columns");
    if ((st = check_idx_unused(ctx, d, "csv")) || (st = check_npy_unused(ctx, d, "csv")) ||
        (st = check_text_unused(ctx, d, "csv")))
        return st;
    if ((st = check_columns(ctx, "data.feature_columns", d, d->feature_columns,
                            d->n_feature_columns)) ||
        (st = check_columns(ctx, "data.target_columns", d, d->target_columns,
                            d->n_target_columns)))
        return st;
    for (int i = 0; i < d->n_feature_columns; i++)
        for (int j = 0; j < d->n_target_columns; j++)
            if (!strcmp(d->feature_columns[i], d->target_columns[j]))
                return cfg_fail_path(ctx, "data.feature_columns",
                                     "data.feature_columns: '%s' is also a target column",
                                     d->feature_columns[i]);
    return REPRO_OK;
}

static repro_status check_data(const cfg_ctx *ctx, const repro_data_config *d)
{
    switch (d->format) {
    case REPRO_DATA_IDX: return check_idx(ctx, d);
    case REPRO_DATA_CSV: return check_csv(ctx, d);
    case REPRO_DATA_NPY: return check_npy(ctx, d);
    case REPRO_DATA_MEMORY: return check_memory(ctx, d);
    case REPRO_DATA_TEXT: return check_text(ctx, d);
    }
    return cfg_fail_path(ctx, "data.format", "data.format: unknown format");
}

/* Whether the data has integer class labels (idx always; csv with a label
 * column; npy when y holds labels). */
static bool has_labels(const repro_data_config *d)
{
    return d->format == REPRO_DATA_IDX || (d->format == REPRO_DATA_CSV && d->label_column[0]) ||
           (d->format == REPRO_DATA_NPY && d->y_is_label) || d->format == REPRO_DATA_MEMORY;
}

/* What every layer needs whatever it reads: out for linear and conv2d, a
 * kernel for conv2d and the pools; name and inputs only in model.nodes. */
static repro_status check_layers(const cfg_ctx *ctx, const char *path,
                                 const repro_layer_config *layers, int n, bool nodes)
{
    for (int i = 0; i < n; i++) {
        const repro_layer_config *l = &layers[i];
        char key[256];
        snprintf(key, sizeof key, "%s.%d", path, i);
        const char *kind = repro_layer_kind_name(l->kind);
        if ((l->kind == REPRO_LAYER_LINEAR || l->kind == REPRO_LAYER_CONV2D) && l->out == 0)
            return cfg_fail_path(ctx, key, "%s: a %s layer needs 'out'", key, kind);
        if ((l->kind == REPRO_LAYER_CONV2D || l->kind == REPRO_LAYER_MAX_POOL2D ||
             l->kind == REPRO_LAYER_AVG_POOL2D) && l->kernel == 0)
            return cfg_fail_path(ctx, key, "%s: a %s layer needs 'kernel'", key, kind);
        if (l->kind == REPRO_LAYER_RESHAPE && l->n_shape == 0)
            return cfg_fail_path(ctx, key, "%s: a reshape layer needs 'shape'", key);
        if (l->kind == REPRO_LAYER_PAD_MASK && l->pad_id < 0)
            return cfg_fail_path(ctx, key, "%s: a pad_mask layer needs 'pad_id' (the padding token's id)", key);
        if (!nodes && (l->name[0] || l->n_inputs > 0)) {
            char at[300];
            snprintf(at, sizeof at, "%s.%s", key, l->name[0] ? "name" : "inputs");
            return cfg_fail_path(ctx, at, "%s: only model.nodes entries take '%s' (a trunk or head is a stack)",
                                 at, l->name[0] ? "name" : "inputs");
        }
    }
    return REPRO_OK;
}

static bool valid_name(const char *s)
{
    return s[0] && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
                       strlen(s);
}

/* What a head's loss needs from the data, and its output width when the
 * head ends in a linear layer. */
static repro_status check_head_vs_data(const cfg_ctx *ctx, const char *key,
                                       const repro_head_config *h, const repro_data_config *d)
{
    const repro_layer_config *last = h->n_layers ? &h->layers[h->n_layers - 1] : NULL;
    bool csv = d->format == REPRO_DATA_CSV, npy = d->format == REPRO_DATA_NPY;
    /* a language model's targets are the text's next tokens, and only text has them */
    if ((h->loss == REPRO_LOSS_LM_CROSS_ENTROPY) != (d->format == REPRO_DATA_TEXT))
        return cfg_fail_path(ctx, key, h->loss == REPRO_LOSS_LM_CROSS_ENTROPY
                                           ? "%s: loss lm_cross_entropy needs data.format text"
                                           : "%s: data.format text needs loss lm_cross_entropy", key);
    if (h->loss == REPRO_LOSS_LM_CROSS_ENTROPY)
        return REPRO_OK;
    if (h->loss == REPRO_LOSS_CROSS_ENTROPY) {
        if (csv && !d->label_column[0])
            return cfg_fail_path(ctx, key, "%s: loss cross_entropy needs data.label_column", key);
        if (npy && !d->y_is_label)
            return cfg_fail_path(ctx, key,
                                 "%s: loss cross_entropy needs class labels (data.y_is_label true)", key);
        if (d->n_classes > 0 && last && last->kind == REPRO_LAYER_LINEAR && last->out != d->n_classes)
            return cfg_fail_path(ctx, key, "%s: ends in %d outputs but data.n_classes is %d", key,
                                 last->out, d->n_classes);
        return REPRO_OK;
    }
    const char *loss = repro_loss_kind_name(h->loss);
    if (npy) { /* the target count is known once the file is read */
        if (d->y_is_label)
            return cfg_fail_path(ctx, key, "%s: loss %s needs float targets (data.y_is_label false)",
                                 key, loss);
        return REPRO_OK;
    }
    if (d->format == REPRO_DATA_MEMORY) /* the targets are known once the data is given */
        return REPRO_OK;
    if (!csv || d->n_target_columns == 0)
        return cfg_fail_path(ctx, key, "%s: loss %s needs data.target_columns (csv data)", key, loss);
    if (last && last->kind == REPRO_LAYER_LINEAR && last->out != d->n_target_columns)
        return cfg_fail_path(ctx, key, "%s: ends in %d outputs but data.target_columns has %d", key,
                             last->out, d->n_target_columns);
    return REPRO_OK;
}

/* Batch norm's statistics groups must not be cut by accumulation: each
 * group_size divides the micro-batch (docs/model.md). */
static repro_status check_bn_groups(const cfg_ctx *ctx, const repro_config *cfg, const char *path,
                                   const repro_layer_config *layers, int n)
{
    int micro = cfg->batch_size / (cfg->accum_steps > 0 ? cfg->accum_steps : 1);
    if (cfg->world.shards > 0 && cfg->batch_size / cfg->world.shards < micro) /* shards cut the micro-batch */
        micro = cfg->batch_size / cfg->world.shards;
    for (int i = 0; i < n; i++) {
        if (layers[i].kind != REPRO_LAYER_BATCH_NORM || micro % layers[i].group_size == 0)
            continue;
        char key[256];
        snprintf(key, sizeof key, "%s.%d.group_size", path, i);
        return cfg_fail_path(ctx, key,
                             "%s: batch-norm group %d does not divide the micro-batch of %d samples (batch_size %d / "
                             "accum_steps %d)", key, layers[i].group_size, micro, cfg->batch_size, cfg->accum_steps);
    }
    return REPRO_OK;
}

static repro_status check_model(const cfg_ctx *ctx, const repro_config *cfg)
{
    const repro_model_config *m = &cfg->model;
    bool graph = m->n_nodes > 0;
    if (graph && m->n_trunk > 0)
        return cfg_fail_path(ctx, "model.trunk", "model.trunk: a model has either nodes (a graph) or a trunk, "
                             "not both");
    repro_status st = graph ? check_layers(ctx, "model.nodes", m->nodes, m->n_nodes, true)
                            : check_layers(ctx, "model.trunk", m->trunk, m->n_trunk, false);
    if (!st)
        st = graph ? check_bn_groups(ctx, cfg, "model.nodes", m->nodes, m->n_nodes)
                   : check_bn_groups(ctx, cfg, "model.trunk", m->trunk, m->n_trunk);
    for (int i = 0; !st && i < m->n_heads; i++) {
        char path[64];
        snprintf(path, sizeof path, "model.heads.%d.layers", i);
        st = check_bn_groups(ctx, cfg, path, m->heads[i].layers, m->heads[i].n_layers);
    }
    if (st)
        return st;
    if (m->n_heads == 0)
        return cfg_fail_path(ctx, "model.heads", "model.heads: at least one head is required");
    for (int i = 0; i < m->n_heads; i++) {
        const repro_head_config *h = &m->heads[i];
        char key[64], layers[80];
        snprintf(key, sizeof key, "model.heads.%d", i);
        snprintf(layers, sizeof layers, "%s.layers", key);
        if (!valid_name(h->name))
            return cfg_fail_path(ctx, key, "%s.name: must be letters, digits, '_' or '-', got '%s'",
                                 key, h->name);
        for (int j = 0; j < i; j++)
            if (!strcmp(m->heads[j].name, h->name))
                return cfg_fail_path(ctx, key, "%s.name: '%s' is already the name of head %d", key,
                                     h->name, j);
        if (h->n_layers == 0 && !graph)
            return cfg_fail_path(ctx, key, "%s: at least one layer is required", layers);
        if (h->input[0] && !graph) {
            char at[96];
            snprintf(at, sizeof at, "%s.input", key);
            return cfg_fail_path(ctx, at, "%s: a head reads a node by name only in a graph (model.nodes)", at);
        }
        if (h->ignore_index >= 0 && h->loss != REPRO_LOSS_LM_CROSS_ENTROPY) {
            char at[96];
            snprintf(at, sizeof at, "%s.ignore_index", key);
            return cfg_fail_path(ctx, at, "%s: only loss lm_cross_entropy skips targets (this head's loss is %s)", at,
                                 repro_loss_kind_name(h->loss));
        }
        if ((st = check_layers(ctx, layers, h->layers, h->n_layers, false)) ||
            (st = check_head_vs_data(ctx, key, h, &cfg->data)))
            return st;
    }
    return REPRO_OK;
}

/* A sampler key that only some samplers read must not be set for others. */
static repro_status check_sampler(const cfg_ctx *ctx, const repro_config *cfg)
{
    const repro_sampler_config *s = &cfg->sampler;
    repro_config def;
    repro_config_defaults(&def);
    bool weighted = s->name == REPRO_SAMPLER_WEIGHTED;
    bool by_class = weighted || s->name == REPRO_SAMPLER_BALANCED;
    const char *name = by_class ? (weighted ? "weighted" : "balanced") : "";
    if (by_class && !has_labels(&cfg->data))
        return cfg_fail_path(ctx, "sampler.name",
                             "sampler.name: sampler %s needs class labels (data.label_column for "
                             "csv, data.y_is_label true for npy)", name);
    if (!by_class && s->samples_per_epoch != 0)
        return cfg_fail_path(ctx, "sampler.samples_per_epoch",
                             "sampler.samples_per_epoch: only used by samplers balanced and weighted");
    if (!weighted && s->n_class_weights > 0)
        return cfg_fail_path(ctx, "sampler.class_weights",
                             "sampler.class_weights: only used by sampler weighted");
    if (s->name != REPRO_SAMPLER_BLOCKS && s->block_size != def.sampler.block_size)
        return cfg_fail_path(ctx, "sampler.block_size", "sampler.block_size: only used by sampler blocks");
    if (s->name != REPRO_SAMPLER_BLOCKS && s->buffer_blocks != def.sampler.buffer_blocks)
        return cfg_fail_path(ctx, "sampler.buffer_blocks",
                             "sampler.buffer_blocks: only used by sampler blocks");
    if (!weighted)
        return REPRO_OK;
    if (s->n_class_weights == 0)
        return cfg_fail_path(ctx, "sampler", "sampler: sampler weighted needs class_weights (one per class)");
    bool any = false;
    for (int i = 0; i < s->n_class_weights; i++)
        any = any || s->class_weights[i] > 0.0f;
    if (!any)
        return cfg_fail_path(ctx, "sampler.class_weights",
                             "sampler.class_weights: at least one weight must be > 0");
    if (cfg->data.n_classes > 0 && s->n_class_weights != cfg->data.n_classes)
        return cfg_fail_path(ctx, "sampler.class_weights",
                             "sampler.class_weights: has %d weights but data.n_classes is %d",
                             s->n_class_weights, cfg->data.n_classes);
    return REPRO_OK;
}

static repro_status check_augment(const cfg_ctx *ctx, const repro_config *cfg)
{
    const repro_augment_config *a = &cfg->augment;
    if (a->erase_min_area > a->erase_max_area)
        return cfg_fail_path(ctx, "augment.erase_min_area",
                             "augment.erase_min_area (%.9g) must not exceed augment.erase_max_area (%.9g)",
                             (double)a->erase_min_area, (double)a->erase_max_area);
    if (cfg->data.format != REPRO_DATA_CSV)
        return REPRO_OK; /* npy: whether x is an image is known once the file is read */
    static const char *const keys[4] = {"augment.shift_p", "augment.flip_p", "augment.erase_p",
                                        "augment.noise_p"};
    const float p[4] = {a->shift_p, a->flip_p, a->erase_p, a->noise_p};
    for (int i = 0; i < 4; i++)
        if (p[i] > 0.0f)
            return cfg_fail_path(ctx, keys[i],
                                 "%s: an image augmentation, but data.format is csv (tables take "
                                 "augment.feature_noise_p and augment.feature_drop_p)", keys[i]);
    return REPRO_OK;
}

static repro_status check_pad_masks(const cfg_ctx *ctx, const char *path, const repro_layer_config *layers, int n)
{
    for (int i = 0; i < n; i++)
        if (layers[i].kind == REPRO_LAYER_PAD_MASK && layers[i].pad_id != REPRO_TEXT_PAD_ID) {
            char at[128];
            snprintf(at, sizeof at, "%s.%d.pad_id", path, i);
            return cfg_fail_path(ctx, at, "%s: %d, but data.text_samples documents pads with token id %d: "
                                 "pad_id must be %d", at, layers[i].pad_id, REPRO_TEXT_PAD_ID, REPRO_TEXT_PAD_ID);
        }
    return REPRO_OK;
}

/* Documents are padded with token REPRO_TEXT_PAD_ID: a pad_mask that masks
 * another id, or a loss that skips another target, is a mistake (it would
 * hide a real character and train on the padding). */
static repro_status check_pad_ids(const cfg_ctx *ctx, const repro_config *cfg)
{
    if (cfg->data.format != REPRO_DATA_TEXT || cfg->data.text_samples != REPRO_TEXT_DOCUMENTS)
        return REPRO_OK;
    const repro_model_config *m = &cfg->model;
    repro_status st;
    if ((st = check_pad_masks(ctx, "model.nodes", m->nodes, m->n_nodes)) ||
        (st = check_pad_masks(ctx, "model.trunk", m->trunk, m->n_trunk)))
        return st;
    for (int i = 0; i < m->n_heads; i++) {
        char path[64];
        snprintf(path, sizeof path, "model.heads.%d.layers", i);
        if ((st = check_pad_masks(ctx, path, m->heads[i].layers, m->heads[i].n_layers)))
            return st;
    }
    for (int i = 0; i < m->n_heads; i++)
        if (m->heads[i].ignore_index >= 0 && m->heads[i].ignore_index != REPRO_TEXT_PAD_ID) {
            char at[96];
            snprintf(at, sizeof at, "model.heads.%d.ignore_index", i);
            return cfg_fail_path(ctx, at, "%s: %d, but data.text_samples documents pads with token id %d: "
                                 "ignore_index must be %d (or left out)", at, m->heads[i].ignore_index,
                                 REPRO_TEXT_PAD_ID, REPRO_TEXT_PAD_ID);
        }
    return REPRO_OK;
}

repro_status cfg_validate(const cfg_ctx *ctx, const repro_config *cfg)
{
    repro_status st = check_training(ctx, cfg);
    if (!st)
        st = check_data(ctx, &cfg->data);
    if (!st)
        st = check_model(ctx, cfg);
    if (!st)
        st = check_sampler(ctx, cfg);
    if (!st)
        st = check_augment(ctx, cfg);
    if (!st)
        st = check_pad_ids(ctx, cfg);
    return st;
}
