/* transformer_encoder_layer / transformer_encoder and multihead_attention
 * at the model level:
 *   - the expansion's parameter names are torch's (a transformer_encoder
 *     named "enc": enc.layers.<i>.self_attn.in_proj_weight, ...), with
 *     torch's shapes, in node order; post-norm and pre-norm;
 *   - config errors with file:line: d_model not divisible by heads (both
 *     numbers), a missing d_model, an attention input that is not
 *     [tokens, d_model], a layer whose d_model is not its input's width;
 *   - batch invariance: a sample's output (training forward with dropout,
 *     and evaluation) is the same bits alone and in a batch of five;
 *   - padding invariance: a sequence of 37 tokens padded with the pad id to
 *     48 and to 100 tokens (a pad_mask node makes the key padding mask, the
 *     lm_cross_entropy head has ignore_index: the pad id), alone and among
 *     other sequences, gives the same logits at its 37 positions, the same
 *     per-sample loss (the mean over its 37 targets in written order), the
 *     same logit gradients and parameter gradients, bit for bit, in
 *     training and evaluation, bidirectional and causal; without
 *     ignore_index the loss changes, and with a mask that masks nothing the
 *     logits do;
 *   - the options' config errors: ignore_index on a non-LM head, pad_mask
 *     without pad_id, out of range, or on an input that is not ids [T]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "nn/model.h"
#include "ops/cpu/embedding.h"
#include "train/heads.h"
#include "repro/config.h"
#include "testutil.h"

static char path[1024];

static repro_status load(const char *input_shape, const char *nodes, repro_config *cfg, repro_error *err)
{
    const char *tmp = getenv("REPRO_TEST_TMP");
    snprintf(path, sizeof path, "%s/transformer.yaml", tmp && tmp[0] ? tmp : REPRO_TEST_TMP);
    FILE *f = fopen(path, "w");
    if (!f)
        return repro_fail(err, REPRO_ERR_IO, "cannot write %s", path);
    fprintf(f,
            "data: {format: csv, train_csv: x.csv, label_column: y, n_classes: 3, target_columns: [t]}\n"
            "batch_size: 60\nmodel:\n  input_shape: %s\n  nodes:\n%s  heads:\n    - {name: h, loss: mse}\n",
            input_shape, nodes);
    fclose(f);
    return repro_config_load(path, NULL, 0, cfg, err);
}

static repro_status build(const char *input_shape, const char *nodes, int input, repro_backend *be,
                          repro_model **m, repro_error *err)
{
    repro_config cfg;
    repro_status st = load(input_shape, nodes, &cfg, err);
    if (st == REPRO_OK)
        st = repro_model_create(&cfg.model, path, input, 8, be, m, err);
    return st;
}

static void names(repro_backend *be)
{
    repro_model *m = NULL;
    repro_error err;
    repro_status st = build("[6, 8]",
                            "    - {name: enc, type: transformer_encoder, num_layers: 2, d_model: 8, heads: 2, "
                            "dim_feedforward: 16}\n",
                            48, be, &m, &err);
    CHECK_MSG(st == REPRO_OK, "%s", err.message);
    if (st != REPRO_OK)
        return;
    static const char *const want[] = {
        "enc.layers.0.self_attn.in_proj_weight", "enc.layers.0.self_attn.in_proj_bias",
        "enc.layers.0.self_attn.out_proj.weight", "enc.layers.0.self_attn.out_proj.bias",
        "enc.layers.0.norm1.weight", "enc.layers.0.norm1.bias", "enc.layers.0.linear1.weight",
        "enc.layers.0.linear1.bias", "enc.layers.0.linear2.weight", "enc.layers.0.linear2.bias",
        "enc.layers.0.norm2.weight", "enc.layers.0.norm2.bias", "enc.layers.1.self_attn.in_proj_weight"};
    static const int64_t shape0[][2] = {{24, 8}, {24, 0}, {8, 8}, {8, 0}, {8, 0}, {8, 0}, {16, 8},
                                        {16, 0}, {8, 16}, {8, 0}, {8, 0}, {8, 0}, {24, 8}};
    CHECK(repro_model_n_tensors(m) == 24);
    for (int i = 0; i < (int)(sizeof want / sizeof want[0]); i++) {
        const repro_param_info *t = repro_model_tensor(m, i);
        CHECK_MSG(!strcmp(t->name, want[i]), "tensor %d is %s, want %s", i, t->name, want[i]);
        CHECK(t->shape[0] == shape0[i][0] && (shape0[i][1] == 0 ? t->ndim == 1 : t->shape[1] == shape0[i][1]));
    }
    repro_model_free(m);
    /* pre-norm, one layer: norm1 comes before self_attn */
    m = NULL;
    st = build("[6, 8]", "    - {name: layers.0, type: transformer_encoder_layer, d_model: 8, norm_first: true}\n", 48,
               be, &m, &err);
    CHECK_MSG(st == REPRO_OK, "%s", err.message);
    if (st == REPRO_OK) {
        CHECK(!strcmp(repro_model_tensor(m, 0)->name, "layers.0.norm1.weight"));
        CHECK(!strcmp(repro_model_tensor(m, 2)->name, "layers.0.self_attn.in_proj_weight"));
        CHECK(!strcmp(repro_model_tensor(m, 6)->name, "layers.0.norm2.weight"));
        CHECK(!strcmp(repro_model_tensor(m, 8)->name, "layers.0.linear1.weight"));
        CHECK(repro_model_tensor(m, 8)->shape[0] == 2048);
    }
    repro_model_free(m);
}

