/* Every CPU entry point that takes a repro_cpu refuses an ISA path the CPU
 * lacks: REPRO_ERR_UNSUPPORTED, a message naming the path and what the CPU
 * supports, and no output written (so no instruction the CPU lacks ran).
 *
 * On a CPU that has every path, the test caps the probe first
 * (REPRO_TEST_CPU_ISA_MAX=scalar, set before anything probes), so AVX2 and
 * AVX-512 both count as missing and every row below is exercised; CI runs
 * the quick suite again under REPRO_TEST_CPU_ISA_MAX=avx2 as well.
 *
 * A new kernel entry point joins by one row in entry_points[]. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "data/augment_isa.h"
#include "ops/cpu/gemm.h"
#include "repro/isa.h"
#include "ops/cpu/linear.h"
#include "ops/cpu/ops.h"
#include "ops/cpu/update.h"
#include "testutil.h"

enum { N = 64 };
#define SENTINEL 12345.0f

/* Scratch every row reads and writes: a, b, c hold inputs, out the output
 * that must stay at SENTINEL. */
typedef struct bufs {
    float a[N], b[N], c[N], out[N], f1, f2;
    uint8_t mask[N];
    int32_t labels[N], pred[N];
    uint32_t pos[N];
} bufs;

typedef repro_status (*entry_fn)(const repro_cpu *cpu, bufs *s, repro_error *err);

/* One line per entry point: call it on 4x4 data, writing to s->out. */
#define ROW(name, call)                                                                            \
    static repro_status row_##name(const repro_cpu *cpu, bufs *s, repro_error *err) { return call; }
ROW(gemm, repro_gemm(cpu, 4, 4, 4, s->a, 4, 1, s->b, 4, 1, NULL, s->out, 4, 0, err))
ROW(linear_forward, repro_linear_forward(cpu, s->out, s->a, s->b, NULL, 4, 4, 4, err))
ROW(linear_backward, repro_linear_backward(cpu, s->out, s->c, NULL, s->a, s->b, s->c, 4, 4, 4, err))
ROW(relu_forward, repro_act_forward(cpu, REPRO_ACT_RELU, s->out, s->a, N, err))
ROW(relu_backward, repro_act_backward(cpu, REPRO_ACT_RELU, s->out, s->a, s->b, N, err))
ROW(gelu_forward, repro_act_forward(cpu, REPRO_ACT_GELU, s->out, s->a, N, err))
ROW(gelu_backward, repro_act_backward(cpu, REPRO_ACT_GELU, s->out, s->a, s->b, N, err))
ROW(tanh_forward, repro_act_forward(cpu, REPRO_ACT_TANH, s->out, s->a, N, err))
ROW(tanh_backward, repro_act_backward(cpu, REPRO_ACT_TANH, s->out, s->a, s->b, N, err))
ROW(sigmoid_forward, repro_act_forward(cpu, REPRO_ACT_SIGMOID, s->out, s->a, N, err))
ROW(sigmoid_backward, repro_act_backward(cpu, REPRO_ACT_SIGMOID, s->out, s->a, s->b, N, err))
ROW(add_inplace, repro_add_inplace(cpu, s->out, s->a, N, err))
ROW(dropout_forward, repro_dropout_forward(cpu, s->out, s->mask, s->a, 4, 16, 0.5f, 1, 0, 0, s->pos, err))
ROW(dropout_backward, repro_dropout_backward(cpu, s->out, s->a, s->mask, 4, 16, 0.5f, err))
ROW(layernorm_forward, repro_layernorm_forward(cpu, s->out, s->b, s->c, s->a, s->b, s->c, 4, 16, 1e-5f, err))
ROW(layernorm_backward,
    repro_layernorm_backward(cpu, s->out, s->b, s->c, s->a, s->a, s->b, s->c, s->a, 4, 16, err))
ROW(xent_forward, repro_softmax_xent_forward(cpu, s->out, s->pred, s->a, s->labels, 4, 16, err))
ROW(xent_backward, repro_softmax_xent_backward(cpu, s->out, s->a, s->labels, 4, 16, 1.0f, err))
ROW(mse_forward, repro_mse_forward(cpu, s->out, s->a, s->b, 4, 16, err))
ROW(mse_backward, repro_mse_backward(cpu, s->out, s->a, s->b, 4, 16, 1.0f, err))
ROW(huber_forward, repro_huber_forward(cpu, s->out, s->a, s->b, 4, 16, 1.0f, err))
ROW(huber_backward, repro_huber_backward(cpu, s->out, s->a, s->b, 4, 16, 1.0f, 1.0f, err))
ROW(sum_canonical, repro_sum_canonical_mt(cpu, s->a, N, s->out, err))
ROW(sumsq_canonical, repro_sumsq_canonical_mt(cpu, s->a, N, s->out, err))
ROW(clip_grad_norm, repro_clip_grad_norm(cpu, s->out, N, 0.5f, &s->f1, err))
ROW(ema_update, repro_ema_update(cpu, s->out, s->a, N, 0.9f, err))

