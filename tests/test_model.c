/* The model (src/nn) as a whole: its gradient against finite differences of
 * a double-precision re-implementation written here, batch invariance,
 * micro-batch accumulation, threads and ISA paths bit for bit, the
 * initialisers and the parameter layout documented in model.h.
 *
 * Gradient check: the float gradient (repro_head_grad + repro_model_backward,
 * as the training loop computes it) must satisfy, for every parameter,
 *     |analytic - numeric| <= RTOL * |numeric| + ATOL
 * where numeric is a central difference (step H) of the loss computed in
 * double from the same float parameters, inputs and dropout mask. The worst
 * ratio |a - n| / (RTOL |n| + ATOL) is printed (1.0 = at the tolerance).
 * ctest-labels: threads */
#include <math.h>

#include "nn/init.h"
#include "nn/model.h"
#include "repro/isa.h"
#include "ops/cpu/ops.h"
#include "repro/rng.h"
#include "train/heads.h"
#include "testutil.h"

#include "test_backend.h"

/* The threaded canonical sums, the calls checked. */
static float sum_mt(const repro_cpu *cpu, const float *x, int64_t n)
{
    float s = NAN;
    CHECK(repro_sum_canonical_mt(cpu, x, n, &s, NULL) == REPRO_OK);
    return s;
}

static const repro_backend *scalar_be(void)
{
    repro_cpu cpu = {REPRO_ISA_SCALAR, NULL};
    return BE(&cpu);
}


#define RTOL 1e-4
#define ATOL 1e-6
#define H 1e-5

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static float rand_range(float lo, float hi)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * ((float)(uint32_t)(rng_state >> 40) * 0x1p-24f);
}

static void fill(float *x, int64_t n, float lo, float hi)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = rand_range(lo, hi);
}

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* ---- building configs ---- */

static repro_layer_config layer(repro_layer_kind kind, int out, float p)
{
    repro_layer_config l;
    memset(&l, 0, sizeof l);
    l.kind = kind;
    l.out = out;
    l.bias = true;
    l.p = p;
    l.eps = 1e-5f;
    return l;
}

static void add_head(repro_model_config *mc, const char *name, repro_loss_kind loss, float weight)
{
    repro_head_config *h = &mc->heads[mc->n_heads++];
    memset(h, 0, sizeof *h);
    snprintf(h->name, sizeof h->name, "%s", name);
    h->loss = loss;
    h->weight = weight;
    h->huber_delta = 1.0f;
}

/* input 5: linear 7, gelu, layernorm, dropout p, linear 6, tanh;
 * heads cls: linear 3 (cross-entropy, 0.7), reg: linear 2 + sigmoid (mse, 0.3). */
static void small_config(repro_model_config *mc, float p)
{
    repro_config cfg;
    repro_config_defaults(&cfg);
    *mc = cfg.model;
    mc->n_trunk = 0;
    mc->n_heads = 0;
    mc->trunk[mc->n_trunk++] = layer(REPRO_LAYER_LINEAR, 7, 0);
    mc->trunk[mc->n_trunk++] = layer(REPRO_LAYER_GELU, 0, 0);
    mc->trunk[mc->n_trunk++] = layer(REPRO_LAYER_LAYERNORM, 0, 0);
    mc->trunk[mc->n_trunk++] = layer(REPRO_LAYER_DROPOUT, 0, p);
    mc->trunk[mc->n_trunk++] = layer(REPRO_LAYER_LINEAR, 6, 0);
    mc->trunk[mc->n_trunk++] = layer(REPRO_LAYER_TANH, 0, 0);
    add_head(mc, "cls", REPRO_LOSS_CROSS_ENTROPY, 0.7f);
    mc->heads[0].layers[mc->heads[0].n_layers++] = layer(REPRO_LAYER_LINEAR, 3, 0);
    add_head(mc, "reg", REPRO_LOSS_MSE, 0.3f);
    mc->heads[1].layers[mc->heads[1].n_layers++] = layer(REPRO_LAYER_LINEAR, 2, 0);
    mc->heads[1].layers[mc->heads[1].n_layers++] = layer(REPRO_LAYER_SIGMOID, 0, 0);
}

/* Wider, so GEMM blocking, SIMD tails and thread splits all show:
 * input 33: linear 70, relu, dropout 0.3, layernorm, linear 40, gelu;
 * heads cls: linear 5 (cross-entropy, 0.7),
 *       reg: linear 16, tanh, dropout 0.2, linear 3, sigmoid (mse, 0.3). */