static void expect_error(repro_backend *be, const char *shape, int input, const char *nodes, const char *message)
{
    repro_model *m = NULL;
    repro_error err;
    repro_status st = build(shape, nodes, input, be, &m, &err);
    CHECK(st == REPRO_ERR_CONFIG);
    if (st == REPRO_ERR_CONFIG) {
        char full[1400];
        snprintf(full, sizeof full, "%s:%s", path, message);
        CHECK_CONTAINS(err.message, full);
    }
    repro_model_free(m);
}

/* In a trunk (a stack without names) the sugar is refused, saying where it goes. */
static void trunk_refused(repro_backend *be)
{
    repro_config cfg;
    repro_error err;
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("data: {format: csv, train_csv: x.csv, label_column: y, n_classes: 3, target_columns: [t]}\n"
          "batch_size: 60\nmodel:\n  input_shape: [4, 8]\n  trunk:\n"
          "    - {type: transformer_encoder_layer, d_model: 8}\n  heads:\n    - {name: h, loss: mse, layers: [{type: linear, "
          "out: 1}]}\n",
          f);
    fclose(f);
    repro_model *m = NULL;
    repro_status st = repro_config_load(path, NULL, 0, &cfg, &err);
    CHECK_MSG(st == REPRO_OK, "%s", err.message);
    if (st == REPRO_OK)
        st = repro_model_create(&cfg.model, path, 32, 8, be, &m, &err);
    CHECK(st == REPRO_ERR_CONFIG);
    CHECK_CONTAINS(err.message, "model.trunk.0 'trunk.0' (transformer_encoder_layer): a transformer encoder expands "
                                "to several nodes: write it in model.nodes");
    repro_model_free(m);
}

static void errors(repro_backend *be)
{
    expect_error(be, "[4, 10]", 40,
                 "    - {name: a, type: linear, out: 10}\n    - {name: enc, type: transformer_encoder_layer, d_model: 10, "
                 "heads: 3}\n",
                 "7: model.nodes.1 'enc' (transformer_encoder_layer): d_model 10 is not divisible by heads 3");
    expect_error(be, "[4, 10]", 40, "    - {name: mha, type: multihead_attention, heads: 4}\n",
                 "6: model.nodes.0 'mha' (multihead_attention): d_model 10 is not divisible by heads 4");
    expect_error(be, "[4, 10]", 40, "    - {name: enc, type: transformer_encoder, heads: 2}\n",
                 "6: model.nodes.0 'enc' (transformer_encoder): needs 'd_model' (its tokens' width)");
    expect_error(be, "[40]", 40, "    - {name: mha, type: multihead_attention}\n",
                 "6: model.nodes.0 'mha' (multihead_attention): needs [tokens, d_model], got [40]");
    expect_error(be, "[4, 10]", 40, "    - {name: enc, type: transformer_encoder_layer, d_model: 12, heads: 2}\n",
                 "6: model.nodes.0 (add2) 'enc.add2' (add): cannot add input 1 of shape [4, 12] to input 0 of shape "
                 "[4, 10]");
}

