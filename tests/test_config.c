/* repro_config_load: both examples, every default, every override form,
 * canonical JSON (stable, sensitive, loadable again), and every error
 * message a user can meet, asserted by status and text. */
#include <stdarg.h>

#include "repro/config.h"
#include "testutil.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

/* A relative data path is resolved to an absolute one: the file's
 * canonical path when it exists, else the folder's joined to it. */
static int same_path(const char *got, const char *joined)
{
    char real[PATH_MAX];
    return strcmp(got, realpath(joined, real) ? real : joined) == 0;
}

#define EX(name) REPRO_SOURCE_DIR "/examples/" name
#define BAD REPRO_TEST_TMP "/bad.yaml"

/* A minimal valid config: every other key takes its default. */
static const char *const MINIMAL =
    "data:\n"
    "  train_images: imgs.gz\n"
    "  train_labels: /abs/labels.gz\n"
    "model:\n"
    "  trunk:\n"
    "    - {type: linear, out: 8}\n"
    "    - {type: relu}\n"
    "    - {type: dropout, p: 0.3}\n"
    "  heads:\n"
    "    - layers: [{type: linear, out: 10}]\n";

/* Writes text to REPRO_TEST_TMP/name; path receives the file's path. */
static void write_tmp(const char *name, const char *text, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", REPRO_TEST_TMP, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static repro_status load(const char *path, const char *const *ov, int n, repro_config *cfg,
                         repro_error *err)
{
    repro_error_clear(err);
    return repro_config_load(path, ov, n, cfg, err);
}

/* Loads text (written to a file) with overrides and expects a config error
 * whose message is exactly "PATH:" + rest, rest containing want. */
static void expect_file_error(const char *text, const char *want, int n_ov, ...)
{
    char path[1024];
    write_tmp("bad.yaml", text, path, sizeof path);
    const char *ov[8];
    va_list ap;
    va_start(ap, n_ov);
    for (int i = 0; i < n_ov; i++)
        ov[i] = va_arg(ap, const char *);
    va_end(ap);
    repro_config cfg;
    repro_error err;
    repro_status st = load(path, ov, n_ov, &cfg, &err);
    CHECK_MSG(st == REPRO_ERR_CONFIG, "status %d for \"%s\"", st, want);
    CHECK_CONTAINS(err.message, want);
}

static void test_fashion_example(void)
{
    repro_config cfg;
    repro_error err;
    CHECK_MSG(load(EX("fashion_mlp.yaml"), NULL, 0, &cfg, &err) == REPRO_OK, "%s", err.message);
    CHECK(strcmp(cfg.source_path, EX("fashion_mlp.yaml")) == 0);
    CHECK(cfg.seed == 42 && cfg.epochs == 10 && cfg.batch_size == 256 && cfg.accum_steps == 1);
    CHECK(cfg.mode == REPRO_MODE_EXACT && cfg.device == REPRO_DEVICE_CPU && cfg.threads == 0);
    CHECK(cfg.data.format == REPRO_DATA_IDX);
    CHECK(strcmp(cfg.data.train_images,
                 "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") == 0);
    CHECK(strcmp(cfg.data.test_labels,
                 "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz") == 0);
    CHECK(cfg.data.scale == 1.0f / 255.0f);
    CHECK(cfg.data.val_fraction == 0.1f);
    const repro_model_config *m = &cfg.model;
    CHECK(m->input == 0 && m->n_trunk == 6 && m->n_heads == 1);
    static const repro_layer_kind kinds[6] = {REPRO_LAYER_LINEAR,  REPRO_LAYER_RELU,
                                              REPRO_LAYER_DROPOUT, REPRO_LAYER_LINEAR,
                                              REPRO_LAYER_RELU,    REPRO_LAYER_DROPOUT};
    for (int i = 0; i < 6; i++)
        CHECK(m->trunk[i].kind == kinds[i]);
    CHECK(m->trunk[0].out == 256 && m->trunk[3].out == 256);
    CHECK(m->trunk[2].p == 0.3f && m->trunk[5].p == 0.3f);
    CHECK(strcmp(m->heads[0].name, "class") == 0);
    CHECK(m->heads[0].n_layers == 1 && m->heads[0].layers[0].out == 10);
    CHECK(m->heads[0].loss == REPRO_LOSS_CROSS_ENTROPY && m->heads[0].weight == 1.0f);
    CHECK(cfg.optim.name == REPRO_OPTIM_ADAM && cfg.optim.lr == 1e-3f);
    CHECK(cfg.optim.beta1 == 0.9f && cfg.optim.beta2 == 0.999f && cfg.optim.eps == 1e-8f);
}

static void test_dual_example(void)
{
    repro_config cfg;
    repro_error err;
    CHECK_MSG(load(EX("dual_task.yaml"), NULL, 0, &cfg, &err) == REPRO_OK, "%s", err.message);
    const repro_data_config *d = &cfg.data;
    CHECK(d->format == REPRO_DATA_CSV);
    /* relative to the config's folder */
    CHECK(same_path(d->train_csv, EX("../data/dual_task_train.csv")));
    CHECK(same_path(d->test_csv, EX("../data/dual_task_test.csv")));
    CHECK(d->header && d->n_feature_columns == 15);
    CHECK(strcmp(d->feature_columns[0], "x0") == 0 && strcmp(d->feature_columns[14], "x14") == 0);
    CHECK(d->n_target_columns == 1 && strcmp(d->target_columns[0], "target") == 0);
    CHECK(strcmp(d->label_column, "label") == 0 && d->n_classes == 3);
    CHECK(cfg.seed == 42 && cfg.epochs == 20 && cfg.batch_size == 128);
    CHECK(cfg.optim.name == REPRO_OPTIM_ADAM && cfg.optim.lr == 1e-3f);
    const repro_model_config *m = &cfg.model;
    CHECK(m->n_trunk == 6 && m->trunk[3].out == 256 && m->trunk[5].p == 0.3f);
    CHECK(m->n_heads == 2);
    CHECK(strcmp(m->heads[0].name, "regress") == 0 && m->heads[0].loss == REPRO_LOSS_MSE);
    CHECK(m->heads[0].weight == 0.5f && m->heads[0].layers[0].out == 1);
    CHECK(strcmp(m->heads[1].name, "classify") == 0);
    CHECK(m->heads[1].loss == REPRO_LOSS_CROSS_ENTROPY && m->heads[1].weight == 1.0f);
    CHECK(m->heads[1].layers[0].out == 3);
}

