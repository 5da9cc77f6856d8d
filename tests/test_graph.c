/* The model graph (model.nodes): built from YAML, walked in its written order.
 *
 *   - the node form of a trunk/heads model is the same model: same tensor
 *     names, shapes and initial values, same outputs and gradients, bit for bit;
 *   - add, concat, flatten and reshape move and add values exactly as written,
 *     and a node read by several consumers gets ((g0 + g1) + g2) in forward order;
 *   - gradients through add/concat/reshape agree with finite differences;
 *   - a ReLU read only by a max pool folds its backward into the pool's (model.c)
 *     and gives the unfolded pair's gradients bit for bit (ties, zeros, NaN,
 *     overlapping and padded windows);
 *   - graphs that do not fit are refused with the node, the shapes and file:line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model.h"
#include "repro/isa.h"
#include "repro/config.h"
#include "test_backend.h"
#include "testutil.h"

static repro_cpu scalar_cpu = {REPRO_ISA_SCALAR, NULL};

/* Writes text to the test's temp folder and loads it as a config. */
static repro_status load_text(const char *name, const char *text, repro_config *cfg, char *path, size_t size,
                              repro_error *err)
{
    snprintf(path, size, "%s/%s", REPRO_TEST_TMP, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return REPRO_ERR_IO;
    fputs(text, f);
    fclose(f);
    return repro_config_load(path, NULL, 0, cfg, err);
}

#define DATA                                                                                        \
    "data: {format: csv, train_csv: x.csv, label_column: y, n_classes: 3, target_columns: [t]}\n"

/* Builds the model of a YAML text for `input` features (capacity cap). */
static repro_model *build(const char *text, int input, int64_t cap, repro_error *err, repro_status *st_out)
{
    repro_config cfg;
    char path[1024];
    repro_status st = load_text("graph.yaml", text, &cfg, path, sizeof path, err);
    repro_model *m = NULL;
    if (st == REPRO_OK)
        st = repro_model_create(&cfg.model, path, input, cap, BE(&scalar_cpu), &m, err);
    if (st == REPRO_OK)
        st = repro_model_init_params(m, 7, err);
    if (st_out)
        *st_out = st;
    return m;
}

static void fill(float *x, int64_t n, uint32_t seed)
{
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) * 0x1p-24f * 2.0f - 1.0f;
    }
}

/* The node form of a trunk and two heads gives the trunk form's model bit for bit. */
static void sugar_equals_nodes(void)
{
    const char *trunk = DATA "model:\n"
                        "  trunk: [{type: linear, out: 6}, {type: tanh}, {type: layernorm}, {type: linear, out: 5}]\n"
                        "  heads:\n"
                        "    - {name: a, layers: [{type: linear, out: 3}]}\n"
                        "    - {name: b, loss: mse, layers: [{type: linear, out: 2}, {type: sigmoid}]}\n";
    const char *nodes = DATA "model:\n"
                        "  nodes:\n"
                        "    - {name: trunk.0, type: linear, out: 6}\n"
                        "    - {name: trunk.1, type: tanh}\n"
                        "    - {name: trunk.2, type: layernorm}\n"
                        "    - {name: trunk.3, type: linear, out: 5}\n"
                        "  heads:\n"
                        "    - {name: a, input: trunk.3, layers: [{type: linear, out: 3}]}\n"
                        "    - {name: b, input: trunk.3, loss: mse, layers: [{type: linear, out: 2}, {type: sigmoid}]}\n";
    repro_error err;
    repro_status st1, st2;
    repro_model *a = build(trunk, 4, 8, &err, &st1);
    CHECK_MSG(st1 == REPRO_OK, "%s", err.message);
    repro_model *b = build(nodes, 4, 8, &err, &st2);
    CHECK_MSG(st2 == REPRO_OK, "%s", err.message);
    if (!a || !b)
        return;
    CHECK(repro_model_n_tensors(a) == repro_model_n_tensors(b));
    for (int i = 0; i < repro_model_n_tensors(a); i++)
        CHECK(!strcmp(repro_model_tensor(a, i)->name, repro_model_tensor(b, i)->name));
    CHECK(repro_model_n_params(a) == repro_model_n_params(b));
    CHECK_BITS(repro_model_params(a), repro_model_params(b), (size_t)repro_model_n_params(a), "initial params");
    float x[8 * 4], d0[8 * 3], d1[8 * 2];
    fill(x, 32, 1);
    fill(d0, 24, 2);
    fill(d1, 16, 3);
    float *d[2] = {d0, d1};
    repro_model *ms[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        CHECK(repro_model_forward(ms[k], BE(&scalar_cpu), repro_model_params(ms[k]), x, 8, 1, 1, 1, NULL, &err) ==
              REPRO_OK);
        CHECK(repro_model_backward(ms[k], BE(&scalar_cpu), x, 8, d, &err) == REPRO_OK);
    }
    CHECK_BITS(repro_model_head_output(a, 0), repro_model_head_output(b, 0), 24, "head a");
    CHECK_BITS(repro_model_head_output(a, 1), repro_model_head_output(b, 1), 16, "head b");
    CHECK_BITS(repro_model_grads(a), repro_model_grads(b), (size_t)repro_model_n_params(a), "gradients");
    repro_model_free(a);
    repro_model_free(b);
}

