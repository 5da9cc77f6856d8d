/* Activations: one elementwise pass each, split over contiguous element
 * ranges. The formulas and their order are in src/ops/ops_math.h; which
 * activations there are, in src/ops/activations.h. */
#include <stddef.h>

#include "ops/cpu/activation_simd.h"
#include "ops/cpu/ops.h"

typedef struct act_ctx {
    repro_act act;
    repro_isa isa;      /* ReLU: the SIMD twins do whole vectors, the loops below the tail */
    float *out;         /* y (forward) or dx (backward), [n] */
    const float *in;    /* x (forward) or dy (backward), [n] */
    const float *saved; /* backward: the forward's x or y (repro_act_reads_output), [n] */
} act_ctx;

/* One loop per activation, so each inner loop is a plain elementwise pass
 * the compiler can keep tight (the formulas are the same either way). */
#define FORWARD_LOOP(ID, name, ...)                                                                \
    case REPRO_ACT_##ID:                                                                           \
        for (int64_t i = begin; i < end; i++)                                                      \
            y[i] = repro_##name##_f(x[i]);                                                         \
        return;

static void forward_range(repro_act act, float *y, const float *x, int64_t begin, int64_t end)
{
    switch (act) {
        REPRO_LAYER_KINDS(REPRO_SKIP_ROW_, FORWARD_LOOP, REPRO_SKIP_ROW_)
    default: return;
    }
}

#define BACKWARD_LOOP(ID, name, ...)                                                               \
    case REPRO_ACT_##ID:                                                                           \
        for (int64_t i = begin; i < end; i++)                                                      \
            dx[i] = repro_##name##_df(dy[i], saved[i]);                                            \
        return;

static void backward_range(repro_act act, float *dx, const float *dy, const float *saved, int64_t begin,
                           int64_t end)
{
    switch (act) {
        REPRO_LAYER_KINDS(REPRO_SKIP_ROW_, BACKWARD_LOOP, REPRO_SKIP_ROW_)
    default: return;
    }
}

static void forward_task(void *p, int64_t begin, int64_t end)
{
    act_ctx *c = p;
#if defined(__x86_64__) /* each architecture's twins exist only there */
    if (c->act == REPRO_ACT_RELU && c->isa == REPRO_ISA_AVX512)
        begin += repro_relu_fwd_avx512(c->out + begin, c->in + begin, end - begin);
    else if (c->act == REPRO_ACT_RELU && c->isa == REPRO_ISA_AVX2)
        begin += repro_relu_fwd_avx2(c->out + begin, c->in + begin, end - begin);
#elif defined(__aarch64__)
    if (c->act == REPRO_ACT_RELU && c->isa == REPRO_ISA_NEON)
        begin += repro_relu_fwd_neon(c->out + begin, c->in + begin, end - begin);
#endif
    forward_range(c->act, c->out, c->in, begin, end);
}

static void backward_task(void *p, int64_t begin, int64_t end)
{
    act_ctx *c = p;
#if defined(__x86_64__)
    if (c->act == REPRO_ACT_RELU && c->isa == REPRO_ISA_AVX512)
        begin += repro_relu_bwd_avx512(c->out + begin, c->in + begin, c->saved + begin, end - begin);
    else if (c->act == REPRO_ACT_RELU && c->isa == REPRO_ISA_AVX2)
        begin += repro_relu_bwd_avx2(c->out + begin, c->in + begin, c->saved + begin, end - begin);
#elif defined(__aarch64__)
    if (c->act == REPRO_ACT_RELU && c->isa == REPRO_ISA_NEON)
        begin += repro_relu_bwd_neon(c->out + begin, c->in + begin, c->saved + begin, end - begin);
#endif
    backward_range(c->act, c->out, c->in, c->saved, begin, end);
}

static repro_status check_act(repro_act act, repro_error *err)
{
    if ((unsigned)act >= REPRO_ACT_COUNT)
        return repro_fail(err, REPRO_ERR_ARG, "unknown activation %d", (int)act);
    return REPRO_OK;
}

repro_status repro_act_forward(const repro_cpu *cpu, repro_act act, float *y, const float *x, int64_t n,
                               repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = check_act(act, err);
    if (st)
        return st;
    act_ctx c = {act, cpu->isa, y, x, NULL};
    repro_pool_run(cpu->pool, n, forward_task, &c);
    return REPRO_OK;
}

void repro_act_forward_ref(repro_act act, float *y, const float *x, int64_t n)
{
    forward_range(act, y, x, 0, n);
}

repro_status repro_act_backward(const repro_cpu *cpu, repro_act act, float *dx, const float *dy,
                                const float *saved, int64_t n, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = check_act(act, err);
    if (st)
        return st;
    act_ctx c = {act, cpu->isa, dx, dy, saved};
    repro_pool_run(cpu->pool, n, backward_task, &c);
    return REPRO_OK;
}

void repro_act_backward_ref(repro_act act, float *dx, const float *dy, const float *saved, int64_t n)
{
    backward_range(act, dx, dy, saved, 0, n);
}
