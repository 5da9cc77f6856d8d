/* Attention kernels (src/ops/attention_math.h, src/ops/cpu/attention.h)
 * and softmax (src/ops/cpu/softmax.h):
 *   - twins: the threaded kernels (3 threads) give the _ref's bits, forward
 *     (o, m, l, the dropout mask) and backward (dqkv);
 *   - known answers: one token gives o = v exactly; a row whose keys are
 *     all padding gives zeros;
 *   - accuracy: o within 1e-5 (relative to the row's |v| scale) of a plain
 *     softmax attention in double;
 *   - gradient checks: dqkv against central differences in double of the
 *     double forward (same keep mask), causal and not, padding, dropout,
 *     and 70 tokens (two key blocks); softmax's dx likewise;
 *   - batch invariance: a sequence of L tokens alone (T = L) and padded
 *     to T = L + 29 with masked keys, placed second in a batch of three,
 *     gives the same bits in o, m, l and, with zero loss gradient on the
 *     padding, in dq, dk, dv of its L real tokens;
 *   - argument checks: their exact messages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/cpu/attention.h"
#include "ops/cpu/attention_simd.h"
#include "ops/cpu/gelu_erf.h"
#include "ops/cpu/gelu_erf_simd.h"
#include "ops/gelu_erf_math.h"
#include "ops/cpu/softmax.h"
#include "repro/isa.h"
#include "gelu_ref.h"
#include "gradcheck.h"
#include "testutil.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static float rnd(float lo, float hi)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * ((float)(uint32_t)(rng_state >> 40) * 0x1p-24f);
}

typedef struct bufs {
    repro_attn_args a;
    float *qkv, *o, *stat, *kpm, *dout, *dqkv;
    uint8_t *keep;
    uint32_t *pos;
} bufs;

/* Knobs of make() for the twins' harder cases: every hole_every-th token
 * (from token 2 of each sample, 0: none) is masked by kpm, inside the key
 * blocks, so a block packs fewer keys than it spans and queries in the
 * middle are padded; score_scale (0: 1 / sqrt(hd)) large enough puts s - m
 * below -104, where repro_expf is 0 by its special case. */
static int hole_every;
static float score_scale;

/* Buffers for B x T x H x hd; lens[b] < T pads sample b (kpm) from lens[b]. */
static void make(bufs *s, int64_t B, int64_t T, int64_t H, int64_t hd, int causal, float p, const int64_t *lens)
{
    memset(s, 0, sizeof *s);
    int64_t D = H * hd;
    s->qkv = calloc((size_t)(B * T * 3 * D), 4);
    s->o = calloc((size_t)(B * T * D), 4);
    s->stat = calloc((size_t)(B * 3 * H * T), 4);
    s->dout = calloc((size_t)(B * T * D), 4);
    s->dqkv = calloc((size_t)(B * T * 3 * D), 4);
    s->pos = calloc((size_t)B, 4);
    for (int64_t i = 0; i < B * T * 3 * D; i++)
        s->qkv[i] = rnd(-1.5f, 1.5f);
    for (int64_t i = 0; i < B * T * D; i++)
        s->dout[i] = rnd(-1.0f, 1.0f);
    for (int64_t b = 0; b < B; b++)
        s->pos[b] = (uint32_t)(100 + 7 * b);
    if (lens || hole_every) {
        s->kpm = calloc((size_t)(B * T), 4);
        for (int64_t b = 0; b < B; b++)
            for (int64_t j = lens ? lens[b] : T; j < T; j++)
                s->kpm[b * T + j] = 1.0f;
        for (int64_t b = 0; hole_every && b < B; b++)
            for (int64_t j = 2 + b; j < T; j += hole_every)
                s->kpm[b * T + j] = 1.0f;
    }
    if (p > 0.0f)
        s->keep = calloc((size_t)(B * H * T * T), 1);
    repro_attn_args *a = &s->a;
    a->B = B;
    a->T = T;
    a->H = H;
    a->hd = hd;
    a->scale = score_scale ? score_scale : 1.0f / repro_sqrtf((float)hd);
    a->causal = causal;
    a->p = p;
    a->seed = 1234;
    a->step = 0x100000005ull;
    a->node = 3;
    a->sample_pos = s->pos;
    a->qkv = s->qkv;
    a->kpm = s->kpm;
    a->o = s->o;
    a->stat = s->stat;
    a->keep = s->keep;
    a->dout = s->dout;
    a->dqkv = s->dqkv;
}

