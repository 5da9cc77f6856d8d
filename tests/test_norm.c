/* Batch norm (ghost-batch groups), group norm and SiLU on the CPU, and the
 * segmented layout of the canonical sum they rest on:
 *   - a segmented canonical sum equals the contiguous sum of a gathered
 *     copy, for every element kind, single-threaded and threaded;
 *   - the _ref kernels equal an independent spec written here from the
 *     contract of src/ops/cpu/norm.h (gather the group's values, sum them
 *     with repro_sum_canonical, the formulas spelled out), bit for bit;
 *   - the threaded kernels equal their _ref twins for no pool and pools of
 *     1..4 threads, on odd shapes, special values and every kind of group;
 *   - two micro-batches of whole groups, run in order, give the one batch's
 *     bits: y, mean, rstd, dx, the accumulated dgamma/dbeta and the running
 *     statistics;
 *   - known answers pin the written orders; bad shapes fail with messages
 *     that name them, leaving the outputs alone.
 * ctest-labels: threads */
#include <math.h>

#include "ops/cpu/norm.h"
#include "ops/cpu/ops.h"
#include "ops/ops_math.h"
#include "ops/reduce.h"
#include "repro/math.h"
#include "repro/isa.h"
#include "testutil.h"

#define NPOOLS 5 /* index 0: no pool (inline); 1..4: that many threads */

static repro_cpu cpus[NPOOLS];
/* the parameter gradients take each ISA path's code (norm_param.h) */
static const repro_isa isas[] = {REPRO_ISA_SCALAR, REPRO_ISA_AVX2, REPRO_ISA_AVX512, REPRO_ISA_NEON};

static uint64_t rng_state = 0x5DEECE66Dull;

static uint32_t rand_u32(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 32);
}

/* Uniform in [lo, hi). */
static float rand_range(float lo, float hi)
{
    return lo + (hi - lo) * ((float)(rand_u32() >> 8) * 0x1p-24f);
}

static const float specials[] = {0.0f, -0.0f, 0x1p-149f, -0x1p-140f, 1e-30f, 3e38f, -3e38f, 1e20f,
                                 -1e20f, INFINITY, -INFINITY, NAN, 1.0f, -1.0f, 88.0f, -104.0f};
enum { NSPECIALS = (int)(sizeof specials / sizeof specials[0]) };

/* x[n] in [lo, hi), with a special value at about one element in 997 when
 * with_specials (rare, so most groups stay finite and a few do not). */
static void fill(float *x, int64_t n, float lo, float hi, int with_specials)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (with_specials && rand_u32() % 997 == 0) ? specials[rand_u32() % NSPECIALS] : rand_range(lo, hi);
}

static float *alloc(int64_t n)
{
    return malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
}

static float *copy_of(const float *x, int64_t n)
{
    float *c = alloc(n);
    memcpy(c, x, (size_t)n * sizeof *c);
    return c;
}

static int same_float(float a, float b)
{
    return memcmp(&a, &b, 4) == 0;
}

#define BITS(a, b, n) test_bits_equal((a), (b), (size_t)(n), #a)
/* against the test's own spelling of the contract: which NaN is not promised */
#define SPEC(a, b, n) test_bits_equal_nan((a), (b), (size_t)(n), #a)

/* ---- the segmented canonical sum ---- */

static void test_segmented_sum(void)
{
    /* {n, seg_len, seg_stride}: one block, many blocks, runs of 1 (a [N][C]
     * column), runs longer than a block, runs that cut lanes and blocks. */
    const int64_t cases[][3] = {{1, 1, 5},       {7, 1, 3},       {8, 3, 10},       {9, 2, 2},
                                {1023, 7, 13},   {1024, 1, 64},   {1025, 25, 25 * 7}, {5000, 784, 784 * 3},
                                {4097, 196, 200}, {100352, 784, 784 * 5}, {3 * 1024 + 5, 1024, 3000}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int64_t n = cases[k][0], len = cases[k][1], stride = cases[k][2];
        int64_t span = ((n - 1) / len) * stride + (n - 1) % len + 1; /* last offset + 1 */
        float *x = alloc(span), *y = alloc(span), *gx = alloc(n), *gy = alloc(n);
        fill(x, span, -4.0f, 4.0f, 0);
        fill(y, span, -2.0f, 2.0f, 0);
        for (int64_t i = 0; i < n; i++) {
            int64_t p = (i / len) * stride + i % len;
            gx[i] = x[p];
            gy[i] = y[p];
        }
        for (int kind = REPRO_CANON_X; kind <= REPRO_CANON_Y_XHAT; kind++) {
            repro_canon_src seg = {(repro_canon_kind)kind, x, y, 0.3f, 1.7f, len, stride};
            repro_canon_src gat = {(repro_canon_kind)kind, gx, gy, 0.3f, 1.7f, 0, 0};
            float want = repro_canon_sum(&gat, n);
            CHECK_MSG(same_float(repro_canon_sum(&seg, n), want), "segmented sum kind %d n=%lld len=%lld stride=%lld",
                      kind, (long long)n, (long long)len, (long long)stride);
            for (int p = 0; p < NPOOLS; p++) {
                float got = NAN;
                CHECK(repro_canon_sum_mt(&cpus[p], &seg, n, &got, NULL) == REPRO_OK);
                CHECK_MSG(same_float(got, want), "threaded segmented sum kind %d n=%lld pool=%d", kind, (long long)n,
                          p);
            }
            /* element i is read at p(i) */
            int64_t i = n / 2 + 1 < n ? n / 2 + 1 : n - 1;
            CHECK(repro_canon_offset(&seg, i) == (i / len) * stride + i % len);
            CHECK(same_float(repro_canon_elem(&seg, (repro_canon_kind)kind, i),
                             repro_canon_elem(&gat, (repro_canon_kind)kind, i)));
        }
        free(x), free(y), free(gx), free(gy);
    }
    /* seg_len 0 is contiguous: the sum of x itself, as every existing
     * caller (layer norm, the loss, the gradient norm) gets it; runs as
     * long as their stride are contiguous too. */
    float *x = alloc(70000);
    fill(x, 70000, -1.0f, 1.0f, 0);
    repro_canon_src flat = {REPRO_CANON_X, x, NULL, 0.0f, 0.0f, 0, 0};
    repro_canon_src runs = {REPRO_CANON_X, x, NULL, 0.0f, 0.0f, 784, 784};
    CHECK(same_float(repro_canon_sum(&flat, 70000), repro_sum_canonical(x, 70000)));
    CHECK(same_float(repro_canon_sum(&runs, 70000), repro_sum_canonical(x, 70000)));
    free(x);
}