static void test_defaults(void)
{
    char path[1024];
    write_tmp("minimal.yaml", MINIMAL, path, sizeof path);
    repro_config cfg, def;
    repro_error err;
    CHECK_MSG(load(path, NULL, 0, &cfg, &err) == REPRO_OK, "%s", err.message);
    repro_config_defaults(&def);
    CHECK(cfg.seed == 0 && def.seed == 0);
    CHECK(cfg.mode == REPRO_MODE_EXACT && cfg.device == REPRO_DEVICE_CPU);
    CHECK(cfg.threads == 0 && cfg.epochs == 10 && cfg.max_steps == 0); /* 0: the machine's cores */
    CHECK(repro_config_threads(&cfg) >= 1);
    CHECK(cfg.checkpoint.every_epoch && cfg.checkpoint.every_seconds == 300.0f && cfg.checkpoint.keep == 2);
    CHECK(cfg.batch_size == 256 && cfg.accum_steps == 1 && cfg.eval_batch_size == 1000);
    CHECK(cfg.data.format == REPRO_DATA_IDX && cfg.data.scale == 1.0f / 255.0f);
    CHECK(cfg.data.val_fraction == 0.1f && cfg.data.header && cfg.data.n_classes == 0);
    CHECK(cfg.data.limit_train == 0 && cfg.data.limit_test == 0 && !cfg.data.test_images[0]);
    CHECK(cfg.optim.name == REPRO_OPTIM_ADAM && cfg.optim.lr == 1e-3f);
    CHECK(cfg.optim.beta1 == 0.9f && cfg.optim.beta2 == 0.999f && cfg.optim.eps == 1e-8f);
    CHECK(cfg.optim.weight_decay == 0 && cfg.optim.momentum == 0 && !cfg.optim.nesterov);
    CHECK(cfg.optim.clip_norm == 0);
    CHECK(cfg.schedule.name == REPRO_SCHEDULE_CONSTANT && cfg.schedule.warmup_steps == 0);
    CHECK(cfg.schedule.step_size == 1000 && cfg.schedule.gamma == 0.1f && cfg.schedule.min_lr == 0);
    CHECK(!cfg.ema.enabled && cfg.ema.decay == 0.999f);
    CHECK(!cfg.early_stopping.enabled && cfg.early_stopping.metric == REPRO_METRIC_VAL_LOSS);
    CHECK(cfg.early_stopping.patience == 3 && cfg.early_stopping.min_delta == 0);
    CHECK(cfg.early_stopping.restore_best);
    CHECK(cfg.ledger.hash_every == 50);
    const repro_layer_config *lin = &cfg.model.trunk[0];
    CHECK(lin->bias && lin->weight_init == REPRO_INIT_DEFAULT && lin->bias_init == REPRO_INIT_DEFAULT);
    CHECK(lin->weight_init_value == 0 && lin->bias_init_value == 0);
    const repro_head_config *h = &cfg.model.heads[0];
    CHECK(strcmp(h->name, "head0") == 0 && h->loss == REPRO_LOSS_CROSS_ENTROPY);
    CHECK(h->weight == 1.0f && h->huber_delta == 1.0f);
    /* data paths: relative ones join the config's folder, absolute ones stay */
    CHECK(strcmp(cfg.data.train_images, REPRO_TEST_TMP "/imgs.gz") == 0);
    CHECK(strcmp(cfg.data.train_labels, "/abs/labels.gz") == 0);
    /* the struct defaults and a loaded minimal config agree on every default */
    char *a = repro_config_to_json(&def), *b = repro_config_to_json(&cfg);
    CHECK(a && b && strstr(a, "\"hash_every\": 50") && strstr(b, "\"hash_every\": 50"));
    CHECK(strstr(a, "\"optim\": {\n    \"name\": \"adam\",\n    \"lr\": 0.00100000005,") != NULL);
    free(a);
    free(b);
}

