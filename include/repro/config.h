/* repro/config.h: a training run's configuration, as loaded from YAML.
 *
 * A config is a plain value: fixed-size arrays, no pointers, so it can be
 * copied, compared and hashed. repro_config_load() reads a YAML file, applies
 * `--set KEY=VALUE` overrides, checks every key, type and range, and fills
 * the struct; anything it does not recognise is an error that names the key
 * (with the nearest valid key suggested), the file, line and column.
 *
 * Keys are documented in docs/config.md. Dotted paths address nested keys
 * and list items: `optim.lr`, `model.trunk.0.out`, `model.heads.1.weight`. */
#ifndef REPRO_CONFIG_H
#define REPRO_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "repro/layer_kinds.h"
#include "repro/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    REPRO_PATH_MAX = 1024,
    REPRO_NAME_MAX = 64,
    REPRO_MAX_LAYERS = 32, /* per trunk or head */
    REPRO_MAX_HEADS = 8,
    REPRO_MAX_NODES = 96,  /* model.nodes */
    REPRO_MAX_INPUTS = 4,  /* inputs of one node */
    REPRO_MAX_DIMS = 4,    /* axes of a sample's tensor (the batch axis comes on top) */
    REPRO_MAX_COLUMNS = 256
};

typedef enum repro_mode { REPRO_MODE_EXACT = 0, REPRO_MODE_FAST } repro_mode;
/* The products of linear layers: fp32 fmaf chains, or bf16 inputs on the
 * tensor core's arithmetic (docs/bf16.md); everything else stays fp32. */
typedef enum repro_precision { REPRO_PRECISION_FP32 = 0, REPRO_PRECISION_BF16 } repro_precision;
/* What to do about an operation without a bit-exact implementation (e.g.
 * mode: fast): refuse to start, warn once per operation, or say nothing.
 * The default is strict in mode exact and warn in mode fast. */
typedef enum repro_determinism {
    REPRO_DETERMINISM_STRICT = 0,
    REPRO_DETERMINISM_WARN,
    REPRO_DETERMINISM_OFF
} repro_determinism;
typedef enum repro_device { REPRO_DEVICE_CPU = 0, REPRO_DEVICE_CUDA } repro_device;

/* The layer kinds, from the rows of repro/layer_kinds.h. */
#define REPRO_LAYER_ENUM_(ID, ...) REPRO_LAYER_##ID,
typedef enum repro_layer_kind {
    REPRO_LAYER_KINDS(REPRO_LAYER_ENUM_, REPRO_LAYER_ENUM_, REPRO_LAYER_ENUM_)
    REPRO_LAYER_KIND_COUNT
} repro_layer_kind;

/* transformer_encoder_layer: the feed-forward block's activation (gelu:
 * the erf form, as torch's "gelu"; gelu_tanh: the tanh form) */
typedef enum repro_activation {
    REPRO_ACTIVATION_RELU = 0,
    REPRO_ACTIVATION_GELU,
    REPRO_ACTIVATION_GELU_TANH
} repro_activation;