/* ---- the spec: the contract of norm.h, written again ---- */

/* The canonical sum of e[0..n) squared about m: d = e - m; d * d. */
static float spec_centred_sq(const float *e, int64_t n, float m)
{
    float *d = alloc(n);
    for (int64_t i = 0; i < n; i++) {
        float t = e[i] - m;
        d[i] = t * t;
    }
    float s = repro_sum_canonical(d, n);
    free(d);
    return s;
}

/* Normalises one gathered group: e[cnt] with channel ch[cnt]; writes y
 * back through pos[cnt] (offsets in y). Returns mean and var. */
static void spec_group_forward(float *y, const float *e, const int64_t *pos, const int64_t *ch, int64_t cnt,
                               const float *gamma, const float *beta, float eps, float *mean_out, float *var_out,
                               float *rstd_out)
{
    float mean = repro_sum_canonical(e, cnt) / (float)cnt;
    float var = spec_centred_sq(e, cnt, mean) / (float)cnt;
    float rstd = 1.0f / repro_sqrtf(var + eps);
    for (int64_t i = 0; i < cnt; i++)
        y[pos[i]] = ((e[i] - mean) * rstd) * gamma[ch[i]] + beta[ch[i]];
    *mean_out = mean;
    *var_out = var;
    *rstd_out = rstd;
}

/* dx of one gathered group (x values e, incoming gradients d). */
static void spec_group_dx(float *dx, const float *e, const float *d, const int64_t *pos, const int64_t *ch,
                          int64_t cnt, float mean, float rstd, const float *gamma)
{
    float *dxhat = alloc(cnt), *prod = alloc(cnt);
    for (int64_t i = 0; i < cnt; i++) {
        dxhat[i] = d[i] * gamma[ch[i]];
        prod[i] = dxhat[i] * ((e[i] - mean) * rstd);
    }
    float m1 = repro_sum_canonical(dxhat, cnt) / (float)cnt;
    float m2 = repro_sum_canonical(prod, cnt) / (float)cnt;
    for (int64_t i = 0; i < cnt; i++)
        dx[pos[i]] = rstd * ((dxhat[i] - m1) - ((e[i] - mean) * rstd) * m2);
    free(dxhat), free(prod);
}

/* dgamma, dbeta over (n ascending, hw ascending); stat(n, c) = index of the
 * statistics of sample n, channel c. */
static void spec_params(float *dgamma, float *dbeta, const float *dy, const float *x, const float *mean,
                        const float *rstd, int64_t N, int64_t C, int64_t HW, int64_t bn_group, int64_t gn_groups)
{
    for (int64_t c = 0; c < C; c++)
        for (int64_t n = 0; n < N; n++) {
            int64_t st = bn_group ? (n / bn_group) * C + c : n * gn_groups + c / (C / gn_groups);
            for (int64_t h = 0; h < HW; h++) {
                int64_t at = (n * C + c) * HW + h;
                dgamma[c] = fmaf(dy[at], (x[at] - mean[st]) * rstd[st], dgamma[c]);
                dbeta[c] = dbeta[c] + dy[at];
            }
        }
}

/* Gathers the positions and channels of batch-norm group g, channel c
 * (sample ascending, then hw), or of group-norm sample n, group g. */
static int64_t bn_positions(int64_t *pos, int64_t *ch, int64_t g, int64_t c, int64_t C, int64_t HW, int64_t group)
{
    int64_t cnt = 0;
    for (int64_t k = 0; k < group; k++)
        for (int64_t h = 0; h < HW; h++) {
            pos[cnt] = ((g * group + k) * C + c) * HW + h;
            ch[cnt++] = c;
        }
    return cnt;
}

static int64_t gn_positions(int64_t *pos, int64_t *ch, int64_t n, int64_t g, int64_t C, int64_t HW, int64_t groups)
{
    int64_t cg = C / groups, cnt = 0;
    for (int64_t q = 0; q < cg; q++)
        for (int64_t h = 0; h < HW; h++) {
            pos[cnt] = (n * C + g * cg + q) * HW + h;
            ch[cnt++] = g * cg + q;
        }
    return cnt;
}

typedef struct spec_out {
    float *y, *mean, *rstd, *rm, *rv, *dx, *dg, *db;
} spec_out;

/* The whole contract for one shape: batch norm (bn_group > 0) or group norm. */
static void spec_run(spec_out *o, const float *x, const float *dy, const float *gamma, const float *beta,
                     int64_t N, int64_t C, int64_t HW, int64_t bn_group, int64_t gn_groups, float eps, float momentum)
{
    int64_t P = bn_group ? (N / bn_group) * C : N * gn_groups; /* groups of statistics */
    int64_t maxcnt = bn_group ? bn_group * HW : (C / gn_groups) * HW;
    int64_t *pos = malloc((size_t)maxcnt * sizeof *pos), *ch = malloc((size_t)maxcnt * sizeof *ch);
    float *e = alloc(maxcnt), *d = alloc(maxcnt);
    for (int64_t t = 0; t < P; t++) {
        int64_t a = bn_group ? t / C : t / gn_groups, b = bn_group ? t % C : t % gn_groups;
        int64_t cnt = bn_group ? bn_positions(pos, ch, a, b, C, HW, bn_group) : gn_positions(pos, ch, a, b, C, HW, gn_groups);
        for (int64_t i = 0; i < cnt; i++) {
            e[i] = x[pos[i]];
            d[i] = dy[pos[i]];
        }
        float var;
        spec_group_forward(o->y, e, pos, ch, cnt, gamma, beta, eps, &o->mean[t], &var, &o->rstd[t]);
        if (bn_group && o->rm) { /* t ascending is g ascending for each c */
            float unbiased = var * ((float)cnt / (float)(cnt - 1));
            float a1 = (1.0f - momentum) * o->rm[b], a2 = momentum * o->mean[t];
            o->rm[b] = a1 + a2;
            float v1 = (1.0f - momentum) * o->rv[b], v2 = momentum * unbiased;
            o->rv[b] = v1 + v2;
        }
        spec_group_dx(o->dx, e, d, pos, ch, cnt, o->mean[t], o->rstd[t], gamma);
    }
    spec_params(o->dg, o->db, dy, x, o->mean, o->rstd, N, C, HW, bn_group, gn_groups);
    free(pos), free(ch), free(e), free(d);
}

