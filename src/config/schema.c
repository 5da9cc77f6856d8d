/* schema.c: the key table and the generic reader that walks a yt_node
 * tree against it, checking each key, type and range. See schema.h. */
#include "config/schema.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(sizeof(repro_mode) == sizeof(int), "enums are stored through int");

static const char *const mode_names[] = {"exact", "fast", NULL};
static const char *const precision_names[] = {"fp32", "bf16", NULL};
static const char *const determinism_names[] = {"strict", "warn", "off", NULL};
static const char *const device_names[] = {"cpu", "cuda", NULL};
static const char *const on_device_names[] = {"auto", "on", "off", NULL};
#define LAYER_NAME(ID, name, ...) #name,
static const char *const layer_names[] = {REPRO_LAYER_KINDS(LAYER_NAME, LAYER_NAME, LAYER_NAME) NULL};
static const char *const activation_names[] = {"relu", "gelu", "gelu_tanh", NULL};
static const char *const init_names[] = {"default",        "kaiming_uniform", "kaiming_normal",
                                         "xavier_uniform", "xavier_normal",   "zeros",
                                         "constant",       "torch_default",   NULL};
static const char *const loss_names[] = {"cross_entropy", "mse", "huber", "lm_cross_entropy", NULL};
static const char *const format_names[] = {"idx", "csv", "npy", "memory", "text", NULL};
static const char *const text_samples_names[] = {"windows", "documents", NULL};
static const char *const optim_names[] = {"sgd", "adam", "adamw", NULL};
static const char *const schedule_names[] = {"constant", "step", "cosine", NULL};
static const char *const metric_names[] = {"val_loss", "val_accuracy", NULL};
static const char *const sampler_names[] = {"random", "sequential", "balanced", "weighted", "blocks",
                                            NULL};

#define GE(a) {CFG_LO, (a), 0}
#define GT(a) {CFG_LO | CFG_LO_OPEN, (a), 0}
#define IN(a, b) {CFG_LO | CFG_HI, (a), (b)}
#define IN_OPEN(a, b) {CFG_LO | CFG_HI | CFG_HI_OPEN, (a), (b)} /* [a, b) */
#define IN_LO_OPEN(a, b) {CFG_LO | CFG_LO_OPEN | CFG_HI, (a), (b)} /* (a, b] */

/* A key named like its struct member. */
#define F(S, T, m, ...) {.key = #m, .type = (T), .offset = offsetof(S, m), __VA_ARGS__}
#define TABLE(name, fields) const cfg_table name = {fields, sizeof fields / sizeof fields[0]}

#define K(kind) ((uint64_t)1 << REPRO_LAYER_##kind)
_Static_assert(REPRO_LAYER_KIND_COUNT <= 64, "cfg_field.kinds holds a bit per layer kind");
#define LINEAR (K(LINEAR) | K(CONV2D)) /* the layers with weights and biases */
#define POOL (K(MAX_POOL2D) | K(AVG_POOL2D))
#define ENCODER (K(TRANSFORMER_ENCODER_LAYER) | K(TRANSFORMER_ENCODER))
#define ATTENTION (K(MULTIHEAD_ATTENTION) | ENCODER)
/* name and inputs are read for model.nodes only (validate.c refuses them in
 * a trunk or head; to_json.c writes them only when set) */