typedef enum repro_init_kind {
    REPRO_INIT_DEFAULT = 0, /* linear weight: kaiming_uniform; bias: zeros; layernorm: ones/zeros */
    REPRO_INIT_KAIMING_UNIFORM,
    REPRO_INIT_KAIMING_NORMAL,
    REPRO_INIT_XAVIER_UNIFORM,
    REPRO_INIT_XAVIER_NORMAL,
    REPRO_INIT_ZEROS,
    REPRO_INIT_CONSTANT,
    REPRO_INIT_TORCH_DEFAULT /* PyTorch's nn.Linear / nn.Conv2d default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
} repro_init_kind;

/* One layer of a trunk or head, or one node of model.nodes (the graph:
 * docs/model.md). A sample's tensor has up to REPRO_MAX_DIMS axes, batch
 * axis not counted; images are [channels][height][width]. */
typedef struct repro_layer_config {
    repro_layer_kind kind;
    char name[REPRO_NAME_MAX];   /* nodes: the node's name (its parameters are "<name>.weight", ...) */
    int n_inputs;                /* nodes: 0 = the previous node (or the model input) */
    char inputs[REPRO_MAX_INPUTS][REPRO_NAME_MAX]; /* nodes: names of earlier nodes, or "input" */
    int line;                    /* the YAML line it came from (0: made in code); not hashed */
    int out;                     /* linear: output features; conv2d: output channels (>= 1) */
    bool bias;                   /* linear, conv2d: has a bias (default true) */
    float p;                     /* dropout: drop probability in [0, 1) */
    float eps;                   /* layernorm, batch_norm, group_norm: epsilon (default 1e-5) */
    int kernel;                  /* conv2d, pools: kernel height (and width unless kernel_w) */
    int kernel_w;                /* conv2d, pools: kernel width; 0 = kernel */
    int stride;                  /* conv2d, pools; 0 (the default) = 1 for conv2d, the kernel for pools */
    int padding;                 /* conv2d, pools (default 0) */
    int dilation;                /* conv2d (default 1) */
    int groups;                  /* conv2d (default 1), group_norm (>= 1, divides the channels) */
    int group_size;              /* batch_norm: samples per statistics group (default 32), must divide the micro-batch */
    float momentum;              /* batch_norm: running-statistics momentum (default 0.1) */
    int axes;                    /* layernorm: trailing axes normalised together (default 1) */
    int axis;                    /* concat: the sample axis joined along (default 0, the channels) */
    int n_shape;                 /* reshape: the sample's new shape */
    int shape[REPRO_MAX_DIMS];
    int num_embeddings;          /* embedding: rows of the table (the vocabulary's capacity) */
    int dim;                     /* embedding: width of a row */
    int patch;                   /* patchify: the patch's side (divides height and width) */
    int pad_id;                  /* pad_mask: the padding token's id (required; -1 = not set) */
    int heads;                   /* multihead_attention: heads (divides d_model; default 1) */
    bool causal;                 /* multihead_attention: token i sees keys j <= i only (default false) */
    float dropout;               /* multihead_attention: dropout on the attention weights, [0, 1) (default 0);
                                    transformer_encoder(_layer): every dropout of the layer */
    int d_model;                 /* transformer_encoder(_layer): the token width (required; the input's last axis) */
    int dim_feedforward;         /* transformer_encoder(_layer): the feed-forward width (default 2048) */
    repro_activation activation; /* transformer_encoder(_layer): relu (default), gelu (erf) or gelu_tanh */
    bool norm_first;             /* transformer_encoder(_layer): pre-norm (default false: post-norm) */
    int num_layers;              /* transformer_encoder: layers (default 1) */
    repro_init_kind weight_init; /* linear weight init */
    float weight_init_value;     /* for REPRO_INIT_CONSTANT */
    repro_init_kind bias_init;   /* linear bias init */
    float bias_init_value;       /* for REPRO_INIT_CONSTANT */
} repro_layer_config;

typedef enum repro_loss_kind {
    REPRO_LOSS_CROSS_ENTROPY = 0, /* softmax cross-entropy against an integer label */
    REPRO_LOSS_MSE,               /* mean squared error against float targets */
    REPRO_LOSS_HUBER,             /* Huber (smooth L1) with huber_delta */
    REPRO_LOSS_LM_CROSS_ENTROPY   /* causal LM: softmax cross-entropy at every position of [T][V]
                                     against token targets (data.format: text) */
} repro_loss_kind;

typedef struct repro_head_config {
    char name[REPRO_NAME_MAX];
    char input[REPRO_NAME_MAX]; /* the node the head reads ("" = the trunk's or the last node's output) */
    int n_layers;
    repro_layer_config layers[REPRO_MAX_LAYERS];
    repro_loss_kind loss;
    float weight;      /* this head's weight in the total loss (default 1) */
    float huber_delta; /* default 1 */
    int ignore_index;  /* lm_cross_entropy: targets of this id count nowhere (docs/model.md);
                          -1 (the default) = none. 0 is an id: a head made in code sets -1 */
} repro_head_config;

/* A model is either a trunk and heads (each a stack of layers), or a graph:
 * model.nodes, each node reading earlier nodes by name, and heads reading
 * any node (head.input). The first form is sugar for the second. */
typedef struct repro_model_config {
    int input;         /* input features; 0 = take it from the data */
    int n_input_shape; /* 0: a flat [input] vector; else a sample's shape, e.g. [1, 28, 28] */
    int input_shape[REPRO_MAX_DIMS];
    int n_nodes;
    repro_layer_config nodes[REPRO_MAX_NODES];
    int n_trunk;
    repro_layer_config trunk[REPRO_MAX_LAYERS];
    int n_heads;       /* >= 1 */
    repro_head_config heads[REPRO_MAX_HEADS];
} repro_model_config;

/* memory: the caller gives the data sets (repro_train_options.train_data,
 * e.g. from NumPy arrays through the Python package); no file keys.
 * text: a character corpus cut into windows (data.train_text, data.context),
 * or into documents, each its own padded samples (data.text_samples, data.separator). */
typedef enum repro_data_format { REPRO_DATA_IDX = 0, REPRO_DATA_CSV, REPRO_DATA_NPY, REPRO_DATA_MEMORY, REPRO_DATA_TEXT } repro_data_format;
/* text: what a sample is (docs/data.md "Text"): a window of the
 * concatenated corpus, or a chunk of one document padded with token 0. */
typedef enum repro_text_samples { REPRO_TEXT_WINDOWS = 0, REPRO_TEXT_DOCUMENTS } repro_text_samples;
enum { REPRO_TEXT_PAD_ID = 0 }; /* text_samples documents: the padding token's id */

typedef struct repro_data_config {
    repro_data_format format;
    /* idx: images and labels, plain or .gz */
    char train_images[REPRO_PATH_MAX];
    char train_labels[REPRO_PATH_MAX];
    char test_images[REPRO_PATH_MAX]; /* may be empty: no test set */
    char test_labels[REPRO_PATH_MAX];
    float scale;                      /* idx: pixel * scale (default 1/255) */
    /* csv: one file for train (+ validation split) and an optional test file */
    char train_csv[REPRO_PATH_MAX];
    char test_csv[REPRO_PATH_MAX];
    bool header;                      /* csv has a header row (default true) */
    int n_feature_columns;            /* 0 = every column not used as a target */
    char feature_columns[REPRO_MAX_COLUMNS][REPRO_NAME_MAX];
    char label_column[REPRO_NAME_MAX];/* integer class label column, "" if none */
    int n_target_columns;
    char target_columns[REPRO_MAX_COLUMNS][REPRO_NAME_MAX]; /* float regression targets */
    int n_classes;                    /* 0 = infer (max label + 1) */
    /* npy: features [n][...] (float32/float64/uint8/int32/int64, C order,
       read through mmap, never copied whole) and labels [n] (integers) or
       targets [n] / [n][t] (floats) */
    char train_x[REPRO_PATH_MAX];
    char train_y[REPRO_PATH_MAX];
    char test_x[REPRO_PATH_MAX];
    char test_y[REPRO_PATH_MAX];
    bool y_is_label;                  /* npy: y holds class labels (default true) */
    /* text: UTF-8 files (a path or a glob, matches in sorted order), one
       character per token; each sample is a window of `context` tokens
       (docs/data.md "Text") */
    char train_text[REPRO_PATH_MAX];
    int context;                      /* text: tokens per sample (required) */
    repro_text_samples text_samples;  /* text: windows (default) or documents */
    char separator[REPRO_NAME_MAX];   /* text documents: the text of a line that ends a
                                         document ("" = a blank line, the default) */
    float val_fraction;               /* in [0, 1): share of train held out, seeded split */
    int64_t limit_train;              /* 0 = all; else the first N training samples */
    int64_t limit_test;               /* 0 = all */
} repro_data_config;

typedef enum repro_optim_kind { REPRO_OPTIM_SGD = 0, REPRO_OPTIM_ADAM, REPRO_OPTIM_ADAMW } repro_optim_kind;

typedef struct repro_optim_config {
    repro_optim_kind name;
    float lr;
    float momentum;     /* sgd */
    bool nesterov;      /* sgd */
    float weight_decay; /* sgd, adam: L2 added to the gradient; adamw: decoupled */
    float beta1, beta2, eps;
    float clip_norm;    /* global-norm clipping; 0 = off */
} repro_optim_config;

typedef enum repro_schedule_kind {
    REPRO_SCHEDULE_CONSTANT = 0,
    REPRO_SCHEDULE_STEP,  /* lr * gamma^(floor(step / step_size)) */
    REPRO_SCHEDULE_COSINE /* from lr to min_lr over the run's steps */
} repro_schedule_kind;

typedef struct repro_schedule_config {
    repro_schedule_kind name;
    int64_t warmup_steps; /* linear warmup from 0 over this many steps */
    int64_t step_size;
    float gamma;
    float min_lr;
} repro_schedule_config;

/* init: where the parameters start (docs/config.md#init). */
typedef struct repro_init_config {
    char from[REPRO_PATH_MAX]; /* "" = drawn by each layer's initialiser; else a safetensors
                                  file holding every parameter, by repro name or by the
                                  names of `repro export --format torch` */
    int torch_default;         /* `default: torch_default` (1; 0 = `default`): every linear and
                                  conv2d weight and bias whose init is `default` is resolved
                                  to torch_default when the config is loaded */
} repro_init_config;

typedef struct repro_ema_config {
    bool enabled;
    float decay; /* default 0.999 */
} repro_ema_config;

typedef enum repro_metric { REPRO_METRIC_VAL_LOSS = 0, REPRO_METRIC_VAL_ACCURACY } repro_metric;

typedef struct repro_early_stop_config {
    bool enabled;
    repro_metric metric;
    int patience;      /* epochs without improvement before stopping */
    float min_delta;
    bool restore_best; /* default true: the final model is the best epoch's */
} repro_early_stop_config;

typedef struct repro_checkpoint_config {
    int64_t every_steps; /* write a checkpoint every N optimiser steps; 0 = not by step count */
    int keep;            /* checkpoints kept (the newest; default 2) */
    bool every_epoch;    /* write one at the end of every epoch (default true) */
    float every_seconds; /* and one at the end of the first step this long after the last
                          * (default 300; 0 = not by time). Snapshots: they never change a bit */
} repro_checkpoint_config;

typedef struct repro_ledger_config {
    int64_t hash_every; /* SHA-256 of parameters and optimiser state every K steps (default 50) */
} repro_ledger_config;

/* The order in which an epoch visits the training samples. Every sampler
 * is a pure function of (seed, epoch, position). */
typedef enum repro_sampler_kind {
    REPRO_SAMPLER_RANDOM = 0,   /* a fresh permutation per epoch (default) */
    REPRO_SAMPLER_SEQUENTIAL,   /* 0, 1, 2, ... */
    REPRO_SAMPLER_BALANCED,     /* classes drawn equally often, with replacement */
    REPRO_SAMPLER_WEIGHTED,     /* classes drawn by class_weights, with replacement */
    REPRO_SAMPLER_BLOCKS        /* streaming: permuted blocks, shuffled within a buffer of blocks */
} repro_sampler_kind;

enum { REPRO_MAX_CLASSES = 256 };

typedef struct repro_sampler_config {
    repro_sampler_kind name;
    bool drop_last;             /* drop the last, smaller batch of an epoch */
    int64_t samples_per_epoch;  /* balanced/weighted: draws per epoch; 0 = training set size */
    int n_class_weights;
    float class_weights[REPRO_MAX_CLASSES];
    int64_t block_size;         /* blocks: samples per block (default 1024) */
    int64_t buffer_blocks;      /* blocks: blocks shuffled together (default 8) */
} repro_sampler_config;

/* Augmentation, applied to training samples only; each transform fires with
 * its probability, every random number drawn from Philox at (seed,
 * augmentation, epoch, sample index, element/parameter). Image transforms
 * need image data (idx, or npy of shape [n][h][w]). */
typedef struct repro_augment_config {
    float shift_p;        /* random shift with zero padding (a padded random crop) */
    int shift_pixels;     /* the largest shift in each direction (default 2) */
    float flip_p;         /* horizontal flip */
    float noise_p;        /* additive Gaussian noise */
    float noise_std;
    float erase_p;        /* random erasing of a rectangle (set to 0) */
    float erase_min_area, erase_max_area; /* fractions of the image (default 0.02, 0.2) */
    float feature_noise_p;   /* tabular: Gaussian noise on every feature */
    float feature_noise_std;
    float feature_drop_p;    /* tabular: zero some features */
    float feature_drop_rate; /* share of features zeroed when it fires */
} repro_augment_config;

/* The data loader. None of these keys can change a bit of the results. */
/* Where training batches are assembled: from a copy of the data set kept
 * in the backend's memory (GPU memory on CUDA; no host loader), or by the
 * host loader. Either gives the same bits. */
typedef enum repro_on_device { REPRO_ON_DEVICE_AUTO = 0, REPRO_ON_DEVICE_ON, REPRO_ON_DEVICE_OFF } repro_on_device;

typedef struct repro_loader_config {
    repro_on_device on_device; /* auto: on for device cuda when augmentation is off and the features are in memory */
    int workers;        /* threads that read, augment and collate; 0 = in the training thread */
    int prefetch;       /* batches ready ahead (>= 1) */
} repro_loader_config;

/* Data parallel (docs/parallel.md): the step's batch is cut into `shards`
 * fixed shards whose gradients are summed in one fixed binary tree over
 * shard indices, whatever the number of processes or GPUs. */
typedef struct repro_world_config {
    int shards; /* 0 = off: one in-order sum over the batch (one process only) */
} repro_world_config;

typedef struct repro_config {
    char source_path[REPRO_PATH_MAX]; /* the YAML file it came from */
    uint64_t seed;
    repro_mode mode;
    repro_precision precision;
    repro_determinism determinism;
    repro_device device;
    bool allow_tf32;   /* mode fast on cuda: cuBLAS may use TF32 tensor cores (default false) */
    int threads;       /* compute threads; 0 (the default) = the machine's cores (repro_cpu_cores) */
    int epochs;        /* >= 1 */
    int64_t max_steps; /* 0 = no limit; else stop after this many optimiser steps */
    int batch_size;    /* samples per optimiser step (>= 1) */
    int accum_steps;   /* micro-batches per step; must divide batch_size */
    int eval_batch_size; /* evaluation only; never changes a bit (default 1000) */
    repro_data_config data;
    repro_model_config model;
    repro_optim_config optim;
    repro_schedule_config schedule;
    repro_ema_config ema;
    repro_init_config init;
    repro_early_stop_config early_stopping;
    repro_ledger_config ledger;
    repro_checkpoint_config checkpoint;
    repro_sampler_config sampler;
    repro_augment_config augment;
    repro_loader_config loader;
    repro_world_config world;
} repro_config;

/* Fills cfg with every default (documented in docs/config.md). */
void repro_config_defaults(repro_config *cfg);

/* Loads path, applies overrides ("key=value" strings, in order), validates.
 * Relative data paths are resolved against the config file's directory. */
repro_status repro_config_load(const char *path, const char *const *overrides, int n_overrides,
                               repro_config *cfg, repro_error *err);

/* The fully resolved config as a JSON object string (caller frees with free()).
 * Keys appear in a fixed order so the text is canonical: the config hash is
 * the SHA-256 of this text. Returns NULL on allocation failure. */
char *repro_config_to_json(const repro_config *cfg);

/* The compute threads cfg asks for: cfg->threads, or for 0 the CPUs this
 * process may run on (its affinity mask, so taskset and cgroup cpusets
 * count), at least 1. The count never changes a bit of a result. */
int repro_config_threads(const repro_config *cfg);

/* Names for enums, as they are spelled in YAML ("adam", "cross_entropy", ...). */
const char *repro_layer_kind_name(repro_layer_kind kind);
const char *repro_loss_kind_name(repro_loss_kind kind);
const char *repro_optim_kind_name(repro_optim_kind kind);
const char *repro_sampler_kind_name(repro_sampler_kind kind);

#ifdef __cplusplus
}
#endif
#endif