static void test_overrides(void)
{
    repro_config cfg;
    repro_error err;
    const char *ov[] = {"optim.lr=1e-4",        "data.limit_train=1000", "model.trunk.2.p=0.5",
                        "ema.enabled=true",     "ema.decay=0.99",        "seed=7",
                        "seed=18446744073709551615", "early_stopping={enabled: yes, patience: 5}",
                        "data.test_images=",    "data.test_labels="};
    CHECK_MSG(load(EX("fashion_mlp.yaml"), ov, 10, &cfg, &err) == REPRO_OK, "%s", err.message);
    CHECK(cfg.optim.lr == 1e-4f);
    CHECK(cfg.data.limit_train == 1000);
    CHECK(cfg.model.trunk[2].p == 0.5f && cfg.model.trunk[5].p == 0.3f);
    CHECK(cfg.ema.enabled && cfg.ema.decay == 0.99f); /* ema: created by the override */
    CHECK(cfg.seed == UINT64_MAX);                    /* later overrides win */
    CHECK(cfg.early_stopping.enabled && cfg.early_stopping.patience == 5);
    CHECK(cfg.early_stopping.restore_best); /* a replaced mapping starts from defaults */
    CHECK(!cfg.data.test_images[0] && !cfg.data.test_labels[0]);

    const char *ov2[] = {"data.feature_columns=[a, b]", "data.train_csv=rel/x.csv",
                         "optim={name: sgd, lr: 0.1, momentum: 0.9, nesterov: true}",
                         "model.heads.1.layers.0.out=4", "data.n_classes=4"};
    CHECK_MSG(load(EX("dual_task.yaml"), ov2, 5, &cfg, &err) == REPRO_OK, "%s", err.message);
    CHECK(cfg.data.n_feature_columns == 2);
    CHECK(strcmp(cfg.data.feature_columns[0], "a") == 0 && strcmp(cfg.data.feature_columns[1], "b") == 0);
    { /* --set paths: relative to the cwd, resolved to an absolute path once */
        char want[4200], cwd[4096];
        CHECK(getcwd(cwd, sizeof cwd) != NULL);
        snprintf(want, sizeof want, "%s/rel/x.csv", cwd);
        CHECK_MSG(strcmp(cfg.data.train_csv, want) == 0, "%s", cfg.data.train_csv);
    }
    CHECK(cfg.optim.name == REPRO_OPTIM_SGD && cfg.optim.lr == 0.1f);
    CHECK(cfg.optim.momentum == 0.9f && cfg.optim.nesterov);
    CHECK(cfg.optim.beta2 == 0.999f);
    CHECK(cfg.model.heads[1].layers[0].out == 4 && cfg.data.n_classes == 4);

    /* an empty file is every default; overrides alone make it a valid config */
    char path[1024];
    write_tmp("empty.yaml", "# nothing\n", path, sizeof path);
    const char *ov3[] = {"data.train_images=/a", "data.train_labels=/b",
                         "model={heads: [{layers: [{type: linear, out: 2}]}]}"};
    CHECK_MSG(load(path, ov3, 3, &cfg, &err) == REPRO_OK, "%s", err.message);
    CHECK(cfg.model.n_heads == 1 && cfg.model.heads[0].layers[0].out == 2);

    /* YAML 1.1 booleans */
    write_tmp("bools.yaml", MINIMAL, path, sizeof path);
    const char *ov4[] = {"ema.enabled=Yes", "data.header=no", "early_stopping.restore_best=off"};
    CHECK_MSG(load(path, ov4, 3, &cfg, &err) == REPRO_OK, "%s", err.message);
    CHECK(cfg.ema.enabled && !cfg.data.header && !cfg.early_stopping.restore_best);
}

static char *json_of(const char *path, const char *const *ov, int n)
{
    repro_config cfg;
    repro_error err;
    if (load(path, ov, n, &cfg, &err) != REPRO_OK) {
        fprintf(stderr, "load %s: %s\n", path, err.message);
        return NULL;
    }
    return repro_config_to_json(&cfg);
}

/* to_json is canonical: same config, same bytes; another config, other
 * bytes; and the JSON, loaded as a config, gives the same JSON again. */
static void test_json(void)
{
    const char *examples[2] = {EX("fashion_mlp.yaml"), EX("dual_task.yaml")};
    for (int e = 0; e < 2; e++) {
        char *a = json_of(examples[e], NULL, 0), *b = json_of(examples[e], NULL, 0);
        CHECK(a && b && strcmp(a, b) == 0);
        const char *lr[] = {"optim.lr=0.0011"};
        char *c = json_of(examples[e], lr, 1);
        CHECK(c && strcmp(a, c) != 0);
        char path[1024];
        write_tmp("roundtrip.json", a ? a : "", path, sizeof path);
        char *d = json_of(path, NULL, 0);
        CHECK_MSG(a && d && strcmp(a, d) == 0, "JSON of %s does not load back the same", examples[e]);
        free(a);
        free(b);
        free(c);
        free(d);
    }
    const char *ov[] = {"seed=18446744073709551615", "optim.lr=0.1", "data.feature_columns=[\"q\\\"x\"]"};
    char *j = json_of(EX("dual_task.yaml"), ov, 3);
    CHECK(j != NULL);
    if (j) {
        CHECK_CONTAINS(j, "{\n  \"seed\": 18446744073709551615,\n  \"mode\": \"exact\",\n");
        CHECK_CONTAINS(j, "\"lr\": 0.100000001,"); /* %.9g: strtof gives 0.1f back */
        CHECK_CONTAINS(j, "\"feature_columns\": [\"q\\\"x\"],");
        CHECK_CONTAINS(j, "\"trunk\": [\n      {\"type\": \"linear\", \"out\": 256, \"bias\": true,");
        CHECK_CONTAINS(j, "{\"type\": \"dropout\", \"p\": 0.300000012}");
        CHECK_CONTAINS(j, "\"loss\": \"mse\",");
        CHECK(strstr(j, "source_path") == NULL);
        free(j);
    }
    /* pad_mask and ignore_index: in the JSON when set (and loaded back the
       same), and no ignore_index key on a head without one */
    char lm[1024];
    write_tmp("pad_lm.yaml",
              "data: {format: text, train_text: x.txt, context: 12}\n"
              "model:\n  input_shape: [12]\n  nodes:\n"
              "    - {name: tok, type: embedding, num_embeddings: 16, dim: 8}\n"
              "    - {name: pad, type: pad_mask, pad_id: 7, inputs: [input]}\n"
              "    - {name: enc, type: transformer_encoder_layer, d_model: 8, inputs: [tok, pad]}\n"
              "    - {name: o, type: linear, out: 16}\n"
              "  heads: [{name: lm, loss: lm_cross_entropy, ignore_index: 7}]\n",
              lm, sizeof lm);
    j = json_of(lm, NULL, 0);
    CHECK(j != NULL);
    if (j) {
        CHECK_CONTAINS(j, "{\"type\": \"pad_mask\", \"name\": \"pad\", \"inputs\": [\"input\"], \"pad_id\": 7}");
        CHECK_CONTAINS(j, "\"huber_delta\": 1,\n        \"ignore_index\": 7\n      }");
        char back[1024];
        write_tmp("pad_lm.json", j, back, sizeof back);
        char *k = json_of(back, NULL, 0);
        CHECK_MSG(k && strcmp(j, k) == 0, "JSON with pad_mask and ignore_index does not load back the same");
        free(k);
        free(j);
    }
    j = json_of(EX("char_lm.yaml"), NULL, 0);
    CHECK(j && strstr(j, "ignore_index") == NULL && strstr(j, "pad_id") == NULL);
    CHECK(j && strstr(j, "text_samples") == NULL && strstr(j, "separator") == NULL); /* windows: the hash as before */
    free(j);
    /* text_samples documents: both keys in the JSON, loaded back the same */
    const char *docs_ov[] = {"data.text_samples=documents", "data.separator=\"%\"", "model.nodes.1.pad_id=0",
                             "model.heads.0.ignore_index=0"};
    j = json_of(lm, docs_ov, 4);
    CHECK(j != NULL);
    if (j) {
        CHECK_CONTAINS(j, "\"context\": 12,\n    \"text_samples\": \"documents\",\n    \"separator\": \"%\"\n  },\n");
        char back[1024];
        write_tmp("docs_lm.json", j, back, sizeof back);
        char *k = json_of(back, NULL, 0);
        CHECK_MSG(k && strcmp(j, k) == 0, "JSON with text_samples documents does not load back the same");
        free(k);
        free(j);
    }
    j = json_of(EX("fortune_docs_lm.yaml"), NULL, 0);
    CHECK(j && strstr(j, "\"text_samples\": \"documents\"") && strstr(j, "\"separator\": \"%\""));
    free(j);
}