static const cfg_field layer_fields[] = {
    {.key = "type", .type = CFG_ENUM, .offset = offsetof(repro_layer_config, kind),
     .names = layer_names},
    F(repro_layer_config, CFG_STR, name, .cap = REPRO_NAME_MAX),
    F(repro_layer_config, CFG_STRLIST, inputs, .count_offset = offsetof(repro_layer_config, n_inputs),
      .cap = REPRO_MAX_INPUTS),
    F(repro_layer_config, CFG_INT, out, .range = GE(1), .kinds = LINEAR),
    F(repro_layer_config, CFG_BOOL, bias, .kinds = LINEAR | ATTENTION),
    F(repro_layer_config, CFG_ENUM, weight_init, .names = init_names, .kinds = LINEAR),
    F(repro_layer_config, CFG_FLOAT, weight_init_value, .kinds = LINEAR),
    F(repro_layer_config, CFG_ENUM, bias_init, .names = init_names, .kinds = LINEAR),
    F(repro_layer_config, CFG_FLOAT, bias_init_value, .kinds = LINEAR),
    F(repro_layer_config, CFG_FLOAT, p, .range = IN_OPEN(0, 1), .kinds = K(DROPOUT)),
    F(repro_layer_config, CFG_FLOAT, eps, .range = GT(0), .kinds = K(LAYERNORM) | K(BATCH_NORM) | K(GROUP_NORM) | ENCODER),
    F(repro_layer_config, CFG_INT, kernel, .range = GE(1), .kinds = K(CONV2D) | POOL),
    F(repro_layer_config, CFG_INT, kernel_w, .range = GE(0), .kinds = K(CONV2D) | POOL),
    /* the default 0 (never written by a user: the range refuses it) means
     * 1 for conv2d and the kernel for pools */
    F(repro_layer_config, CFG_INT, stride, .range = GE(1), .kinds = K(CONV2D) | POOL),
    F(repro_layer_config, CFG_INT, padding, .range = GE(0), .kinds = K(CONV2D) | POOL),
    F(repro_layer_config, CFG_INT, dilation, .range = GE(1), .kinds = K(CONV2D)),
    F(repro_layer_config, CFG_INT, groups, .range = GE(1), .kinds = K(CONV2D) | K(GROUP_NORM)),
    F(repro_layer_config, CFG_INT, group_size, .range = GE(1), .kinds = K(BATCH_NORM)),
    F(repro_layer_config, CFG_FLOAT, momentum, .range = IN(0, 1), .kinds = K(BATCH_NORM)),
    F(repro_layer_config, CFG_INT, axes, .range = IN(1, REPRO_MAX_DIMS), .kinds = K(LAYERNORM)),
    F(repro_layer_config, CFG_INT, axis, .range = IN(0, REPRO_MAX_DIMS - 1), .kinds = K(CONCAT)),
    F(repro_layer_config, CFG_INTLIST, shape, .count_offset = offsetof(repro_layer_config, n_shape),
      .cap = REPRO_MAX_DIMS, .range = GE(1), .kinds = K(RESHAPE)),
    F(repro_layer_config, CFG_INT, num_embeddings, .range = GE(1), .kinds = K(EMBEDDING)),
    F(repro_layer_config, CFG_INT, dim, .range = GE(1), .kinds = K(EMBEDDING)),
    F(repro_layer_config, CFG_INT, patch, .range = GE(1), .kinds = K(PATCHIFY)),
    /* ids up to 2^24 - 1: those a float codes exactly (docs/model.md "Token ids") */
    F(repro_layer_config, CFG_INT, pad_id, .range = IN(0, 16777215), .kinds = K(PAD_MASK)),
    F(repro_layer_config, CFG_INT, heads, .range = GE(1), .kinds = ATTENTION),
    F(repro_layer_config, CFG_BOOL, causal, .kinds = ATTENTION),
    F(repro_layer_config, CFG_FLOAT, dropout, .range = IN_OPEN(0, 1), .kinds = ATTENTION),
    F(repro_layer_config, CFG_INT, d_model, .range = GE(1), .kinds = ENCODER),
    F(repro_layer_config, CFG_INT, dim_feedforward, .range = GE(1), .kinds = ENCODER),
    F(repro_layer_config, CFG_ENUM, activation, .names = activation_names, .kinds = ENCODER),
    F(repro_layer_config, CFG_BOOL, norm_first, .kinds = ENCODER),
    F(repro_layer_config, CFG_INT, num_layers, .range = GE(1), .kinds = K(TRANSFORMER_ENCODER)),
};
TABLE(cfg_layer_table, layer_fields);

static const cfg_field head_fields[] = {
    F(repro_head_config, CFG_STR, name, .cap = REPRO_NAME_MAX),
    F(repro_head_config, CFG_STR, input, .cap = REPRO_NAME_MAX),
    F(repro_head_config, CFG_LAYERS, layers, .count_offset = offsetof(repro_head_config, n_layers),
      .cap = REPRO_MAX_LAYERS),
    F(repro_head_config, CFG_ENUM, loss, .names = loss_names),
    F(repro_head_config, CFG_FLOAT, weight, .range = GE(0)),
    F(repro_head_config, CFG_FLOAT, huber_delta, .range = GT(0)),
    /* the default -1 (none) cannot be written: the range refuses it */
    F(repro_head_config, CFG_INT, ignore_index, .range = IN(0, 16777215)),
};
TABLE(cfg_head_table, head_fields);

static const cfg_field model_fields[] = {
    F(repro_model_config, CFG_INT, input, .range = GE(0)),
    F(repro_model_config, CFG_INTLIST, input_shape, .count_offset = offsetof(repro_model_config, n_input_shape),
      .cap = REPRO_MAX_DIMS, .range = GE(1)),
    F(repro_model_config, CFG_LAYERS, nodes, .count_offset = offsetof(repro_model_config, n_nodes),
      .cap = REPRO_MAX_NODES),
    F(repro_model_config, CFG_LAYERS, trunk,
      .count_offset = offsetof(repro_model_config, n_trunk), .cap = REPRO_MAX_LAYERS),
    F(repro_model_config, CFG_HEADS, heads,
      .count_offset = offsetof(repro_model_config, n_heads), .cap = REPRO_MAX_HEADS),
};
static TABLE(model_table, model_fields);