enum { BIG_IN = 33, BIG_CLASSES = 5, BIG_TARGETS = 3 };
static void big_config(repro_model_config *mc)
{
    repro_config cfg;
    repro_config_defaults(&cfg);
    *mc = cfg.model;
    mc->n_trunk = 0;
    mc->n_heads = 0;
    mc->trunk[mc->n_trunk++] = layer(REPRO_LAYER_LINEAR, 70, 0);
    mc->trunk[mc->n_trunk++] = layer(REPRO_LAYER_RELU, 0, 0);
    mc->trunk[mc->n_trunk++] = layer(REPRO_LAYER_DROPOUT, 0, 0.3f);
    mc->trunk[mc->n_trunk++] = layer(REPRO_LAYER_LAYERNORM, 0, 0);
    mc->trunk[mc->n_trunk++] = layer(REPRO_LAYER_LINEAR, 40, 0);
    mc->trunk[mc->n_trunk++] = layer(REPRO_LAYER_GELU, 0, 0);
    add_head(mc, "cls", REPRO_LOSS_CROSS_ENTROPY, 0.7f);
    mc->heads[0].layers[mc->heads[0].n_layers++] = layer(REPRO_LAYER_LINEAR, BIG_CLASSES, 0);
    add_head(mc, "reg", REPRO_LOSS_MSE, 0.3f);
    repro_head_config *r = &mc->heads[1];
    r->layers[r->n_layers++] = layer(REPRO_LAYER_LINEAR, 16, 0);
    r->layers[r->n_layers++] = layer(REPRO_LAYER_TANH, 0, 0);
    r->layers[r->n_layers++] = layer(REPRO_LAYER_DROPOUT, 0, 0.2f);
    r->layers[r->n_layers++] = layer(REPRO_LAYER_LINEAR, BIG_TARGETS, 0);
    r->layers[r->n_layers++] = layer(REPRO_LAYER_SIGMOID, 0, 0);
}

static const repro_param_info *tensor_named(const repro_model *m, const char *name)
{
    for (int i = 0; i < repro_model_n_tensors(m); i++)
        if (strcmp(repro_model_tensor(m, i)->name, name) == 0)
            return repro_model_tensor(m, i);
    fprintf(stderr, "no tensor %s\n", name);
    abort();
}

/* Moves layernorm gamma/beta and the biases off their initial 1/0 so that
 * every gradient path carries a generic value. */
static void perturb_params(repro_model *m)
{
    float *p = repro_model_params(m);
    for (int i = 0; i < repro_model_n_tensors(m); i++) {
        const repro_param_info *t = repro_model_tensor(m, i);
        if (t->ndim == 2)
            continue;
        int is_gamma = strstr(t->name, "trunk.2.weight") || strstr(t->name, "trunk.3.weight");
        for (int64_t j = 0; j < t->numel; j++)
            p[t->offset + j] = is_gamma ? 1.0f + rand_range(-0.4f, 0.4f) : rand_range(-0.3f, 0.3f);
    }
}

/* ---- one training pass as train.c does it ---- */

typedef struct data {
    int64_t n, in, targets;
    float *x;       /* [n][in] */
    int32_t *label; /* [n] */
    float *y;       /* [n][targets] */
    uint32_t *pos;  /* [n] */
} data;

static data make_data(int64_t n, int64_t in, int classes, int64_t targets)
{
    data d = {n, in, targets, malloc((size_t)(n * in) * sizeof(float)), malloc((size_t)n * sizeof(int32_t)),
              malloc((size_t)(n * targets) * sizeof(float)), malloc((size_t)n * sizeof(uint32_t))};
    fill(d.x, n * in, -2.0f, 2.0f);
    fill(d.y, n * targets, 0.05f, 0.95f);
    for (int64_t i = 0; i < n; i++) {
        d.label[i] = (int32_t)(rand_range(0.0f, (float)classes - 0.001f));
        d.pos[i] = (uint32_t)(3 * i + 11);
    }
    return d;
}

static void free_data(data *d)
{
    free(d->x);
    free(d->label);
    free(d->y);
    free(d->pos);
}

/* Rows [r0, r0 + b) of d as a repro_batch view. */
static repro_batch batch_view(const data *d, int64_t r0, int64_t b)
{
    repro_batch bt;
    memset(&bt, 0, sizeof bt);
    bt.capacity = b;
    bt.n_features = d->in;
    bt.n_targets = d->targets;
    bt.pos = d->pos + r0;
    bt.x = d->x + r0 * d->in;
    bt.label = d->label + r0;
    bt.y = d->y + r0 * d->targets;
    return bt;
}

/* Forward (training), per-sample losses into loss[h] + r0, head gradients
 * scaled by weight / total, backward (accumulating into the model's grads). */
static void train_pass(repro_model *m, const repro_model_config *mc, const repro_cpu *cpu, const data *d,
                       int64_t r0, int64_t b, int64_t total, uint64_t seed, uint64_t step, float **loss)
{
    repro_error err;
    repro_batch bt = batch_view(d, r0, b);
    CHECK(repro_model_forward(m, BE(cpu), repro_model_params(m), bt.x, b, 1, seed, step, bt.pos, &err) == REPRO_OK);
    float *d_out[REPRO_MAX_HEADS];
    for (int h = 0; h < mc->n_heads; h++) {
        int w = repro_model_head_width(m, h);
        const float *out = repro_model_head_output(m, h);
        d_out[h] = malloc((size_t)(b * w) * sizeof(float));
        CHECK(repro_head_loss(BE(cpu), &mc->heads[h], out, w, &bt, b, loss[h] + r0, NULL, &err) == REPRO_OK);
        CHECK(repro_head_grad(BE(cpu), &mc->heads[h], out, w, &bt, b, total, d_out[h], &err) == REPRO_OK);
    }
    CHECK(repro_model_backward(m, BE(cpu), bt.x, b, d_out, &err) == REPRO_OK);
    for (int h = 0; h < mc->n_heads; h++)
        free(d_out[h]);
}