static void test_names(void)
{
    CHECK(strcmp(repro_layer_kind_name(REPRO_LAYER_LAYERNORM), "layernorm") == 0);
    CHECK(strcmp(repro_layer_kind_name(REPRO_LAYER_GELU), "gelu") == 0);
    CHECK(strcmp(repro_loss_kind_name(REPRO_LOSS_HUBER), "huber") == 0);
    CHECK(strcmp(repro_loss_kind_name(REPRO_LOSS_CROSS_ENTROPY), "cross_entropy") == 0);
    CHECK(strcmp(repro_optim_kind_name(REPRO_OPTIM_ADAMW), "adamw") == 0);
    CHECK(strcmp(repro_optim_kind_name((repro_optim_kind)99), "unknown") == 0);
}

/* The minimal config with text appended (later top-level keys). */
static const char *with(const char *extra)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s%s", MINIMAL, extra);
    return buf;
}


/* text_samples documents pads with id 0: a pad_mask or ignore_index of
 * another id is refused, naming both numbers; the separator's errors. */
static void test_text_documents_errors(void)
{
    static const char docs[] = "data: {format: text, train_text: x.txt, context: 12, text_samples: documents}\n"
                               "model:\n  nodes:\n"
                               "    - {name: tok, type: embedding, num_embeddings: 16, dim: 8}\n"
                               "    - {name: pad, type: pad_mask, pad_id: 0, inputs: [input]}\n"
                               "    - {name: enc, type: transformer_encoder_layer, d_model: 8, inputs: [tok, pad]}\n"
                               "    - {name: o, type: linear, out: 16}\n"
                               "  heads: [{name: lm, loss: lm_cross_entropy, ignore_index: 0}]\n";
    char path[1024];
    write_tmp("docs.yaml", docs, path, sizeof path);
    repro_config cfg;
    repro_error err;
    CHECK_MSG(load(path, NULL, 0, &cfg, &err) == REPRO_OK, "%s", err.message);
    CHECK(cfg.data.text_samples == REPRO_TEXT_DOCUMENTS && cfg.data.separator[0] == '\0');
    expect_file_error(docs, "--set model.nodes.1.pad_id=3: model.nodes.1.pad_id: 3, but data.text_samples documents pads with token id 0: "
                            "pad_id must be 0", 1, "model.nodes.1.pad_id=3");
    expect_file_error(docs, "--set model.heads.0.ignore_index=5: model.heads.0.ignore_index: 5, but data.text_samples documents pads with token "
                            "id 0: ignore_index must be 0 (or left out)", 1, "model.heads.0.ignore_index=5");
    expect_file_error(docs, "data.separator: only used when data.text_samples is documents", 2,
                      "data.text_samples=windows", "data.separator=\"%\"");
    expect_file_error(docs, "data.separator: the text of one line (without its newline); it holds a line break", 1,
                      "data.separator=\"a\\nb\"");
    expect_file_error(docs, "data.text_samples: expected one of", 1, "data.text_samples=lines");
    expect_file_error(MINIMAL, "data.text_samples: not used when data.format is idx", 1, "data.text_samples=documents");
    expect_file_error(MINIMAL, "data.separator: not used when data.format is idx", 1, "data.separator=\"%\"");
}

