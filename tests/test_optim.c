/* The optimisers, schedules, clipping and EMA of src/optim.
 *
 * - SGD (plain, momentum, Nesterov, weight decay), Adam (with L2), AdamW:
 *   several steps equal, bit for bit, a float re-implementation of the
 *   formulas written in optim.c / adam.h, and stay within a few ulps of a
 *   double-precision re-implementation (PyTorch's formulas: torch.optim.SGD
 *   with buf = g at the first momentum step, Adam with bias correction,
 *   AdamW's decoupled decay p * (1 - lr * wd)).
 * - The AVX2 / AVX-512 Adam twins equal the scalar loop bitwise.
 * - repro_optim_hash, schedules, clipping and the EMA.
 * ctest-labels: threads */
#include <math.h>

#include "repro/isa.h"
#include "ops/cpu/ops.h"
#include "ops/adam_math.h"
#include "optim/optim.h"
#include "testutil.h"
#include "ops/cpu/update.h"
#include "test_backend.h"



/* repro_clip_grad_norm's norm, the call checked. */
static float clip_norm(const repro_cpu *cpu, float *g, int64_t n, float max_norm)
{
    float norm = NAN;
    CHECK(repro_clip_grad_norm(cpu, g, n, max_norm, &norm, NULL) == REPRO_OK);
    return norm;
}

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint32_t rand_u32(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 32);
}