/* Output rows of sample `which` of a forward over `b` samples of x (host). */
static void forward(repro_backend *be, repro_model *m, const float *x, int b, int training, const uint32_t *pos,
                    float *out)
{
    repro_error err;
    CHECK(repro_model_forward(m, be, repro_model_params(m), x, b, training, 7, 3, pos, &err) == REPRO_OK);
    memcpy(out, repro_model_head_output(m, 0), (size_t)(b * repro_model_head_width(m, 0)) * 4);
}

static void invariance(repro_backend *be)
{
    repro_model *m = NULL;
    repro_error err;
    repro_status st = build("[70, 8]",
                            "    - {name: enc, type: transformer_encoder, num_layers: 2, d_model: 8, heads: 2, "
                            "dim_feedforward: 16, dropout: 0.2, causal: true}\n"
                            "    - {name: f, type: flatten}\n    - {name: o, type: linear, out: 3}\n",
                            560, be, &m, &err);
    CHECK_MSG(st == REPRO_OK, "%s", err.message);
    if (st != REPRO_OK)
        return;
    CHECK(repro_model_init_params(m, 5, &err) == REPRO_OK);
    float *x = malloc(5 * 560 * 4), one[3], all[15];
    uint32_t pos[5] = {9, 4, 17, 2, 30};
    uint64_t s = 1;
    for (int i = 0; i < 5 * 560; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)(s >> 40) * 0x1p-24f * 2.0f - 1.0f;
    }
    for (int training = 0; training < 2; training++) {
        forward(be, m, x, 5, training, pos, all);
        forward(be, m, x + 2 * 560, 1, training, pos + 2, one);
        CHECK_MSG(!memcmp(one, all + 2 * 3, sizeof one), "sample 2 alone differs from sample 2 in a batch of 5 (%s)",
                  training ? "training" : "evaluation");
    }
    free(x);
    repro_model_free(m);
}

/* The padding half of batch invariance, at the model level, as a user
 * writes it: the model reads token ids [T], a pad_mask node (pad id 0)
 * makes the key padding mask, and the lm_cross_entropy head skips the pad
 * targets (ignore_index: 0). No parameter depends on T, so the models
 * built for T = 48 and T = 100 draw the same parameters. */
enum { PAD_L = 37, PAD_V = 16, PAD_TOTAL = 8 };

static repro_status load_lm(int T, const char *nodes, const char *head, repro_config *cfg, repro_error *err)
{
    const char *tmp = getenv("REPRO_TEST_TMP");
    snprintf(path, sizeof path, "%s/transformer_lm.yaml", tmp && tmp[0] ? tmp : REPRO_TEST_TMP);
    FILE *f = fopen(path, "w");
    if (!f)
        return repro_fail(err, REPRO_ERR_IO, "cannot write %s", path);
    fprintf(f,
            "data: {format: text, train_text: x.txt, context: %d}\n"
            "batch_size: 60\nmodel:\n  input_shape: [%d]\n  nodes:\n%s  heads:\n    - %s\n",
            T, T, nodes, head);
    fclose(f);
    return repro_config_load(path, NULL, 0, cfg, err);
}

/* The model for T tokens; *hc: its head (ignore_index 0). pad_id 16 is no
 * token of the data: a mask that masks nothing. */