/* ---- the double-precision model of small_config ---- */

static double gelu_d(double x)
{
    return 0.5 * x * (1.0 + tanh((double)0.7978845608f * (x + (double)0.044715f * x * x * x)));
}

static void linear_d(double *y, const double *x, const double *w, const double *b, int in, int out)
{
    for (int o = 0; o < out; o++) {
        double s = b[o];
        for (int i = 0; i < in; i++)
            s += w[o * in + i] * x[i];
        y[o] = s;
    }
}

typedef struct small_layout {
    int64_t w0, b0, g, be, w4, b4, wc, bc, wr, br;
} small_layout;

static small_layout layout_of(const repro_model *m)
{
    small_layout l = {
        tensor_named(m, "trunk.0.weight")->offset,    tensor_named(m, "trunk.0.bias")->offset,
        tensor_named(m, "trunk.2.weight")->offset,    tensor_named(m, "trunk.2.bias")->offset,
        tensor_named(m, "trunk.4.weight")->offset,    tensor_named(m, "trunk.4.bias")->offset,
        tensor_named(m, "heads.cls.0.weight")->offset, tensor_named(m, "heads.cls.0.bias")->offset,
        tensor_named(m, "heads.reg.0.weight")->offset, tensor_named(m, "heads.reg.0.bias")->offset,
    };
    return l;
}

/* The loss of small_config over d's n rows, in double, with the dropout
 * mask drawn here from the documented coordinates (ops.h): element (r, j)
 * of layer 3 is kept iff uniform(key(seed, DROPOUT, 3), pos[r], step lo,
 * step hi, j) >= p, and scaled by the float 1 / (1 - p). */
static double small_loss_d(const small_layout *L, const double *P, const data *d, float p, uint64_t seed,
                           uint64_t step, double *out_cls, double *out_reg)
{
    repro_rng_key key = repro_rng_derive(seed, REPRO_RNG_DROPOUT, 3, 0);
    double scale = (double)(1.0f / (1.0f - p));
    double xent_sum = 0, mse_sum = 0;
    for (int64_t r = 0; r < d->n; r++) {
        double x[5], h[7], t[6], z[3], q[2];
        for (int i = 0; i < 5; i++)
            x[i] = d->x[r * 5 + i];
        linear_d(h, x, P + L->w0, P + L->b0, 5, 7);
        double mean = 0, var = 0;
        for (int j = 0; j < 7; j++) {
            h[j] = gelu_d(h[j]);
            mean += h[j] / 7;
        }
        for (int j = 0; j < 7; j++)
            var += (h[j] - mean) * (h[j] - mean) / 7;
        double rstd = 1.0 / sqrt(var + (double)1e-5f);
        for (int j = 0; j < 7; j++) {
            h[j] = (h[j] - mean) * rstd * P[L->g + j] + P[L->be + j];
            if (p > 0.0f) {
                int keep = repro_rng_uniform(key, d->pos[r], (uint32_t)step, (uint32_t)(step >> 32), (uint64_t)j) >= p;
                h[j] = keep ? h[j] * scale : 0.0;
            }
        }
        linear_d(t, h, P + L->w4, P + L->b4, 7, 6);
        for (int j = 0; j < 6; j++)
            t[j] = tanh(t[j]);
        linear_d(z, t, P + L->wc, P + L->bc, 6, 3);
        double zmax = fmax(z[0], fmax(z[1], z[2]));
        double se = exp(z[0] - zmax) + exp(z[1] - zmax) + exp(z[2] - zmax);
        xent_sum += zmax + log(se) - z[d->label[r]];
        linear_d(q, t, P + L->wr, P + L->br, 6, 2);
        double mse = 0;
        for (int j = 0; j < 2; j++) {
            q[j] = 1.0 / (1.0 + exp(-q[j]));
            mse += (q[j] - d->y[r * 2 + j]) * (q[j] - d->y[r * 2 + j]) / 2;
        }
        mse_sum += mse;
        if (out_cls)
            memcpy(out_cls + r * 3, z, sizeof z);
        if (out_reg)
            memcpy(out_reg + r * 2, q, sizeof q);
    }
    return (double)0.7f * (xent_sum / (double)d->n) + (double)0.3f * (mse_sum / (double)d->n);
}