static float rand_range(float lo, float hi)
{
    return lo + (hi - lo) * ((float)(rand_u32() >> 8) * 0x1p-24f);
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* |f - d| in units of 2^-24 * scale: ulps of a parameter of that size. */
static double scaled_ulps(float f, double d, double scale)
{
    return fabs((double)f - d) / (scale * 0x1p-24);
}

static repro_optim_config base_config(repro_optim_kind kind)
{
    repro_config cfg;
    repro_config_defaults(&cfg);
    cfg.optim.name = kind;
    return cfg.optim;
}

/* ---- SGD / Adam / AdamW against re-implementations ---- */

enum { N = 37, STEPS = 6 };

/* Tolerances against the double re-implementation, in ulps of each
 * parameter's scale max(|p|, |p0|) (a few roundings per step, 6 steps).
 * EXACT_BIAS_ULPS: against PyTorch's formulas with the bias corrections
 * 1 - b^t exact (PyTorch computes them in double). repro computes them in
 * float, where 1 - b2^t cancels (b2^t = 0.994 at t = 6 carries ~1e-7
 * absolute error while c2 = 0.006), so the update is off by up to ~1e-5
 * relative: ~50 ulps of a parameter after 6 steps at lr = 0.01. */
#define ULPS 8.0
#define EXACT_BIAS_ULPS 100.0

typedef struct case_ {
    const char *name;
    repro_optim_config cfg;
} case_;

/* The written float order (optim.c), element by element. */
static void float_step(const repro_optim_config *c, int64_t t, float lr, float *p, float *m, float *v,
                       const float *grad)
{
    for (int i = 0; i < N; i++) {
        float g = grad[i];
        if (c->name == REPRO_OPTIM_SGD) {
            if (c->weight_decay != 0.0f)
                g = g + c->weight_decay * p[i];
            float d = g;
            if (c->momentum != 0.0f) {
                m[i] = t == 1 ? g : c->momentum * m[i] + g;
                d = c->nesterov ? g + c->momentum * m[i] : m[i];
            }
            p[i] = p[i] - lr * d;
        } else {
            int adamw = c->name == REPRO_OPTIM_ADAMW;
            float c1 = 1.0f - repro_powif(c->beta1, t), c2 = 1.0f - repro_powif(c->beta2, t);
            float w = adamw ? p[i] * (1.0f - lr * c->weight_decay) : p[i];
            if (!adamw && c->weight_decay != 0.0f)
                g = g + c->weight_decay * w;
            m[i] = c->beta1 * m[i] + (1.0f - c->beta1) * g;
            v[i] = c->beta2 * v[i] + (1.0f - c->beta2) * (g * g);
            p[i] = w - lr * ((m[i] / c1) / (sqrtf(v[i] / c2) + c->eps));
        }
    }
}

/* PyTorch's formulas in double (torch.optim.SGD / Adam / AdamW docs).
 * float_bias: Adam's bias corrections 1 - b^t as repro computes them (in
 * float), else exactly (as PyTorch does, in double). */
static void double_step(const repro_optim_config *c, int64_t t, double lr, double *p, double *m, double *v,
                        const float *grad, int float_bias)
{
    double wd = c->weight_decay, mom = c->momentum, b1 = c->beta1, b2 = c->beta2, eps = c->eps;
    for (int i = 0; i < N; i++) {
        double g = grad[i];
        if (c->name == REPRO_OPTIM_SGD) {
            g += wd * p[i];
            double d = g;
            if (mom != 0) {
                m[i] = t == 1 ? g : mom * m[i] + g;
                d = c->nesterov ? g + mom * m[i] : m[i];
            }
            p[i] -= lr * d;
        } else {
            if (c->name == REPRO_OPTIM_ADAMW)
                p[i] *= 1 - lr * wd;
            else
                g += wd * p[i];
            m[i] = b1 * m[i] + (1 - b1) * g;
            v[i] = b2 * v[i] + (1 - b2) * g * g;
            double c1 = float_bias ? (double)(1.0f - repro_powif(c->beta1, t)) : 1 - pow(b1, (double)t);
            double c2 = float_bias ? (double)(1.0f - repro_powif(c->beta2, t)) : 1 - pow(b2, (double)t);
            double mhat = m[i] / c1, vhat = v[i] / c2;
            p[i] -= lr * mhat / (sqrt(vhat) + eps);
        }
    }
}

static void test_updates(void)
{
    case_ cases[7];
    int nc = 0;
    cases[nc] = (case_){"sgd", base_config(REPRO_OPTIM_SGD)};
    nc++;
    cases[nc] = (case_){"sgd momentum", base_config(REPRO_OPTIM_SGD)};
    cases[nc++].cfg.momentum = 0.9f;
    cases[nc] = (case_){"sgd nesterov + wd", base_config(REPRO_OPTIM_SGD)};
    cases[nc].cfg.momentum = 0.8f;
    cases[nc].cfg.nesterov = true;
    cases[nc++].cfg.weight_decay = 0.01f;
    cases[nc] = (case_){"sgd wd", base_config(REPRO_OPTIM_SGD)};
    cases[nc++].cfg.weight_decay = 0.05f;
    cases[nc] = (case_){"adam", base_config(REPRO_OPTIM_ADAM)};
    nc++;
    cases[nc] = (case_){"adam + l2", base_config(REPRO_OPTIM_ADAM)};
    cases[nc++].cfg.weight_decay = 0.01f;
    cases[nc] = (case_){"adamw", base_config(REPRO_OPTIM_ADAMW)};
    cases[nc++].cfg.weight_decay = 0.1f;

    repro_cpu cpu = {REPRO_ISA_SCALAR, NULL};
    float p0[N], grads[STEPS][N];
    for (int i = 0; i < N; i++)
        p0[i] = rand_range(-1.0f, 1.0f);
    for (int s = 0; s < STEPS; s++)
        for (int i = 0; i < N; i++)
            grads[s][i] = rand_range(-1.0f, 1.0f);
    for (int c = 0; c < nc; c++) {
        const repro_optim_config *cfg = &cases[c].cfg;
        repro_optim *o;
        repro_error err;
        CHECK(repro_optim_create(cfg, BE(&cpu), N, &o, &err) == REPRO_OK);
        float p[N], fp[N], fm[N] = {0}, fv[N] = {0};
        double dp[N], dm[N] = {0}, dv[N] = {0}, ep[N], em[N] = {0}, ev[N] = {0};
        memcpy(p, p0, sizeof p);
        memcpy(fp, p0, sizeof p);
        for (int i = 0; i < N; i++)
            dp[i] = ep[i] = p0[i];
        float lr = cfg->name == REPRO_OPTIM_SGD ? 0.05f : 0.01f;
        double worst = 0, worst_exact = 0;
        for (int s = 0; s < STEPS; s++) {
            CHECK(repro_optim_step(o, p, grads[s], lr, &err) == REPRO_OK);
            float_step(cfg, s + 1, lr, fp, fm, fv, grads[s]);
            double_step(cfg, s + 1, lr, dp, dm, dv, grads[s], 1);
            double_step(cfg, s + 1, lr, ep, em, ev, grads[s], 0);
            char name[64];
            snprintf(name, sizeof name, "%s step %d vs the written float order", cases[c].name, s + 1);
            CHECK_BITS(fp, p, N, name);
            for (int i = 0; i < N; i++) {
                /* if, not fmax: gcc 12's aarch64 vectoriser crashes on an fmax reduction */
                double scale = fmax(fabs(dp[i]), fabs((double)p0[i]));
                double u = scaled_ulps(p[i], dp[i], scale), ue = scaled_ulps(p[i], ep[i], scale);
                if (u > worst)
                    worst = u;
                if (ue > worst_exact)
                    worst_exact = ue;
            }
            if (s == 0 && cfg->name == REPRO_OPTIM_SGD && cfg->weight_decay == 0.0f) {
                /* PyTorch: the first momentum step is buf = g, so p1 = p0 - lr * g
                 * (Nesterov: p0 - lr * (g + momentum * g)) */
                for (int i = 0; i < N; i++) {
                    float d = cfg->nesterov ? grads[0][i] + cfg->momentum * grads[0][i] : grads[0][i];
                    CHECK(bits_of(p[i]) == bits_of(p0[i] - lr * d));
                }
            }
            if (s == 0 && cfg->name != REPRO_OPTIM_SGD) {
                /* bias correction: the first Adam step moves each weight by
                 * lr * g / (|g| + eps), i.e. about lr, whatever |g| is */
                for (int i = 0; i < N; i++) {
                    double w = cfg->name == REPRO_OPTIM_ADAMW ? p0[i] * (1.0 - lr * (double)cfg->weight_decay) : p0[i];
                    double g = grads[0][i] + (cfg->name == REPRO_OPTIM_ADAM ? cfg->weight_decay * (double)p0[i] : 0);
                    double want = w - lr * g / (fabs(g) + cfg->eps);
                    CHECK_MSG(fabs(p[i] - want) <= 1e-6 * fmax(1.0, fabs(want)), "%s: first step %g, want %g",
                              cases[c].name, (double)p[i], want);
                }
            }
        }
        CHECK(repro_optim_steps(o) == STEPS);
        printf("%-18s %d steps: worst distance from the formulas in double: %.2f ulp (tolerance %.0f); "
               "with exact bias corrections: %.2f ulp (tolerance %.0f)\n",
               cases[c].name, STEPS, worst, ULPS, worst_exact, EXACT_BIAS_ULPS);
        CHECK_MSG(worst <= ULPS, "%s: %.2f ulp from the double re-implementation", cases[c].name, worst);
        CHECK_MSG(worst_exact <= EXACT_BIAS_ULPS, "%s: %.2f ulp from PyTorch's double formulas", cases[c].name,
                  worst_exact);
        repro_optim_free(o);
    }
}

/* ---- the Adam SIMD twins ---- */

static float interesting(void)
{
    switch (rand_u32() % 8) {
    case 0: return from_bits((rand_u32() & 0x807fffffu) | 1u);  /* subnormal */
    case 1: return rand_range(-1e30f, 1e30f);                   /* g * g overflows */
    case 2: return rand_range(-1e-20f, 1e-20f);
    case 3: return 0.0f;
    default: return rand_range(-2.0f, 2.0f);
    }
}

static void fill_state(float *p, float *m, float *v, float *g, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        p[i] = interesting();
        m[i] = interesting();
        v[i] = fabsf(interesting()); /* a second moment is never negative */
        g[i] = interesting();
    }
}