/* ---- batch norm and group norm: spec == _ref == threaded ---- */

typedef struct norm_case {
    int64_t N, C, HW;
} norm_case;

static const norm_case shapes[] = {
    {1, 1, 25},  {1, 3, 196}, {2, 7, 1},   {2, 1, 784},  {5, 33, 25}, {5, 7, 1},   {8, 64, 1},
    {8, 3, 784}, {8, 33, 25}, {128, 7, 1}, {128, 3, 25}, {5, 64, 196}, {128, 64, 196},
};

/* One batch-norm case; returns nothing, CHECKs everything. */
static void check_batchnorm(int64_t N, int64_t C, int64_t HW, int64_t group, int with_specials)
{
    int64_t n = N * C * HW, G = N / group;
    const float eps = 1e-5f, mom = 0.1f;
    float *x = alloc(n), *dy = alloc(n), *gamma = alloc(C), *beta = alloc(C), *rm0 = alloc(C), *rv0 = alloc(C);
    float *dg0 = alloc(C), *db0 = alloc(C);
    fill(x, n, -3.0f, 5.0f, with_specials);
    fill(dy, n, -1.0f, 1.0f, with_specials);
    fill(gamma, C, 0.5f, 1.5f, 0);
    fill(beta, C, -0.5f, 0.5f, 0);
    fill(rm0, C, -1.0f, 1.0f, 0);
    fill(rv0, C, 0.5f, 2.0f, 0);
    fill(dg0, C, -0.1f, 0.1f, 0);
    fill(db0, C, -0.1f, 0.1f, 0);

    spec_out s = {alloc(n), alloc(G * C), alloc(G * C), copy_of(rm0, C), copy_of(rv0, C), alloc(n), copy_of(dg0, C),
                  copy_of(db0, C)};
    spec_run(&s, x, dy, gamma, beta, N, C, HW, group, 0, eps, mom);

    float *y = alloc(n), *mean = alloc(G * C), *rstd = alloc(G * C), *rm = copy_of(rm0, C), *rv = copy_of(rv0, C);
    float *dx = alloc(n), *dg = copy_of(dg0, C), *db = copy_of(db0, C);
    char what[96];
    snprintf(what, sizeof what, "batch norm N=%lld C=%lld HW=%lld group=%lld%s", (long long)N, (long long)C,
             (long long)HW, (long long)group, with_specials ? " specials" : "");
    CHECK(repro_batchnorm_forward_train_ref(y, mean, rstd, rm, rv, NULL, x, gamma, beta, N, C, HW, group, eps, mom,
                                            NULL) == REPRO_OK);
    CHECK(repro_batchnorm_backward_ref(dx, dg, db, dy, x, mean, rstd, gamma, N, C, HW, group, NULL) == REPRO_OK);
    CHECK_MSG(SPEC(y, s.y, n) && SPEC(mean, s.mean, G * C) && SPEC(rstd, s.rstd, G * C) && SPEC(rm, s.rm, C) &&
                  SPEC(rv, s.rv, C),
              "%s: _ref forward vs spec", what);
    CHECK_MSG(SPEC(dx, s.dx, n) && SPEC(dg, s.dg, C) && SPEC(db, s.db, C), "%s: _ref backward vs spec", what);

    float *ye = alloc(n), *ye_ref = alloc(n);
    CHECK(repro_batchnorm_forward_eval_ref(ye_ref, x, gamma, beta, rm0, rv0, N, C, HW, eps, NULL) == REPRO_OK);
    int ok = 1;
    for (int64_t i = 0; i < n; i++) {
        int64_t c = (i / HW) % C;
        float r = 1.0f / repro_sqrtf(rv0[c] + eps);
        ok &= same_float(ye_ref[i], ((x[i] - rm0[c]) * r) * gamma[c] + beta[c]) || (isnan(ye_ref[i]) && isnan(x[i]));
    }
    CHECK_MSG(ok, "%s: eval _ref vs spec", what);

    for (int p = 0; p < NPOOLS; p++)
        for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) { /* sums and dgamma, dbeta on each path's code */
            if (!repro_isa_supported(isas[i]))
                continue;
            repro_cpu cpu = {isas[i], cpus[p].pool};
            memcpy(rm, rm0, (size_t)C * 4);
            memcpy(rv, rv0, (size_t)C * 4);
            memcpy(dg, dg0, (size_t)C * 4);
            memcpy(db, db0, (size_t)C * 4);
            CHECK(repro_batchnorm_forward_train(&cpu, y, mean, rstd, rm, rv, NULL, x, gamma, beta, N, C, HW, group, eps,
                                                mom, NULL) == REPRO_OK);
            CHECK_MSG(SPEC(y, s.y, n) && SPEC(mean, s.mean, G * C) && SPEC(rstd, s.rstd, G * C) && SPEC(rm, s.rm, C) &&
                          SPEC(rv, s.rv, C),
                      "%s: forward pool=%d isa=%s", what, p, repro_isa_name(isas[i]));
            CHECK(repro_batchnorm_backward(&cpu, dx, dg, db, dy, x, mean, rstd, gamma, N, C, HW, group, NULL) ==
                  REPRO_OK);
            CHECK_MSG(SPEC(dx, s.dx, n) && SPEC(dg, s.dg, C) && SPEC(db, s.db, C), "%s: backward pool=%d isa=%s", what,
                      p, repro_isa_name(isas[i]));
            CHECK(repro_batchnorm_forward_eval(&cpu, ye, x, gamma, beta, rm0, rv0, N, C, HW, eps, NULL) == REPRO_OK);
            CHECK_MSG(BITS(ye, ye_ref, n), "%s: eval pool=%d isa=%s", what, p, repro_isa_name(isas[i]));
        }
    /* no running statistics: the same y, mean, rstd */
    CHECK(repro_batchnorm_forward_train(&cpus[2], y, mean, rstd, NULL, NULL, NULL, x, gamma, beta, N, C, HW, group, eps,
                                        mom, NULL) == REPRO_OK);
    CHECK_MSG(SPEC(y, s.y, n) && SPEC(mean, s.mean, G * C) && SPEC(rstd, s.rstd, G * C), "%s: no running stats",
              what);
    free(x), free(dy), free(gamma), free(beta), free(rm0), free(rv0), free(dg0), free(db0);
    free(s.y), free(s.mean), free(s.rstd), free(s.rm), free(s.rv), free(s.dx), free(s.dg), free(s.db);
    free(y), free(mean), free(rstd), free(rm), free(rv), free(dx), free(dg), free(db), free(ye), free(ye_ref);
}