static void test_gradcheck(float p)
{
    enum { B = 6 };
    repro_model_config mc;
    small_config(&mc, p);
    repro_model *m;
    repro_error err;
    CHECK(repro_model_create(&mc, NULL, 5, B, scalar_be(), &m, &err) == REPRO_OK);
    CHECK(repro_model_init_params(m, 1234, &err) == REPRO_OK);
    perturb_params(m);
    data d = make_data(B, 5, 3, 2);
    const uint64_t seed = 1234, step = (1ull << 32) + 3; /* a step with a high word exercises c2 */
    repro_cpu cpu = {REPRO_ISA_SCALAR, NULL};
    float *loss[2] = {malloc(B * sizeof(float)), malloc(B * sizeof(float))};
    int64_t np = repro_model_n_params(m);
    memset(repro_model_grads(m), 0, (size_t)np * sizeof(float));
    train_pass(m, &mc, &cpu, &d, 0, B, B, seed, step, loss);
    float lf = 0.0f;
    for (int h = 0; h < 2; h++)
        lf = lf + mc.heads[h].weight * (sum_mt(&cpu, loss[h], B) / (float)B);

    small_layout L = layout_of(m);
    double *P = malloc((size_t)np * sizeof(double));
    const float *pf = repro_model_params(m);
    for (int64_t j = 0; j < np; j++)
        P[j] = pf[j];
    double out_cls[B * 3], out_reg[B * 2];
    double ld = small_loss_d(&L, P, &d, p, seed, step, out_cls, out_reg);
    /* the double model is the same function: outputs and loss agree */
    double worst_out = 0;
    for (int i = 0; i < B * 3; i++)
        worst_out = fmax(worst_out, fabs(repro_model_head_output(m, 0)[i] - out_cls[i]));
    for (int i = 0; i < B * 2; i++)
        worst_out = fmax(worst_out, fabs(repro_model_head_output(m, 1)[i] - out_reg[i]));
    printf("gradcheck p=%.2f: float loss %.9g, double loss %.12g, worst |output diff| %.3g\n", (double)p,
           (double)lf, ld, worst_out);
    CHECK_MSG(worst_out < 1e-5, "head outputs differ from the double model by %.3g", worst_out);
    CHECK_MSG(fabs(lf - ld) <= 1e-6 * fabs(ld), "loss %.9g vs double %.12g", (double)lf, ld);

    const float *g = repro_model_grads(m);
    double worst = 0, worst_abs = 0, max_grad = 0;
    int64_t at = 0;
    double num_at = 0;
    for (int64_t j = 0; j < np; j++) {
        double keep = P[j];
        P[j] = keep + H;
        double up = small_loss_d(&L, P, &d, p, seed, step, NULL, NULL);
        P[j] = keep - H;
        double dn = small_loss_d(&L, P, &d, p, seed, step, NULL, NULL);
        P[j] = keep;
        double num = (up - dn) / (2 * H);
        double r = fabs((double)g[j] - num) / (RTOL * fabs(num) + ATOL);
        worst_abs = fmax(worst_abs, fabs((double)g[j] - num));
        max_grad = fmax(max_grad, fabs(num));
        if (!(r <= worst)) {
            worst = r;
            at = j;
            num_at = num;
        }
    }
    printf("gradcheck p=%.2f: %lld parameters, worst |a-n|/(%.0e|n|+%.0e) = %.3g at %lld "
           "(analytic %.9g numeric %.9g); worst |a-n| %.3g, largest |gradient| %.3g\n",
           (double)p, (long long)np, RTOL, ATOL, worst, (long long)at, (double)g[at], num_at, worst_abs, max_grad);
    CHECK_MSG(worst <= 1.0, "gradient of parameter %lld off by %.3g tolerances", (long long)at, worst);
    free(P);
    free(loss[0]);
    free(loss[1]);
    free_data(&d);
    repro_model_free(m);
}

/* ---- batch invariance ---- */

static void test_batch_invariance(const repro_cpu *cpu, const char *what)
{
    enum { N = 256, ROW = 200 };
    repro_model_config mc;
    big_config(&mc);
    repro_model *m;
    repro_error err;
    CHECK(repro_model_create(&mc, NULL, BIG_IN, N, scalar_be(), &m, &err) == REPRO_OK);
    CHECK(repro_model_init_params(m, 7, &err) == REPRO_OK);
    perturb_params(m);
    float *x = malloc(N * BIG_IN * sizeof(float)), *one = malloc(BIG_IN * sizeof(float));
    uint32_t pos[N];
    fill(x, N * BIG_IN, -2.0f, 2.0f);
    fill(one, BIG_IN, -2.0f, 2.0f);
    for (int r = 0; r < N; r++)
        pos[r] = (uint32_t)(5000 + r);
    const uint32_t P = 777; /* the sample's position in its epoch */
    for (int training = 0; training <= 1; training++) {
        float *ref[2];
        CHECK(repro_model_forward(m, BE(cpu), repro_model_params(m), one, 1, training, 99, 12, &P, &err) == REPRO_OK);
        for (int h = 0; h < 2; h++) {
            int w = repro_model_head_width(m, h);
            ref[h] = malloc((size_t)w * sizeof(float));
            memcpy(ref[h], repro_model_head_output(m, h), (size_t)w * sizeof(float));
        }
        for (int row = 0; row <= ROW; row += ROW) {
            float *xb = malloc(N * BIG_IN * sizeof(float));
            uint32_t pb[N];
            memcpy(xb, x, N * BIG_IN * sizeof(float));
            memcpy(pb, pos, sizeof pb);
            memcpy(xb + row * BIG_IN, one, BIG_IN * sizeof(float));
            pb[row] = P;
            CHECK(repro_model_forward(m, BE(cpu), repro_model_params(m), xb, N, training, 99, 12, pb, &err) == REPRO_OK);
            for (int h = 0; h < 2; h++) {
                int w = repro_model_head_width(m, h);
                char name[96];
                snprintf(name, sizeof name, "%s: head %d, training %d, alone vs row %d of %d", what, h, training,
                         row, N);
                CHECK_BITS(ref[h], repro_model_head_output(m, h) + row * w, (size_t)w, name);
            }
            free(xb);
        }
        free(ref[0]);
        free(ref[1]);
    }
    /* dropout really is on in training (else the check above proves little) */
    CHECK(repro_model_forward(m, BE(cpu), repro_model_params(m), one, 1, 0, 99, 12, &P, &err) == REPRO_OK);
    float eval_out[BIG_CLASSES];
    memcpy(eval_out, repro_model_head_output(m, 0), sizeof eval_out);
    CHECK(repro_model_forward(m, BE(cpu), repro_model_params(m), one, 1, 1, 99, 12, &P, &err) == REPRO_OK);
    CHECK(memcmp(eval_out, repro_model_head_output(m, 0), sizeof eval_out) != 0);
    free(x);
    free(one);
    repro_model_free(m);
}