/* The Adam twin of a SIMD path (each compiled only on its architecture; a
 * path of another one is never supported, so never called). */
static void adam_twin(repro_isa isa, const repro_adam_coef *c, float *p, float *m, float *v, const float *g,
                      int64_t begin, int64_t end)
{
    switch (isa) {
#if defined(__x86_64__)
    case REPRO_ISA_AVX2:
        repro_adam_range_avx2(c, p, m, v, g, begin, end);
        return;
    case REPRO_ISA_AVX512:
        repro_adam_range_avx512(c, p, m, v, g, begin, end);
        return;
#endif
#if defined(__aarch64__)
    case REPRO_ISA_NEON:
        repro_adam_range_neon(c, p, m, v, g, begin, end);
        return;
#endif
    default:
        CHECK_MSG(0, "no Adam twin for %s", repro_isa_name(isa));
    }
}

static void test_adam_twins(void)
{
    static const int64_t lens[] = {1, 7, 15, 16, 17, 1000, 4097, 3 * 4096 + 5};
    repro_adam_coef coefs[2] = {
        {.lr = 1e-3f, .eps = 1e-8f, .b1 = 0.9f, .b2 = 0.999f, .one_minus_b1 = 1.0f - 0.9f,
         .one_minus_b2 = 1.0f - 0.999f, .c1 = 1.0f - 0.9f, .c2 = 1.0f - 0.999f, .l2 = 0.01f, .decay_factor = 1.0f},
        {.lr = 3e-2f, .eps = 1e-6f, .b1 = 0.8f, .b2 = 0.99f, .one_minus_b1 = 1.0f - 0.8f,
         .one_minus_b2 = 1.0f - 0.99f, .c1 = 0.5f, .c2 = 0.25f, .l2 = 0.0f, .decay_factor = 1.0f - 3e-2f * 0.1f},
    };
    int tested[REPRO_ISA_COUNT] = {0};
    for (int isa = REPRO_ISA_SCALAR + 1; isa < REPRO_ISA_COUNT; isa++) {
        if (!repro_isa_supported((repro_isa)isa)) {
            printf("note: this CPU lacks %s; its Adam twin is not tested here\n", repro_isa_name((repro_isa)isa));
            continue;
        }
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            int64_t n = lens[li];
            size_t bytes = (size_t)n * sizeof(float);
            float *p = malloc(bytes), *m = malloc(bytes), *v = malloc(bytes), *g = malloc(bytes);
            float *p2 = malloc(bytes), *m2 = malloc(bytes), *v2 = malloc(bytes);
            for (int ci = 0; ci < 2; ci++) {
                fill_state(p, m, v, g, n);
                memcpy(p2, p, bytes);
                memcpy(m2, m, bytes);
                memcpy(v2, v, bytes);
                for (int64_t i = 0; i < n; i++)
                    repro_adam_elem(&coefs[ci], p + i, m + i, v + i, g[i]);
                int64_t begin = n > 3 ? 3 : 0; /* an unaligned start, then the rest */
                adam_twin((repro_isa)isa, &coefs[ci], p2, m2, v2, g, 0, begin);
                adam_twin((repro_isa)isa, &coefs[ci], p2, m2, v2, g, begin, n);
                char name[80];
                snprintf(name, sizeof name, "adam %s n=%lld coef %d: p", repro_isa_name((repro_isa)isa),
                         (long long)n, ci);
                CHECK_BITS(p, p2, (size_t)n, name);
                CHECK_BITS(m, m2, (size_t)n, "m");
                CHECK_BITS(v, v2, (size_t)n, "v");
            }
            free(p), free(m), free(v), free(g), free(p2), free(m2), free(v2);
        }
        tested[isa] = 1;
    }
    /* through repro_optim_step: every ISA x threads 1..3, several steps */
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int64_t n = lens[li];
        size_t bytes = (size_t)n * sizeof(float);
        float *p0 = malloc(bytes), *g = malloc(bytes), *ref = malloc(bytes), *p = malloc(bytes), *junk = malloc(bytes);
        fill_state(p0, junk, junk, g, n);
        char ref_hash[65] = "";
        for (int isa = REPRO_ISA_SCALAR; isa < REPRO_ISA_COUNT; isa++) {
            if (!repro_isa_supported((repro_isa)isa))
                continue;
            for (int t = 1; t <= 3; t++) {
                repro_pool *pool;
                repro_error err;
                CHECK(repro_pool_create(t, &pool, &err) == REPRO_OK);
                repro_cpu cpu = {(repro_isa)isa, pool};
                repro_optim_config cfg = base_config(REPRO_OPTIM_ADAMW);
                cfg.weight_decay = 0.01f;
                repro_optim *o;
                CHECK(repro_optim_create(&cfg, BE(&cpu), n, &o, &err) == REPRO_OK);
                memcpy(p, p0, bytes);
                for (int s = 0; s < 3; s++)
                    CHECK(repro_optim_step(o, p, g, 1e-3f, &err) == REPRO_OK);
                char hash[65];
                repro_optim_hash(o, hash, &err);
                if (isa == REPRO_ISA_SCALAR && t == 1) {
                    memcpy(ref, p, bytes);
                    memcpy(ref_hash, hash, sizeof hash);
                } else {
                    char name[80];
                    snprintf(name, sizeof name, "adamw step n=%lld %s threads %d", (long long)n,
                             repro_isa_name((repro_isa)isa), t);
                    CHECK_BITS(ref, p, (size_t)n, name);
                    CHECK_MSG(strcmp(ref_hash, hash) == 0, "%s: optimiser state differs", name);
                }
                repro_optim_free(o);
                repro_pool_destroy(pool);
            }
        }
        free(p0), free(g), free(ref), free(p), free(junk);
    }
    for (int isa = REPRO_ISA_SCALAR + 1; isa < REPRO_ISA_COUNT; isa++)
        printf("adam twin %s compared: %s\n", repro_isa_name((repro_isa)isa),
               tested[isa] ? "yes" : "no (CPU lacks it)");
}

