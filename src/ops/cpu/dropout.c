/* Dropout, training only. Element (b, d) is kept iff
 *     repro_rng_uniform(key, sample_pos[b], (uint32_t)step, (uint32_t)(step >> 32), d) >= p,
 *     key = repro_rng_derive(seed, REPRO_RNG_DROPOUT, layer_index, 0),
 * a pure function of the sample's coordinates: the same sample at the same
 * step draws the same mask whatever batch, micro-batch, thread or device
 * it is computed in. Threads split rows. */
#include "ops/cpu/ops.h"
#include "ops/ops_math.h"
#include "repro/rng.h"
#include "ops/cpu/dropout_simd.h"
#include "rng/philox_simd.h"

typedef struct drop_ctx {
    float *y;          /* [B][D] */
    uint8_t *mask;     /* [B][D] */
    const float *x;    /* [B][D] */
    int64_t D;
    repro_isa isa;    /* which Philox twin draws whole runs of blocks */
    float p, scale;
    repro_rng_key key;
    uint64_t step;
    const uint32_t *sample_pos; /* [B] */
} drop_ctx;

/* Elements [0, m) of a row from their random words w[0..m). */
static void keep_words(const drop_ctx *c, const uint32_t *w, const float *x, float *y, uint8_t *mask, int64_t m)
{
    for (int64_t j = 0; j < m; j++) {
        int keep = repro_rng_u32_to_uniform(w[j]) >= c->p;
        mask[j] = (uint8_t)keep;
        y[j] = repro_dropout_f(x[j], keep, c->scale);
    }
}

/* The keep decisions of a whole run of words: the SIMD selections where the
 * path has them (each bitwise keep_words; tests/test_ops.c checks). */
static void keep_run(const drop_ctx *c, const uint32_t *w, const float *x, float *y, uint8_t *mask, int run)
{
#if defined(__x86_64__)
    if (c->isa == REPRO_ISA_AVX512 && run == 64) {
        repro_dropout_keep64_avx512(w, x, y, mask, c->p, c->scale);
        return;
    }
    if (c->isa == REPRO_ISA_AVX2 && run == 32) {
        repro_dropout_keep32_avx2(w, x, y, mask, c->p, c->scale);
        return;
    }
#elif defined(__aarch64__)
    if (c->isa == REPRO_ISA_NEON && run == 32) {
        repro_dropout_keep32_neon(w, x, y, mask, c->p, c->scale);
        return;
    }
#endif
    keep_words(c, w, x, y, mask, run);
}

typedef void (*philox_twin_fn)(repro_rng_key key, uint32_t b0, uint32_t c0, uint32_t c1, uint32_t c2,
                               uint32_t *words);

/* The one place that maps the path to its Philox twin: the function and how
 * many words it draws at once (0: none, the scalar blocks do it all). Each
 * architecture's twins exist only there (repro_cpu_check refuses others). */
static int philox_twin(repro_isa isa, philox_twin_fn *fn)
{
    switch (isa) {
#if defined(__x86_64__)
    case REPRO_ISA_AVX512:
        *fn = repro_philox_blocks_avx512;
        return 64;
    case REPRO_ISA_AVX2:
        *fn = repro_philox_blocks_avx2;
        return 32;
#endif
#if defined(__aarch64__)
    case REPRO_ISA_NEON:
        *fn = repro_philox_blocks_neon;
        return 32;
#endif
    default:
        *fn = NULL;
        return 0;
    }
}

static void forward_rows(const drop_ctx *c, int64_t begin, int64_t end)
{
    uint32_t c1 = (uint32_t)c->step, c2 = (uint32_t)(c->step >> 32);
    for (int64_t b = begin; b < end; b++) {
        const float *x = c->x + b * c->D;
        float *y = c->y + b * c->D;
        uint8_t *mask = c->mask + b * c->D;
        if (c->p == 0.0f) { /* no draw at all: y = x exactly */
            for (int64_t d = 0; d < c->D; d++) {
                mask[d] = 1;
                y[d] = x[d];
            }
            continue;
        }
        /* elements 4q..4q+3 are the four words of Philox block q, exactly
         * the values repro_rng_uniform(key, pos, c1, c2, d) gives one by
         * one; the SIMD twins compute 8 or 16 such blocks at a time */
        int64_t d0 = 0;
        uint32_t w[64];
        philox_twin_fn twin;
        int run = philox_twin(c->isa, &twin);
        for (; run && d0 + run <= c->D; d0 += run) {
            twin(c->key, (uint32_t)(d0 >> 2), c->sample_pos[b], c1, c2, w);
            keep_run(c, w, x + d0, y + d0, mask + d0, run);
        }
        for (; d0 < c->D; d0 += 4) {
            repro_rng_block(c->key, (uint32_t)(d0 >> 2), c->sample_pos[b], c1, c2, w);
            keep_words(c, w, x + d0, y + d0, mask + d0, c->D - d0 < 4 ? c->D - d0 : 4);
        }
    }
}