static void test_file_errors(void)
{
    repro_config cfg;
    repro_error err;
    CHECK(load(REPRO_TEST_TMP "/nope.yaml", NULL, 0, &cfg, &err) == REPRO_ERR_IO);
    CHECK(strcmp(err.message, "cannot read config '" REPRO_TEST_TMP
                              "/nope.yaml': No such file or directory") == 0);
    CHECK(load(REPRO_TEST_TMP, NULL, 0, &cfg, &err) == REPRO_ERR_IO);
    CHECK_CONTAINS(err.message, "Is a directory");

    expect_file_error("seed: 1\nmode: exact\nthreads: a: b\n",
                      BAD ":3:11: YAML syntax error: mapping values are not allowed in this context", 0);
    expect_file_error("- a\n- b\n", BAD ":1:1: the config must be a mapping of keys, got a list", 0);
    expect_file_error("seed: 1\n---\nseed: 2\n", "a config holds one YAML document", 0);
    expect_file_error("a: &x 1\nb: *x\n", BAD ":2:4: YAML aliases (*name) are not supported", 0);
    expect_file_error(with("optim:\n  betas: 0.9\n"),
                      BAD ":12:3: unknown key 'optim.betas' (did you mean 'optim.beta1'?)", 0);
    expect_file_error(with("optim: {zzzzzz: 1}\n"),
                      "unknown key 'optim.zzzzzz' (valid keys in optim: name, lr, beta1, beta2, "
                      "eps, weight_decay, momentum, nesterov, clip_norm)", 0);
    expect_file_error(with("batchsize: 3\n"),
                      BAD ":11:1: unknown key 'batchsize' (did you mean 'batch_size'?)", 0);
    expect_file_error("model:\n  trunk:\n    - {type: relu, out: 3}\n",
                      BAD ":3:20: unknown key 'model.trunk.0.out' (a relu layer's keys are: type, name, inputs)", 0);
    expect_file_error("model:\n  trunk:\n    - {out: 3}\n",
                      BAD ":3:7: model.trunk.0: a layer needs a 'type'", 0);
    /* an unknown type: the message lists every kind of repro/layer_kinds.h */
    char kinds[1024] = "model.trunk.0.type: expected one of ";
    for (int k = 0; k < REPRO_LAYER_KIND_COUNT; k++) {
        strcat(kinds, k ? ", " : "");
        strcat(kinds, repro_layer_kind_name((repro_layer_kind)k));
    }
    strcat(kinds, "; got 'conv'");
    CHECK(strstr(kinds, "one of linear, relu, gelu, tanh, sigmoid, dropout, layernorm, silu, conv2d, ") != NULL);
    expect_file_error("model:\n  trunk:\n    - {type: conv}\n", kinds, 0);
    expect_file_error(with("optim: {lr: abc}\n"), BAD ":11:13: optim.lr: expected a number, got 'abc'", 0);
    expect_file_error(with("optim: {lr: -0.001}\n"), BAD ":11:13: optim.lr: must be > 0, got -0.001", 0);
    expect_file_error(with("optim: {lr: nan}\n"), "optim.lr: must be a finite 32-bit number, got nan", 0);
    expect_file_error(with("optim: {lr: 1e39}\n"), "optim.lr: must be a finite 32-bit number, got 1e39", 0);
    expect_file_error(with("optim: {lr: 1e-60}\n"), "optim.lr: too small for a 32-bit float", 0);
    expect_file_error(with("batch_size: 0\n"), BAD ":11:13: batch_size: must be >= 1, got 0", 0);
    expect_file_error(with("epochs: 1.5\n"), "epochs: expected an integer, got '1.5'", 0);
    expect_file_error(with("epochs: 99999999999\n"), "epochs: does not fit in a 32-bit integer", 0);
    expect_file_error(with("seed: -1\n"), "seed: expected a non-negative integer, got '-1'", 0);
    expect_file_error(with("threads: -1\n"), "threads: must be in 0..1024, got -1", 0);
    expect_file_error(with("threads: 1025\n"), "threads: must be in 0..1024, got 1025", 0);
    expect_file_error(with("checkpoint: {every_seconds: -1}\n"), "checkpoint.every_seconds: must be >= 0", 0);
    expect_file_error(with("data_: 1\n"), "unknown key 'data_' (did you mean 'data'?)", 0);
    expect_file_error(with("accum_steps: 3\n"),
                      BAD ":11:14: accum_steps (3) must divide batch_size (256)", 0);
    expect_file_error(with("mode: fsat\n"), BAD ":11:7: mode: expected one of exact, fast; got 'fsat'", 0);
    expect_file_error(with("ema: {enabled: maybe}\n"), "ema.enabled: expected true or false, got 'maybe'", 0);
    expect_file_error(with("optim: [1, 2]\n"), "optim: expected a mapping, got a list", 0);
    expect_file_error(with("threads: 1\nthreads: 2\n"), BAD ":12:1: duplicate key 'threads' (first at line 11)", 0);
    /* dropout p in [0, 1), val_fraction in [0, 1) */
    expect_file_error("model:\n  trunk:\n    - {type: dropout, p: 1}\n",
                      BAD ":3:26: model.trunk.0.p: must be in [0, 1), got 1", 0);
    expect_file_error("data: {val_fraction: 1.0}\n", "data.val_fraction: must be in [0, 1), got 1.0", 0);
    /* cross-key rules */
    expect_file_error("data: {train_images: a, train_labels: b}\nmodel:\n  trunk: [{type: relu}]\n",
                      BAD ": model.heads: at least one head is required", 0);
    expect_file_error("data: {train_images: a, train_labels: b}\n",
                      BAD ": model.heads: at least one head is required", 0);
    expect_file_error(with("data: {}\n"), "duplicate key 'data'", 0);
    expect_file_error("model: {heads: [{layers: [{type: linear, out: 2}]}]}\n",
                      "data: format idx needs train_images and train_labels", 0);
    expect_file_error("data: {train_images: a, train_labels: b}\nmodel:\n  trunk: [{type: linear}]\n",
                      BAD ":3:11: model.trunk.0: a linear layer needs 'out'", 0);
    expect_file_error(MINIMAL, "data.label_column: not used when data.format is idx", 1,
                      "data.label_column=y");
    expect_file_error(MINIMAL, "model.heads.0: loss mse needs data.target_columns", 1,
                      "model.heads.0.loss=mse");
    expect_file_error(MINIMAL, "model.heads.0: ends in 10 outputs but data.n_classes is 3", 1,
                      "data.n_classes=3");
    expect_file_error(MINIMAL, "model.heads.0.layers: at least one layer is required", 1,
                      "model.heads.0.layers=[]");
    expect_file_error(MINIMAL, "model.heads.1.name: 'head0' is already the name of head 0", 1,
                      "model.heads=[{layers: [{type: linear, out: 10}]}, {name: head0, layers: [{type: relu}]}]");
    expect_file_error(MINIMAL, "model.heads.0.name: must be letters, digits, '_' or '-', got 'a b'", 1,
                      "model.heads.0.name=a b");
}