/* ---- the state hash ---- */

static void test_hash(void)
{
    repro_cpu cpu = {REPRO_ISA_SCALAR, NULL};
    repro_error err;
    char h0[65], h1[65];
    /* plain SGD has no state but the step count: SHA-256 of 8 LE bytes */
    repro_optim_config sgd = base_config(REPRO_OPTIM_SGD);
    repro_optim *o;
    CHECK(repro_optim_create(&sgd, BE(&cpu), 4, &o, &err) == REPRO_OK);
    repro_optim_hash(o, h0, &err);
    CHECK(strcmp(h0, "af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc") == 0);
    float p[4] = {1, 2, 3, 4}, g[4] = {0.5f, -0.25f, 1, 2};
    CHECK(repro_optim_step(o, p, g, 0.1f, &err) == REPRO_OK);
    repro_optim_hash(o, h0, &err);
    CHECK(strcmp(h0, "7c9fa136d4413fa6173637e883b6998d32e1d675f88cddff9dcbcf331820f4b8") == 0);
    repro_optim_free(o);
    /* Adam of 1 parameter before any step: t, m, v all zero bytes */
    repro_optim_config adam = base_config(REPRO_OPTIM_ADAM);
    CHECK(repro_optim_create(&adam, BE(&cpu), 2, &o, &err) == REPRO_OK);
    repro_optim_hash(o, h0, &err);
    CHECK(strcmp(h0, "9d908ecfb6b256def8b49a7c504e6c889c4b0e41fe6ce3e01863dd7b61a20aa0") == 0);
    repro_optim_free(o);

    /* equal state, equal hash; one bit of the momentum buffer changes it
     * (at the first step buf = g exactly) */
    sgd.momentum = 0.9f;
    enum { M = 3000 };
    static float pa[M], pb[M], ga[M], gb[M];
    for (int i = 0; i < M; i++) {
        pa[i] = pb[i] = rand_range(-1, 1);
        ga[i] = gb[i] = rand_range(-1, 1);
    }
    repro_optim *a, *b;
    CHECK(repro_optim_create(&sgd, BE(&cpu), M, &a, &err) == REPRO_OK);
    CHECK(repro_optim_create(&sgd, BE(&cpu), M, &b, &err) == REPRO_OK);
    CHECK(repro_optim_step(a, pa, ga, 0.1f, &err) == REPRO_OK);
    CHECK(repro_optim_step(b, pb, gb, 0.1f, &err) == REPRO_OK);
    repro_optim_hash(a, h0, &err);
    repro_optim_hash(b, h1, &err);
    CHECK(strcmp(h0, h1) == 0);
    repro_optim_free(b);
    gb[1234] = from_bits(bits_of(gb[1234]) ^ 1u);
    memcpy(pb, pa, sizeof pb);
    CHECK(repro_optim_create(&sgd, BE(&cpu), M, &b, &err) == REPRO_OK);
    CHECK(repro_optim_step(b, pb, gb, 0.1f, &err) == REPRO_OK);
    repro_optim_hash(b, h1, &err);
    CHECK(strcmp(h0, h1) != 0);
    repro_optim_free(a);
    repro_optim_free(b);
}