static void check_groupnorm(int64_t N, int64_t C, int64_t HW, int64_t groups, int with_specials)
{
    int64_t n = N * C * HW, P = N * groups;
    const float eps = 1e-5f;
    float *x = alloc(n), *dy = alloc(n), *gamma = alloc(C), *beta = alloc(C), *dg0 = alloc(C), *db0 = alloc(C);
    fill(x, n, -3.0f, 5.0f, with_specials);
    fill(dy, n, -1.0f, 1.0f, with_specials);
    fill(gamma, C, 0.5f, 1.5f, 0);
    fill(beta, C, -0.5f, 0.5f, 0);
    fill(dg0, C, -0.1f, 0.1f, 0);
    fill(db0, C, -0.1f, 0.1f, 0);
    spec_out s = {alloc(n), alloc(P), alloc(P), NULL, NULL, alloc(n), copy_of(dg0, C), copy_of(db0, C)};
    spec_run(&s, x, dy, gamma, beta, N, C, HW, 0, groups, eps, 0.0f);

    float *y = alloc(n), *mean = alloc(P), *rstd = alloc(P), *dx = alloc(n), *dg = copy_of(dg0, C),
          *db = copy_of(db0, C);
    char what[96];
    snprintf(what, sizeof what, "group norm N=%lld C=%lld HW=%lld groups=%lld%s", (long long)N, (long long)C,
             (long long)HW, (long long)groups, with_specials ? " specials" : "");
    CHECK(repro_groupnorm_forward_ref(y, mean, rstd, x, gamma, beta, N, C, HW, groups, eps, NULL) == REPRO_OK);
    CHECK(repro_groupnorm_backward_ref(dx, dg, db, dy, x, mean, rstd, gamma, N, C, HW, groups, NULL) == REPRO_OK);
    CHECK_MSG(SPEC(y, s.y, n) && SPEC(mean, s.mean, P) && SPEC(rstd, s.rstd, P), "%s: _ref forward vs spec", what);
    CHECK_MSG(SPEC(dx, s.dx, n) && SPEC(dg, s.dg, C) && SPEC(db, s.db, C), "%s: _ref backward vs spec", what);
    for (int p = 0; p < NPOOLS; p++)
        for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
            if (!repro_isa_supported(isas[i]))
                continue;
            repro_cpu cpu = {isas[i], cpus[p].pool};
            memcpy(dg, dg0, (size_t)C * 4);
            memcpy(db, db0, (size_t)C * 4);
            CHECK(repro_groupnorm_forward(&cpu, y, mean, rstd, x, gamma, beta, N, C, HW, groups, eps, NULL) ==
                  REPRO_OK);
            CHECK_MSG(SPEC(y, s.y, n) && SPEC(mean, s.mean, P) && SPEC(rstd, s.rstd, P), "%s: forward pool=%d isa=%s",
                      what, p, repro_isa_name(isas[i]));
            CHECK(repro_groupnorm_backward(&cpu, dx, dg, db, dy, x, mean, rstd, gamma, N, C, HW, groups, NULL) ==
                  REPRO_OK);
            CHECK_MSG(SPEC(dx, s.dx, n) && SPEC(dg, s.dg, C) && SPEC(db, s.db, C), "%s: backward pool=%d isa=%s", what,
                      p, repro_isa_name(isas[i]));
        }
    free(x), free(dy), free(gamma), free(beta), free(dg0), free(db0);
    free(s.y), free(s.mean), free(s.rstd), free(s.dx), free(s.dg), free(s.db);
    free(y), free(mean), free(rstd), free(dx), free(dg), free(db);
}

static void test_shapes(void)
{
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int64_t N = shapes[k].N, C = shapes[k].C, HW = shapes[k].HW;
        int big = N * C * HW > 200000; /* the largest shape once, without specials */
        /* batch-norm groups: 1 (HW >= 2), 2, a middle divisor, N */
        const int64_t bn_try[] = {1, 2, N > 4 && N % 4 == 0 ? N / 4 : 0, N};
        for (size_t j = 0; j < 4; j++) {
            int64_t grp = bn_try[j];
            if (grp < 1 || N % grp != 0 || grp * HW < 2 || (j == 3 && grp <= 2) || (big && j != 3))
                continue;
            check_batchnorm(N, C, HW, grp, 0);
            if (!big)
                check_batchnorm(N, C, HW, grp, 1);
        }
        /* group-norm groups: 1, a middle divisor, C */
        int64_t mid = 0;
        for (int64_t d = 2; d < C && !mid; d++)
            if (C % d == 0 && d * d >= C)
                mid = d;
        const int64_t gn_try[] = {1, mid, C};
        for (size_t j = 0; j < 3; j++) {
            int64_t groups = gn_try[j];
            if (groups < 1 || (j == 2 && C == 1) || (big && j != 1 && C > 1))
                continue;
            check_groupnorm(N, C, HW, groups, 0);
            if (!big)
                check_groupnorm(N, C, HW, groups, 1);
        }
    }
}

