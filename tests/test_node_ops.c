/* Every node kind on every backend, bit for bit (in the manner of ggml's
 * test-backend-ops, but bitwise): each row below is a small graph around one
 * op, at odd shapes. The graph runs forward (training, then evaluation) and
 * backward on the scalar single-threaded CPU backend, the reference, and on
 * every other backend this machine has: the CPU with 3 threads, each SIMD
 * path the CPU supports with 2 threads, and a CUDA GPU when the build and
 * the machine have one. Outputs, parameter gradients and running statistics
 * must be the same bits (NaN matching any NaN on the GPU, whose arithmetic
 * returns the canonical NaN). The inputs mix in +-0, subnormals and large
 * values. A new op joins by one row.
 *
 * Gradient checks against finite differences live beside each kernel
 * (test_gradcheck*.c); this test proves the twins and the plumbing agree. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "nn/model.h"
#include "repro/isa.h"
#include "repro/config.h"
#include "testutil.h"

typedef struct op_row {
    const char *name;
    const char *input_shape; /* YAML list */
    const char *nodes;       /* YAML lines of model.nodes; the head reads the last node */
    int batch;
} op_row;

#define N(x) "    - " x "\n"
#define NOT_ACTIVATION(...)
#define ACTIVATION_NODES(ID, name, ...) N("{name: " #name ", type: " #name "}") N("{name: " #name "_mix, type: linear, out: 9}")
static const op_row rows[] = {
    {"linear on [3, 5]", "[3, 5]", N("{name: a, type: linear, out: 4}"), 7},
    {"linear no bias", "[9]", N("{name: a, type: linear, out: 33, bias: false}"), 5},
    {"relu gelu silu tanh sigmoid", "[17]",
     N("{name: a, type: relu}") N("{name: b, type: linear, out: 17}") N("{name: c, type: gelu}")
         N("{name: d, type: silu}") N("{name: e, type: tanh}") N("{name: f, type: linear, out: 5}")
             N("{name: g, type: sigmoid}"),
     7},
    /* every ACTIVATION row of repro/layer_kinds.h, each between two linear
     * layers (so its backward runs), with no row of its own */
    {"every activation", "[9]", N("{name: in, type: linear, out: 9}") REPRO_LAYER_KINDS(NOT_ACTIVATION, ACTIVATION_NODES, NOT_ACTIVATION),
     7},
    {"dropout", "[3, 11]", N("{name: a, type: linear, out: 11}") N("{name: b, type: dropout, p: 0.4}"), 7},
    {"layernorm over 2 axes", "[3, 5]", N("{name: a, type: linear, out: 5}") N("{name: b, type: layernorm, axes: 2}"), 7},
    {"conv2d 3x3 pad 1", "[3, 7, 7]", N("{name: a, type: conv2d, out: 5, kernel: 3, padding: 1}"), 5},
    {"conv2d 1 channel 28x28", "[1, 28, 28]", N("{name: a, type: conv2d, out: 7, kernel: 3, padding: 1}"), 3},
    {"conv2d stride 2 on 31x17", "[3, 31, 17]", N("{name: a, type: conv2d, out: 4, kernel: 3, stride: 2, padding: 1}"), 3},
    {"conv2d 5x5 dilation 2", "[2, 13, 11]", N("{name: a, type: conv2d, out: 3, kernel: 5, dilation: 2, padding: 2}"), 3},
    {"conv2d 3x1 kernel", "[3, 9, 8]", N("{name: a, type: conv2d, out: 4, kernel: 3, kernel_w: 1}"), 3},
    {"conv2d groups 2", "[4, 6, 6]", N("{name: a, type: conv2d, out: 6, kernel: 3, groups: 2, padding: 1}"), 3},
    {"conv2d depthwise", "[7, 5, 5]", N("{name: a, type: conv2d, out: 7, kernel: 3, groups: 7, padding: 1}"), 3},
    {"conv2d 1x1 stride 2, 33 channels", "[33, 6, 6]",
     N("{name: a, type: conv2d, out: 8, kernel: 1, stride: 2, bias: false}"), 3},
    {"conv2d into conv2d", "[3, 8, 8]",
     N("{name: a, type: conv2d, out: 4, kernel: 3, padding: 1}") N("{name: b, type: conv2d, out: 3, kernel: 3}"), 3},
    {"max_pool2d 2x2", "[3, 9, 9]", N("{name: c, type: conv2d, out: 3, kernel: 1}") N("{name: a, type: max_pool2d, kernel: 2}"), 5},
    {"max_pool2d 3x3 stride 1 pad 1", "[2, 7, 6]",
     N("{name: c, type: conv2d, out: 2, kernel: 1}") N("{name: a, type: max_pool2d, kernel: 3, stride: 1, padding: 1}"), 3},
    {"avg_pool2d 3x3 stride 2 pad 1", "[2, 9, 7]",
     N("{name: c, type: conv2d, out: 2, kernel: 1}") N("{name: a, type: avg_pool2d, kernel: 3, stride: 2, padding: 1}"), 3},
    {"global_avg_pool", "[5, 7, 3]", N("{name: c, type: conv2d, out: 5, kernel: 1}") N("{name: a, type: global_avg_pool}"), 5},
    {"batch_norm on images, short last group", "[3, 5, 5]",
     N("{name: c, type: conv2d, out: 3, kernel: 1}") N("{name: a, type: batch_norm, group_size: 3}"), 7},
    {"batch_norm on vectors", "[6]", N("{name: c, type: linear, out: 6}") N("{name: a, type: batch_norm, group_size: 2}"), 6},
    {"group_norm", "[6, 4, 4]", N("{name: c, type: conv2d, out: 6, kernel: 1}") N("{name: a, type: group_norm, groups: 3}"), 5},
    {"add (residual)", "[3, 5, 5]",
     N("{name: c, type: conv2d, out: 3, kernel: 3, padding: 1}") N("{name: r, type: relu}")
         N("{name: a, type: add, inputs: [r, input, c]}"),
     3},
    {"concat on channels", "[2, 4, 4]",
     N("{name: c, type: conv2d, out: 3, kernel: 1}") N("{name: a, type: concat, inputs: [c, input]}"), 3},
    {"concat on axis 1", "[3, 4]",
     N("{name: c, type: linear, out: 4}") N("{name: a, type: concat, inputs: [c, input, c], axis: 1}"), 5},
    {"flatten and reshape", "[2, 3, 4]",
     N("{name: c, type: conv2d, out: 2, kernel: 1}") N("{name: f, type: flatten}") N("{name: a, type: reshape, shape: [4, 6]}")
         N("{name: l, type: linear, out: 2}"),
     3},
    {"patchify 2x2, linear per patch", "[3, 6, 4]",
     N("{name: c, type: conv2d, out: 3, kernel: 1}") N("{name: a, type: patchify, patch: 2}")
         N("{name: l, type: linear, out: 5}"),
     3},
    {"embedding, sinusoidal positions", "[7]",
     N("{name: e, type: embedding, num_embeddings: 5, dim: 10}") N("{name: s, type: sinusoidal}")
         N("{name: l, type: linear, out: 3}"),
     4},
    {"embedding, repeated tokens", "[6]", N("{name: a, type: embedding, num_embeddings: 11, dim: 5}"), 7},
    {"embedding, positions, linear per position", "[5]",
     N("{name: e, type: embedding, num_embeddings: 4, dim: 37}") N("{name: p, type: pos_embedding}")
         N("{name: l, type: linear, out: 3}"),
     9},
    {"pad_mask as the key padding mask of multihead_attention", "[9]",
     N("{name: e, type: embedding, num_embeddings: 6, dim: 8}") N("{name: m, type: pad_mask, pad_id: 3, inputs: [input]}")
         N("{name: a, type: multihead_attention, heads: 2, inputs: [e, m]}") N("{name: l, type: linear, out: 3}"),
     4},
    {"multihead_attention 2 heads", "[5, 8]",
     N("{name: c, type: linear, out: 8}") N("{name: a, type: multihead_attention, heads: 2}"), 3},
    {"multihead_attention causal, dropout, 70 tokens", "[70, 6]",
     N("{name: c, type: linear, out: 6}")
         N("{name: a, type: multihead_attention, heads: 3, causal: true, dropout: 0.3}"), 2},
    {"multihead_attention no bias, 1 head", "[3, 4]",
     N("{name: a, type: multihead_attention, bias: false}") N("{name: l, type: linear, out: 2}"), 4},
    {"transformer_encoder_layer post-norm gelu (erf) dropout", "[6, 8]",
     N("{name: c, type: linear, out: 8}")
         N("{name: enc, type: transformer_encoder_layer, d_model: 8, heads: 2, dim_feedforward: 12, dropout: 0.2, "
           "activation: gelu}")
             N("{name: l, type: linear, out: 3, inputs: [enc]}"),
     3},
    {"transformer_encoder 2 layers pre-norm gelu_tanh causal", "[5, 8]",
     N("{name: c, type: linear, out: 8}")
         N("{name: enc, type: transformer_encoder, d_model: 8, num_layers: 2, heads: 4, dim_feedforward: 16, norm_first: true, "
           "activation: gelu_tanh, causal: true}"),
     2},
    {"gelu_erf", "[19]", N("{name: c, type: linear, out: 19}") N("{name: a, type: gelu_erf}"), 5},
    {"softmax over the last axis", "[3, 7]", N("{name: c, type: linear, out: 7}") N("{name: a, type: softmax}"), 5},
};