/* ---- schedules ---- */

static void test_schedules(void)
{
    repro_config cfg;
    repro_config_defaults(&cfg);
    repro_schedule_config s = cfg.schedule;
    const float lr = 0.1f;
    /* constant */
    for (int64_t k = 0; k < 50; k += 7)
        CHECK(repro_schedule_lr(&s, lr, k, 50) == lr);
    /* warmup: lr * (step + 1) / W, then the schedule */
    s.warmup_steps = 10;
    CHECK(repro_schedule_lr(&s, lr, 0, 100) == lr * (1.0f / 10.0f));
    CHECK(repro_schedule_lr(&s, lr, 4, 100) == lr * 0.5f);
    CHECK(repro_schedule_lr(&s, lr, 9, 100) == lr);
    CHECK(repro_schedule_lr(&s, lr, 10, 100) == lr);
    for (int64_t k = 1; k < 10; k++)
        CHECK(repro_schedule_lr(&s, lr, k, 100) > repro_schedule_lr(&s, lr, k - 1, 100));
    /* step: lr * gamma^floor(step / step_size), counted from step 0 */
    s.warmup_steps = 0;
    s.name = REPRO_SCHEDULE_STEP;
    s.gamma = 0.5f;
    s.step_size = 3;
    const float want_step[] = {0.1f, 0.1f, 0.1f, 0.05f, 0.05f, 0.05f, 0.025f, 0.025f, 0.025f, 0.0125f};
    for (int k = 0; k < 10; k++)
        CHECK_MSG(repro_schedule_lr(&s, lr, k, 100) == want_step[k], "step schedule at %d: %.9g", k,
                  (double)repro_schedule_lr(&s, lr, k, 100));
    s.gamma = 0.1f;
    s.step_size = 1;
    CHECK(repro_schedule_lr(&s, 1.0f, 3, 100) == (0.1f * 0.1f) * 0.1f);
    /* cosine: lr at step W, min_lr at step T, halfway exactly between */
    s.name = REPRO_SCHEDULE_COSINE;
    s.warmup_steps = 10;
    s.min_lr = 0.001f;
    const int64_t T = 110;
    CHECK(repro_schedule_lr(&s, lr, 10, T) == lr);
    CHECK(repro_schedule_lr(&s, lr, T, T) == s.min_lr);
    CHECK(repro_schedule_lr(&s, lr, T + 50, T) == s.min_lr);
    CHECK(repro_schedule_lr(&s, lr, 60, T) == s.min_lr + (lr - s.min_lr) * 0.5f);
    double worst = 0;
    for (int64_t k = 11; k <= T; k++) {
        float a = repro_schedule_lr(&s, lr, k, T), prev = repro_schedule_lr(&s, lr, k - 1, T);
        CHECK_MSG(a <= prev, "cosine rises at step %lld", (long long)k);
        double q = (double)(k - 10) / (double)(T - 10);
        double want = s.min_lr + (lr - (double)s.min_lr) * 0.5 * (1 + cos(M_PI * q));
        worst = fmax(worst, fabs(a - want) / want);
    }
    printf("cosine schedule: worst relative distance from the double formula %.3g\n", worst);
    CHECK(worst < 1e-5); /* 1 + cospi(q) cancels near q = 1 */
    /* pinned values (the float order of optim.c) */
    CHECK_MSG(bits_of(repro_schedule_lr(&s, lr, 35, T)) == bits_of(0x1.5e372p-4f), "cosine(35) = %a",
              (double)repro_schedule_lr(&s, lr, 35, T));
    CHECK_MSG(bits_of(repro_schedule_lr(&s, lr, 100, T)) == bits_of(0x1.c09ee4p-9f), "cosine(100) = %a",
              (double)repro_schedule_lr(&s, lr, 100, T));
    CHECK_MSG(bits_of(repro_schedule_lr(&s, lr, 3, T)) == bits_of(0x1.47ae16p-5f), "warmup(3) = %a",
              (double)repro_schedule_lr(&s, lr, 3, T));
    /* no steps after the warmup: min_lr */
    CHECK(repro_schedule_lr(&s, lr, 10, 10) == s.min_lr);
}