/* ---- the groups' statistics, logged instead of applied ----
 * What a data-parallel step sends (train/bn_world.h): each group's mean and
 * unbiased variance rows, the same from the threaded kernel and its _ref,
 * and replayed with the running update in group order they give the bits
 * of the kernel's own update; logging changes no output. */
static void test_group_stats(void)
{
    enum { N = 12, C = 3, HW = 5, GROUP = 3, G = N / GROUP, NE = N * C * HW };
    static float x[NE], gamma[C], beta[C], y1[NE], y2[NE], mean1[G * C], mean2[G * C], rstd1[G * C], rstd2[G * C];
    static float stats[G * 2 * C], stats_ref[G * 2 * C], rm1[C], rv1[C], rm2[C], rv2[C];
    fill(x, NE, -2.0f, 3.0f, 0);
    fill(gamma, C, 0.5f, 1.5f, 0);
    fill(beta, C, -0.5f, 0.5f, 0);
    fill(rm1, C, -1.0f, 1.0f, 0);
    fill(rv1, C, 0.5f, 2.0f, 0);
    memcpy(rm2, rm1, sizeof rm1), memcpy(rv2, rv1, sizeof rv1);
    const float mom = 0.3f;
    CHECK(repro_batchnorm_forward_train(&cpus[3], y1, mean1, rstd1, rm1, rv1, NULL, x, gamma, beta, N, C, HW, GROUP,
                                        1e-5f, mom, NULL) == REPRO_OK);
    CHECK(repro_batchnorm_forward_train(&cpus[2], y2, mean2, rstd2, NULL, NULL, stats, x, gamma, beta, N, C, HW,
                                        GROUP, 1e-5f, mom, NULL) == REPRO_OK);
    CHECK(BITS(y2, y1, NE) && BITS(mean2, mean1, G * C) && BITS(rstd2, rstd1, G * C));
    CHECK(repro_batchnorm_forward_train_ref(y2, mean2, rstd2, NULL, NULL, stats_ref, x, gamma, beta, N, C, HW, GROUP,
                                            1e-5f, mom, NULL) == REPRO_OK);
    CHECK(BITS(stats_ref, stats, G * 2 * C));
    for (int64_t g = 0; g < G; g++) {
        CHECK(BITS(stats + 2 * g * C, mean1 + g * C, C)); /* row 2g: the means */
        for (int64_t c = 0; c < C; c++) {
            rm2[c] = repro_batchnorm_running(rm2[c], stats[2 * g * C + c], mom);
            rv2[c] = repro_batchnorm_running(rv2[c], stats[(2 * g + 1) * C + c], mom);
        }
    }
    CHECK(BITS(rm2, rm1, C) && BITS(rv2, rv1, C));
}

/* ---- micro-batches of whole groups ---- */

static void test_micro_batches(void)
{
    enum { N = 8, C = 3, HW = 25, GROUP = 2, G = N / GROUP, NE = N * C * HW };
    static float x[NE], dy[NE], gamma[C], beta[C];
    static float y1[NE], mean1[G * C], rstd1[G * C], rm1[C], rv1[C], dx1[NE], dg1[C], db1[C];
    static float y2[NE], mean2[G * C], rstd2[G * C], rm2[C], rv2[C], dx2[NE], dg2[C], db2[C];
    fill(x, NE, -2.0f, 3.0f, 0);
    fill(dy, NE, -1.0f, 1.0f, 0);
    fill(gamma, C, 0.5f, 1.5f, 0);
    fill(beta, C, -0.5f, 0.5f, 0);
    fill(rm1, C, -1.0f, 1.0f, 0);
    fill(rv1, C, 0.5f, 2.0f, 0);
    fill(dg1, C, -0.1f, 0.1f, 0);
    fill(db1, C, -0.1f, 0.1f, 0);
    memcpy(rm2, rm1, sizeof rm1), memcpy(rv2, rv1, sizeof rv1), memcpy(dg2, dg1, sizeof dg1), memcpy(db2, db1, sizeof db1);
    float rm_init[C], rv_init[C];
    memcpy(rm_init, rm1, sizeof rm1), memcpy(rv_init, rv1, sizeof rv1);
    CHECK(repro_batchnorm_forward_train(&cpus[3], y1, mean1, rstd1, rm1, rv1, NULL, x, gamma, beta, N, C, HW, GROUP,
                                        1e-5f, 0.1f, NULL) == REPRO_OK);
    CHECK(repro_batchnorm_backward(&cpus[3], dx1, dg1, db1, dy, x, mean1, rstd1, gamma, N, C, HW, GROUP, NULL) ==
          REPRO_OK);
    /* samples [0, 2) then [2, 8): one group, then three */
    const int64_t cut = 2, off = cut * C * HW, goff = (cut / GROUP) * C;
    CHECK(repro_batchnorm_forward_train(&cpus[2], y2, mean2, rstd2, rm2, rv2, NULL, x, gamma, beta, cut, C, HW, GROUP,
                                        1e-5f, 0.1f, NULL) == REPRO_OK);
    CHECK(repro_batchnorm_forward_train(&cpus[1], y2 + off, mean2 + goff, rstd2 + goff, rm2, rv2, NULL, x + off, gamma,
                                        beta, N - cut, C, HW, GROUP, 1e-5f, 0.1f, NULL) == REPRO_OK);
    CHECK(repro_batchnorm_backward(&cpus[4], dx2, dg2, db2, dy, x, mean2, rstd2, gamma, cut, C, HW, GROUP, NULL) ==
          REPRO_OK);
    CHECK(repro_batchnorm_backward(&cpus[0], dx2 + off, dg2, db2, dy + off, x + off, mean2 + goff, rstd2 + goff, gamma,
                                   N - cut, C, HW, GROUP, NULL) == REPRO_OK);
    CHECK(BITS(y2, y1, NE) && BITS(mean2, mean1, G * C) && BITS(rstd2, rstd1, G * C));
    CHECK(BITS(rm2, rm1, C) && BITS(rv2, rv1, C));
    CHECK(BITS(dx2, dx1, NE) && BITS(dg2, dg1, C) && BITS(db2, db1, C));
    /* the running statistics moved (the check above is not vacuous) */
    CHECK(memcmp(rm1, rm_init, sizeof rm1) != 0 && memcmp(rv1, rv_init, sizeof rv1) != 0);

    /* group norm: samples [0, 3) then [3, 5) */
    enum { GN = 5, GC = 6, GHW = 7, GG = 3, GNE = GN * GC * GHW };
    static float gx[GNE], gdy[GNE], gg[GC], gb[GC], gy1[GNE], gy2[GNE], gm1[GN * GG], gm2[GN * GG], gr1[GN * GG],
        gr2[GN * GG], gdx1[GNE], gdx2[GNE], gdg1[GC], gdg2[GC], gdb1[GC], gdb2[GC];
    fill(gx, GNE, -2.0f, 3.0f, 0);
    fill(gdy, GNE, -1.0f, 1.0f, 0);
    fill(gg, GC, 0.5f, 1.5f, 0);
    fill(gb, GC, -0.5f, 0.5f, 0);
    fill(gdg1, GC, -0.1f, 0.1f, 0);
    fill(gdb1, GC, -0.1f, 0.1f, 0);
    memcpy(gdg2, gdg1, sizeof gdg1), memcpy(gdb2, gdb1, sizeof gdb1);
    CHECK(repro_groupnorm_forward(&cpus[3], gy1, gm1, gr1, gx, gg, gb, GN, GC, GHW, GG, 1e-5f, NULL) == REPRO_OK);
    CHECK(repro_groupnorm_backward(&cpus[3], gdx1, gdg1, gdb1, gdy, gx, gm1, gr1, gg, GN, GC, GHW, GG, NULL) ==
          REPRO_OK);
    const int64_t gcut = 3, goffs = gcut * GC * GHW;
    CHECK(repro_groupnorm_forward(&cpus[1], gy2, gm2, gr2, gx, gg, gb, gcut, GC, GHW, GG, 1e-5f, NULL) == REPRO_OK);
    CHECK(repro_groupnorm_forward(&cpus[4], gy2 + goffs, gm2 + gcut * GG, gr2 + gcut * GG, gx + goffs, gg, gb, GN - gcut,
                                  GC, GHW, GG, 1e-5f, NULL) == REPRO_OK);
    CHECK(repro_groupnorm_backward(&cpus[2], gdx2, gdg2, gdb2, gdy, gx, gm2, gr2, gg, gcut, GC, GHW, GG, NULL) ==
          REPRO_OK);
    CHECK(repro_groupnorm_backward(&cpus[0], gdx2 + goffs, gdg2, gdb2, gdy + goffs, gx + goffs, gm2 + gcut * GG,
                                   gr2 + gcut * GG, gg, GN - gcut, GC, GHW, GG, NULL) == REPRO_OK);
    CHECK(BITS(gy2, gy1, GNE) && BITS(gm2, gm1, GN * GG) && BITS(gr2, gr1, GN * GG));
    CHECK(BITS(gdx2, gdx1, GNE) && BITS(gdg2, gdg1, GC) && BITS(gdb2, gdb1, GC));
}