/* x -> l1 (linear 4) -> r1 (tanh); y = add(l1, r1, l1); c = concat(y, r1);
 * f = reshape [2, 4]; head reads f (linear over the last axis: [2, 3]), and
 * a second head reads l1 directly. */
static const char *residual = DATA "model:\n"
                                   "  nodes:\n"
                                   "    - {name: l1, type: linear, out: 4}\n"
                                   "    - {name: r1, type: tanh}\n"
                                   "    - {name: y, type: add, inputs: [l1, r1, l1]}\n"
                                   "    - {name: c, type: concat, inputs: [y, r1]}\n"
                                   "    - {name: f, type: reshape, shape: [2, 4]}\n"
                                   "    - {name: out, type: linear, out: 3}\n"
                                   "  heads:\n"
                                   "    - {name: h, input: out}\n"
                                   "    - {name: g, input: l1, loss: mse}\n";

/* Forward values by hand: y = (l1 + r1) + l1, c = [y, r1] per sample. */
static void structure_values(void)
{
    repro_error err;
    repro_status st;
    repro_model *m = build(residual, 3, 5, &err, &st);
    CHECK_MSG(st == REPRO_OK, "%s", err.message);
    if (!m)
        return;
    CHECK(repro_model_head_width(m, 0) == 6);
    CHECK(repro_model_head_width(m, 1) == 4);
    float x[5 * 3];
    fill(x, 15, 4);
    CHECK(repro_model_forward(m, BE(&scalar_cpu), repro_model_params(m), x, 5, 1, 1, 1, NULL, &err) == REPRO_OK);
    const float *l1 = repro_model_head_output(m, 1);
    float want_c[5 * 8];
    for (int s = 0; s < 5; s++)
        for (int j = 0; j < 4; j++) {
            float v = l1[s * 4 + j], r = repro_tanhf(v);
            want_c[s * 8 + j] = (v + r) + v;
            want_c[s * 8 + 4 + j] = r;
        }
    /* the head "out" is linear over [2, 4] rows: recompute it from want_c */
    const repro_param_info *w = NULL, *bias = NULL;
    for (int i = 0; i < repro_model_n_tensors(m); i++) {
        if (!strcmp(repro_model_tensor(m, i)->name, "out.weight"))
            w = repro_model_tensor(m, i);
        if (!strcmp(repro_model_tensor(m, i)->name, "out.bias"))
            bias = repro_model_tensor(m, i);
    }
    CHECK(w && bias && w->shape[0] == 3 && w->shape[1] == 4);
    if (!w || !bias)
        return;
    const float *p = repro_model_params(m);
    float want[5 * 6];
    for (int r = 0; r < 10; r++)
        for (int o = 0; o < 3; o++) {
            float acc = 0.0f;
            for (int i = 0; i < 4; i++)
                acc = fmaf(want_c[r * 4 + i], p[w->offset + o * 4 + i], acc);
            want[r * 3 + o] = acc + p[bias->offset + o];
        }
    CHECK_BITS(repro_model_head_output(m, 0), want, 30, "residual graph output");
    repro_model_free(m);
}

/* sum over heads of <out_h, w_h>: its gradient with respect to out_h is w_h */
static double functional(repro_model *m, const float *x, const float *const *w, repro_error *err)
{
    if (repro_model_forward(m, BE(&scalar_cpu), repro_model_params(m), x, 5, 1, 1, 1, NULL, err) != REPRO_OK)
        return NAN;
    double f = 0.0;
    for (int h = 0; h < repro_model_n_heads(m); h++) {
        const float *o = repro_model_head_output(m, h);
        for (int i = 0; i < 5 * repro_model_head_width(m, h); i++)
            f += (double)o[i] * (double)w[h][i];
    }
    return f;
}