#define DPATH(m) F(repro_data_config, CFG_PATH, m, .cap = REPRO_PATH_MAX)
#define DLIST(m, count)                                                                     \
    F(repro_data_config, CFG_STRLIST, m, .count_offset = offsetof(repro_data_config, count), \
      .cap = REPRO_MAX_COLUMNS)
static const cfg_field data_fields[] = {
    F(repro_data_config, CFG_ENUM, format, .names = format_names),
    DPATH(train_images),
    DPATH(train_labels),
    DPATH(test_images),
    DPATH(test_labels),
    F(repro_data_config, CFG_FLOAT, scale, .range = GT(0)),
    F(repro_data_config, CFG_FLOAT, val_fraction, .range = IN_OPEN(0, 1)),
    F(repro_data_config, CFG_I64, limit_train, .range = GE(0)),
    F(repro_data_config, CFG_I64, limit_test, .range = GE(0)),
    DPATH(train_csv),
    DPATH(test_csv),
    F(repro_data_config, CFG_BOOL, header),
    DLIST(feature_columns, n_feature_columns),
    F(repro_data_config, CFG_STR, label_column, .cap = REPRO_NAME_MAX),
    DLIST(target_columns, n_target_columns),
    F(repro_data_config, CFG_INT, n_classes, .range = GE(0)),
    DPATH(train_x),
    DPATH(train_y),
    DPATH(test_x),
    DPATH(test_y),
    F(repro_data_config, CFG_BOOL, y_is_label),
    DPATH(train_text),
    F(repro_data_config, CFG_INT, context, .range = GE(0)),
    F(repro_data_config, CFG_ENUM, text_samples, .names = text_samples_names),
    F(repro_data_config, CFG_STR, separator, .cap = REPRO_NAME_MAX),
};
TABLE(cfg_data_table, data_fields);

static const cfg_field optim_fields[] = {
    F(repro_optim_config, CFG_ENUM, name, .names = optim_names),
    F(repro_optim_config, CFG_FLOAT, lr, .range = GT(0)),
    F(repro_optim_config, CFG_FLOAT, beta1, .range = IN_OPEN(0, 1)),
    F(repro_optim_config, CFG_FLOAT, beta2, .range = IN_OPEN(0, 1)),
    F(repro_optim_config, CFG_FLOAT, eps, .range = GT(0)),
    F(repro_optim_config, CFG_FLOAT, weight_decay, .range = GE(0)),
    F(repro_optim_config, CFG_FLOAT, momentum, .range = IN_OPEN(0, 1)),
    F(repro_optim_config, CFG_BOOL, nesterov),
    F(repro_optim_config, CFG_FLOAT, clip_norm, .range = GE(0)),
};
static TABLE(optim_table, optim_fields);

static const cfg_field schedule_fields[] = {
    F(repro_schedule_config, CFG_ENUM, name, .names = schedule_names),
    F(repro_schedule_config, CFG_I64, warmup_steps, .range = GE(0)),
    F(repro_schedule_config, CFG_I64, step_size, .range = GE(1)),
    F(repro_schedule_config, CFG_FLOAT, gamma, .range = GT(0)),
    F(repro_schedule_config, CFG_FLOAT, min_lr, .range = GE(0)),
};
static TABLE(schedule_table, schedule_fields);

static const cfg_field ema_fields[] = {
    F(repro_ema_config, CFG_BOOL, enabled),
    F(repro_ema_config, CFG_FLOAT, decay, .range = IN_OPEN(0, 1)),
};
static TABLE(ema_table, ema_fields);

static const char *const init_default_names[] = {"default", "torch_default", NULL};
static const cfg_field init_fields[] = {
    F(repro_init_config, CFG_PATH, from, .cap = REPRO_PATH_MAX),
    {.key = "default", .type = CFG_ENUM, .offset = offsetof(repro_init_config, torch_default),
     .names = init_default_names},
};
static TABLE(init_table, init_fields);

static const cfg_field early_fields[] = {
    F(repro_early_stop_config, CFG_BOOL, enabled),
    F(repro_early_stop_config, CFG_ENUM, metric, .names = metric_names),
    F(repro_early_stop_config, CFG_INT, patience, .range = GE(1)),
    F(repro_early_stop_config, CFG_FLOAT, min_delta, .range = GE(0)),
    F(repro_early_stop_config, CFG_BOOL, restore_best),
};
static TABLE(early_table, early_fields);

static const cfg_field ledger_fields[] = {
    F(repro_ledger_config, CFG_I64, hash_every, .range = GE(1)),
};
static TABLE(ledger_table, ledger_fields);

