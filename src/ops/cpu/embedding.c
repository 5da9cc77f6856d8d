/* Token embedding and the LM loss on the CPU: embedding.h's orders. */
#include "ops/cpu/embedding.h"

#include <inttypes.h>
#include <string.h>

#include "ops/ops_math.h"
#include "ops/token_math.h"
#include "ops/cpu/xent_simd.h"

/* Ids come from data files and prompts: refuse a bad one before anything is
 * written. A position holding `ignore` (an LM target the head ignores; < 0:
 * none) is not a token and is not checked. */
static repro_status check_ids(const char *what, const float *ids, int64_t N, int64_t V, int64_t ignore,
                              repro_error *err)
{
    if (V < 1 || V > 16777216)
        return repro_fail(err, REPRO_ERR_ARG, "%s: %" PRId64 " tokens; the vocabulary holds 1 to 2^24", what, V);
    for (int64_t p = 0; p < N; p++)
        if (!repro_token_ignored(ids[p], ignore) && repro_token_id(ids[p], V) < 0)
            return repro_fail(err, REPRO_ERR_ARG, "%s: position %" PRId64 " holds %.9g, not a token id in [0, %" PRId64
                              ")", what, p, (double)ids[p], V);
    return REPRO_OK;
}

/* ---- embedding ---- */

static void gather_rows(float *y, const float *ids, const float *w, int64_t p0, int64_t p1, int64_t V, int64_t D)
{
    for (int64_t p = p0; p < p1; p++)
        memcpy(y + p * D, w + repro_token_id(ids[p], V) * D, (size_t)D * sizeof(float));
}

repro_status repro_embedding_forward_ref(float *y, const float *ids, const float *w, int64_t N, int64_t V,
                                         int64_t D, repro_error *err)
{
    repro_status st = check_ids("embedding", ids, N, V, -1, err);
    if (st == REPRO_OK)
        gather_rows(y, ids, w, 0, N, V, D);
    return st;
}

typedef struct emb_job {
    float *out;
    const float *ids, *in;
    int64_t N, V, D;
} emb_job;

static void forward_task(void *ctx, int64_t begin, int64_t end)
{
    const emb_job *j = ctx;
    gather_rows(j->out, j->ids, j->in, begin, end, j->V, j->D);
}

repro_status repro_embedding_forward(const repro_cpu *cpu, float *y, const float *ids, const float *w, int64_t N,
                                     int64_t V, int64_t D, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = check_ids("embedding", ids, N, V, -1, err);
    if (st != REPRO_OK)
        return st;
    emb_job j = {y, ids, w, N, V, D};
    repro_pool_run(cpu->pool, N, forward_task, &j);
    return REPRO_OK;
}

/* The written order, literally: for each row v, for each column, the positions holding v, ascending. */
repro_status repro_embedding_backward_ref(float *dw, const float *ids, const float *dy, int64_t N, int64_t V,
                                          int64_t D, repro_error *err)
{
    repro_status st = check_ids("embedding backward", ids, N, V, -1, err);
    if (st != REPRO_OK)
        return st;
    for (int64_t v = 0; v < V; v++)
        for (int64_t d = 0; d < D; d++) {
            float acc = dw[v * D + d];
            for (int64_t p = 0; p < N; p++)
                if (repro_token_id(ids[p], V) == v)
                    acc = acc + dy[p * D + d];
            dw[v * D + d] = acc;
        }
    return REPRO_OK;
}

/* Columns [d0, d1): walking p ascending and adding each position's slice
 * into its row gives every dW[v][d] its terms in the written order (a row's
 * additions are the positions holding v, in p order), in O(N * D). */
static void backward_columns(const emb_job *j, int64_t d0, int64_t d1)
{
    for (int64_t p = 0; p < j->N; p++) {
        float *row = j->out + repro_token_id(j->ids[p], j->V) * j->D;
        const float *g = j->in + p * j->D;
        for (int64_t d = d0; d < d1; d++)
            row[d] = row[d] + g[d];
    }
}