static void test_override_errors(void)
{
    expect_file_error(MINIMAL, "--set optim.lrr=1: unknown key 'optim.lrr' (did you mean 'optim.lr'?)",
                      1, "optim.lrr=1");
    expect_file_error(MINIMAL, "--set optim.lr=abc: optim.lr: expected a number, got 'abc'", 1,
                      "optim.lr=abc");
    expect_file_error(MINIMAL, "--set batch_size=0: batch_size: must be >= 1, got 0", 1, "batch_size=0");
    expect_file_error(MINIMAL, "--set mode=fsat: mode: expected one of exact, fast; got 'fsat'", 1,
                      "mode=fsat");
    expect_file_error(MINIMAL, "--set accum_steps=3: accum_steps (3) must divide batch_size (256)", 1,
                      "accum_steps=3");
    expect_file_error(MINIMAL, "--set allow_tf32=true: allow_tf32: needs mode: fast and device: cuda "
                               "(TF32 products are not exact)", 1, "allow_tf32=true");
    expect_file_error(MINIMAL, "--set loader.on_device=yes: loader.on_device: expected one of auto, on, off; "
                               "got 'yes'", 1, "loader.on_device=yes");
    expect_file_error(MINIMAL, "--set model.trunk.9.p=0.5: 'model.trunk' has 3 items; there is no item 9",
                      1, "model.trunk.9.p=0.5");
    expect_file_error(MINIMAL, "--set model.trunk.x=1: 'model.trunk' is a list; 'x' is not an index", 1,
                      "model.trunk.x=1");
    expect_file_error(MINIMAL, "--set data.train_images.x=1: 'data.train_images' is a single value, "
                               "not a mapping", 1, "data.train_images.x=1");
    expect_file_error(MINIMAL, "--set seed.x=1: seed: expected a non-negative integer, got a mapping",
                      1, "seed.x=1");
    expect_file_error(MINIMAL, "--set optim.lr: expected KEY=VALUE", 1, "optim.lr");
    expect_file_error(MINIMAL, "--set a..b=1: expected KEY=VALUE", 1, "a..b=1");
    expect_file_error(MINIMAL, "--set optim.lr=[1: YAML syntax error at column", 1, "optim.lr=[1");
    expect_file_error(MINIMAL, "--set ema.enabled=maybe: ema.enabled: expected true or false, got 'maybe'",
                      1, "ema.enabled=maybe");
    expect_file_error(MINIMAL, "--set foo.bar=1: unknown key 'foo' (valid keys: seed, mode,", 1,
                      "foo.bar=1");
    expect_file_error(MINIMAL, "--set model.heads.0.layers.0.out=0: model.heads.0.layers.0.out: "
                               "must be >= 1, got 0", 1, "model.heads.0.layers.0.out=0");
    expect_file_error(MINIMAL, "--set optim.nesterov=true: optim.nesterov: needs optim.name sgd", 1,
                      "optim.nesterov=true");
    expect_file_error("data: {train_images: a, train_labels: b}\nmodel: {}\n",
                      "--set model.heads.0.name=x: 'model.heads' is not set, so it has no item 0",
                      1, "model.heads.0.name=x");
    /* overrides apply in order: a later one can fix an earlier one */
    char path[1024];
    write_tmp("order.yaml", MINIMAL, path, sizeof path);
    const char *ov[] = {"batch_size=0", "batch_size=4"};
    repro_config cfg;
    repro_error err;
    CHECK_MSG(load(path, ov, 2, &cfg, &err) == REPRO_OK, "%s", err.message);
    CHECK(cfg.batch_size == 4);
}

/* A valid csv config (classification). */
#define CSV                                                                                \
    "data: {format: csv, train_csv: t.csv, label_column: c}\n"                             \
    "model: {heads: [{layers: [{type: linear, out: 3}]}]}\n"