static const cfg_field checkpoint_fields[] = {
    F(repro_checkpoint_config, CFG_I64, every_steps, .range = GE(0)),
    F(repro_checkpoint_config, CFG_INT, keep, .range = GE(1)),
    F(repro_checkpoint_config, CFG_BOOL, every_epoch),
    F(repro_checkpoint_config, CFG_FLOAT, every_seconds, .range = GE(0)),
};
static TABLE(checkpoint_table, checkpoint_fields);
static const cfg_field sampler_fields[] = {
    F(repro_sampler_config, CFG_ENUM, name, .names = sampler_names),
    F(repro_sampler_config, CFG_BOOL, drop_last),
    /* epoch positions are 32-bit (the sampler's and the loader's counters) */
    F(repro_sampler_config, CFG_I64, samples_per_epoch, .range = IN(0, 4294967295.0)),
    F(repro_sampler_config, CFG_FLOATLIST, class_weights,
      .count_offset = offsetof(repro_sampler_config, n_class_weights), .cap = REPRO_MAX_CLASSES,
      .range = GE(0)),
    F(repro_sampler_config, CFG_I64, block_size, .range = GE(1)),
    F(repro_sampler_config, CFG_I64, buffer_blocks, .range = GE(1)),
};
static TABLE(sampler_table, sampler_fields);

#define PROB(m) F(repro_augment_config, CFG_FLOAT, m, .range = IN(0, 1))
static const cfg_field augment_fields[] = {
    PROB(shift_p),
    F(repro_augment_config, CFG_INT, shift_pixels, .range = IN(0, 1024)),
    PROB(flip_p),
    PROB(noise_p),
    F(repro_augment_config, CFG_FLOAT, noise_std, .range = GE(0)),
    PROB(erase_p),
    F(repro_augment_config, CFG_FLOAT, erase_min_area, .range = IN_LO_OPEN(0, 1)),
    F(repro_augment_config, CFG_FLOAT, erase_max_area, .range = IN_LO_OPEN(0, 1)),
    PROB(feature_noise_p),
    F(repro_augment_config, CFG_FLOAT, feature_noise_std, .range = GE(0)),
    PROB(feature_drop_p),
    PROB(feature_drop_rate),
};
static TABLE(augment_table, augment_fields);

static const cfg_field loader_fields[] = {
    F(repro_loader_config, CFG_ENUM, on_device, .names = on_device_names),
    F(repro_loader_config, CFG_INT, workers, .range = IN(0, 256)),
    F(repro_loader_config, CFG_INT, prefetch, .range = IN(1, 64)),
};
static TABLE(loader_table, loader_fields);

static const cfg_field world_fields[] = {
    F(repro_world_config, CFG_INT, shards, .range = IN(0, 65536)),
};
static TABLE(world_table, world_fields);

#define SECTION(m, table) F(repro_config, CFG_SECTION, m, .sub = &(table))
static const cfg_field root_fields[] = {
    F(repro_config, CFG_U64, seed),
    F(repro_config, CFG_ENUM, mode, .names = mode_names),
    F(repro_config, CFG_ENUM, precision, .names = precision_names),
    F(repro_config, CFG_ENUM, determinism, .names = determinism_names),
    F(repro_config, CFG_ENUM, device, .names = device_names),
    F(repro_config, CFG_BOOL, allow_tf32),
    F(repro_config, CFG_INT, threads, .range = IN(0, 1024)),
    F(repro_config, CFG_INT, epochs, .range = GE(1)),
    F(repro_config, CFG_I64, max_steps, .range = GE(0)),
    F(repro_config, CFG_INT, batch_size, .range = GE(1)),
    F(repro_config, CFG_INT, accum_steps, .range = GE(1)),
    F(repro_config, CFG_INT, eval_batch_size, .range = GE(1)),
    SECTION(data, cfg_data_table),
    SECTION(model, model_table),
    SECTION(optim, optim_table),
    SECTION(schedule, schedule_table),
    SECTION(ema, ema_table),
    SECTION(init, init_table),
    SECTION(early_stopping, early_table),
    SECTION(ledger, ledger_table),
    SECTION(checkpoint, checkpoint_table),
    SECTION(sampler, sampler_table),
    SECTION(augment, augment_table),
    SECTION(loader, loader_table),
    SECTION(world, world_table),
};
TABLE(cfg_root_table, root_fields);

static const char *enum_name(const char *const *names, size_t count, int value)
{
    return value >= 0 && (size_t)value < count ? names[value] : "unknown";
}

const char *repro_layer_kind_name(repro_layer_kind kind)
{
    return enum_name(layer_names, sizeof layer_names / sizeof *layer_names - 1, (int)kind);
}

const char *repro_loss_kind_name(repro_loss_kind kind)
{
    return enum_name(loss_names, sizeof loss_names / sizeof *loss_names - 1, (int)kind);
}

const char *repro_optim_kind_name(repro_optim_kind kind)
{
    return enum_name(optim_names, sizeof optim_names / sizeof *optim_names - 1, (int)kind);
}