/* Gradients through add (a node read three times), concat and reshape
 * against central differences (float forward, so a loose tolerance). */
static void structure_gradients(void)
{
    repro_error err;
    repro_status st;
    repro_model *m = build(residual, 3, 5, &err, &st);
    if (!m)
        return;
    float x[15], w0[30], w1[20];
    fill(x, 15, 5);
    fill(w0, 30, 6);
    fill(w1, 20, 7);
    float *w[2] = {w0, w1};
    CHECK(repro_model_forward(m, BE(&scalar_cpu), repro_model_params(m), x, 5, 1, 1, 1, NULL, &err) == REPRO_OK);
    memset(repro_model_grads(m), 0, (size_t)repro_model_n_params(m) * sizeof(float));
    CHECK(repro_model_backward(m, BE(&scalar_cpu), x, 5, w, &err) == REPRO_OK);
    int64_t n = repro_model_n_params(m);
    float *g = malloc((size_t)n * sizeof *g);
    memcpy(g, repro_model_grads(m), (size_t)n * sizeof *g);
    float *p = repro_model_params(m);
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        float keep = p[i], h = 1e-2f;
        p[i] = keep + h;
        double up = functional(m, x, (const float *const *)w, &err);
        p[i] = keep - h;
        double down = functional(m, x, (const float *const *)w, &err);
        p[i] = keep;
        double num = (up - down) / (2.0 * (double)h);
        double rel = fabs(num - (double)g[i]) / (fabs(num) + 1e-2);
        worst = rel > worst ? rel : worst;
    }
    printf("graph gradients: %lld parameters, worst relative error %.2e\n", (long long)n, worst);
    CHECK(worst < 2e-3);
    free(g);
    repro_model_free(m);
}

/* A trace sees every node's gradient, so with one set the model runs each
 * backward on its own: the unfolded ReLU and max pool. */
static repro_status ignore_trace(void *ctx, const char *op, const char *name, const float *host, int64_t rows,
                                 int64_t cols, repro_error *err)
{
    (void)ctx, (void)op, (void)name, (void)host, (void)rows, (void)cols, (void)err;
    return REPRO_OK;
}

/* Outputs and parameter gradients of one step with or without a trace. */
static void relu_pool_grads(repro_model *m, const float *x, float *const *w, int traced, float *out, float *g)
{
    repro_error err;
    repro_model_set_trace(m, traced ? ignore_trace : NULL, NULL);
    CHECK(repro_model_forward(m, BE(&scalar_cpu), repro_model_params(m), x, 4, 1, 1, 1, NULL, &err) == REPRO_OK);
    memcpy(out, repro_model_head_output(m, 0), 4 * 3 * sizeof *out);
    memset(repro_model_grads(m), 0, (size_t)repro_model_n_params(m) * sizeof(float));
    CHECK_MSG(repro_model_backward(m, BE(&scalar_cpu), x, 4, w, &err) == REPRO_OK, "%s", err.message);
    memcpy(g, repro_model_grads(m), (size_t)repro_model_n_params(m) * sizeof *g);
}

/* The folded ReLU and max pool against the unfolded pair. Inputs and
 * weights on a coarse grid so that windows tie and pre-activations hit
 * exact zeros; a NaN pixel; 2x2 windows and overlapping, padded 3x3 ones. */