typedef struct target {
    char name[64];
    repro_backend *be;
    repro_pool *pool;
} target;

typedef struct result {
    float *out, *eval_out, *grads, *buffers;
    int64_t n_out, n_params, n_buffers;
} result;

static void fill(float *x, int64_t n, uint32_t seed, int specials)
{
    static const float special[] = {0.0f, -0.0f, 1e-40f, -3e-39f, 1e20f, -7.5e19f, 1.0f, -1.0f};
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) * 0x1p-24f * 2.0f - 1.0f;
        if (specials && i % 13 == 5)
            x[i] = special[(i / 13) % 8];
    }
}

static int same(const float *a, const float *b, int64_t n, int nan_any, const char *what, const char *where)
{
    for (int64_t i = 0; i < n; i++) {
        if (nan_any && isnan(a[i]) && isnan(b[i]))
            continue;
        uint32_t ua, ub;
        memcpy(&ua, &a[i], 4);
        memcpy(&ub, &b[i], 4);
        if (ua != ub) {
            fprintf(stderr, "%s: %s differs at %lld: %a (0x%08x) vs %a (0x%08x)\n", where, what, (long long)i,
                    (double)a[i], ua, (double)b[i], ub);
            return 0;
        }
    }
    return 1;
}

static repro_status load_row(const op_row *r, repro_config *cfg, repro_error *err)
{
    char text[4096], path[1024];
    snprintf(text, sizeof text,
             "data: {format: csv, train_csv: x.csv, label_column: y, n_classes: 3, target_columns: [t]}\n"
             "batch_size: 60\nmodel:\n  input_shape: %s\n  nodes:\n%s  heads:\n    - {name: h, loss: mse}\n",
             r->input_shape, r->nodes);
    const char *tmp = getenv("REPRO_TEST_TMP"); /* a GPU machine runs this binary away from its build */
    snprintf(path, sizeof path, "%s/node_ops.yaml", tmp && tmp[0] ? tmp : REPRO_TEST_TMP);
    FILE *f = fopen(path, "w");
    if (!f)
        return repro_fail(err, REPRO_ERR_IO, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
    return repro_config_load(path, NULL, 0, cfg, err);
}

/* A row whose first node is an embedding reads token ids: its num_embeddings (else 0). */
static int token_count(const op_row *r)
{
    const char *k = strstr(r->nodes, "num_embeddings: ");
    return k ? atoi(k + strlen("num_embeddings: ")) : 0;
}

/* Runs one row on one backend: training forward, backward, then an
 * evaluation forward; everything copied back to the host. */
static repro_status run_row(const op_row *r, const repro_config *cfg, int input, const repro_backend *be, result *res,
                            repro_error *err)
{
    memset(res, 0, sizeof *res);
    repro_model *m = NULL;
    repro_status st = repro_model_create(&cfg->model, NULL, input, r->batch, be, &m, err);
    if (st == REPRO_OK)
        st = repro_model_init_params(m, 11, err);
    if (st != REPRO_OK) {
        repro_model_free(m);
        return st;
    }
    int64_t nx = (int64_t)r->batch * input, w = repro_model_head_width(m, 0), no = r->batch * w;
    res->n_out = no;
    res->n_params = repro_model_n_params(m);
    res->n_buffers = repro_model_n_buffers(m);
    float *hx = malloc((size_t)nx * 4), *hd = malloc((size_t)no * 4);
    uint32_t *pos = malloc((size_t)r->batch * 4);
    res->out = malloc((size_t)no * 4);
    res->eval_out = malloc((size_t)no * 4);
    res->grads = malloc((size_t)(res->n_params + 1) * 4);
    res->buffers = malloc((size_t)(res->n_buffers + 1) * 4);
    fill(hx, nx, 3, 1);
    int tokens = token_count(r);
    for (int64_t i = 0; tokens > 1 && i < nx; i++) /* uneven, repeating ids; the table's last row unused */
        hx[i] = (float)((i * i + 3 * i) % (tokens - 1));
    fill(hd, no, 5, 0);
    for (int i = 0; i < r->batch; i++)
        pos[i] = (uint32_t)(i * 7 + 3);
    float *dx = NULL, *dd = NULL;
    uint32_t *dpos = NULL;
    st = repro_be_alloc(be, (size_t)nx * 4, (void **)&dx, err);
    if (st == REPRO_OK)
        st = repro_be_alloc(be, (size_t)no * 4, (void **)&dd, err);
    if (st == REPRO_OK)
        st = repro_be_alloc(be, (size_t)r->batch * 4, (void **)&dpos, err);
    if (st == REPRO_OK)
        st = repro_be_upload(be, dx, hx, (size_t)nx * 4, err);
    if (st == REPRO_OK)
        st = repro_be_upload(be, dd, hd, (size_t)no * 4, err);
    if (st == REPRO_OK)
        st = repro_be_upload(be, dpos, pos, (size_t)r->batch * 4, err);
    if (st == REPRO_OK)
        st = repro_model_forward(m, be, repro_model_params(m), dx, r->batch, 1, 42, 9, dpos, err);
    if (st == REPRO_OK)
        st = repro_be_download(be, res->out, repro_model_head_output(m, 0), (size_t)no * 4, err);
    float *d_out[1] = {dd};
    if (st == REPRO_OK)
        st = repro_model_backward(m, be, dx, r->batch, d_out, err);
    if (st == REPRO_OK)
        st = repro_be_download(be, res->grads, repro_model_grads(m), (size_t)res->n_params * 4, err);
    if (st == REPRO_OK && res->n_buffers)
        st = repro_be_download(be, res->buffers, repro_model_buffers(m), (size_t)res->n_buffers * 4, err);
    if (st == REPRO_OK)
        st = repro_model_forward(m, be, repro_model_params(m), dx, r->batch, 0, 0, 0, NULL, err);
    if (st == REPRO_OK)
        st = repro_be_download(be, res->eval_out, repro_model_head_output(m, 0), (size_t)no * 4, err);
    repro_be_free(be, dx);
    repro_be_free(be, dd);
    repro_be_free(be, dpos);
    free(hx);
    free(hd);
    free(pos);
    repro_model_free(m);
    return st;
}

static void free_result(result *r)
{
    free(r->out);
    free(r->eval_out);
    free(r->grads);
    free(r->buffers);
}

static int input_of(const char *shape)
{
    int n = 1, v = 0, any = 0;
    for (const char *p = shape; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            v = v * 10 + (*p - '0');
            any = 1;
        } else if (any) {
            n *= v;
            v = 0;
            any = 0;
        }
    }
    return n;
}