const char *repro_sampler_kind_name(repro_sampler_kind kind)
{
    return enum_name(sampler_names, sizeof sampler_names / sizeof *sampler_names - 1, (int)kind);
}

bool cfg_field_applies(const cfg_field *f, repro_layer_kind kind)
{
    return f->kinds == 0 || (f->kinds & ((uint64_t)1 << kind));
}

/* ---- messages ---------------------------------------------------------- */

static repro_status vfail(const cfg_ctx *ctx, const yt_node *node, const char *fmt, va_list ap)
{
    char where[REPRO_ERROR_MESSAGE_MAX], msg[REPRO_ERROR_MESSAGE_MAX];
    if (node)
        yt_where(node, where, sizeof where);
    else
        snprintf(where, sizeof where, "%s", ctx->path);
    vsnprintf(msg, sizeof msg, fmt, ap);
    return repro_fail(ctx->err, REPRO_ERR_CONFIG, "%.400s: %.600s", where, msg);
}

repro_status cfg_fail(const cfg_ctx *ctx, const yt_node *node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    repro_status st = vfail(ctx, node, fmt, ap);
    va_end(ap);
    return st;
}

/* One path component: a mapping key, or a list index when all digits. */
static const yt_node *child(const yt_node *node, const char *name)
{
    if (node->kind == YT_MAP) {
        long i = yt_map_find(node, name);
        return i < 0 ? NULL : node->items[i];
    }
    if (node->kind == YT_SEQ && name[0] && strspn(name, "0123456789") == strlen(name)) {
        unsigned long i = strtoul(name, NULL, 10);
        return i < node->n ? node->items[i] : NULL;
    }
    return NULL;
}

/* The deepest node along dotted; *complete says whether it is the node itself. */
static const yt_node *deepest(const yt_node *root, const char *dotted, bool *complete)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", dotted);
    const yt_node *node = root;
    *complete = true;
    for (char *save = NULL, *part = strtok_r(buf, ".", &save); part && node;
         part = strtok_r(NULL, ".", &save)) {
        const yt_node *next = child(node, part);
        if (!next) {
            *complete = false;
            break;
        }
        node = next;
    }
    return node;
}

repro_status cfg_fail_path(const cfg_ctx *ctx, const char *dotted, const char *fmt, ...)
{
    bool complete;
    /* An absent key is reported at the file, not at some unrelated parent line. */
    const yt_node *node = deepest(ctx->root, dotted, &complete);
    va_list ap;
    va_start(ap, fmt);
    repro_status st = vfail(ctx, complete ? node : NULL, fmt, ap);
    va_end(ap);
    return st;
}

/* ---- scalars ----------------------------------------------------------- */

static const char *type_word(const cfg_field *f)
{
    switch (f->type) {
    case CFG_INT:
    case CFG_I64: return "an integer";
    case CFG_U64: return "a non-negative integer";
    case CFG_FLOAT: return "a number";
    case CFG_BOOL: return "true or false";
    case CFG_ENUM: return "a name";
    case CFG_STR:
    case CFG_PATH: return "a string";
    case CFG_STRLIST: return "a list of strings";
    case CFG_FLOATLIST: return "a list of numbers";
    case CFG_INTLIST: return "a list of integers";
    case CFG_SECTION: return "a mapping";
    case CFG_LAYERS: return "a list of layers";
    case CFG_HEADS: return "a list of heads";
    }
    return "a value";
}

static repro_status type_error(const cfg_ctx *ctx, const yt_node *node, const char *path,
                               const char *expected)
{
    char got[256];
    if (node->kind == YT_SCALAR && !node->text[0])
        snprintf(got, sizeof got, "an empty value");
    else
        yt_describe(node, got, sizeof got);
    return cfg_fail(ctx, node, "%s: expected %s, got %s", path, expected, got);
}

static bool has_space_front(const char *s) { return *s == ' ' || *s == '\t'; }

/* 0: ok; 1: not an integer; 2: outside int64. */
static int parse_i64(const char *s, int64_t *out)
{
    if (!*s || has_space_front(s))
        return 1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end)
        return 1;
    if (errno == ERANGE)
        return 2;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!*s || has_space_front(s) || *s == '-')
        return 1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return 1;
    if (errno == ERANGE)
        return 2;
    *out = v;
    return 0;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (!strcmp(s, yes[i]) || !strcmp(s, no[i])) {
            *out = !strcmp(s, yes[i]);
            return true;
        }
    }
    return false;
}

static void range_text(const cfg_range *r, bool integer, char *buf, size_t size)
{
    if ((r->flags & CFG_LO) && (r->flags & CFG_HI))
        snprintf(buf, size, integer ? "must be in %s%.17g..%.17g%s" : "must be in %s%g, %g%s",
                 integer ? "" : (r->flags & CFG_LO_OPEN) ? "(" : "[", r->lo, r->hi,
                 integer ? "" : (r->flags & CFG_HI_OPEN) ? ")" : "]");
    else if (r->flags & CFG_LO)
        snprintf(buf, size, "must be %s %g", (r->flags & CFG_LO_OPEN) ? ">" : ">=", r->lo);
    else
        snprintf(buf, size, "must be <%s %g", (r->flags & CFG_HI_OPEN) ? "" : "=", r->hi);
}