static void relu_pool_fold(void)
{
    static const char *graph = DATA "model:\n"
                                    "  input_shape: [1, 7, 6]\n"
                                    "  nodes:\n"
                                    "    - {name: c1, type: conv2d, out: 3, kernel: 2, padding: 1}\n"
                                    "    - {name: r1, type: relu}\n"
                                    "    - {name: p1, type: max_pool2d, kernel: 3, stride: 2, padding: 1}\n"
                                    "    - {name: c2, type: conv2d, out: 2, kernel: 1}\n"
                                    "    - {name: r2, type: relu}\n"
                                    "    - {name: p2, type: max_pool2d, kernel: 2}\n"
                                    "    - {name: f, type: flatten}\n"
                                    "    - {name: out, type: linear, out: 3}\n"
                                    "  heads:\n"
                                    "    - {name: h, input: out}\n";
    repro_error err;
    repro_status st;
    repro_model *m = build(graph, 42, 4, &err, &st);
    CHECK_MSG(st == REPRO_OK, "%s", err.message);
    if (!m)
        return;
    CHECK(repro_model_head_width(m, 0) == 3);
    float *p = repro_model_params(m);
    for (int64_t i = 0; i < repro_model_n_params(m); i++)
        p[i] = (float)((int)(p[i] * 8.0f)) * 0.25f; /* few values: ties and zero sums */
    float x[4 * 42], w0[4 * 3], out_folded[4 * 3], out_unfolded[4 * 3];
    fill(w0, 12, 9);
    float *w[1] = {w0};
    int64_t n = repro_model_n_params(m);
    float *folded = malloc((size_t)n * sizeof *folded), *unfolded = malloc((size_t)n * sizeof *unfolded);
    for (int with_nan = 0; with_nan < 2; with_nan++) {
        fill(x, 4 * 42, 8);
        for (int i = 0; i < 4 * 42; i++)
            x[i] = (float)((int)(x[i] * 3.0f));
        if (with_nan)
            x[4 * 42 - 5] = NAN;
        relu_pool_grads(m, x, w, 0, out_folded, folded);
        relu_pool_grads(m, x, w, 1, out_unfolded, unfolded);
        CHECK(test_bits_equal_nan(out_folded, out_unfolded, 12, "folded ReLU + max pool outputs"));
        CHECK(test_bits_equal_nan(folded, unfolded, (size_t)n, "folded ReLU + max pool gradients"));
        int zeros = 0, nans = 0;
        for (int64_t i = 0; i < n; i++) {
            zeros += folded[i] == 0.0f;
            nans += folded[i] != folded[i];
        }
        printf("relu + max pool, folded against unfolded: 12 outputs, %lld gradients (%d of them 0, %d NaN)\n",
               (long long)n, zeros, nans);
        CHECK(with_nan ? nans > 0 && nans < n : nans == 0);
    }
    free(folded);
    free(unfolded);
    repro_model_free(m);
}

/* A graph that does not fit: each refused naming the node and file:line. */
static void expect_refused(const char *nodes, int input, const char *want)
{
    char text[2048];
    snprintf(text, sizeof text, DATA "model:\n  nodes:\n%s  heads:\n    - {name: h}\n", nodes);
    repro_error err;
    repro_status st;
    repro_model *m = build(text, input, 4, &err, &st);
    CHECK_MSG(st == REPRO_ERR_CONFIG, "status %d for %s", (int)st, want);
    CHECK_CONTAINS(err.message, want);
    repro_model_free(m);
}

static void refusals(void)
{
    expect_refused("    - {name: a, type: linear, out: 3, inputs: [nope]}\n", 4,
                   "graph.yaml:4: model.nodes.0 'a' (linear): input 'nope' does not exist");
    expect_refused("    - {name: a, type: linear, out: 3, inputs: [b]}\n"
                   "    - {name: b, type: relu, inputs: [a]}\n",
                   4, "graph.yaml:4: model.nodes.0 'a' (linear): input 'b' forms a cycle");
    expect_refused("    - {name: a, type: linear, out: 3, inputs: [a]}\n", 4, "input 'a' forms a cycle");
    expect_refused("    - {name: a, type: linear, out: 3, inputs: [b]}\n"
                   "    - {name: b, type: relu, inputs: [input]}\n",
                   4, "input 'b' is written later, in model.nodes.1 (list a node after its inputs)");
    expect_refused("    - {name: a, type: linear, out: 3}\n"
                   "    - {name: b, type: add, inputs: [a, input]}\n",
                   4, "graph.yaml:5: model.nodes.1 'b' (add): cannot add input 1 of shape [4] to input 0 of shape [3]");
    expect_refused("    - {name: a, type: linear, out: 3}\n"
                   "    - {name: a, type: relu}\n",
                   4, "model.nodes.1 'a' (relu): the name 'a' is already taken by an earlier node");
    expect_refused("    - {name: a, type: linear, out: 3}\n"
                   "    - {name: b, type: linear, out: 2, inputs: [input]}\n",
                   4, "model.nodes.0 'a' (linear): its output reaches no head");
    expect_refused("    - {name: a, type: reshape, shape: [3, 3]}\n", 8,
                   "cannot reshape [8] (8 values) to [3, 3] (9 values)");
    expect_refused("    - {name: a, type: concat, inputs: [input, b]}\n"
                   "    - {name: b, type: relu}\n",
                   4, "is written later");
    expect_refused("    - {name: a, type: add, inputs: [input]}\n", 4, "takes 2 to 4 inputs, got 1");
}

int main(void)
{
    sugar_equals_nodes();
    structure_values();
    structure_gradients();
    relu_pool_fold();
    refusals();
    return test_finish("test_graph");
}