/* ---- micro-batches, threads and ISA ---- */

typedef struct pass_result {
    float *grads;
    float *loss[2];
    float *out[2]; /* head outputs of the last forward (all rows when one pass) */
} pass_result;

static void free_result(pass_result *r)
{
    free(r->grads);
    for (int h = 0; h < 2; h++) {
        free(r->loss[h]);
        free(r->out[h]);
    }
}

/* One optimiser step's gradient over d's rows in `parts` equal micro-batches. */
static pass_result big_step(repro_model *m, const repro_model_config *mc, const repro_cpu *cpu, const data *d,
                            int parts)
{
    pass_result r;
    int64_t np = repro_model_n_params(m), n = d->n, micro = n / parts;
    memset(repro_model_grads(m), 0, (size_t)np * sizeof(float));
    for (int h = 0; h < 2; h++)
        r.loss[h] = malloc((size_t)n * sizeof(float));
    for (int k = 0; k < parts; k++)
        train_pass(m, mc, cpu, d, k * micro, micro, n, 99, 41, r.loss);
    r.grads = malloc((size_t)np * sizeof(float));
    memcpy(r.grads, repro_model_grads(m), (size_t)np * sizeof(float));
    for (int h = 0; h < 2; h++) {
        size_t bytes = (size_t)(micro * repro_model_head_width(m, h)) * sizeof(float);
        r.out[h] = malloc(bytes);
        memcpy(r.out[h], repro_model_head_output(m, h), bytes);
    }
    return r;
}

static void check_same(const pass_result *a, const pass_result *b, const repro_model *m, int64_t n_out,
                       int64_t n, const char *what)
{
    char name[160];
    snprintf(name, sizeof name, "%s: gradients", what);
    CHECK_BITS(a->grads, b->grads, (size_t)repro_model_n_params(m), name);
    for (int h = 0; h < 2; h++) {
        snprintf(name, sizeof name, "%s: head %d losses", what, h);
        CHECK_BITS(a->loss[h], b->loss[h], (size_t)n, name);
        snprintf(name, sizeof name, "%s: head %d outputs", what, h);
        CHECK_BITS(a->out[h], b->out[h], (size_t)(n_out * repro_model_head_width(m, h)), name);
    }
}

static void test_micro_batches(void)
{
    repro_model_config mc;
    big_config(&mc);
    repro_model *m;
    repro_error err;
    CHECK(repro_model_create(&mc, NULL, BIG_IN, 128, scalar_be(), &m, &err) == REPRO_OK);
    CHECK(repro_model_init_params(m, 3, &err) == REPRO_OK);
    perturb_params(m);
    data d = make_data(128, BIG_IN, BIG_CLASSES, BIG_TARGETS);
    repro_pool *pool;
    CHECK(repro_pool_create(2, &pool, &err) == REPRO_OK);
    repro_cpu cpu = {repro_isa_best(), pool};
    pass_result one = big_step(m, &mc, &cpu, &d, 1);
    for (int parts = 2; parts <= 4; parts *= 2) {
        pass_result r = big_step(m, &mc, &cpu, &d, parts);
        int64_t micro = 128 / parts;
        char name[96];
        snprintf(name, sizeof name, "one batch of 128 vs %d of %lld: gradients", parts, (long long)micro);
        CHECK_BITS(one.grads, r.grads, (size_t)repro_model_n_params(m), name);
        for (int h = 0; h < 2; h++) {
            int w = repro_model_head_width(m, h);
            snprintf(name, sizeof name, "one batch of 128 vs %d of %lld: head %d losses", parts, (long long)micro, h);
            CHECK_BITS(one.loss[h], r.loss[h], 128, name);
            /* the last micro-batch's outputs are those of the last rows */
            snprintf(name, sizeof name, "one batch of 128 vs %d of %lld: head %d outputs", parts, (long long)micro, h);
            CHECK_BITS(one.out[h] + (128 - micro) * w, r.out[h], (size_t)(micro * w), name);
        }
        free_result(&r);
    }
    int nonzero = 0;
    for (int64_t j = 0; j < repro_model_n_params(m); j++)
        nonzero += one.grads[j] != 0.0f;
    CHECK(nonzero > repro_model_n_params(m) / 2);
    free_result(&one);
    free_data(&d);
    repro_pool_destroy(pool);
    repro_model_free(m);
}