static bool in_range(const cfg_range *r, double v)
{
    if (r->flags & CFG_LO) {
        if ((r->flags & CFG_LO_OPEN) ? !(v > r->lo) : !(v >= r->lo))
            return false;
    }
    if (r->flags & CFG_HI) {
        if ((r->flags & CFG_HI_OPEN) ? !(v < r->hi) : !(v <= r->hi))
            return false;
    }
    return true;
}

static repro_status check_range(const cfg_ctx *ctx, const cfg_field *f, const yt_node *node,
                                const char *path, double v)
{
    if (in_range(&f->range, v))
        return REPRO_OK;
    char rule[128];
    range_text(&f->range, f->type != CFG_FLOAT, rule, sizeof rule);
    return cfg_fail(ctx, node, "%s: %s, got %s", path, rule, node->text);
}

static repro_status read_integer(const cfg_ctx *ctx, const cfg_field *f, const yt_node *node,
                                 const char *path, void *dst)
{
    int64_t v = 0;
    uint64_t u = 0;
    int bad = f->type == CFG_U64 ? parse_u64(node->text, &u) : parse_i64(node->text, &v);
    if (bad == 1)
        return type_error(ctx, node, path, type_word(f));
    if (bad == 2 || (f->type == CFG_INT && (v < INT_MIN || v > INT_MAX)))
        return cfg_fail(ctx, node, "%s: does not fit in a %d-bit integer, got %s", path,
                        f->type == CFG_INT ? 32 : 64, node->text);
    if (f->type == CFG_U64) {
        memcpy(dst, &u, sizeof u);
        return REPRO_OK;
    }
    repro_status st = check_range(ctx, f, node, path, (double)v);
    if (st)
        return st;
    if (f->type == CFG_INT) {
        int i = (int)v;
        memcpy(dst, &i, sizeof i);
    } else {
        memcpy(dst, &v, sizeof v);
    }
    return REPRO_OK;
}

static repro_status read_float(const cfg_ctx *ctx, const cfg_field *f, const yt_node *node,
                               const char *path, float *dst)
{
    const char *s = node->text;
    if (!*s || has_space_front(s))
        return type_error(ctx, node, path, "a number");
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (*end)
        return type_error(ctx, node, path, "a number");
    if (!isfinite(v))
        return cfg_fail(ctx, node, "%s: must be a finite 32-bit number, got %s", path, s);
    if (errno == ERANGE && v == 0.0f) /* a nonzero literal that would silently become 0 */
        return cfg_fail(ctx, node, "%s: too small for a 32-bit float (it rounds to 0), got %s",
                        path, s);
    repro_status st = check_range(ctx, f, node, path, (double)v);
    if (!st)
        *dst = v;
    return st;
}

static repro_status read_enum(const cfg_ctx *ctx, const cfg_field *f, const yt_node *node,
                              const char *path, int *dst)
{
    for (int i = 0; f->names[i]; i++) {
        if (node->kind == YT_SCALAR && !strcmp(node->text, f->names[i])) {
            *dst = i;
            return REPRO_OK;
        }
    }
    char list[1024] = "", got[256]; /* the layer kinds alone are ~330 characters */
    for (int i = 0; f->names[i]; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, f->names[i], sizeof list - strlen(list) - 1);
    }
    yt_describe(node, got, sizeof got);
    return cfg_fail(ctx, node, "%s: expected one of %s; got %s", path, list, got);
}

/* A string value; null means "". */
static repro_status read_string(const cfg_ctx *ctx, const yt_node *node, const char *path,
                                size_t cap, char *dst)
{
    if (node->kind != YT_SCALAR)
        return type_error(ctx, node, path, "a string");
    const char *s = yt_is_null(node) ? "" : node->text;
    if (strlen(s) >= cap)
        return cfg_fail(ctx, node, "%s: longer than %zu bytes", path, cap - 1);
    memcpy(dst, s, strlen(s) + 1);
    return REPRO_OK;
}

/* Relative data paths written in the file are relative to the file's folder;
 * those given with --set are relative to the working directory, where the
 * user typed them. Either way they are resolved here, once, to an absolute
 * path (canonical when the file exists), so that the resolved config and
 * its hash do not depend on the working directory: a run resumed from
 * elsewhere reads the same files and hashes the config alike. Absolute
 * paths are kept as written. */