static void backward_task(void *ctx, int64_t begin, int64_t end)
{
    enum { COLS = 16 }; /* tasks are 16-column blocks: whole cache lines per thread */
    const emb_job *j = ctx;
    int64_t d0 = begin * COLS, d1 = end * COLS < j->D ? end * COLS : j->D;
    backward_columns(j, d0, d1);
}

repro_status repro_embedding_backward(const repro_cpu *cpu, float *dw, const float *ids, const float *dy,
                                      int64_t N, int64_t V, int64_t D, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = check_ids("embedding backward", ids, N, V, -1, err);
    if (st != REPRO_OK)
        return st;
    emb_job j = {dw, ids, dy, N, V, D};
    repro_pool_run(cpu->pool, (D + 15) / 16, backward_task, &j);
    return REPRO_OK;
}

/* ---- LM cross-entropy ---- */

typedef struct lm_job {
    float *out;
    const float *z, *target;
    int64_t T, V, ignore;
    float scale;
    repro_isa isa; /* the lanes of xent_simd.h on AVX2 and AVX-512; the scalar code elsewhere */
} lm_job;

enum { LM_CHUNK = 64 }; /* rows whose statistics are taken at once */

/* The statistics of rows [r0, r0 + n) of z, n <= LM_CHUNK: what
 * repro_xent_row_stats gives each, several rows on the lanes at once
 * where the ISA has them (the same bits). */
static void lm_stats(const lm_job *j, int64_t r0, int64_t n, repro_xent_stats *st)
{
    repro_xent_stats_rows(j->isa, j->z + r0 * j->V, j->V, j->V, n, st);
}

static void lm_forward_rows(const lm_job *j, int64_t b0, int64_t b1)
{
    repro_xent_stats st[LM_CHUNK];
    for (int64_t b = b0; b < b1; b++) {
        float acc = 0.0f;
        int64_t n = 0;
        for (int64_t t = 0; t < j->T; t++) {
            if (t % LM_CHUNK == 0) /* ignored rows' statistics too: unused, and they change nothing */
                lm_stats(j, b * j->T + t, j->T - t < LM_CHUNK ? j->T - t : LM_CHUNK, st);
            float target = j->target[b * j->T + t];
            if (repro_token_ignored(target, j->ignore))
                continue;
            const float *zr = j->z + (b * j->T + t) * j->V;
            acc = acc + repro_xent_loss(st[t % LM_CHUNK], zr[repro_token_id(target, j->V)]);
            n++;
        }
        j->out[b] = n ? acc / (float)n : 0.0f;
    }
}

static void lm_backward_rows(const lm_job *j, int64_t r0, int64_t r1)
{
    int64_t cur = -1; /* the sample whose row factor s is known */
    float s = 0.0f;
    repro_xent_stats st[LM_CHUNK];
    for (int64_t r = r0; r < r1; r++) { /* r = b*T + t */
        if ((r - r0) % LM_CHUNK == 0)
            lm_stats(j, r, r1 - r < LM_CHUNK ? r1 - r : LM_CHUNK, st);
        float *g = j->out + r * j->V;
        if (repro_token_ignored(j->target[r], j->ignore)) {
            memset(g, 0, (size_t)j->V * sizeof(float));
            continue;
        }
        if (r / j->T != cur) { /* n >= 1: this row counts */
            cur = r / j->T;
            s = j->scale / (float)repro_lm_counted(j->target + cur * j->T, j->T, j->ignore);
        }
        repro_xent_dz_row(j->isa, g, j->z + r * j->V, j->V, repro_token_id(j->target[r], j->V),
                          st[(r - r0) % LM_CHUNK], s);
    }
}

static void lm_forward_task(void *ctx, int64_t begin, int64_t end) { lm_forward_rows(ctx, begin, end); }
static void lm_backward_task(void *ctx, int64_t begin, int64_t end) { lm_backward_rows(ctx, begin, end); }