static void test_threads_isa(void)
{
    repro_model_config mc;
    big_config(&mc);
    repro_model *m;
    repro_error err;
    enum { N = 77 }; /* odd: tails everywhere */
    CHECK(repro_model_create(&mc, NULL, BIG_IN, N, scalar_be(), &m, &err) == REPRO_OK);
    CHECK(repro_model_init_params(m, 5, &err) == REPRO_OK);
    perturb_params(m);
    data d = make_data(N, BIG_IN, BIG_CLASSES, BIG_TARGETS);
    repro_cpu ref_cpu = {REPRO_ISA_SCALAR, NULL};
    pass_result ref = big_step(m, &mc, &ref_cpu, &d, 1);
    int compared = 0;
    for (int t = 1; t <= 4; t++) {
        repro_pool *pool;
        CHECK(repro_pool_create(t, &pool, &err) == REPRO_OK);
        for (int isa = REPRO_ISA_SCALAR; isa < REPRO_ISA_COUNT; isa++) {
            if (!repro_isa_supported((repro_isa)isa)) {
                if (t == 1)
                    printf("note: this CPU lacks %s; not compared\n", repro_isa_name((repro_isa)isa));
                continue;
            }
            repro_cpu cpu = {(repro_isa)isa, pool};
            pass_result r = big_step(m, &mc, &cpu, &d, 1);
            char what[64];
            snprintf(what, sizeof what, "%s, %d threads vs scalar, 1", repro_isa_name((repro_isa)isa), t);
            check_same(&ref, &r, m, N, N, what);
            free_result(&r);
            compared++;
        }
        repro_pool_destroy(pool);
    }
    printf("threads x ISA: %d configurations equal the scalar single-threaded bits\n", compared);
    /* forward reads the parameters it is given (an EMA copy) */
    int64_t np = repro_model_n_params(m);
    float *copy = malloc((size_t)np * sizeof(float));
    memcpy(copy, repro_model_params(m), (size_t)np * sizeof(float));
    CHECK(repro_model_forward(m, BE(&ref_cpu), repro_model_params(m), d.x, N, 0, 0, 0, NULL, &err) == REPRO_OK);
    float *o1 = malloc(N * BIG_CLASSES * sizeof(float));
    memcpy(o1, repro_model_head_output(m, 0), N * BIG_CLASSES * sizeof(float));
    CHECK(repro_model_forward(m, BE(&ref_cpu), copy, d.x, N, 0, 0, 0, NULL, &err) == REPRO_OK);
    CHECK_BITS(o1, repro_model_head_output(m, 0), N * BIG_CLASSES, "forward from a copy of the parameters");
    copy[0] += 1.0f;
    CHECK(repro_model_forward(m, BE(&ref_cpu), copy, d.x, N, 0, 0, 0, NULL, &err) == REPRO_OK);
    CHECK(memcmp(o1, repro_model_head_output(m, 0), N * BIG_CLASSES * sizeof(float)) != 0);
    free(o1);
    free(copy);
    free_result(&ref);
    free_data(&d);
    repro_model_free(m);
}

/* ---- initialisers ---- */

static void stats(const float *x, int64_t n, double *mean, double *var, double *maxabs)
{
    double s = 0, s2 = 0, mx = 0;
    for (int64_t i = 0; i < n; i++) {
        s += x[i];
        mx = fmax(mx, fabs(x[i]));
    }
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++)
        s2 += (x[i] - *mean) * (x[i] - *mean);
    *var = s2 / (double)n;
    *maxabs = mx;
}