static void forward_task(void *p, int64_t begin, int64_t end)
{
    forward_rows(p, begin, end);
}

static repro_status setup(drop_ctx *c, float *y, uint8_t *mask, const float *x, int64_t D, float p,
                          uint64_t seed, uint32_t layer_index, uint64_t step, const uint32_t *sample_pos,
                          repro_error *err)
{
    if (!(p >= 0.0f && p < 1.0f))
        return repro_fail(err, REPRO_ERR_ARG, "dropout: rate p must be in [0, 1), got %g (layer %u)",
                          (double)p, (unsigned)layer_index);
    c->y = y;
    c->mask = mask;
    c->x = x;
    c->D = D;
    c->p = p;
    c->scale = repro_dropout_scale(p);
    c->key = repro_rng_derive(seed, REPRO_RNG_DROPOUT, layer_index, 0);
    c->step = step;
    c->sample_pos = sample_pos;
    c->isa = REPRO_ISA_SCALAR;
    return REPRO_OK;
}

repro_status repro_dropout_forward(const repro_cpu *cpu, float *y, uint8_t *mask, const float *x,
                                   int64_t B, int64_t D, float p, uint64_t seed, uint32_t layer_index,
                                   uint64_t step, const uint32_t *sample_pos, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    drop_ctx c;
    repro_status st = setup(&c, y, mask, x, D, p, seed, layer_index, step, sample_pos, err);
    if (st != REPRO_OK)
        return st;
    c.isa = cpu->isa;
    repro_pool_run(cpu->pool, B, forward_task, &c);
    return REPRO_OK;
}

repro_status repro_dropout_forward_ref(float *y, uint8_t *mask, const float *x, int64_t B, int64_t D,
                                       float p, uint64_t seed, uint32_t layer_index, uint64_t step,
                                       const uint32_t *sample_pos, repro_error *err)
{
    drop_ctx c;
    repro_status st = setup(&c, y, mask, x, D, p, seed, layer_index, step, sample_pos, err);
    if (st != REPRO_OK)
        return st;
    forward_rows(&c, 0, B);
    return REPRO_OK;
}

/* dx = mask ? dy * scale : +0; p == 0 passes dy through bit for bit. */
typedef struct drop_back_ctx {
    float *dx;
    const float *dy;
    const uint8_t *mask;
    float p, scale;
    repro_isa isa; /* the SIMD twins do whole vectors, the loop below the rest */
} drop_back_ctx;

static void backward_range(const drop_back_ctx *c, int64_t begin, int64_t end)
{
    if (c->p == 0.0f) {
        for (int64_t i = begin; i < end; i++)
            c->dx[i] = c->dy[i];
        return;
    }
    int64_t n = end - begin, done = 0;
#if defined(__x86_64__)
    if (c->isa == REPRO_ISA_AVX512)
        done = repro_dropout_back_avx512(c->dx + begin, c->dy + begin, c->mask + begin, n, c->scale);
    else if (c->isa == REPRO_ISA_AVX2)
        done = repro_dropout_back_avx2(c->dx + begin, c->dy + begin, c->mask + begin, n, c->scale);
#elif defined(__aarch64__)
    if (c->isa == REPRO_ISA_NEON)
        done = repro_dropout_back_neon(c->dx + begin, c->dy + begin, c->mask + begin, n, c->scale);
#else
    (void)n;
#endif
    for (int64_t i = begin + done; i < end; i++)
        c->dx[i] = repro_dropout_f(c->dy[i], c->mask[i], c->scale);
}

static void backward_task(void *p, int64_t begin, int64_t end)
{
    backward_range(p, begin, end);
}

repro_status repro_dropout_backward(const repro_cpu *cpu, float *dx, const float *dy, const uint8_t *mask,
                            int64_t B, int64_t D, float p, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    drop_back_ctx c = {dx, dy, mask, p, repro_dropout_scale(p), cpu->isa};
    repro_pool_run(cpu->pool, B * D, backward_task, &c);
    return REPRO_OK;
}

void repro_dropout_backward_ref(float *dx, const float *dy, const uint8_t *mask, int64_t B, int64_t D,
                                float p)
{
    drop_back_ctx c = {dx, dy, mask, p, repro_dropout_scale(p), REPRO_ISA_SCALAR};
    backward_range(&c, 0, B * D);
}