static repro_model *pad_model(repro_backend *be, int T, int causal, int pad_id, repro_head_config *hc)
{
    char nodes[1024];
    snprintf(nodes, sizeof nodes,
             "    - {name: tok, type: embedding, num_embeddings: %d, dim: 8}\n"
             "    - {name: pad, type: pad_mask, pad_id: %d, inputs: [input]}\n"
             "    - {name: enc, type: transformer_encoder, num_layers: 2, d_model: 8, heads: 2, dim_feedforward: 16, "
             "dropout: 0.2, activation: gelu, norm_first: true, causal: %s, inputs: [tok, pad]}\n"
             "    - {name: norm, type: layernorm}\n    - {name: o, type: linear, out: %d}\n",
             PAD_V, pad_id, causal ? "true" : "false", PAD_V);
    repro_config cfg;
    repro_model *m = NULL;
    repro_error err;
    repro_status st = load_lm(T, nodes, "{name: h, loss: lm_cross_entropy, ignore_index: 0}", &cfg, &err);
    if (st == REPRO_OK)
        st = repro_model_create(&cfg.model, path, T, 8, be, &m, &err);
    CHECK_MSG(st == REPRO_OK, "%s", err.message);
    if (st != REPRO_OK)
        return NULL;
    CHECK(cfg.model.nodes[1].kind == REPRO_LAYER_PAD_MASK && cfg.model.nodes[1].pad_id == pad_id);
    CHECK(cfg.model.heads[0].ignore_index == 0);
    *hc = cfg.model.heads[0];
    CHECK(repro_model_init_params(m, 11, &err) == REPRO_OK);
    CHECK(!strcmp(repro_model_tensor(m, 1)->name, "enc.layers.0.norm1.weight")); /* the mask has no parameters */
    return m;
}

/* b sequences of T tokens and their targets: sequence k is `seq` (targets
 * `tgt`) when k == at, else a companion (seeded by k and salt) of its own
 * length; id 0 pads both. */
static void pad_batch(float *x, float *y, int b, int T, int at, const float *seq, const float *tgt, unsigned salt)
{
    for (int k = 0; k < b; k++) {
        int len = k == at ? PAD_L : 5 + (int)((k * 29u + salt * 13u) % (unsigned)(T - 5));
        uint64_t s = k * 977u + salt;
        for (int t = 0; t < T; t++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            x[k * T + t] = t >= len ? 0.0f : k == at ? seq[t] : (float)(1 + (s >> 33) % (PAD_V - 1));
            y[k * T + t] = t >= len ? 0.0f : k == at ? tgt[t] : (float)(1 + (s >> 45) % (PAD_V - 1));
        }
    }
}

typedef struct pad_result {
    float logits[PAD_L * PAD_V], loss, *dout, *grads; /* dout: sequence `at`'s [T][V] */
} pad_result;

/* Forward of the batch, the per-sample losses of head hc, and (training)
 * the head's gradient for a batch of PAD_TOTAL samples, kept for sequence
 * `at` only (its rows of d_out; the others' zeroed, so the parameter
 * gradients are those of its loss alone), then backward. */
static void pad_run(repro_backend *be, repro_model *m, const repro_head_config *hc, int T, int b, int at,
                    unsigned salt, int training, const float *seq, const float *tgt, pad_result *r)
{
    repro_error err;
    int width = T * PAD_V;
    float *x = malloc((size_t)(b * T) * 4), *y = malloc((size_t)(b * T) * 4), loss[8];
    float *dout = calloc((size_t)(b * width), 4);
    uint32_t pos[8];
    for (int k = 0; k < b; k++)
        pos[k] = k == at ? 12 : 40 + k + salt;
    pad_batch(x, y, b, T, at, seq, tgt, salt);
    repro_batch batch = {.capacity = b, .n_features = T, .n_targets = T, .pos = pos, .x = x, .y = y};
    CHECK(repro_model_forward(m, be, repro_model_params(m), x, b, training, 7, 3, pos, &err) == REPRO_OK);
    const float *out = repro_model_head_output(m, 0);
    memcpy(r->logits, out + (size_t)at * width, sizeof r->logits);
    CHECK_MSG(repro_head_loss(be, hc, out, width, &batch, b, loss, NULL, &err) == REPRO_OK, "%s", err.message);
    r->loss = loss[at];
    if (training) {
        CHECK(repro_head_grad(be, hc, out, width, &batch, b, PAD_TOTAL, dout, &err) == REPRO_OK);
        memcpy(r->dout, dout + (size_t)at * width, (size_t)width * 4);
        for (int k = 0; k < b; k++)
            if (k != at)
                memset(dout + (size_t)k * width, 0, (size_t)width * 4);
        memset(repro_model_grads(m), 0, (size_t)repro_model_n_params(m) * 4);
        float *d[1] = {dout};
        CHECK(repro_model_backward(m, be, x, b, d, &err) == REPRO_OK);
        memcpy(r->grads, repro_model_grads(m), (size_t)repro_model_n_params(m) * 4);
    }
    free(x);
    free(y);
    free(dout);
}