static void drop(bufs *s)
{
    free(s->qkv);
    free(s->o);
    free(s->stat);
    free(s->kpm);
    free(s->dout);
    free(s->dqkv);
    free(s->pos);
    free(s->keep);
}

/* ---- the double forward: plain softmax over the row's keys ---- */

static double loss_double(const repro_attn_args *a, const double *qkv, double *o_out)
{
    int64_t T = a->T, H = a->H, hd = a->hd, D = H * hd;
    double L = 0.0, *s = malloc((size_t)T * sizeof(double)), sd = a->keep ? 1.0 / (1.0 - (double)a->p) : 1.0;
    for (int64_t b = 0; b < a->B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < T; i++) {
                int64_t kend = repro_attn_kend(a, b, i);
                double mx = -INFINITY, sum = 0.0;
                for (int64_t j = 0; j < kend; j++) {
                    s[j] = -INFINITY;
                    if (repro_attn_masked(a, b, j))
                        continue;
                    double acc = 0.0;
                    for (int64_t d = 0; d < hd; d++)
                        acc += qkv[((b * T + i) * 3 + 0) * D + h * hd + d] * qkv[((b * T + j) * 3 + 1) * D + h * hd + d];
                    s[j] = acc * (double)a->scale;
                    mx = s[j] > mx ? s[j] : mx;
                }
                for (int64_t j = 0; j < kend; j++)
                    if (s[j] > -INFINITY)
                        sum += exp(s[j] - mx);
                for (int64_t d = 0; d < hd; d++) {
                    double acc = 0.0;
                    for (int64_t j = 0; j < kend; j++) {
                        if (!(s[j] > -INFINITY))
                            continue;
                        double pj = exp(s[j] - mx) / sum;
                        if (a->keep)
                            pj = a->keep[repro_attn_keep_at(a, b, h, i, j)] ? pj * sd : 0.0;
                        acc += pj * qkv[((b * T + j) * 3 + 2) * D + h * hd + d];
                    }
                    int64_t at = ((b * T + i) * H + h) * hd + d;
                    if (o_out)
                        o_out[at] = acc;
                    L += (double)a->dout[at] * acc;
                }
            }
    free(s);
    return L;
}

static void gradcheck(const char *name, int64_t B, int64_t T, int64_t H, int64_t hd, int causal, float p,
                      const int64_t *lens)
{
    bufs s;
    make(&s, B, T, H, hd, causal, p, lens);
    repro_attention_forward_ref(&s.a);
    repro_attention_backward_ref(&s.a);
    int64_t n = B * T * 3 * H * hd;
    double *x = malloc((size_t)n * sizeof(double)), *num = malloc((size_t)n * sizeof(double));
    double *o = malloc((size_t)(B * T * H * hd) * sizeof(double));
    for (int64_t i = 0; i < n; i++)
        x[i] = s.qkv[i];
    for (int64_t i = 0; i < n; i++) {
        double v = x[i], h = step_of(v);
        x[i] = v + h;
        double lp = loss_double(&s.a, x, NULL);
        x[i] = v - h;
        double lm = loss_double(&s.a, x, NULL);
        x[i] = v;
        num[i] = (lp - lm) / (2.0 * h);
    }
    compare(name, s.dqkv, num, n);
    /* the forward against the double one */
    loss_double(&s.a, x, o);
    double worst = 0.0;
    for (int64_t i = 0; i < B * T * H * hd; i++) {
        double e = fabs((double)s.o[i] - o[i]);
        worst = e > worst ? e : worst;
    }
    CHECK_MSG(worst <= 1e-5 * (p > 0 ? 1.0 / (1.0 - p) : 1.0) * 1.5, "%s: forward off by %g", name, worst);
    free(x);
    free(num);
    free(o);
    drop(&s);
}