/* ---- clipping and EMA ---- */

static double norm_d(const float *g, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (double)g[i] * g[i];
    return sqrt(s);
}

static void test_clip(void)
{
    enum { M = 5000 };
    static float g0[M], g[M], sq[M], ref[M];
    for (int i = 0; i < M; i++)
        g0[i] = rand_range(-1, 1) * (i % 17 == 0 ? 100.0f : 1.0f);
    for (int i = 0; i < M; i++)
        sq[i] = g0[i] * g0[i];
    float canon = sqrtf(repro_sum_canonical(sq, M));
    double nd = norm_d(g0, M);
    int have_ref = 0;
    for (int t = 1; t <= 3; t++) {
        repro_pool *pool;
        repro_error err;
        CHECK(repro_pool_create(t, &pool, &err) == REPRO_OK);
        repro_cpu cpu = {REPRO_ISA_SCALAR, pool};
        /* below the threshold: nothing changes */
        memcpy(g, g0, sizeof g);
        float norm = clip_norm(&cpu, g, M, (float)nd * 2);
        CHECK(bits_of(norm) == bits_of(canon));
        CHECK_BITS(g0, g, M, "clip below max_norm");
        /* at the threshold exactly: nothing changes either */
        norm = clip_norm(&cpu, g, M, canon);
        CHECK_BITS(g0, g, M, "clip at max_norm");
        /* above: scaled to at most max_norm */
        for (int k = 0; k < 3; k++) {
            float max_norm = k == 0 ? 1.0f : k == 1 ? 0.5f * canon : canon * 0.999f;
            memcpy(g, g0, sizeof g);
            norm = clip_norm(&cpu, g, M, max_norm);
            CHECK(bits_of(norm) == bits_of(canon));
            double after = norm_d(g, M);
            CHECK_MSG(after <= max_norm * (1 + 1e-6), "clipped norm %.9g > %.9g", after, (double)max_norm);
            CHECK_MSG(after >= max_norm * (1 - 1e-5), "clipped norm %.9g well below %.9g", after, (double)max_norm);
            float a = max_norm / (canon + 1e-6f);
            for (int i = 0; i < M; i++)
                CHECK(bits_of(g[i]) == bits_of(g0[i] * a));
            if (k == 0) {
                if (!have_ref)
                    memcpy(ref, g, sizeof g);
                have_ref = 1;
                CHECK_BITS(ref, g, M, "clip across threads");
            }
        }
        repro_pool_destroy(pool);
    }
    printf("clip: canonical norm %.9g, double norm %.12g\n", (double)canon, nd);
    CHECK(fabs(canon - nd) <= 1e-6 * nd);
}