/* The loss is the written order over the 37 counted positions: (+0 + l_0
 * + ... + l_36) / 37, l_t the loss of logits row t alone (a known answer
 * from the same logits), and the padded rows of d_out are +0. */
static void check_loss_order(const pad_result *r, const float *tgt, int T, int training)
{
    repro_error err;
    float acc = 0.0f, lt;
    for (int t = 0; t < PAD_L; t++) {
        CHECK(repro_lm_xent_forward_ref(&lt, r->logits + t * PAD_V, tgt + t, 1, 1, PAD_V, -1, &err) == REPRO_OK);
        acc = acc + lt;
    }
    acc = acc / (float)PAD_L;
    CHECK_MSG(!memcmp(&acc, &r->loss, 4), "the loss %.9g is not the mean over the 37 counted positions %.9g",
              (double)r->loss, (double)acc);
    for (int i = PAD_L * PAD_V; training && i < T * PAD_V; i++)
        CHECK_MSG(r->dout[i] == 0.0f && !signbit(r->dout[i]), "a padded position's logit gradient is %g",
                  (double)r->dout[i]);
}

static void padding(repro_backend *be)
{
    float seq[PAD_L], tgt[PAD_L];
    uint64_t s = 3;
    for (int t = 0; t < PAD_L; t++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        seq[t] = (float)(1 + (s >> 33) % (PAD_V - 1));
        tgt[t] = (float)(1 + (s >> 45) % (PAD_V - 1));
    }
    /* (T, batch, position of the sequence, companions' salt) */
    static const int runs[][4] = {{48, 1, 0, 0}, {48, 4, 2, 1}, {100, 1, 0, 0}, {100, 3, 1, 5}, {100, 6, 5, 9}};
    enum { N_RUNS = sizeof runs / sizeof runs[0] };
    for (int causal = 0; causal < 2; causal++) {
        repro_head_config hc;
        repro_model *m48 = pad_model(be, 48, causal, 0, &hc), *m100 = pad_model(be, 100, causal, 0, &hc);
        if (!m48 || !m100) {
            repro_model_free(m48);
            repro_model_free(m100);
            return;
        }
        int64_t np = repro_model_n_params(m48);
        CHECK(np == repro_model_n_params(m100));
        CHECK(!memcmp(repro_model_params(m48), repro_model_params(m100), (size_t)np * 4));
        pad_result ref = {.dout = malloc(100 * PAD_V * 4), .grads = malloc((size_t)np * 4)};
        pad_result got = {.dout = malloc(100 * PAD_V * 4), .grads = malloc((size_t)np * 4)};
        const char *how = causal ? "causal" : "bidirectional";
        for (int training = 0; training < 2; training++) {
            const char *mode = training ? "training" : "evaluation";
            for (int r = 0; r < N_RUNS; r++) {
                int T = runs[r][0];
                pad_result *into = r == 0 ? &ref : &got;
                pad_run(be, T == 48 ? m48 : m100, &hc, T, runs[r][1], runs[r][2], (unsigned)runs[r][3], training,
                        seq, tgt, into);
                check_loss_order(into, tgt, T, training);
                if (r == 0)
                    continue;
                CHECK_MSG(!memcmp(ref.logits, got.logits, sizeof ref.logits),
                          "%s, %s: the logits of 37 tokens padded to %d in a batch of %d differ from padded to 48 alone",
                          how, mode, T, runs[r][1]);
                CHECK_MSG(!memcmp(&ref.loss, &got.loss, 4),
                          "%s, %s: the loss of 37 tokens padded to %d in a batch of %d is %.9g, padded to 48 alone "
                          "%.9g", how, mode, T, runs[r][1], (double)got.loss, (double)ref.loss);
                if (training) {
                    CHECK_MSG(!memcmp(ref.dout, got.dout, PAD_L * PAD_V * 4),
                              "%s: the logit gradients of 37 tokens padded to %d in a batch of %d differ", how, T,
                              runs[r][1]);
                    CHECK_MSG(!memcmp(ref.grads, got.grads, (size_t)np * 4),
                              "%s: the gradients of 37 tokens padded to %d in a batch of %d differ from padded to "
                              "48 alone", how, T, runs[r][1]);
                }
            }
        }
        /* what makes it hold: without ignore_index the padded targets count
           (the loss follows the padding length) */
        repro_head_config all = hc;
        all.ignore_index = -1;
        pad_run(be, m100, &all, 100, 1, 0, 0, 0, seq, tgt, &got);
        CHECK_MSG(memcmp(&ref.loss, &got.loss, 4) != 0, "%s: without ignore_index the padding changed no loss", how);
        /* and a mask that masks nothing (pad_id 16, no token of the data)
           lets the padding be attended: the logits change (bidirectional) */
        if (!causal) {
            repro_model *nomask = pad_model(be, 100, causal, 16, &hc);
            if (nomask) {
                pad_run(be, nomask, &hc, 100, 1, 0, 0, 0, seq, tgt, &got);
                CHECK_MSG(memcmp(ref.logits, got.logits, sizeof ref.logits) != 0,
                          "without the mask the padding changed nothing");
            }
            repro_model_free(nomask);
        }
        free(ref.dout);
        free(ref.grads);
        free(got.dout);
        free(got.grads);
        repro_model_free(m48);
        repro_model_free(m100);
    }
}