repro_status repro_lm_xent_forward_ref(float *loss, const float *z, const float *target, int64_t B, int64_t T,
                                       int64_t V, int64_t ignore, repro_error *err)
{
    repro_status st = check_ids("lm cross-entropy", target, B * T, V, ignore, err);
    lm_job j = {loss, z, target, T, V, ignore, 0.0f, REPRO_ISA_SCALAR};
    if (st == REPRO_OK)
        lm_forward_rows(&j, 0, B);
    return st;
}

repro_status repro_lm_xent_forward(const repro_cpu *cpu, float *loss, const float *z, const float *target,
                                   int64_t B, int64_t T, int64_t V, int64_t ignore, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = check_ids("lm cross-entropy", target, B * T, V, ignore, err);
    lm_job j = {loss, z, target, T, V, ignore, 0.0f, cpu->isa};
    if (st == REPRO_OK)
        repro_pool_run(cpu->pool, B, lm_forward_task, &j);
    return st;
}

repro_status repro_lm_xent_backward_ref(float *dz, const float *z, const float *target, int64_t B, int64_t T,
                                        int64_t V, int64_t ignore, float scale, repro_error *err)
{
    repro_status st = check_ids("lm cross-entropy", target, B * T, V, ignore, err);
    lm_job j = {dz, z, target, T, V, ignore, scale, REPRO_ISA_SCALAR};
    if (st == REPRO_OK)
        lm_backward_rows(&j, 0, B * T);
    return st;
}

repro_status repro_lm_xent_backward(const repro_cpu *cpu, float *dz, const float *z, const float *target,
                                    int64_t B, int64_t T, int64_t V, int64_t ignore, float scale, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = check_ids("lm cross-entropy", target, B * T, V, ignore, err);
    lm_job j = {dz, z, target, T, V, ignore, scale, cpu->isa};
    if (st == REPRO_OK)
        repro_pool_run(cpu->pool, B * T, lm_backward_task, &j);
    return st;
}

/* ---- pad mask ---- */

typedef struct pad_job {
    float *y;
    const float *ids;
    float pad;
} pad_job;

static void pad_rows(const pad_job *j, int64_t p0, int64_t p1)
{
    for (int64_t p = p0; p < p1; p++)
        j->y[p] = repro_pad_mask(j->ids[p], j->pad);
}

static void pad_task(void *ctx, int64_t begin, int64_t end) { pad_rows(ctx, begin, end); }

void repro_pad_mask_forward_ref(float *y, const float *ids, int64_t N, float pad)
{
    pad_job j = {y, ids, pad};
    pad_rows(&j, 0, N);
}

repro_status repro_pad_mask_forward(const repro_cpu *cpu, float *y, const float *ids, int64_t N, float pad,
                                    repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    pad_job j = {y, ids, pad};
    repro_pool_run(cpu->pool, N, pad_task, &j);
    return REPRO_OK;
}

/* ---- sinusoidal positions ---- */

typedef struct sin_job {
    float *y;
    const float *x;
    int64_t T, D;
} sin_job;

static void sin_rows(const sin_job *j, int64_t r0, int64_t r1)
{
    for (int64_t r = r0; r < r1; r++) /* r = b*T + t */
        for (int64_t d = 0; d < j->D; d++)
            j->y[r * j->D + d] = j->x[r * j->D + d] + repro_sinusoidal_pe(r % j->T, d, j->D);
}

static void sin_task(void *ctx, int64_t begin, int64_t end) { sin_rows(ctx, begin, end); }

void repro_sinusoidal_forward_ref(float *y, const float *x, int64_t B, int64_t T, int64_t D)
{
    sin_job j = {y, x, T, D};
    sin_rows(&j, 0, B * T);
}

repro_status repro_sinusoidal_forward(const repro_cpu *cpu, float *y, const float *x, int64_t B, int64_t T, int64_t D,
                                      repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    sin_job j = {y, x, T, D};
    repro_pool_run(cpu->pool, B * T, sin_task, &j);
    return REPRO_OK;
}