static void test_ema(void)
{
    enum { M = 9001 };
    static float e0[M], p[M], e[M], ref[M];
    for (int i = 0; i < M; i++) {
        e0[i] = rand_range(-1, 1);
        p[i] = rand_range(-1, 1);
    }
    const float decay = 0.999f;
    for (int i = 0; i < M; i++)
        ref[i] = decay * e0[i] + (1.0f - decay) * p[i];
    for (int t = 1; t <= 3; t++) {
        repro_pool *pool;
        repro_error err;
        CHECK(repro_pool_create(t, &pool, &err) == REPRO_OK);
        repro_cpu cpu = {repro_isa_best(), pool};
        memcpy(e, e0, sizeof e);
        CHECK(repro_ema_update(&cpu, e, p, M, decay, NULL) == REPRO_OK);
        char name[48];
        snprintf(name, sizeof name, "ema threads %d", t);
        CHECK_BITS(ref, e, M, name);
        repro_pool_destroy(pool);
    }
    double worst = 0;
    for (int i = 0; i < M; i++) {
        double want = (double)decay * e0[i] + (1 - (double)decay) * p[i];
        if (fabs(e[i] - want) > worst) /* not fmax: see test_updates */
            worst = fabs(e[i] - want);
    }
    printf("ema: worst |float - double| %.3g\n", worst);
    CHECK(worst < 1e-6);
    /* decay 0: the EMA is the parameters; decay 1: unchanged */
    memcpy(e, e0, sizeof e);
    repro_cpu cpu = {REPRO_ISA_SCALAR, NULL};
    CHECK(repro_ema_update(&cpu, e, p, M, 0.0f, NULL) == REPRO_OK);
    CHECK_BITS(p, e, M, "ema decay 0");
    memcpy(e, e0, sizeof e);
    CHECK(repro_ema_update(&cpu, e, p, M, 1.0f, NULL) == REPRO_OK);
    CHECK_BITS(e0, e, M, "ema decay 1");
}

int main(void)
{
    test_updates();
    test_adam_twins();
    test_hash();
    test_schedules();
    test_clip();
    test_ema();
    return test_finish("test_optim");
}