/* ---- twins ---- */

static int same_bits(const void *x, const void *y, size_t bytes, const char *what, const char *name)
{
    if (!memcmp(x, y, bytes))
        return 1;
    fprintf(stderr, "%s: %s differs between the reference and the threaded kernel\n", name, what);
    return 0;
}

static void twins_isa(const char *name, repro_isa isa, repro_pool *pool, int64_t B, int64_t T, int64_t H, int64_t hd, int causal,
                  float p, const int64_t *lens)
{
    uint64_t saved = rng_state;
    bufs r, t;
    make(&r, B, T, H, hd, causal, p, lens);
    rng_state = saved;
    make(&t, B, T, H, hd, causal, p, lens);
    repro_cpu cpu = {isa, pool};
    repro_error err;
    repro_attention_forward_ref(&r.a);
    repro_attention_backward_ref(&r.a);
    CHECK(repro_attention_forward(&cpu, &t.a, &err) == REPRO_OK);
    CHECK(repro_attention_backward(&cpu, &t.a, &err) == REPRO_OK);
    size_t D = (size_t)(H * hd);
    int ok = same_bits(r.o, t.o, (size_t)(B * T) * D * 4, "o", name) &&
             same_bits(r.stat, t.stat, (size_t)(B * 3 * H * T) * 4, "m, l, dsum", name) &&
             same_bits(r.dqkv, t.dqkv, (size_t)(B * T * 3) * D * 4, "dqkv", name) &&
             (!p || same_bits(r.keep, t.keep, (size_t)(B * H * T * T), "dropout mask", name));
    printf("%s twins %s (%s)\n", ok ? "PASS" : "FAIL", name, repro_isa_name(isa));
    CHECK(ok);
    drop(&r);
    drop(&t);
}

/* The threaded kernel on every ISA path this CPU has. */
static void twins(const char *name, repro_pool *pool, int64_t B, int64_t T, int64_t H, int64_t hd, int causal,
                  float p, const int64_t *lens)
{
    const repro_isa isas[] = {REPRO_ISA_SCALAR, REPRO_ISA_AVX2, REPRO_ISA_AVX512, REPRO_ISA_NEON};
    for (size_t k = 0; k < sizeof isas / sizeof isas[0]; k++)
        if (repro_isa_supported(isas[k]))
            twins_isa(name, isas[k], pool, B, T, H, hd, causal, p, lens);
}

/* ---- batch invariance under padding ---- */

static void invariance(int64_t L, int64_t pad, int causal, float p)
{
    int64_t H = 2, hd = 8, D = H * hd, T2 = L + pad;
    bufs one, batch;
    make(&one, 1, L, H, hd, causal, p, NULL);
    int64_t lens[3] = {T2 - 3, L, T2};
    make(&batch, 3, T2, H, hd, causal, p, lens);
    /* sample 1 of the batch is `one`'s sequence, at the same epoch position */
    batch.pos[1] = one.pos[0];
    for (int64_t t = 0; t < T2; t++)
        for (int64_t e = 0; e < 3 * D; e++)
            batch.qkv[(1 * T2 + t) * 3 * D + e] = t < L ? one.qkv[t * 3 * D + e] : rnd(-9.0f, 9.0f);
    for (int64_t t = 0; t < T2; t++)
        for (int64_t e = 0; e < D; e++)
            batch.dout[(1 * T2 + t) * D + e] = t < L ? one.dout[t * D + e] : 0.0f;
    repro_attention_forward_ref(&one.a);
    repro_attention_backward_ref(&one.a);
    repro_attention_forward_ref(&batch.a);
    repro_attention_backward_ref(&batch.a);
    int ok = !memcmp(one.o, batch.o + T2 * D, (size_t)(L * D) * 4) &&
             !memcmp(one.dqkv, batch.dqkv + T2 * 3 * D, (size_t)(L * 3 * D) * 4);
    for (int64_t h = 0; h < H; h++)
        for (int k = 0; k < 2; k++)
            ok = ok && !memcmp(repro_attn_stat(&one.a, 0, h, 0, k), repro_attn_stat(&batch.a, 1, h, 0, k),
                               (size_t)L * 4);
    /* the padded rows: zeros */
    for (int64_t e = L * D; e < T2 * D; e++)
        ok = ok && batch.o[T2 * D + e] == 0.0f;
    printf("%s padding invariance L=%lld padded to %lld%s%s\n", ok ? "PASS" : "FAIL", (long long)L, (long long)T2,
           causal ? " causal" : "", p > 0 ? " dropout" : "");
    CHECK(ok);
    drop(&one);
    drop(&batch);
}