/* ---- known answers ---- */

static void test_known_answers(void)
{
    /* Batch norm, N = 2, C = 1, HW = 2, one group: x = 1 2 3 4, mean 2.5,
     * var 1.25 (biased), unbiased 1.25 * (4 / 3). */
    float x[4] = {1, 2, 3, 4}, g1 = 2.0f, b1 = 0.5f, y[4], mean, rstd, rm = 0.0f, rv = 1.0f;
    CHECK(repro_batchnorm_forward_train(&cpus[2], y, &mean, &rstd, &rm, &rv, NULL, x, &g1, &b1, 2, 1, 2, 2, 0.0f, 0.1f,
                                        NULL) == REPRO_OK);
    CHECK(mean == 2.5f && same_float(rstd, 1.0f / repro_sqrtf(1.25f)));
    CHECK(same_float(y[0], ((1.0f - 2.5f) * rstd) * 2.0f + 0.5f));
    CHECK(fabsf(y[3] - (1.5f / sqrtf(1.25f) * 2.0f + 0.5f)) < 1e-6f);
    CHECK(same_float(rm, 0.9f * 0.0f + 0.1f * 2.5f));
    float unbiased = 1.25f * (4.0f / 3.0f);
    float v1 = (1.0f - 0.1f) * 1.0f, v2 = 0.1f * unbiased;
    CHECK(same_float(rv, v1 + v2));
    CHECK(fabsf(rv - (0.9f + 0.1f * 5.0f / 3.0f)) < 1e-6f);
    /* no fmaf in the running update: (1 - m) * r + m * s rounds each product */
    float r0 = 1.0f + 0x1p-20f, m = 0.3f, s0 = 3.0f + 0x1p-21f;
    CHECK(same_float(repro_batchnorm_running(r0, s0, m), (1.0f - m) * r0 + m * s0));

    /* Two groups of one sample each on [N][C] = [2][2] x HW 2: each group
     * is normalised on its own. */
    float x2[8] = {0, 2, 10, 30, /* sample 1: */ 5, 5, -1, 1}, gam[2] = {1, 1}, bet[2] = {0, 0}, y2[8], m2[4], r2[4];
    CHECK(repro_batchnorm_forward_train_ref(y2, m2, r2, NULL, NULL, NULL, x2, gam, bet, 2, 2, 2, 1, 0.0f, 0.1f, NULL) ==
          REPRO_OK);
    CHECK(m2[0] == 1.0f && m2[1] == 20.0f && m2[2] == 5.0f && m2[3] == 0.0f);
    CHECK(y2[0] == -1.0f && y2[1] == 1.0f && y2[2] == -1.0f && y2[3] == 1.0f && y2[6] == -1.0f && y2[7] == 1.0f);
    CHECK(isinf(r2[2]) && isnan(y2[4])); /* a constant group with eps 0: (0 * inf) */

    /* The canonical order across samples: channel 0 of 5 samples x 1024
     * values holds 2^-24 2^-24 1 2^-25 2^-25 at the start of each sample
     * (zeros elsewhere), so its 5 blocks sum by the tree
     * ((b0 + b1) + b2) + (b3 + b4) = 1 + 2^-22; left to right would give
     * 1 + 2^-23. Channel 1 is zero. */
    enum { KN = 5, KC = 2, KHW = 1024 };
    float *kx = calloc(KN * KC * KHW, sizeof *kx), *ky = alloc(KN * KC * KHW), km[KC], kr[KC];
    const float firsts[KN] = {0x1p-24f, 0x1p-24f, 1.0f, 0x1p-25f, 0x1p-25f};
    for (int n = 0; n < KN; n++)
        kx[n * KC * KHW] = firsts[n];
    float kg[KC] = {1, 1}, kb[KC] = {0, 0};
    for (int p = 0; p < NPOOLS; p++) {
        CHECK(repro_batchnorm_forward_train(&cpus[p], ky, km, kr, NULL, NULL, NULL, kx, kg, kb, KN, KC, KHW, KN, 1e-5f,
                                            0.1f, NULL) == REPRO_OK);
        CHECK(same_float(km[0], (1.0f + 0x1p-22f) / 5120.0f));
        CHECK(same_float(km[1], 0.0f));
    }
    free(kx), free(ky);

    /* Group norm: [1][4][1] in 2 groups = two rows [1 3] and [10 20]. */
    float gx[4] = {1, 3, 10, 20}, gg[4] = {1, 2, 1, 1}, gb[4] = {0, 1, 0, 0}, gy[4], gm[2], gr[2];
    CHECK(repro_groupnorm_forward(&cpus[1], gy, gm, gr, gx, gg, gb, 1, 4, 1, 2, 0.0f, NULL) == REPRO_OK);
    CHECK(gm[0] == 2.0f && gm[1] == 15.0f && gr[0] == 1.0f && gr[1] == 0.2f);
    CHECK(gy[0] == -1.0f && gy[1] == 3.0f && gy[2] == -1.0f && gy[3] == 1.0f);

    /* Batch-norm eval: running stats mean 1, var 4 - eps -> rstd 1/2. */
    float ex[3] = {1, 3, -1}, ey[3], erm = 1.0f, erv = 4.0f, eg = 3.0f, eb = 1.0f;
    CHECK(repro_batchnorm_forward_eval(&cpus[3], ey, ex, &eg, &eb, &erm, &erv, 3, 1, 1, 0.0f, NULL) == REPRO_OK);
    CHECK(ey[0] == 1.0f && ey[1] == 4.0f && ey[2] == -2.0f);

    /* Backward of a sum: dy = 1 everywhere, gamma 1 -> dx = 0, dbeta = count. */
    float bdy[4] = {1, 1, 1, 1}, bdx[4], bdg = 0.0f, bdb = 0.0f, bm = 2.5f, br = 1.0f / repro_sqrtf(1.25f), one = 1.0f;
    CHECK(repro_batchnorm_backward(&cpus[2], bdx, &bdg, &bdb, bdy, x, &bm, &br, &one, 2, 1, 2, 2, NULL) == REPRO_OK);
    CHECK(bdb == 4.0f && fabsf(bdg) < 1e-6f);
    CHECK(bdx[0] == 0.0f && bdx[1] == 0.0f && bdx[2] == 0.0f && bdx[3] == 0.0f);
}

