/* Activations: one elementwise pass each, split over contiguous element
 * ranges. The formulas and their order are in src/ops/ops_math.h. */
#include <stddef.h>

#include "ops/cpu/activation_simd.h"
#include "ops/cpu/ops.h"
#include "ops/ops_math.h"

typedef enum act_kind { ACT_RELU, ACT_GELU, ACT_TANH, ACT_SIGMOID, ACT_SILU } act_kind;

typedef struct act_ctx {
    act_kind kind;
    repro_isa isa;     /* ReLU: the SIMD twins do whole vectors, the loops below the tail */
    float *out;        /* y (forward) or dx (backward), [n] */
    const float *in;   /* x (forward) or dy (backward), [n] */
    const float *saved; /* backward: x (ReLU, GELU, SiLU) or y (tanh, sigmoid), [n] */
} act_ctx;

/* One loop per kind, so each inner loop is a plain elementwise pass the
 * compiler can keep tight (the formulas are the same either way). */
#define ELEMENTWISE(expr)                                                                          \
    for (int64_t i = begin; i < end; i++)                                                          \
        expr;

static void forward_range(act_kind kind, float *y, const float *x, int64_t begin, int64_t end)
{
    switch (kind) {
    case ACT_RELU: ELEMENTWISE(y[i] = repro_relu_f(x[i])) return;
    case ACT_GELU: ELEMENTWISE(y[i] = repro_gelu_f(x[i])) return;
    case ACT_TANH: ELEMENTWISE(y[i] = repro_tanhf(x[i])) return;
    case ACT_SIGMOID: ELEMENTWISE(y[i] = repro_sigmoidf(x[i])) return;
    case ACT_SILU: ELEMENTWISE(y[i] = repro_silu_f(x[i])) return;
    }
}

static void backward_range(act_kind kind, float *dx, const float *dy, const float *saved,
                           int64_t begin, int64_t end)
{
    switch (kind) {
    case ACT_RELU: ELEMENTWISE(dx[i] = repro_relu_df(dy[i], saved[i])) return;
    case ACT_GELU: ELEMENTWISE(dx[i] = repro_gelu_df(dy[i], saved[i])) return;
    case ACT_TANH: ELEMENTWISE(dx[i] = repro_tanh_df(dy[i], saved[i])) return;
    case ACT_SIGMOID: ELEMENTWISE(dx[i] = repro_sigmoid_df(dy[i], saved[i])) return;
    case ACT_SILU: ELEMENTWISE(dx[i] = repro_silu_df(dy[i], saved[i])) return;
    }
}

static void forward_task(void *p, int64_t begin, int64_t end)
{
    act_ctx *c = p;
#if defined(__x86_64__) /* each architecture's twins exist only there */
    if (c->kind == ACT_RELU && c->isa == REPRO_ISA_AVX512)
        begin += repro_relu_fwd_avx512(c->out + begin, c->in + begin, end - begin);
    else if (c->kind == ACT_RELU && c->isa == REPRO_ISA_AVX2)
        begin += repro_relu_fwd_avx2(c->out + begin, c->in + begin, end - begin);
#elif defined(__aarch64__)
    if (c->kind == ACT_RELU && c->isa == REPRO_ISA_NEON)
        begin += repro_relu_fwd_neon(c->out + begin, c->in + begin, end - begin);
#endif
    forward_range(c->kind, c->out, c->in, begin, end);
}

static void backward_task(void *p, int64_t begin, int64_t end)
{
    act_ctx *c = p;
#if defined(__x86_64__)
    if (c->kind == ACT_RELU && c->isa == REPRO_ISA_AVX512)
        begin += repro_relu_bwd_avx512(c->out + begin, c->in + begin, c->saved + begin, end - begin);
    else if (c->kind == ACT_RELU && c->isa == REPRO_ISA_AVX2)
        begin += repro_relu_bwd_avx2(c->out + begin, c->in + begin, c->saved + begin, end - begin);
#elif defined(__aarch64__)
    if (c->kind == ACT_RELU && c->isa == REPRO_ISA_NEON)
        begin += repro_relu_bwd_neon(c->out + begin, c->in + begin, c->saved + begin, end - begin);
#endif
    backward_range(c->kind, c->out, c->in, c->saved, begin, end);
}