/* The keys of issue 3: sampler, augment, loader, npy data. */
static void test_loader_keys(void)
{
    char path[1024];
    write_tmp("minimal.yaml", MINIMAL, path, sizeof path);
    repro_config cfg;
    repro_error err;
    CHECK_MSG(load(path, NULL, 0, &cfg, &err) == REPRO_OK, "%s", err.message);
    const repro_sampler_config *s = &cfg.sampler;
    CHECK(s->name == REPRO_SAMPLER_RANDOM && !s->drop_last && s->samples_per_epoch == 0);
    CHECK(s->n_class_weights == 0 && s->block_size == 1024 && s->buffer_blocks == 8);
    const repro_augment_config *a = &cfg.augment;
    CHECK(a->shift_p == 0 && a->flip_p == 0 && a->noise_p == 0 && a->erase_p == 0);
    CHECK(a->feature_noise_p == 0 && a->feature_drop_p == 0);
    CHECK(a->shift_pixels == 2 && a->noise_std == 0.1f && a->erase_min_area == 0.02f);
    CHECK(a->erase_max_area == 0.2f && a->feature_noise_std == 0.1f && a->feature_drop_rate == 0.1f);
    CHECK(cfg.loader.workers == 0 && cfg.loader.prefetch == 2);
    CHECK(cfg.data.y_is_label && !cfg.data.train_x[0] && !cfg.data.test_y[0]);

    const char *ov[] = {"sampler={name: weighted, drop_last: true, samples_per_epoch: 500, "
                        "class_weights: [1, 0.5, 0, 2]}",
                        "augment={shift_p: 0.5, shift_pixels: 3, flip_p: 1, noise_p: 0.25, "
                        "noise_std: 0.05, erase_p: 0.5, erase_min_area: 0.1, erase_max_area: 0.1, "
                        "feature_noise_p: 1, feature_noise_std: 0.2, feature_drop_p: 0.3, "
                        "feature_drop_rate: 0.4}",
                        "loader={on_device: off, workers: 8, prefetch: 4}"};
    CHECK_MSG(load(path, ov, 3, &cfg, &err) == REPRO_OK, "%s", err.message);
    CHECK(s->name == REPRO_SAMPLER_WEIGHTED && s->drop_last && s->samples_per_epoch == 500);
    CHECK(s->n_class_weights == 4 && s->class_weights[0] == 1.0f && s->class_weights[1] == 0.5f);
    CHECK(s->class_weights[2] == 0.0f && s->class_weights[3] == 2.0f);
    CHECK(a->shift_p == 0.5f && a->shift_pixels == 3 && a->flip_p == 1.0f && a->noise_p == 0.25f);
    CHECK(a->noise_std == 0.05f && a->erase_p == 0.5f && a->erase_min_area == 0.1f);
    CHECK(a->erase_max_area == 0.1f && a->feature_noise_p == 1.0f && a->feature_noise_std == 0.2f);
    CHECK(a->feature_drop_p == 0.3f && a->feature_drop_rate == 0.4f);
    CHECK(cfg.loader.workers == 8 && cfg.loader.prefetch == 4);
    CHECK(cfg.loader.on_device == REPRO_ON_DEVICE_OFF);
    /* the canonical JSON carries every new key and loads back the same */
    char *j = repro_config_to_json(&cfg);
    CHECK(j != NULL);
    if (j) {
        CHECK_CONTAINS(j, "\"sampler\": {\n    \"name\": \"weighted\",\n    \"drop_last\": true,\n"
                          "    \"samples_per_epoch\": 500,\n    \"class_weights\": [1, 0.5, 0, 2],\n"
                          "    \"block_size\": 1024,\n    \"buffer_blocks\": 8\n  },\n");
        CHECK_CONTAINS(j, "\"augment\": {\n    \"shift_p\": 0.5,\n    \"shift_pixels\": 3,\n");
        CHECK_CONTAINS(j, "\"erase_max_area\": 0.100000001,\n    \"feature_noise_p\": 1,\n");
        CHECK_CONTAINS(j, "\"feature_drop_rate\": 0.400000006\n  },\n");
        CHECK_CONTAINS(j, "\"loader\": {\n    \"on_device\": \"off\",\n    \"workers\": 8,\n    \"prefetch\": 4\n"
                          "  },\n  \"world\": {\n    \"shards\": 0\n  }\n}\n");
        CHECK_CONTAINS(j, "\"test_y\": \"\",\n    \"y_is_label\": true\n  },\n");
        char back[1024];
        write_tmp("loader_keys.json", j, back, sizeof back);
        char *k = json_of(back, NULL, 0);
        CHECK_MSG(k && strcmp(j, k) == 0, "JSON with the loader keys does not load back the same");
        free(k);
        free(j);
    }

    /* npy data: its four paths (relative to the config's folder) and y_is_label */
    write_tmp("npy.yaml",
              "data: {format: npy, train_x: x.npy, train_y: /abs/y.npy, test_x: tx.npy, "
              "test_y: ty.npy, y_is_label: false}\n"
              "model: {heads: [{layers: [{type: linear, out: 2}], loss: mse}]}\n"
              "augment: {feature_drop_p: 0.5, shift_p: 0.5}\n"
              "sampler: {name: blocks, block_size: 64, buffer_blocks: 2, drop_last: yes}\n",
              path, sizeof path);
    CHECK_MSG(load(path, NULL, 0, &cfg, &err) == REPRO_OK, "%s", err.message);
    CHECK(cfg.data.format == REPRO_DATA_NPY && !cfg.data.y_is_label);
    CHECK(strcmp(cfg.data.train_x, REPRO_TEST_TMP "/x.npy") == 0);
    CHECK(strcmp(cfg.data.train_y, "/abs/y.npy") == 0);
    CHECK(strcmp(cfg.data.test_x, REPRO_TEST_TMP "/tx.npy") == 0);
    CHECK(strcmp(cfg.data.test_y, REPRO_TEST_TMP "/ty.npy") == 0);
    CHECK(cfg.sampler.name == REPRO_SAMPLER_BLOCKS && cfg.sampler.block_size == 64);
    CHECK(cfg.sampler.buffer_blocks == 2 && cfg.sampler.drop_last);
    /* balanced on csv labels; drop_last and a tabular augmentation on csv */
    const char *ov2[] = {"sampler={name: balanced, samples_per_epoch: 10, drop_last: true}",
                         "augment.feature_noise_p=0.5"};
    CHECK_MSG(load(EX("dual_task.yaml"), ov2, 2, &cfg, &err) == REPRO_OK, "%s", err.message);
    CHECK(cfg.sampler.name == REPRO_SAMPLER_BALANCED && cfg.sampler.samples_per_epoch == 10);
    const char *ov3[] = {"sampler.name=sequential", "sampler.drop_last=true"};
    CHECK_MSG(load(EX("fashion_mlp.yaml"), ov3, 2, &cfg, &err) == REPRO_OK, "%s", err.message);
    CHECK(cfg.sampler.name == REPRO_SAMPLER_SEQUENTIAL && cfg.sampler.drop_last);
}

