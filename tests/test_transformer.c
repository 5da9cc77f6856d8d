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
 *   - padding invariance: a sequence of 37 tokens padded (key padding mask
 *     read from the token ids) to 48 and to 100 tokens, alone and among
 *     other sequences, gives the same logits at its 37 positions, bit for
 *     bit, in training and evaluation, bidirectional and causal, and the
 *     same parameter gradients from a loss that reads only those positions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "nn/model.h"
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

/* The padding half of batch invariance, at the model level. The model
 * reads token ids [T]; "pad" is an embedding of width 1 whose table the
 * test sets to 1 at the pad id 0 and 0 elsewhere: the key padding mask as
 * a node of T values computed from the input (docs/model.md). No parameter
 * depends on T, so the models built for T = 48 and T = 100 draw the same
 * parameters. */
enum { PAD_L = 37, PAD_V = 16, PAD_O = 5 };

static repro_model *pad_model(repro_backend *be, int T, int causal)
{
    char shape[16], nodes[1024];
    snprintf(shape, sizeof shape, "[%d]", T);
    snprintf(nodes, sizeof nodes,
             "    - {name: tok, type: embedding, num_embeddings: %d, dim: 8}\n"
             "    - {name: pad, type: embedding, num_embeddings: %d, dim: 1, inputs: [input]}\n"
             "    - {name: enc, type: transformer_encoder, num_layers: 2, d_model: 8, heads: 2, dim_feedforward: 16, "
             "dropout: 0.2, activation: gelu, norm_first: true, causal: %s, inputs: [tok, pad]}\n"
             "    - {name: norm, type: layernorm}\n    - {name: o, type: linear, out: %d}\n",
             PAD_V, PAD_V, causal ? "true" : "false", PAD_O);
    repro_model *m = NULL;
    repro_error err;
    repro_status st = build(shape, nodes, T, be, &m, &err);
    CHECK_MSG(st == REPRO_OK, "%s", err.message);
    if (st != REPRO_OK)
        return NULL;
    CHECK(repro_model_init_params(m, 11, &err) == REPRO_OK);
    const repro_param_info *t = repro_model_tensor(m, 1);
    CHECK(!strcmp(t->name, "pad.weight") && t->numel == PAD_V);
    float *table = repro_model_params(m) + t->offset;
    for (int v = 0; v < PAD_V; v++)
        table[v] = v == 0 ? 1.0f : 0.0f;
    return m;
}

/* b sequences of T tokens: sequence k is `seq` when k == at, else a
 * companion (seeded by k and salt) of its own length; id 0 pads. */
static void pad_batch(float *x, int b, int T, int at, const float *seq, unsigned salt)
{
    for (int k = 0; k < b; k++) {
        int len = k == at ? PAD_L : 5 + (int)((k * 29u + salt * 13u) % (unsigned)(T - 5));
        uint64_t s = k * 977u + salt;
        for (int t = 0; t < T; t++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            x[k * T + t] = t >= len ? 0.0f : k == at ? seq[t] : (float)(1 + (s >> 33) % (PAD_V - 1));
        }
    }
}

/* Forward (and, training, backward of a loss whose gradient is dl at the
 * PAD_L real positions and 0 at the padding) of sequence `at` of the batch;
 * its logits land in out [PAD_L][PAD_O], the gradients in grads. */
static void pad_run(repro_backend *be, repro_model *m, int T, int b, int at, unsigned salt, int training,
                    const float *seq, const float *dl, float *out, float *grads)
{
    repro_error err;
    float *x = malloc((size_t)(b * T) * 4), *dout = calloc((size_t)(b * T * PAD_O), 4);
    uint32_t pos[8];
    for (int k = 0; k < b; k++)
        pos[k] = k == at ? 12 : 40 + k + salt;
    pad_batch(x, b, T, at, seq, salt);
    CHECK(repro_model_forward(m, be, repro_model_params(m), x, b, training, 7, 3, pos, &err) == REPRO_OK);
    memcpy(out, repro_model_head_output(m, 0) + (size_t)at * T * PAD_O, PAD_L * PAD_O * 4);
    if (training) {
        /* only sequence `at` sends a gradient, so only it is summed */
        memcpy(dout + (size_t)at * T * PAD_O, dl, PAD_L * PAD_O * 4);
        memset(repro_model_grads(m), 0, (size_t)repro_model_n_params(m) * 4);
        float *d[1] = {dout};
        CHECK(repro_model_backward(m, be, x, b, d, &err) == REPRO_OK);
        memcpy(grads, repro_model_grads(m), (size_t)repro_model_n_params(m) * 4);
    }
    free(x);
    free(dout);
}

static void padding(repro_backend *be)
{
    float seq[PAD_L], dl[PAD_L * PAD_O];
    uint64_t s = 3;
    for (int t = 0; t < PAD_L; t++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        seq[t] = (float)(1 + (s >> 33) % (PAD_V - 1));
    }
    for (int i = 0; i < PAD_L * PAD_O; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        dl[i] = (float)(s >> 40) * 0x1p-24f - 0.5f;
    }
    /* (T, batch, position of the sequence, companions' salt) */
    static const int runs[][4] = {{48, 1, 0, 0}, {48, 4, 2, 1}, {100, 1, 0, 0}, {100, 3, 1, 5}, {100, 6, 5, 9}};
    enum { N_RUNS = sizeof runs / sizeof runs[0] };
    for (int causal = 0; causal < 2; causal++) {
        repro_model *m48 = pad_model(be, 48, causal), *m100 = pad_model(be, 100, causal);
        if (!m48 || !m100) {
            repro_model_free(m48);
            repro_model_free(m100);
            return;
        }
        int64_t np = repro_model_n_params(m48);
        CHECK(np == repro_model_n_params(m100));
        CHECK(!memcmp(repro_model_params(m48), repro_model_params(m100), (size_t)np * 4));
        float ref[PAD_L * PAD_O], out[PAD_L * PAD_O], *gref = malloc((size_t)np * 4), *g = malloc((size_t)np * 4);
        for (int training = 0; training < 2; training++) {
            for (int r = 0; r < N_RUNS; r++) {
                int T = runs[r][0];
                pad_run(be, T == 48 ? m48 : m100, T, runs[r][1], runs[r][2], (unsigned)runs[r][3], training, seq, dl,
                        r == 0 ? ref : out, r == 0 ? gref : g);
                if (r == 0)
                    continue;
                CHECK_MSG(!memcmp(ref, out, sizeof ref),
                          "%s, %s: 37 tokens padded to %d in a batch of %d differ from padded to 48 alone",
                          causal ? "causal" : "bidirectional", training ? "training" : "evaluation", T, runs[r][1]);
                if (training)
                    CHECK_MSG(!memcmp(gref, g, (size_t)np * 4),
                              "%s: the gradients of 37 tokens padded to %d in a batch of %d differ from padded to "
                              "48 alone",
                              causal ? "causal" : "bidirectional", T, runs[r][1]);
            }
        }
        /* the mask is what makes it hold: unmasked, the padding is attended */
        if (!causal) {
            const repro_param_info *t = repro_model_tensor(m100, 1);
            repro_model_params(m100)[t->offset] = 0.0f;
            pad_run(be, m100, 100, 1, 0, 0, 0, seq, dl, out, g);
            CHECK_MSG(memcmp(ref, out, sizeof ref) != 0, "without the mask the padding changed nothing");
        }
        free(gref);
        free(g);
        repro_model_free(m48);
        repro_model_free(m100);
    }
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
    repro_backend_destroy(be);
    return test_finish("test_transformer");
}