/* The YAML errors of the two options, with file and line: ignore_index on
 * a head whose loss is not lm_cross_entropy, pad_mask without pad_id or
 * with one out of range, and a pad_mask that does not read token ids [T]. */
static void pad_errors(repro_backend *be)
{
    repro_config cfg;
    repro_error err;
    const char *mask = "    - {name: m, type: pad_mask, pad_id: 0}\n";
    CHECK(load("[6]", mask, &cfg, &err) == REPRO_OK); /* a csv config: mse head */
    FILE *f = fopen(path, "a");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("    - {name: h2, loss: mse, ignore_index: 0}\n", f);
    fclose(f);
    CHECK(repro_config_load(path, NULL, 0, &cfg, &err) == REPRO_ERR_CONFIG);
    char want[1400];
    snprintf(want, sizeof want,
             "%s:9:43: model.heads.1.ignore_index: only loss lm_cross_entropy skips targets (this head's loss is mse)",
             path);
    CHECK_MSG(!strcmp(err.message, want), "got '%s'\nwant '%s'", err.message, want);
    CHECK(load("[6]", "    - {name: m, type: pad_mask}\n", &cfg, &err) == REPRO_ERR_CONFIG);
    snprintf(want, sizeof want, "%s:6:7: model.nodes.0: a pad_mask layer needs 'pad_id' (the padding token's id)",
             path);
    CHECK_MSG(!strcmp(err.message, want), "got '%s'\nwant '%s'", err.message, want);
    CHECK(load("[6]", "    - {name: m, type: pad_mask, pad_id: -1}\n", &cfg, &err) == REPRO_ERR_CONFIG);
    snprintf(want, sizeof want, "%s:6:41: model.nodes.0.pad_id: must be in 0..16777215, got -1", path);
    CHECK_MSG(!strcmp(err.message, want), "got '%s'\nwant '%s'", err.message, want);
    expect_error(be, "[6, 8]", 48, "    - {name: m, type: pad_mask, pad_id: 0}\n",
                 "6: model.nodes.0 'm' (pad_mask): a pad_mask reads token ids [T]; its input is [6, 8]");
    expect_error(be, "[6]", 6,
                 "    - {name: e, type: embedding, num_embeddings: 4, dim: 8}\n"
                 "    - {name: m, type: pad_mask, pad_id: 0}\n",
                 "7: model.nodes.1 'm' (pad_mask): a pad_mask reads token ids [T]; its input is [6, 8]");
}

int main(void)
{
    repro_backend *be = NULL;
    repro_error err;
    CHECK(repro_backend_create_cpu(REPRO_ISA_SCALAR, 2, &be, &err) == REPRO_OK);
    names(be);
    errors(be);
    trunk_refused(be);
    invariance(be);
    padding(be);
    pad_errors(be);
    repro_backend_destroy(be);
    return test_finish("test_transformer");
}