/* ---- errors ---- */

static void test_errors(void)
{
    float buf[64], m[8], r[8], rm[8], rv[8], g[8], b[8];
    for (int i = 0; i < 64; i++)
        buf[i] = (float)i;
    for (int i = 0; i < 8; i++)
        g[i] = b[i] = rm[i] = rv[i] = 1.0f;
    repro_error err;
    float y[64];
    memset(y, 0x5a, sizeof y);
    float y0[64];
    memcpy(y0, y, sizeof y);

    CHECK(repro_batchnorm_forward_train(&cpus[2], y, m, r, rm, rv, NULL, buf, g, b, 8, 1, 2, 3, 1e-5f, 0.1f, &err) ==
          REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "batch-norm group 3 does not divide the micro-batch of 8 samples");
    CHECK(BITS(y, y0, 64));
    CHECK(repro_batchnorm_forward_train_ref(y, m, r, rm, rv, NULL, buf, g, b, 8, 1, 2, 3, 1e-5f, 0.1f, &err) ==
          REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "batch-norm group 3 does not divide the micro-batch of 8 samples");
    CHECK(repro_batchnorm_backward(&cpus[1], y, g, b, buf, buf, m, r, g, 8, 1, 2, 3, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "batch-norm group 3 does not divide the micro-batch of 8 samples");
    CHECK(repro_batchnorm_backward_ref(y, g, b, buf, buf, m, r, g, 8, 1, 2, 3, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "does not divide");
    CHECK(BITS(y, y0, 64));

    /* one value per channel and group: no unbiased variance */
    CHECK(repro_batchnorm_forward_train(&cpus[0], y, m, r, rm, rv, NULL, buf, g, b, 4, 2, 1, 1, 1e-5f, 0.1f, &err) ==
          REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "batch-norm group of 1 sample(s) x HW=1 has 1 value(s) per channel");
    CHECK(repro_batchnorm_forward_train(&cpus[0], y, m, r, rm, rv, NULL, buf, g, b, 4, 2, 1, 0, 1e-5f, 0.1f, &err) ==
          REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "batch-norm group 0 must be at least 1");
    CHECK(repro_batchnorm_forward_train(&cpus[0], y, m, r, rm, rv, NULL, buf, g, b, 0, 2, 1, 1, 1e-5f, 0.1f, &err) ==
          REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "batch-norm shape N=0 C=2 HW=1: every dimension must be at least 1");
    CHECK(repro_batchnorm_forward_train(&cpus[0], y, m, r, rm, NULL, NULL, buf, g, b, 4, 2, 1, 2, 1e-5f, 0.1f, &err) ==
          REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "running_mean is set but running_var is NULL");
    CHECK(repro_batchnorm_forward_eval(&cpus[3], y, buf, g, b, rm, rv, 2, -1, 4, 1e-5f, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "batch-norm shape N=2 C=-1 HW=4");
    CHECK(repro_batchnorm_forward_eval_ref(y, buf, g, b, rm, rv, 2, 3, 0, 1e-5f, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "HW=0");
    CHECK(BITS(y, y0, 64));

    CHECK(repro_groupnorm_forward(&cpus[2], y, m, r, buf, g, b, 2, 8, 2, 3, 1e-5f, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "group-norm groups 3 do not divide the 8 channels");
    CHECK(repro_groupnorm_forward_ref(y, m, r, buf, g, b, 2, 8, 2, 3, 1e-5f, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "group-norm groups 3 do not divide the 8 channels");
    CHECK(repro_groupnorm_backward(&cpus[4], y, g, b, buf, buf, m, r, g, 2, 8, 2, 3, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "group-norm groups 3 do not divide the 8 channels");
    CHECK(repro_groupnorm_backward_ref(y, g, b, buf, buf, m, r, g, 2, 8, 2, 0, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "group-norm groups 0 must be at least 1");
    CHECK(repro_groupnorm_forward(&cpus[2], y, m, r, buf, g, b, 2, 0, 2, 1, 1e-5f, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "group-norm shape N=2 C=0 HW=2");
    CHECK(BITS(y, y0, 64));
    /* dgamma/dbeta untouched by a refused backward */
    CHECK(g[0] == 1.0f && b[7] == 1.0f);
}

/* ---- SiLU ---- */

static void test_silu(void)
{
    const int64_t sizes[] = {0, 1, 7, 255, 257, 4097, 40000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int64_t n = sizes[k];
        float *x = alloc(n), *dy = alloc(n), *y_ref = alloc(n), *dx_ref = alloc(n), *out = alloc(n);
        for (int64_t i = 0; i < n; i++)
            x[i] = i % 13 == 5 ? specials[rand_u32() % NSPECIALS] : rand_range(-20.0f, 20.0f);
        fill(dy, n, -2.0f, 2.0f, 1);
        repro_act_forward_ref(REPRO_ACT_SILU, y_ref, x, n);
        repro_act_backward_ref(REPRO_ACT_SILU, dx_ref, dy, x, n);
        int ok = 1;
        for (int64_t i = 0; i < n; i++) {
            float s = repro_sigmoidf(x[i]);
            ok &= same_float(y_ref[i], x[i] * s) || (isnan(y_ref[i]) && isnan(x[i] * s));
            float d = dy[i] * (s * (1.0f + x[i] * (1.0f - s)));
            ok &= same_float(dx_ref[i], d) || (isnan(dx_ref[i]) && isnan(d));
        }
        CHECK_MSG(ok, "silu _ref vs formula n=%lld", (long long)n);
        for (int p = 0; p < NPOOLS; p++) {
            CHECK(repro_act_forward(&cpus[p], REPRO_ACT_SILU, out, x, n, NULL) == REPRO_OK);
            CHECK_MSG(BITS(out, y_ref, n), "silu forward n=%lld pool=%d", (long long)n, p);
            CHECK(repro_act_backward(&cpus[p], REPRO_ACT_SILU, out, dy, x, n, NULL) == REPRO_OK);
            CHECK_MSG(BITS(out, dx_ref, n), "silu backward n=%lld pool=%d", (long long)n, p);
        }
        memcpy(out, x, (size_t)n * 4); /* in place */
        CHECK(repro_act_forward(&cpus[3], REPRO_ACT_SILU, out, out, n, NULL) == REPRO_OK);
        CHECK_MSG(BITS(out, y_ref, n), "silu forward in place n=%lld", (long long)n);
        memcpy(out, dy, (size_t)n * 4);
        CHECK(repro_act_backward(&cpus[3], REPRO_ACT_SILU, out, out, x, n, NULL) == REPRO_OK);
        CHECK_MSG(BITS(out, dx_ref, n), "silu backward in place n=%lld", (long long)n);
        free(x), free(dy), free(y_ref), free(dx_ref), free(out);
    }
    /* known answers and tails */
    float x[8] = {0.0f, 1.0f, -1.0f, 50.0f, -200.0f, INFINITY, -INFINITY, NAN}, y[8], dx[8];
    float ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    repro_act_forward_ref(REPRO_ACT_SILU, y, x, 8);
    repro_act_backward_ref(REPRO_ACT_SILU, dx, ones, x, 8);
    CHECK(same_float(y[0], 0.0f) && dx[0] == 0.5f);                  /* s(0) = 1/2 */
    CHECK(same_float(y[1], repro_sigmoidf(1.0f)) && fabsf(y[1] - 0.7310586f) < 1e-6f);
    CHECK(same_float(y[2], -repro_sigmoidf(-1.0f)) && fabsf(y[2] + 0.2689414f) < 1e-6f);
    CHECK(fabsf(dx[1] - 0.9276705f) < 1e-6f && fabsf(dx[2] - 0.0723295f) < 1e-6f);
    CHECK(y[3] == 50.0f && dx[3] == 1.0f);                           /* s = 1 */
    CHECK(same_float(y[4], -0.0f) && dx[4] == 0.0f);                 /* s = +0 */
    CHECK(y[5] == INFINITY && isnan(dx[5]) && isnan(y[6]) && isnan(y[7]) && isnan(dx[7]));
}

int main(void)
{
    repro_pool *pools[NPOOLS] = {NULL};
    cpus[0].isa = REPRO_ISA_SCALAR;
    cpus[0].pool = NULL;
    for (int t = 1; t < NPOOLS; t++) {
        repro_error err;
        CHECK(repro_pool_create(t, &pools[t], &err) == REPRO_OK);
        cpus[t].isa = REPRO_ISA_SCALAR;
        cpus[t].pool = pools[t];
    }
    test_segmented_sum();
    test_shapes();
    test_micro_batches();
    test_group_stats();
    test_known_answers();
    test_errors();
    test_silu();
    for (int t = 1; t < NPOOLS; t++)
        repro_pool_destroy(pools[t]);
    return test_finish("test_norm");
}