static void test_init(void)
{
    enum { N = 200000 };
    float *a = malloc(N * sizeof(float)), *b = malloc(N * sizeof(float));
    const int fan_in = 50, fan_out = 30;
    struct {
        repro_init_kind kind;
        const char *name;
        double bound, var; /* uniform: bound; normal: variance */
    } cases[] = {
        {REPRO_INIT_KAIMING_UNIFORM, "kaiming_uniform", sqrt(6.0 / 50), 6.0 / 50 / 3},
        {REPRO_INIT_XAVIER_UNIFORM, "xavier_uniform", sqrt(6.0 / 80), 6.0 / 80 / 3},
        {REPRO_INIT_KAIMING_NORMAL, "kaiming_normal", 0, 2.0 / 50},
        {REPRO_INIT_XAVIER_NORMAL, "xavier_normal", 0, 2.0 / 80},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        repro_init_tensor(a, N, fan_in, fan_out, cases[c].kind, 0.0f, REPRO_INIT_ZEROS, 42, 3);
        double mean, var, mx;
        stats(a, N, &mean, &var, &mx);
        double sd_mean = sqrt(cases[c].var / N);
        printf("init %-16s mean %+.5f var %.6f (expected %.6f, ratio %.4f) max |w| %.6f\n", cases[c].name, mean,
               var, cases[c].var, var / cases[c].var, mx);
        CHECK_MSG(fabs(mean) < 5 * sd_mean, "%s: mean %g", cases[c].name, mean);
        /* the sample variance of N draws is within 2% (> 6 standard errors) */
        CHECK_MSG(fabs(var / cases[c].var - 1) < 0.02, "%s: variance %g, expected %g", cases[c].name, var,
                  cases[c].var);
        if (cases[c].bound > 0) {
            float fb = repro_sqrtf(6.0f / (cases[c].kind == REPRO_INIT_KAIMING_UNIFORM ? 50.0f : 80.0f));
            CHECK_MSG(mx <= fb, "%s: |w| %g exceeds the bound %g", cases[c].name, mx, (double)fb);
            CHECK(mx > 0.999 * fb);
        }
        /* deterministic; a pure function of the element index (prefix) */
        repro_init_tensor(b, N, fan_in, fan_out, cases[c].kind, 0.0f, REPRO_INIT_ZEROS, 42, 3);
        CHECK_BITS(a, b, N, cases[c].name);
        for (int64_t n = 1; n <= 9; n++) {
            repro_init_tensor(b, n, fan_in, fan_out, cases[c].kind, 0.0f, REPRO_INIT_ZEROS, 42, 3);
            CHECK_BITS(a, b, (size_t)n, "prefix of a longer fill");
        }
        repro_init_tensor(b, 1001, fan_in, fan_out, cases[c].kind, 0.0f, REPRO_INIT_ZEROS, 42, 3);
        CHECK_BITS(a, b, 1001, "prefix of 1001");
        /* another tensor index, or another seed, draws other values */
        for (int k = 0; k < 2; k++) {
            repro_init_tensor(b, N, fan_in, fan_out, cases[c].kind, 0.0f, REPRO_INIT_ZEROS, k ? 43 : 42, k ? 3 : 4);
            int64_t same = 0;
            for (int64_t i = 0; i < N; i++)
                same += bits_of(a[i]) == bits_of(b[i]);
            CHECK_MSG(same < N / 1000, "%s: %lld of %d values equal for another %s", cases[c].name,
                      (long long)same, N, k ? "seed" : "tensor");
        }
        /* DEFAULT takes the default kind */
        repro_init_tensor(b, 1000, fan_in, fan_out, REPRO_INIT_DEFAULT, 0.0f, cases[c].kind, 42, 3);
        CHECK_BITS(a, b, 1000, "default kind");
    }
    /* kaiming_uniform is symmetric in sign and spread over [-bound, bound) */
    repro_init_tensor(a, N, fan_in, fan_out, REPRO_INIT_KAIMING_UNIFORM, 0.0f, REPRO_INIT_ZEROS, 42, 3);
    int64_t neg = 0;
    for (int64_t i = 0; i < N; i++)
        neg += a[i] < 0;
    CHECK(llabs(neg - N / 2) < 5 * 224); /* sd of a binomial(N, 1/2) is 224 */
    for (int i = 0; i < N; i++)
        a[i] = 1.0f;
    repro_init_tensor(a, N, fan_in, fan_out, REPRO_INIT_ZEROS, 5.0f, REPRO_INIT_KAIMING_UNIFORM, 42, 3);
    int ok = 1;
    for (int64_t i = 0; i < N; i++)
        ok &= bits_of(a[i]) == 0u;
    CHECK_MSG(ok, "zeros must be +0 exactly");
    repro_init_tensor(a, N, fan_in, fan_out, REPRO_INIT_CONSTANT, -0.375f, REPRO_INIT_ZEROS, 42, 3);
    ok = 1;
    for (int64_t i = 0; i < N; i++)
        ok &= a[i] == -0.375f;
    CHECK_MSG(ok, "constant must be the value exactly");
    repro_init_tensor(a, N, fan_in, fan_out, REPRO_INIT_DEFAULT, 0.0f, REPRO_INIT_DEFAULT, 42, 3);
    ok = 1;
    for (int64_t i = 0; i < N; i++)
        ok &= bits_of(a[i]) == 0u;
    CHECK_MSG(ok, "DEFAULT with default DEFAULT is zeros");
    free(a);
    free(b);
}