static repro_status read_path(const cfg_ctx *ctx, const yt_node *node, const char *path,
                              size_t cap, char *dst)
{
    repro_status st = read_string(ctx, node, path, cap, dst);
    if (st || !dst[0] || dst[0] == '/')
        return st;
    char base[PATH_MAX + 1] = "";
    if (!node->origin.is_override && ctx->dir[0])
        snprintf(base, sizeof base, "%s", ctx->dir);
    else if (getcwd(base, sizeof base - 1))
        strcat(base, base[strlen(base) - 1] == '/' ? "" : "/");
    else
        return REPRO_OK; /* no working directory to resolve against: the path stays as written */
    size_t dlen = strlen(base), len = strlen(dst);
    if (dlen + len >= cap)
        return cfg_fail(ctx, node, "%s: longer than %zu bytes once joined to '%s'", path, cap - 1, base);
    memmove(dst + dlen, dst, len + 1);
    memcpy(dst, base, dlen);
    char real[PATH_MAX];
    if (realpath(dst, real) && strlen(real) < cap)
        memcpy(dst, real, strlen(real) + 1);
    return REPRO_OK;
}

/* ---- lists and mappings ------------------------------------------------- */

static repro_status read_table(const cfg_ctx *ctx, const yt_node *map, const char *path,
                               const cfg_table *t, void *base, int layer_kind);

/* buf = "path.key" (or "key" at the top), cut to fit. */
static void join(char *buf, size_t size, const char *path, const char *key)
{
    const char *parts[3] = {path, path[0] ? "." : "", key};
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(parts[i]);
        if (len > size - 1 - n)
            len = size - 1 - n;
        memcpy(buf + n, parts[i], len);
        n += len;
    }
    buf[n] = '\0';
}

/* A list value: a sequence, or null for an empty list. Checks the count. */
static repro_status list_items(const cfg_ctx *ctx, const cfg_field *f, const yt_node *node,
                               const char *path, size_t *n)
{
    *n = 0;
    if (yt_is_null(node))
        return REPRO_OK;
    if (node->kind != YT_SEQ)
        return type_error(ctx, node, path, type_word(f));
    if (node->n > f->cap)
        return cfg_fail(ctx, node, "%s: at most %zu items, got %zu", path, f->cap, node->n);
    *n = node->n;
    return REPRO_OK;
}

static repro_status read_layer(const cfg_ctx *ctx, const yt_node *node, const char *path,
                               repro_layer_config *layer)
{
    cfg_layer_defaults(layer);
    if (node->kind != YT_MAP)
        return type_error(ctx, node, path, "a layer mapping such as {type: relu}");
    long t = yt_map_find(node, "type");
    if (t < 0)
    {
        char kinds[768] = "";
        for (int k = 0; layer_names[k]; k++) {
            strncat(kinds, k ? ", " : "", sizeof kinds - strlen(kinds) - 1);
            strncat(kinds, layer_names[k], sizeof kinds - strlen(kinds) - 1);
        }
        return cfg_fail(ctx, node, "%s: a layer needs a 'type' (one of %s)", path, kinds);
    }
    char sub[512];
    join(sub, sizeof sub, path, "type");
    int kind;
    repro_status st = read_enum(ctx, &cfg_layer_table.fields[0], node->items[t], sub, &kind);
    if (st)
        return st;
    layer->kind = (repro_layer_kind)kind;
    layer->line = node->line;
    return read_table(ctx, node, path, &cfg_layer_table, layer, kind);
}

static repro_status read_list(const cfg_ctx *ctx, const cfg_field *f, const yt_node *node,
                              const char *path, char *base)
{
    size_t n;
    repro_status st = list_items(ctx, f, node, path, &n);
    char sub[512];
    for (size_t i = 0; !st && i < n; i++) {
        char index[24];
        snprintf(index, sizeof index, "%zu", i);
        join(sub, sizeof sub, path, index);
        const yt_node *item = node->items[i];
        if (f->type == CFG_STRLIST) {
            char(*names)[REPRO_NAME_MAX] = (char(*)[REPRO_NAME_MAX])(base + f->offset);
            if (item->kind != YT_SCALAR || yt_is_null(item))
                st = type_error(ctx, item, sub, "a column name");
            else
                st = read_string(ctx, item, sub, REPRO_NAME_MAX, names[i]);
        } else if (f->type == CFG_FLOATLIST) {
            float *values = (float *)(base + f->offset);
            st = item->kind == YT_SCALAR ? read_float(ctx, f, item, sub, &values[i])
                                         : type_error(ctx, item, sub, "a number");
        } else if (f->type == CFG_INTLIST) {
            cfg_field each = *f; /* read_integer stores by the field's type */
            each.type = CFG_INT;
            int *values = (int *)(base + f->offset);
            st = item->kind == YT_SCALAR ? read_integer(ctx, &each, item, sub, &values[i])
                                         : type_error(ctx, item, sub, "an integer");
        } else if (f->type == CFG_LAYERS) {
            st = read_layer(ctx, item, sub, (repro_layer_config *)(base + f->offset) + i);
        } else {
            repro_head_config *head = (repro_head_config *)(base + f->offset) + i;
            cfg_head_defaults(head, (int)i);
            st = read_table(ctx, item, sub, &cfg_head_table, head, -1);
        }
    }
    int count = (int)n;
    memcpy(base + f->count_offset, &count, sizeof count);
    return st;
}