static int add_cpu_target(target *t, repro_isa isa, int threads, repro_error *err)
{
    snprintf(t->name, sizeof t->name, "cpu %s x%d", repro_isa_name(isa), threads);
    return repro_backend_create_cpu(isa, threads, &t->be, err) == REPRO_OK;
}

int main(void)
{
    target targets[8];
    int nt = 0;
    repro_error err;
    CHECK(add_cpu_target(&targets[nt++], REPRO_ISA_SCALAR, 1, &err)); /* the reference */
    CHECK(add_cpu_target(&targets[nt++], REPRO_ISA_SCALAR, 3, &err));
    const repro_isa simd[] = {REPRO_ISA_AVX2, REPRO_ISA_AVX512, REPRO_ISA_NEON};
    for (int i = 0; i < 3; i++) {
        if (repro_isa_supported(simd[i]))
            CHECK(add_cpu_target(&targets[nt++], simd[i], 2, &err));
        else
            printf("SKIPPED: the %s path (this CPU or its cap lacks it)\n", repro_isa_name(simd[i]));
    }
    int cuda = repro_backend_create_cuda(0, 0, &targets[nt].be, &err) == REPRO_OK;
    if (cuda)
        snprintf(targets[nt++].name, sizeof targets[0].name, "cuda");
    else
        printf("SKIPPED: the CUDA backend (%s)\n", err.message);
    int passed = 0, failed = 0;
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        const op_row *r = &rows[k];
        repro_config cfg;
        if (load_row(r, &cfg, &err) != REPRO_OK) {
            CHECK_MSG(0, "%s: %s", r->name, err.message);
            continue;
        }
        int input = input_of(r->input_shape);
        result ref;
        repro_status st = run_row(r, &cfg, input, targets[0].be, &ref, &err);
        CHECK_MSG(st == REPRO_OK, "%s on %s: %s", r->name, targets[0].name, err.message);
        for (int t = 1; st == REPRO_OK && t < nt; t++) {
            result got;
            char where[160];
            snprintf(where, sizeof where, "%s on %s", r->name, targets[t].name);
            repro_status s2 = run_row(r, &cfg, input, targets[t].be, &got, &err);
            int nan_any = !strcmp(targets[t].name, "cuda");
            int ok = s2 == REPRO_OK && same(ref.out, got.out, ref.n_out, nan_any, "training output", where) &&
                     same(ref.grads, got.grads, ref.n_params, nan_any, "parameter gradients", where) &&
                     same(ref.buffers, got.buffers, ref.n_buffers, nan_any, "running statistics", where) &&
                     same(ref.eval_out, got.eval_out, ref.n_out, nan_any, "evaluation output", where);
            if (s2 != REPRO_OK)
                fprintf(stderr, "%s: %s\n", where, err.message);
            printf("%s %s\n", ok ? "PASS" : "FAIL", where);
            CHECK(ok);
            ok ? passed++ : failed++;
            free_result(&got);
        }
        free_result(&ref);
    }
    printf("%d passed, %d failed\n", passed, failed);
    for (int t = 0; t < nt; t++)
        repro_backend_destroy(targets[t].be);
    return test_finish("test_node_ops");
}