/* The model draws each tensor with its own index and the layer's fans. */
static void test_model_init(void)
{
    repro_model_config mc;
    small_config(&mc, 0.1f);
    mc.heads[0].layers[0].weight_init = REPRO_INIT_XAVIER_NORMAL;
    mc.heads[0].layers[0].bias_init = REPRO_INIT_CONSTANT;
    mc.heads[0].layers[0].bias_init_value = 0.25f;
    repro_model *m;
    repro_error err;
    CHECK(repro_model_create(&mc, NULL, 5, 4, scalar_be(), &m, &err) == REPRO_OK);
    const float *p = repro_model_params(m);
    for (int64_t j = 0; j < repro_model_n_params(m); j++)
        CHECK(bits_of(p[j]) == 0u); /* +0 before init */
    CHECK(repro_model_init_params(m, 2024, &err) == REPRO_OK);
    float buf[64];
    const repro_param_info *t = tensor_named(m, "trunk.0.weight");
    repro_init_tensor(buf, t->numel, 5, 7, REPRO_INIT_KAIMING_UNIFORM, 0, REPRO_INIT_ZEROS, 2024, 0);
    CHECK_BITS(buf, p + t->offset, (size_t)t->numel, "trunk.0.weight");
    t = tensor_named(m, "trunk.4.weight");
    repro_init_tensor(buf, t->numel, 7, 6, REPRO_INIT_KAIMING_UNIFORM, 0, REPRO_INIT_ZEROS, 2024, 4);
    CHECK_BITS(buf, p + t->offset, (size_t)t->numel, "trunk.4.weight");
    t = tensor_named(m, "heads.cls.0.weight");
    repro_init_tensor(buf, t->numel, 6, 3, REPRO_INIT_XAVIER_NORMAL, 0, REPRO_INIT_ZEROS, 2024, 6);
    CHECK_BITS(buf, p + t->offset, (size_t)t->numel, "heads.cls.0.weight");
    t = tensor_named(m, "heads.cls.0.bias");
    for (int64_t j = 0; j < t->numel; j++)
        CHECK(p[t->offset + j] == 0.25f);
    const char *zero[] = {"trunk.0.bias", "trunk.2.bias", "trunk.4.bias", "heads.reg.0.bias"};
    for (int k = 0; k < 4; k++) {
        t = tensor_named(m, zero[k]);
        for (int64_t j = 0; j < t->numel; j++)
            CHECK_MSG(bits_of(p[t->offset + j]) == 0u, "%s[%lld]", zero[k], (long long)j);
    }
    t = tensor_named(m, "trunk.2.weight");
    for (int64_t j = 0; j < t->numel; j++)
        CHECK(p[t->offset + j] == 1.0f);
    repro_model_free(m);
}

/* ---- parameter layout ---- */

static void test_layout(void)
{
    repro_model_config mc;
    small_config(&mc, 0.1f);
    mc.heads[1].layers[0].bias = false;
    repro_model *m;
    repro_error err;
    CHECK(repro_model_create(&mc, NULL, 5, 4, scalar_be(), &m, &err) == REPRO_OK);
    struct {
        const char *name;
        int ndim;
        int64_t d0, d1;
    } want[] = {
        {"trunk.0.weight", 2, 7, 5}, {"trunk.0.bias", 1, 7, 0},  {"trunk.2.weight", 1, 7, 0},
        {"trunk.2.bias", 1, 7, 0},   {"trunk.4.weight", 2, 6, 7}, {"trunk.4.bias", 1, 6, 0},
        {"heads.cls.0.weight", 2, 3, 6}, {"heads.cls.0.bias", 1, 3, 0}, {"heads.reg.0.weight", 2, 2, 6},
    };
    int n = (int)(sizeof want / sizeof want[0]);
    CHECK(repro_model_n_tensors(m) == n);
    int64_t off = 0;
    for (int i = 0; i < n && i < repro_model_n_tensors(m); i++) {
        const repro_param_info *t = repro_model_tensor(m, i);
        CHECK_MSG(strcmp(t->name, want[i].name) == 0, "tensor %d is %s, expected %s", i, t->name, want[i].name);
        CHECK(t->ndim == want[i].ndim);
        CHECK(t->shape[0] == want[i].d0);
        CHECK(t->shape[1] == want[i].d1);
        CHECK(t->numel == (want[i].ndim == 2 ? want[i].d0 * want[i].d1 : want[i].d0));
        CHECK_MSG(t->offset == off, "%s at offset %lld, expected %lld", t->name, (long long)t->offset,
                  (long long)off);
        off += t->numel;
    }
    CHECK(repro_model_n_params(m) == off);
    CHECK(repro_model_n_params(m) == 35 + 7 + 7 + 7 + 42 + 6 + 18 + 3 + 12);
    CHECK(repro_model_n_heads(m) == 2);
    CHECK(repro_model_head_width(m, 0) == 3);
    CHECK(repro_model_head_width(m, 1) == 2);
    repro_model_free(m);

    /* errors name what is wrong */
    CHECK(repro_model_create(&mc, NULL, 0, 4, scalar_be(), &m, &err) == REPRO_ERR_CONFIG);
    CHECK_CONTAINS(err.message, "model input must be >= 1, got 0");
    mc.trunk[4].out = 0;
    CHECK(repro_model_create(&mc, NULL, 5, 4, scalar_be(), &m, &err) == REPRO_ERR_CONFIG);
    CHECK_CONTAINS(err.message, "model.trunk.4 'trunk.4' (linear): a linear layer needs 'out' >= 1");
    CHECK(m == NULL);
}

int main(void)
{
    test_layout();
    test_init();
    test_model_init();
    test_gradcheck(0.0f);
    test_gradcheck(0.25f);
    for (int isa = REPRO_ISA_SCALAR; isa < REPRO_ISA_COUNT; isa++) {
        if (!repro_isa_supported((repro_isa)isa))
            continue;
        repro_pool *pool;
        repro_error err;
        CHECK(repro_pool_create(3, &pool, &err) == REPRO_OK);
        repro_cpu cpu = {(repro_isa)isa, pool};
        test_batch_invariance(&cpu, repro_isa_name((repro_isa)isa));
        repro_pool_destroy(pool);
    }
    test_micro_batches();
    test_threads_isa();
    return test_finish("test_model");
}
