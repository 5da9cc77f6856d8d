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

static repro_status check_data(const cfg_ctx *ctx, const repro_data_config *d)
{
    repro_status st = REPRO_OK;
    if (d->format == REPRO_DATA_IDX) {
        if (!d->train_images[0] || !d->train_labels[0])
            return cfg_fail_path(ctx, "data", "data: format idx needs train_images and train_labels");
        if (!d->test_images[0] != !d->test_labels[0])
            return cfg_fail_path(ctx, "data", "data: test_images and test_labels go together");
        if ((st = check_unused(ctx, d->train_csv[0], "data.train_csv", "idx")) ||
            (st = check_unused(ctx, d->test_csv[0], "data.test_csv", "idx")) ||
            (st = check_unused(ctx, d->n_feature_columns, "data.feature_columns", "idx")) ||
            (st = check_unused(ctx, d->label_column[0], "data.label_column", "idx")) ||
            (st = check_unused(ctx, d->n_target_columns, "data.target_columns", "idx")))
            return st;
        return REPRO_OK;
    }
    if (!d->train_csv[0])
        return cfg_fail_path(ctx, "data", "data: format csv needs train_csv");
    if (!d->label_column[0] && d->n_target_columns == 0)
        return cfg_fail_path(ctx, "data", "data: format csv needs a label_column or target_columns");
    if ((st = check_unused(ctx, d->train_images[0], "data.train_images", "csv")) ||
        (st = check_unused(ctx, d->train_labels[0], "data.train_labels", "csv")) ||
        (st = check_unused(ctx, d->test_images[0], "data.test_images", "csv")) ||
        (st = check_unused(ctx, d->test_labels[0], "data.test_labels", "csv")))
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

static repro_status check_layers(const cfg_ctx *ctx, const char *path,
                                 const repro_layer_config *layers, int n)
{
    for (int i = 0; i < n; i++) {
        if (layers[i].kind == REPRO_LAYER_LINEAR && layers[i].out == 0) {
            char key[256];
            snprintf(key, sizeof key, "%s.%d", path, i);
            return cfg_fail_path(ctx, key, "%s: a linear layer needs 'out'", key);
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
    const repro_layer_config *last = &h->layers[h->n_layers - 1];
    bool csv = d->format == REPRO_DATA_CSV;
    if (h->loss == REPRO_LOSS_CROSS_ENTROPY) {
        if (csv && !d->label_column[0])
            return cfg_fail_path(ctx, key, "%s: loss cross_entropy needs data.label_column", key);
        if (d->n_classes > 0 && last->kind == REPRO_LAYER_LINEAR && last->out != d->n_classes)
            return cfg_fail_path(ctx, key, "%s: ends in %d outputs but data.n_classes is %d", key,
                                 last->out, d->n_classes);
        return REPRO_OK;
    }
    const char *loss = repro_loss_kind_name(h->loss);
    if (!csv || d->n_target_columns == 0)
        return cfg_fail_path(ctx, key, "%s: loss %s needs data.target_columns (csv data)", key, loss);
    if (last->kind == REPRO_LAYER_LINEAR && last->out != d->n_target_columns)
        return cfg_fail_path(ctx, key, "%s: ends in %d outputs but data.target_columns has %d", key,
                             last->out, d->n_target_columns);
    return REPRO_OK;
}

static repro_status check_model(const cfg_ctx *ctx, const repro_config *cfg)
{
    const repro_model_config *m = &cfg->model;
    repro_status st = check_layers(ctx, "model.trunk", m->trunk, m->n_trunk);
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
        if (h->n_layers == 0)
            return cfg_fail_path(ctx, key, "%s: at least one layer is required", layers);
        if ((st = check_layers(ctx, layers, h->layers, h->n_layers)) ||
            (st = check_head_vs_data(ctx, key, h, &cfg->data)))
            return st;
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
    return st;
}