/* ---- known answers and argument checks ---- */

static void known_answers(void)
{
    bufs s;
    make(&s, 2, 1, 3, 5, 0, 0.0f, NULL);
    repro_attention_forward_ref(&s.a);
    int ok = 1;
    for (int64_t b = 0; b < 2; b++)
        for (int64_t e = 0; e < 15; e++)
            ok = ok && s.o[b * 15 + e] == s.qkv[(b * 3 + 2) * 15 + e];
    CHECK_MSG(ok, "one token: o must be v exactly");
    drop(&s);
    int64_t lens[1] = {0};
    make(&s, 1, 4, 1, 3, 1, 0.0f, lens);
    repro_attention_forward_ref(&s.a);
    for (int64_t e = 0; e < 12; e++)
        CHECK(s.o[e] == 0.0f && !signbit(s.o[e]));
    drop(&s);
}

static void arg_checks(void)
{
    bufs s;
    repro_error err;
    repro_cpu cpu = {REPRO_ISA_SCALAR, NULL};
    make(&s, 1, 2, 1, 4, 0, 0.0f, NULL);
    s.a.hd = 300;
    CHECK(repro_attention_forward(&cpu, &s.a, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "attention: head_dim 300 is outside [1, 256]");
    s.a.hd = 4;
    s.a.p = 1.0f;
    CHECK(repro_attention_backward(&cpu, &s.a, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "attention: dropout 1 is outside [0, 1)");
    s.a.p = 0.0f;
    s.a.T = 0;
    CHECK(repro_attention_forward(&cpu, &s.a, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "attention: sequence length 0 is outside [1, 131072]");
    drop(&s);
}

/* ---- softmax ---- */

static void softmax_checks(repro_pool *pool)
{
    enum { R = 4, N = 9 };
    float x[R * N], y[R * N], y2[R * N], dy[R * N], dx[R * N], dx2[R * N];
    for (int i = 0; i < R * N; i++) {
        x[i] = rnd(-4.0f, 4.0f);
        dy[i] = rnd(-1.0f, 1.0f);
    }
    repro_cpu cpu = {REPRO_ISA_SCALAR, pool};
    repro_error err;
    repro_softmax_forward_ref(y, x, R, N);
    CHECK(repro_softmax_forward(&cpu, y2, x, R, N, &err) == REPRO_OK);
    CHECK(!memcmp(y, y2, sizeof y));
    repro_softmax_backward_ref(dx, dy, y, R, N);
    CHECK(repro_softmax_backward(&cpu, dx2, dy, y, R, N, &err) == REPRO_OK);
    CHECK(!memcmp(dx, dx2, sizeof dx));
    /* dL/dx for L = sum dy . softmax(x), in double */
    double num[R * N];
    for (int i = 0; i < R * N; i++) {
        int r = i / N;
        double L[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            double xv[N], mx = -INFINITY, sum = 0.0, l = 0.0, h = step_of(x[i]);
            for (int k = 0; k < N; k++)
                xv[k] = x[r * N + k];
            xv[i % N] += sgn ? -h : h;
            for (int k = 0; k < N; k++)
                mx = xv[k] > mx ? xv[k] : mx;
            for (int k = 0; k < N; k++)
                sum += exp(xv[k] - mx);
            for (int k = 0; k < N; k++)
                l += (double)dy[r * N + k] * exp(xv[k] - mx) / sum;
            L[sgn] = l;
        }
        num[i] = (L[0] - L[1]) / (2.0 * step_of(x[i]));
    }
    compare("softmax dx", dx, num, R * N);
}

/* The block twins' exponential (expf_lanes in attention_lanes.h, a lane
 * copy of repro_expf's double steps) against repro_expf, bit for bit, on
 * every 61st float bit pattern (70 million inputs: both signs, the special
 * cases past -104 and 89, subnormals, NaN and infinities), in vectors of 16. */
static void expf_lanes_sweep(void)
{
#if defined(__x86_64__)
    enum { N = 1 << 16 };
    typedef void (*lanes_fn)(const float *, float *, int64_t);
    const struct {
        repro_isa isa;
        lanes_fn fn;
    } twins[] = {{REPRO_ISA_AVX2, repro_attn_expf_lanes_avx2}, {REPRO_ISA_AVX512, repro_attn_expf_lanes_avx512}};
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    for (int k = 0; k < 2; k++) {
        if (!repro_isa_supported(twins[k].isa))
            continue;
        uint64_t bits = 0, bad = 0, checked = 0;
        float bad_x = 0.0f, got = 0.0f;
        while (bits < ((uint64_t)1 << 32)) {
            int n = 0;
            for (; n < N && bits < ((uint64_t)1 << 32); n++, bits += 61) {
                uint32_t b = (uint32_t)bits;
                memcpy(&x[n], &b, 4);
            }
            n = n / 16 * 16;
            twins[k].fn(x, y, n);
            for (int i = 0; i < n; i++) {
                float want = repro_expf(x[i]);
                checked++;
                if (memcmp(&want, &y[i], 4) && !(want != want && y[i] != y[i]) && bad++ == 0) {
                    bad_x = x[i];
                    got = y[i];
                }
            }
        }
        CHECK_MSG(bad == 0, "expf on %s lanes: %llu of %llu inputs differ, the first at x = %a (got %a, want %a)",
                  repro_isa_name(twins[k].isa), (unsigned long long)bad, (unsigned long long)checked, (double)bad_x,
                  (double)got, (double)repro_expf(bad_x));
    }
    free(x), free(y);
#endif
}

/* ---- GELU, erf form: against libm's erfc in double, its derivative by
 * central differences, and the threaded twin ---- */

/* The twins' doubles before the rounding to float (which hides most
 * differences): Phi(x) and Phi(x) + x phi(x) bit for bit the scalar ones,
 * over [-20, 20] and the branch edge. */
static void gelu_erf_doubles(void)
{
#if defined(__x86_64__)
    enum { N = 40003 };
    typedef int64_t (*twin_fn)(double *, double *, const double *, int64_t);
    const struct {
        repro_isa isa;
        twin_fn fn;
        int lanes;
    } twins[] = {{REPRO_ISA_AVX2, repro_gelu_erf_doubles_avx2, 4}, {REPRO_ISA_AVX512, repro_gelu_erf_doubles_avx512, 8}};
    double *x = malloc(N * 8), *c = malloc(N * 8), *g = malloc(N * 8);
    for (int i = 0; i < N; i++)
        x[i] = (double)(i - N / 2) * (20.0 / (N / 2));
    x[7] = 2.5, x[8] = -x[7], x[9] = nextafter(x[7], 0.0), x[10] = -0.0, x[11] = -x[9];
    for (int k = 0; k < 2; k++) {
        if (!repro_isa_supported(twins[k].isa))
            continue;
        int64_t done = twins[k].fn(c, g, x, N), bad = -1;
        CHECK(done > N - twins[k].lanes);
        for (int64_t i = 0; i < done && bad < 0; i++) {
            double xd = x[i], cd = repro_gelu_phi_cdf_d(xd), gd = repro_gelu_grad_d(xd, cd);
            if (memcmp(&cd, &c[i], 8) || memcmp(&gd, &g[i], 8))
                bad = i;
        }
        CHECK_MSG(bad < 0, "gelu_erf's doubles on %d lanes differ from the scalar ones at x = %a", twins[k].lanes,
                  bad < 0 ? 0.0 : x[bad]);
    }
    free(x), free(c), free(g);
#endif
}

/* The SIMD twins against the scalar reference, bit for bit: a grid over
 * [-22, 22], the branch edges (|x| = 2.5, 20), signed zeros,
 * subnormals, NaN and infinities scattered among regular lanes, and random
 * values, 10007 of them (a tail after the whole vectors, three tasks). */
static void gelu_erf_twins(repro_pool *pool)
{
    enum { N = 10007 };
    float *x = malloc(N * 4), *dy = malloc(N * 4), *y[2], *dx[2];
    for (int k = 0; k < 2; k++) {
        y[k] = malloc(N * 4);
        dx[k] = malloc(N * 4);
    }
    static const float edges[] = {2.5f, 2.5000002f, 2.4999998f, 20.0f, 20.000002f, 19.999998f, 0.0f,
                                  1e-40f, 1e-45f, 1e-30f, 1e30f, 5.0f, 14.0f};
    uint64_t s = 12345;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        float u = (float)(s >> 40) * 0x1p-24f;
        x[i] = i < 4000 ? (float)(i - 2000) * 0.011f : (u - 0.5f) * (i % 3 ? 8.0f : 50.0f);
        dy[i] = u * 2.0f - 1.0f;
    }
    for (int i = 0; i < (int)(sizeof edges / sizeof edges[0]); i++) {
        x[4000 + 2 * i] = edges[i];
        x[4001 + 2 * i] = -edges[i];
        x[4100 + 9 * i] = i & 1 ? -edges[i] : edges[i]; /* among random lanes */
    }
    x[4200] = NAN;
    x[4211] = -NAN;
    x[4222] = INFINITY;
    x[4233] = -INFINITY;
    const repro_isa isas[] = {REPRO_ISA_SCALAR, REPRO_ISA_AVX2, REPRO_ISA_AVX512, REPRO_ISA_NEON};
    double *phi = malloc(N * sizeof(double));
    repro_gelu_erf_forward_ref(y[0], x, N);
    repro_gelu_erf_backward_ref(dx[0], dy, x, N);
    /* each path with Phi(x) computed twice, then kept by the forward and
     * read by the backward */
    for (size_t r = 0; r < 2 * sizeof isas / sizeof isas[0]; r++) {
        size_t k = r / 2;
        double *keep = r % 2 ? phi : NULL;
        if (!repro_isa_supported(isas[k]))
            continue;
        repro_cpu cpu = {isas[k], pool};
        repro_error err;
        memset(y[1], 0, N * 4);
        memset(dx[1], 0, N * 4);
        CHECK(repro_gelu_erf_forward(&cpu, y[1], keep, x, N, &err) == REPRO_OK);
        CHECK(repro_gelu_erf_backward(&cpu, dx[1], dy, x, keep, N, &err) == REPRO_OK);
        int bad = -1;
        for (int i = 0; i < N && bad < 0; i++)
            if (memcmp(&y[0][i], &y[1][i], 4) || memcmp(&dx[0][i], &dx[1][i], 4))
                bad = i;
        CHECK_MSG(bad < 0, "gelu_erf on %s%s differs from the scalar reference at x = %a (y %a vs %a, dx %a vs %a)",
                  repro_isa_name(isas[k]), keep ? " (Phi kept)" : "", bad < 0 ? 0.0 : x[bad], bad < 0 ? 0.0 : y[1][bad],
                  bad < 0 ? 0.0 : y[0][bad], bad < 0 ? 0.0 : dx[1][bad], bad < 0 ? 0.0 : dx[0][bad]);
        printf("%s gelu_erf twins (%s%s)\n", bad < 0 ? "PASS" : "FAIL", repro_isa_name(isas[k]),
               keep ? ", Phi kept" : "");
    }
    free(x), free(dy), free(phi);
    for (int k = 0; k < 2; k++)
        free(y[k]), free(dx[k]);
    gelu_erf_doubles();
}

/* y and (float)dy/dx within 1 ulp of the long double references
 * (tests/gelu_ref.h): every 4099th float bit pattern (1.05e6 inputs, all
 * binades and signs), and every float within 2^16 of the derivative's zero
 * (x = -0.75179, where the float result's ulp is smallest against the
 * doubles' absolute error) and within 2^12 of the pieces' edge |x| = 2.5.
 * The sweep's result hashes pin the written order (the same bits from any
 * compiler or machine). tools/check_math does all 2^32 inputs. */
static void gelu_erf_accuracy(void)
{
    static const uint64_t pinned[GELU_NFNS] = {0x587a607cb0ab2900ull, 0x83fb9b9456b019f6ull};
    float at[3] = {-0.75179152f, 2.5f, -2.5f};
    for (int f = 0; f < GELU_NFNS; f++) {
        math_stats st;
        math_check_range(&gelu_fns[f], (uint64_t)f, (uint64_t)1 << 32, 4099, &st);
        float w;
        memcpy(&w, &st.worst_bits, 4);
        printf("%s: %llu inputs, max error %.6f ulp at %a, %llu differ from the rounded reference, hash %016llx\n",
               gelu_fns[f].name, (unsigned long long)st.count, st.max_ulp, (double)w, (unsigned long long)st.not_cr,
               (unsigned long long)st.hash);
        CHECK_MSG(st.max_ulp <= 1.0, "%s off by %.6f ulp at %a", gelu_fns[f].name, st.max_ulp, (double)w);
        CHECK_MSG(st.hash == pinned[f], "%s: result hash %016llx, pinned %016llx", gelu_fns[f].name,
                  (unsigned long long)st.hash, (unsigned long long)pinned[f]);
        for (int k = 0; k < 3; k++) {
            uint32_t b;
            memcpy(&b, &at[k], 4);
            uint64_t r = k ? 4096 : 65536;
            math_check_range(&gelu_fns[f], b - r, b + r, 1, &st);
            memcpy(&w, &st.worst_bits, 4);
            printf("%s near %g: %llu inputs, max error %.6f ulp at %a\n", gelu_fns[f].name, (double)at[k],
                   (unsigned long long)st.count, st.max_ulp, (double)w);
            CHECK_MSG(st.max_ulp <= 1.0, "%s off by %.6f ulp at %a", gelu_fns[f].name, st.max_ulp, (double)w);
        }
    }
}

static void gelu_erf_checks(repro_pool *pool)
{
    enum { N = 8001 };
    float *x = malloc(N * 4), *y = malloc(N * 4), *y2 = malloc(N * 4), *dy = malloc(N * 4), *dx = malloc(N * 4),
          *dx2 = malloc(N * 4);
    for (int i = 0; i < N; i++) {
        x[i] = (float)(i - N / 2) * 0.0055f; /* [-22, 22] */
        dy[i] = 1.0f;
    }
    x[0] = -0.0f;
    repro_gelu_erf_forward_ref(y, x, N);
    repro_gelu_erf_backward_ref(dx, dy, x, N);
    repro_cpu cpu = {REPRO_ISA_SCALAR, pool};
    repro_error err;
    CHECK(repro_gelu_erf_forward(&cpu, y2, NULL, x, N, &err) == REPRO_OK);
    CHECK(repro_gelu_erf_backward(&cpu, dx2, dy, x, NULL, N, &err) == REPRO_OK);
    CHECK(!memcmp(y, y2, N * 4) && !memcmp(dx, dx2, N * 4));
    gelu_erf_twins(pool);
    gelu_erf_accuracy();
    double *num = malloc(N * sizeof(double));
    for (int i = 0; i < N; i++) {
        double xd = x[i], h = step_of(xd), f[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            double v = xd + (sgn ? -h : h);
            f[sgn] = v * 0.5 * erfc(-v / sqrt(2.0));
        }
        num[i] = (f[0] - f[1]) / (2.0 * h);
    }
    CHECK(signbit(y[0]) && y[0] == 0.0f);
    compare("gelu_erf dx", dx, num, N);
    free(x), free(y), free(y2), free(dy), free(dx), free(dx2), free(num);
}

int main(void)
{
    repro_pool *pool = NULL;
    repro_error err;
    CHECK(repro_pool_create(3, &pool, &err) == REPRO_OK);
    known_answers();
    arg_checks();
    int64_t lens2[2] = {4, 9}, lens70[1] = {61};
    gradcheck("attention dqkv", 2, 5, 2, 3, 0, 0.0f, NULL);
    gradcheck("attention dqkv causal", 2, 6, 2, 3, 1, 0.0f, NULL);
    gradcheck("attention dqkv padding", 2, 9, 1, 4, 0, 0.0f, lens2);
    gradcheck("attention dqkv causal dropout", 2, 7, 2, 2, 1, 0.25f, NULL);
    gradcheck("attention dqkv 70 tokens (2 blocks)", 1, 70, 1, 2, 0, 0.0f, NULL);
    gradcheck("attention dqkv 70 tokens causal, pad", 1, 70, 1, 2, 1, 0.0f, lens70);
    twins("1x1x1x1", pool, 1, 1, 1, 1, 0, 0.0f, NULL);
    twins("3x7x2x5", pool, 3, 7, 2, 5, 0, 0.0f, NULL);
    twins("2x130x3x16 causal dropout", pool, 2, 130, 3, 16, 1, 0.1f, NULL);
    int64_t lens3[3] = {65, 1, 130};
    twins("3x130x2x8 padding", pool, 3, 130, 2, 8, 0, 0.0f, lens3);
    int64_t lens4[2] = {200, 77};
    twins("2x200x2x64 causal padding dropout", pool, 2, 200, 2, 64, 1, 0.3f, lens4);
    twins("1x300x1x37", pool, 1, 300, 1, 37, 0, 0.0f, NULL);
    /* the block twins (64 rows of one (b, h) a unit, the other side packed
     * in vectors of 8 or 16): head sizes off the vector widths, a single
     * partial block, the largest head, holes in the blocks */
    twins("4x64x3x24 causal", pool, 4, 64, 3, 24, 1, 0.0f, NULL);
    twins("2x65x2x20 dropout", pool, 2, 65, 2, 20, 0, 0.2f, NULL);
    twins("3x17x5x33 causal", pool, 3, 17, 5, 33, 1, 0.0f, NULL);
    twins("1x70x1x256 causal dropout", pool, 1, 70, 1, 256, 1, 0.1f, NULL);
    twins("2x129x2x48", pool, 2, 129, 2, 48, 0, 0.0f, NULL);
    hole_every = 7;
    twins("3x150x2x16 holes", pool, 3, 150, 2, 16, 0, 0.0f, NULL);
    twins("3x150x2x12 holes causal dropout", pool, 3, 150, 2, 12, 1, 0.25f, lens3);
    hole_every = 3;
    twins("2x200x1x9 holes causal", pool, 2, 200, 1, 9, 1, 0.0f, lens4);
    hole_every = 0;
    score_scale = 40.0f;
    twins("2x100x2x16 large scores (exp specials)", pool, 2, 100, 2, 16, 0, 0.0f, NULL);
    twins("2x100x2x16 large scores causal dropout", pool, 2, 100, 2, 16, 1, 0.1f, NULL);
    score_scale = 0.0f;
    for (int causal = 0; causal < 2; causal++) {
        invariance(37, 29, causal, 0.0f);
        invariance(100, 29, causal, 0.0f);
        invariance(64, 64, causal, 0.2f);
    }
    expf_lanes_sweep();
    softmax_checks(pool);
    gelu_erf_checks(pool);
    repro_pool_destroy(pool);
    return test_finish("test_attention");
}