static void forward(const repro_cpu *cpu, act_kind kind, float *y, const float *x, int64_t n)
{
    act_ctx c = {kind, cpu->isa, y, x, NULL};
    repro_pool_run(cpu->pool, n, forward_task, &c);
}

static void backward(const repro_cpu *cpu, act_kind kind, float *dx, const float *dy, const float *saved,
                     int64_t n)
{
    act_ctx c = {kind, cpu->isa, dx, dy, saved};
    repro_pool_run(cpu->pool, n, backward_task, &c);
}

repro_status repro_relu_forward(const repro_cpu *cpu, float *y, const float *x, int64_t n, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    forward(cpu, ACT_RELU, y, x, n);
    return REPRO_OK;
}

void repro_relu_forward_ref(float *y, const float *x, int64_t n)
{
    forward_range(ACT_RELU, y, x, 0, n);
}

repro_status repro_relu_backward(const repro_cpu *cpu, float *dx, const float *dy, const float *x, int64_t n, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    backward(cpu, ACT_RELU, dx, dy, x, n);
    return REPRO_OK;
}

void repro_relu_backward_ref(float *dx, const float *dy, const float *x, int64_t n)
{
    backward_range(ACT_RELU, dx, dy, x, 0, n);
}

repro_status repro_gelu_forward(const repro_cpu *cpu, float *y, const float *x, int64_t n, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    forward(cpu, ACT_GELU, y, x, n);
    return REPRO_OK;
}

void repro_gelu_forward_ref(float *y, const float *x, int64_t n)
{
    forward_range(ACT_GELU, y, x, 0, n);
}

repro_status repro_gelu_backward(const repro_cpu *cpu, float *dx, const float *dy, const float *x, int64_t n, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    backward(cpu, ACT_GELU, dx, dy, x, n);
    return REPRO_OK;
}

void repro_gelu_backward_ref(float *dx, const float *dy, const float *x, int64_t n)
{
    backward_range(ACT_GELU, dx, dy, x, 0, n);
}

repro_status repro_tanh_forward(const repro_cpu *cpu, float *y, const float *x, int64_t n, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    forward(cpu, ACT_TANH, y, x, n);
    return REPRO_OK;
}

void repro_tanh_forward_ref(float *y, const float *x, int64_t n)
{
    forward_range(ACT_TANH, y, x, 0, n);
}

repro_status repro_tanh_backward(const repro_cpu *cpu, float *dx, const float *dy, const float *y, int64_t n, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    backward(cpu, ACT_TANH, dx, dy, y, n);
    return REPRO_OK;
}

void repro_tanh_backward_ref(float *dx, const float *dy, const float *y, int64_t n)
{
    backward_range(ACT_TANH, dx, dy, y, 0, n);
}

repro_status repro_sigmoid_forward(const repro_cpu *cpu, float *y, const float *x, int64_t n, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    forward(cpu, ACT_SIGMOID, y, x, n);
    return REPRO_OK;
}

void repro_sigmoid_forward_ref(float *y, const float *x, int64_t n)
{
    forward_range(ACT_SIGMOID, y, x, 0, n);
}

repro_status repro_sigmoid_backward(const repro_cpu *cpu, float *dx, const float *dy, const float *y, int64_t n, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    backward(cpu, ACT_SIGMOID, dx, dy, y, n);
    return REPRO_OK;
}

void repro_sigmoid_backward_ref(float *dx, const float *dy, const float *y, int64_t n)
{
    backward_range(ACT_SIGMOID, dx, dy, y, 0, n);
}

repro_status repro_silu_forward(const repro_cpu *cpu, float *y, const float *x, int64_t n, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    forward(cpu, ACT_SILU, y, x, n);
    return REPRO_OK;
}

void repro_silu_forward_ref(float *y, const float *x, int64_t n)
{
    forward_range(ACT_SILU, y, x, 0, n);
}

repro_status repro_silu_backward(const repro_cpu *cpu, float *dx, const float *dy, const float *x, int64_t n, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    backward(cpu, ACT_SILU, dx, dy, x, n);
    return REPRO_OK;
}

void repro_silu_backward_ref(float *dx, const float *dy, const float *x, int64_t n)
{
    backward_range(ACT_SILU, dx, dy, x, 0, n);
}