static void test_loader_key_errors(void)
{
    /* single keys: types and ranges */
    expect_file_error(with("sampler: {name: shuffle}\n"),
                      "sampler.name: expected one of random, sequential, balanced, weighted, blocks; "
                      "got 'shuffle'", 0);
    expect_file_error(with("sampler: {samples_per_epoch: -1}\n"),
                      "sampler.samples_per_epoch: must be in 0..4294967295, got -1", 0);
    expect_file_error(with("sampler: {name: weighted, class_weights: [1, -2]}\n"),
                      BAD ":11:46: sampler.class_weights.1: must be >= 0, got -2", 0);
    expect_file_error(with("sampler: {name: weighted, class_weights: [1, x]}\n"),
                      "sampler.class_weights.1: expected a number, got 'x'", 0);
    expect_file_error(with("sampler: {name: weighted, class_weights: 1}\n"),
                      "sampler.class_weights: expected a list of numbers, got '1'", 0);
    expect_file_error(with("sampler: {name: weighted, class_weights: [[1]]}\n"),
                      "sampler.class_weights.0: expected a number, got a list", 0);
    expect_file_error(with("sampler: {name: blocks, block_size: 0}\n"),
                      "sampler.block_size: must be >= 1, got 0", 0);
    expect_file_error(with("sampler: {name: blocks, buffer_blocks: 0}\n"),
                      "sampler.buffer_blocks: must be >= 1, got 0", 0);
    expect_file_error(with("sampler: {drop_lst: true}\n"),
                      "unknown key 'sampler.drop_lst' (did you mean 'sampler.drop_last'?)", 0);
    expect_file_error(with("augment: {flip_p: 1.5}\n"), "augment.flip_p: must be in [0, 1], got 1.5", 0);
    expect_file_error(with("augment: {shift_p: -0.1}\n"), "augment.shift_p: must be in [0, 1], got -0.1", 0);
    expect_file_error(with("augment: {noise_std: -1}\n"), "augment.noise_std: must be >= 0, got -1", 0);
    expect_file_error(with("augment: {feature_noise_std: -1}\n"),
                      "augment.feature_noise_std: must be >= 0, got -1", 0);
    expect_file_error(with("augment: {feature_drop_rate: 2}\n"),
                      "augment.feature_drop_rate: must be in [0, 1], got 2", 0);
    expect_file_error(with("augment: {shift_pixels: -1}\n"),
                      "augment.shift_pixels: must be in 0..1024, got -1", 0);
    expect_file_error(with("augment: {erase_min_area: 0}\n"),
                      "augment.erase_min_area: must be in (0, 1], got 0", 0);
    expect_file_error(with("augment: {erase_max_area: 1.01}\n"),
                      "augment.erase_max_area: must be in (0, 1], got 1.01", 0);
    expect_file_error(with("loader: {workers: 257}\n"), "loader.workers: must be in 0..256, got 257", 0);
    expect_file_error(with("loader: {workers: -1}\n"), "loader.workers: must be in 0..256, got -1", 0);
    expect_file_error(with("loader: {prefetch: 0}\n"), "loader.prefetch: must be in 1..64, got 0", 0);
    expect_file_error(with("loader: {prefetch: 65}\n"), "loader.prefetch: must be in 1..64, got 65", 0);
    /* test knobs are not config keys (they live in src/train/test_hooks.h) */
    expect_file_error(with("loader: {test_jitter_us: 100}\n"), "unknown key 'loader.test_jitter_us'", 0);
    expect_file_error(with("data_format: npy\n"), "unknown key 'data_format'", 0);
    /* cross-key rules */
    expect_file_error(MINIMAL, "--set sampler.name=weighted: sampler: sampler weighted needs "
                               "class_weights (one per class)", 1, "sampler.name=weighted");
    expect_file_error(MINIMAL, "sampler.class_weights: at least one weight must be > 0", 1,
                      "sampler={name: weighted, class_weights: [0, 0]}");
    expect_file_error(MINIMAL, "sampler.class_weights: has 2 weights but data.n_classes is 10", 2,
                      "sampler={name: weighted, class_weights: [1, 1]}", "data.n_classes=10");
    expect_file_error(MINIMAL, "sampler.class_weights: only used by sampler weighted", 1,
                      "sampler={name: balanced, class_weights: [1, 1]}");
    expect_file_error(MINIMAL, "sampler.samples_per_epoch: only used by samplers balanced and weighted",
                      1, "sampler.samples_per_epoch=5");
    expect_file_error(MINIMAL, "sampler.block_size: only used by sampler blocks", 1,
                      "sampler.block_size=5");
    expect_file_error(MINIMAL, "sampler.buffer_blocks: only used by sampler blocks", 2,
                      "sampler.name=sequential", "sampler.buffer_blocks=5");
    const char *no_label_csv = "data: {format: csv, train_csv: t.csv, target_columns: [y]}\n"
                               "model: {heads: [{layers: [{type: linear, out: 1}], loss: mse}]}\n";
    expect_file_error(no_label_csv, "sampler.name: sampler balanced needs class labels "
                                    "(data.label_column for csv, data.y_is_label true for npy)",
                      1, "sampler.name=balanced");
    expect_file_error(MINIMAL, "augment.erase_min_area (0.300000012) must not exceed "
                               "augment.erase_max_area (0.200000003)", 1, "augment.erase_min_area=0.3");
    expect_file_error(CSV, "augment.shift_p: an image augmentation, but data.format is csv "
                                    "(tables take augment.feature_noise_p and augment.feature_drop_p)",
                      1, "augment.shift_p=0.5");
    expect_file_error(CSV, "augment.flip_p: an image augmentation, but data.format is csv", 1,
                      "augment.flip_p=1");
    expect_file_error(CSV, "augment.erase_p: an image augmentation, but data.format is csv", 1,
                      "augment.erase_p=0.1");
    expect_file_error(CSV, "augment.noise_p: an image augmentation, but data.format is csv", 1,
                      "augment.noise_p=0.1");
    /* npy: required keys, pairs, the other formats' keys refused and vice versa */
    const char *npy = "data: {format: npy, train_x: x.npy, train_y: y.npy}\n"
                      "model: {heads: [{layers: [{type: linear, out: 10}]}]}\n";
    expect_file_error(npy, "data: format npy needs train_x and train_y", 1, "data.train_y=");
    expect_file_error(npy, "data: test_x and test_y go together", 1, "data.test_x=a.npy");
    expect_file_error(npy, "data.train_images: not used when data.format is npy", 1, "data.train_images=a");
    expect_file_error(npy, "data.test_labels: not used when data.format is npy", 1, "data.test_labels=a");
    expect_file_error(npy, "data.train_csv: not used when data.format is npy", 1, "data.train_csv=a");
    expect_file_error(npy, "data.label_column: not used when data.format is npy", 1, "data.label_column=a");
    expect_file_error(npy, "data.feature_columns: not used when data.format is npy", 1,
                      "data.feature_columns=[a]");
    expect_file_error(npy, "data.target_columns: not used when data.format is npy", 1,
                      "data.target_columns=[a]");
    expect_file_error(npy, "model.heads.0: loss cross_entropy needs class labels (data.y_is_label true)",
                      1, "data.y_is_label=false");
    expect_file_error(npy, "model.heads.0: loss mse needs float targets (data.y_is_label false)", 1,
                      "model.heads.0.loss=mse");
    expect_file_error(MINIMAL, "data.train_x: not used when data.format is idx", 1, "data.train_x=a.npy");
    expect_file_error(MINIMAL, "data.test_y: not used when data.format is idx", 1, "data.test_y=a.npy");
    expect_file_error(MINIMAL, "data.y_is_label: not used when data.format is idx", 1,
                      "data.y_is_label=false");
    expect_file_error(CSV, "data.train_y: not used when data.format is csv", 1,
                      "data.train_y=a.npy");
}

int main(void)
{
    test_fashion_example();
    test_dual_example();
    test_defaults();
    test_overrides();
    test_json();
    test_loader_keys();
    test_loader_key_errors();
    test_names();
    test_text_documents_errors();
    test_file_errors();
    test_override_errors();
    return test_finish("test_config");
}