static repro_status read_field(const cfg_ctx *ctx, const cfg_field *f, const yt_node *node,
                               const char *path, char *base)
{
    void *dst = base + f->offset;
    bool scalar = node->kind == YT_SCALAR;
    switch (f->type) {
    case CFG_INT:
    case CFG_I64:
    case CFG_U64:
        return scalar ? read_integer(ctx, f, node, path, dst) : type_error(ctx, node, path, type_word(f));
    case CFG_FLOAT:
        return scalar ? read_float(ctx, f, node, path, dst) : type_error(ctx, node, path, "a number");
    case CFG_BOOL:
        if (!scalar || !parse_bool(node->text, dst))
            return type_error(ctx, node, path, "true or false");
        return REPRO_OK;
    case CFG_ENUM: return read_enum(ctx, f, node, path, dst);
    case CFG_STR: return read_string(ctx, node, path, f->cap, dst);
    case CFG_PATH: return read_path(ctx, node, path, f->cap, dst);
    case CFG_SECTION: return read_table(ctx, node, path, f->sub, dst, -1);
    case CFG_STRLIST:
    case CFG_FLOATLIST:
    case CFG_INTLIST:
    case CFG_LAYERS:
    case CFG_HEADS: return read_list(ctx, f, node, path, base);
    }
    return cfg_fail(ctx, node, "%s: internal error: unknown field type", path);
}

static const cfg_field *find_field(const cfg_table *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->fields[i].key, key))
            return &t->fields[i];
    return NULL;
}

/* "unknown key 'optim.betas' (did you mean 'optim.beta1'?)", or the valid keys. */
static repro_status unknown_key(const cfg_ctx *ctx, const yt_node *key, const char *path,
                                const cfg_table *t, int layer_kind)
{
    const char *names[64];
    size_t n = 0;
    for (size_t i = 0; i < t->n && n < 64; i++)
        if (layer_kind < 0 || cfg_field_applies(&t->fields[i], (repro_layer_kind)layer_kind))
            names[n++] = t->fields[i].key;
    char full[512];
    join(full, sizeof full, path, key->text);
    const char *near = cfg_nearest(key->text, names, n);
    if (near) {
        char want[512];
        join(want, sizeof want, path, near);
        return cfg_fail(ctx, key, "unknown key '%s' (did you mean '%s'?)", full, want);
    }
    char list[800] = "";
    for (size_t i = 0; i < n; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, names[i], sizeof list - strlen(list) - 1);
    }
    if (layer_kind >= 0)
        return cfg_fail(ctx, key, "unknown key '%s' (a %s layer's keys are: %s)", full,
                        layer_names[layer_kind], list);
    return cfg_fail(ctx, key, "unknown key '%s' (valid keys%s%s: %s)", full, path[0] ? " in " : "",
                    path, list);
}

/* Reads every key of map into base per table t. layer_kind >= 0 restricts a
 * layer's keys to those of its kind ("type" is read by the caller). A null
 * value for a whole mapping leaves every default in place. */
static repro_status read_table(const cfg_ctx *ctx, const yt_node *map, const char *path,
                               const cfg_table *t, void *base, int layer_kind)
{
    if (yt_is_null(map))
        return REPRO_OK;
    if (map->kind != YT_MAP)
        return path[0] ? type_error(ctx, map, path, "a mapping")
                       : type_error(ctx, map, "the config", "a mapping of keys");
    char sub[512];
    for (size_t i = 0; i < map->n; i++) {
        const yt_node *key = map->keys[i];
        join(sub, sizeof sub, path, key->text);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(map->keys[j]->text, key->text))
                return cfg_fail(ctx, key, "duplicate key '%s' (first at line %d)", sub,
                                map->keys[j]->line);
        const cfg_field *f = find_field(t, key->text);
        if (!f || (layer_kind >= 0 && !cfg_field_applies(f, (repro_layer_kind)layer_kind)))
            return unknown_key(ctx, key, path, t, layer_kind);
        if (layer_kind >= 0 && f == &t->fields[0])
            continue; /* the layer's type, already read */
        repro_status st = read_field(ctx, f, map->items[i], sub, base);
        if (st)
            return st;
    }
    return REPRO_OK;
}

repro_status cfg_read(const cfg_ctx *ctx, repro_config *cfg)
{
    return read_table(ctx, ctx->root, "", &cfg_root_table, cfg, -1);
}
