/* transformer_encoder_layer / transformer_encoder and multihead_attention
 * at the model level:
 *   - the expansion's parameter names are torch's (a transformer_encoder
 *     named "enc": enc.layers.<i>.self_attn.in_proj_weight, ...), with
 *     torch's shapes, in node order; post-norm and pre-norm;
 *   - config errors with file:line: d_model not divisible by heads (both
 *     numbers), a missing d_model, an attention input that is not
 *     [tokens, d_model], a layer whose d_model is not its input's width;
 *   - batch invariance: a sample's output (training forward with dropout,
 *     and evaluation) is the same bits alone and in a batch of five. */
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

int main(void)
{
    repro_backend *be = NULL;
    repro_error err;
    CHECK(repro_backend_create_cpu(REPRO_ISA_SCALAR, 2, &be, &err) == REPRO_OK);
    names(be);
    errors(be);
    trunk_refused(be);
    invariance(be);
    repro_backend_destroy(be);
    return test_finish("test_transformer");
}