static repro_status row_adam(const repro_cpu *cpu, bufs *s, repro_error *err)
{
    repro_adam_coef c = {1e-3f, 1e-8f, 0.9f, 0.999f, 0.1f, 0.001f, 0.1f, 0.001f, 0.0f, 1.0f};
    return repro_adam_cpu(cpu, &c, s->out, s->b, s->c, s->a, N, err);
}

static repro_status row_sgd(const repro_cpu *cpu, bufs *s, repro_error *err)
{
    repro_sgd_coef c = {0.1f, 0.0f, 0.9f, 0, 1};
    return repro_sgd_cpu(cpu, &c, s->out, s->b, s->a, N, err);
}

static repro_status row_augment(const repro_cpu *cpu, bufs *s, repro_error *err)
{
    repro_augment_config a = {0};
    a.noise_p = 1.0f;
    a.noise_std = 0.1f;
    a.feature_noise_p = 1.0f;
    a.feature_noise_std = 0.1f;
    return repro_augment_sample_isa(&a, 1, 0, 0, s->out, N, 8, 8, cpu->isa, err);
}

static repro_status row_backend_wrap(const repro_cpu *cpu, bufs *s, repro_error *err)
{
    (void)s;
    repro_backend *be = NULL;
    repro_status st = repro_backend_wrap_cpu(cpu, &be, err);
    repro_backend_destroy(be);
    return st;
}

static repro_status row_backend_create(const repro_cpu *cpu, bufs *s, repro_error *err)
{
    (void)s;
    repro_backend *be = NULL;
    repro_status st = repro_backend_create_cpu(cpu->isa, 2, &be, err);
    repro_backend_destroy(be);
    return st;
}

static const struct {
    const char *name;
    entry_fn fn;
} entry_points[] = {
#define E(name) {#name, row_##name}
    E(gemm), E(linear_forward), E(linear_backward), E(relu_forward), E(relu_backward), E(gelu_forward),
    E(gelu_backward), E(tanh_forward), E(tanh_backward), E(sigmoid_forward), E(sigmoid_backward),
    E(add_inplace), E(dropout_forward), E(dropout_backward), E(layernorm_forward), E(layernorm_backward),
    E(xent_forward), E(xent_backward), E(mse_forward), E(mse_backward), E(huber_forward), E(huber_backward),
    E(sum_canonical), E(sumsq_canonical), E(clip_grad_norm), E(ema_update), E(adam), E(sgd), E(augment),
    E(backend_wrap), E(backend_create),
#undef E
};

static void fill(bufs *s)
{
    for (int i = 0; i < N; i++) {
        s->a[i] = (float)(i % 7) - 3.0f;
        s->b[i] = 0.25f * (float)(i % 5);
        s->c[i] = 1.0f;
        s->out[i] = SENTINEL;
        s->labels[i] = i % 16;
        s->pos[i] = (uint32_t)i;
        s->mask[i] = 1;
    }
}

static int untouched(const bufs *s)
{
    for (int i = 0; i < N; i++)
        if (s->out[i] != SENTINEL)
            return 0;
    return 1;
}

int main(void)
{
    /* must precede the first probe; an outer cap (CI's) is kept */
    if (!getenv("REPRO_TEST_CPU_ISA_MAX"))
        setenv("REPRO_TEST_CPU_ISA_MAX", "scalar", 1);
    const repro_isa all[] = {REPRO_ISA_SCALAR, REPRO_ISA_AVX2, REPRO_ISA_AVX512, REPRO_ISA_NEON};
    int refused = 0;
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
        repro_cpu cpu = {all[k], NULL};
        int lacking = !repro_isa_supported(all[k]);
        for (size_t e = 0; e < sizeof entry_points / sizeof entry_points[0]; e++) {
            bufs s;
            fill(&s);
            repro_error err;
            err.message[0] = '\0';
            repro_status st = entry_points[e].fn(&cpu, &s, &err);
            if (lacking) {
                CHECK_MSG(st == REPRO_ERR_UNSUPPORTED, "%s on %s: status %d", entry_points[e].name,
                          repro_isa_name(all[k]), (int)st);
                CHECK_CONTAINS(err.message, repro_isa_name(all[k]));
                CHECK_CONTAINS(err.message, "is not supported by this CPU (supported: scalar");
                CHECK_MSG(untouched(&s), "%s on %s wrote its output", entry_points[e].name,
                          repro_isa_name(all[k]));
                refused++;
            } else {
                CHECK_MSG(st == REPRO_OK, "%s on %s: %s", entry_points[e].name, repro_isa_name(all[k]),
                          err.message);
            }
        }
    }
    /* the cap itself: scalar is always there, and the cap names itself */
    CHECK(repro_isa_supported(REPRO_ISA_SCALAR));
    CHECK(repro_isa_cap() != NULL);
    CHECK(refused > 0);
    printf("%d refusals checked over %zu entry points (cap %s)\n", refused,
           sizeof entry_points / sizeof entry_points[0], repro_isa_cap());
    return test_finish("test_isa_refusal");
}
