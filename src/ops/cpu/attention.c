/* Attention on the CPU: the row functions of src/ops/attention_math.h (or
 * their SIMD twins, attention_avx2.c / attention_neon.c), over a thread pool. A task is a range of rows (or keys), each computed
 * whole by one thread, so the order of a sum never depends on the split. */
#include "ops/cpu/attention.h"

#include <stdint.h>

#include "ops/cpu/attention_simd.h"

repro_status repro_attention_check(const repro_attn_args *a, int forward, repro_error *err)
{
    if (a->hd < 1 || a->hd > REPRO_ATTN_MAX_HD)
        return repro_fail(err, REPRO_ERR_ARG, "attention: head_dim %lld is outside [1, %d]", (long long)a->hd,
                          REPRO_ATTN_MAX_HD);
    if (a->T < 1 || a->T > REPRO_ATTN_MAX_T)
        return repro_fail(err, REPRO_ERR_ARG, "attention: sequence length %lld is outside [1, %d]",
                          (long long)a->T, REPRO_ATTN_MAX_T);
    if (a->B < 0 || a->H < 1)
        return repro_fail(err, REPRO_ERR_ARG, "attention: %lld samples of %lld heads", (long long)a->B,
                          (long long)a->H);
    if (!(a->p >= 0.0f && a->p < 1.0f))
        return repro_fail(err, REPRO_ERR_ARG, "attention: dropout %g is outside [0, 1)", (double)a->p);
    if (forward && a->keep && !a->sample_pos)
        return repro_fail(err, REPRO_ERR_ARG, "attention: dropout needs the samples' positions");
    return REPRO_OK;
}

/* What a task runs: the scalar rows, or their SIMD twins (AVX2 also on an
 * AVX-512 machine, NEON on aarch64; the int32 offsets must reach every token). */
typedef struct attn_task {
    const repro_attn_args *a;
    int simd;
} attn_task;

static int use_simd(const repro_cpu *cpu, const repro_attn_args *a)
{
    return cpu->isa != REPRO_ISA_SCALAR && a->T * 3 * a->H * a->hd < INT32_MAX;
}

/* A row through its SIMD twin where this architecture has one (AVX2 on
 * x86-64, NEON on aarch64; repro_cpu_check refuses the other's paths), else
 * the reference: the same bits either way. */
#if defined(__x86_64__)
#define TWIN(simd, fn, a, r) ((simd) ? fn##_avx2(a, r) : fn(a, r))
#elif defined(__aarch64__)
#define TWIN(simd, fn, a, r) ((simd) ? fn##_neon(a, r) : fn(a, r))
#else
#define TWIN(simd, fn, a, r) ((void)(simd), fn(a, r))
#endif

static void forward_task(void *p, int64_t begin, int64_t end)
{
    const attn_task *t = p;
    for (int64_t r = begin; r < end; r++)
        TWIN(t->simd, repro_attn_forward_row, t->a, r);
}

static void dsum_task(void *p, int64_t begin, int64_t end)
{
    const attn_task *t = p;
    for (int64_t r = begin; r < end; r++)
        repro_attn_dsum_row(t->a, r);
}

static void dq_task(void *p, int64_t begin, int64_t end)
{
    const attn_task *t = p;
    for (int64_t r = begin; r < end; r++)
        TWIN(t->simd, repro_attn_dq_row, t->a, r);
}

static void dkv_task(void *p, int64_t begin, int64_t end)
{
    const attn_task *t = p;
    for (int64_t r = begin; r < end; r++)
        TWIN(t->simd, repro_attn_dkv_row, t->a, r);
}

static int64_t rows_of(const repro_attn_args *a)
{
    return a->B * a->H * a->T;
}

repro_status repro_attention_forward(const repro_cpu *cpu, const repro_attn_args *a, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = repro_attention_check(a, 1, err);
    attn_task t = {a, use_simd(cpu, a)};
    if (st == REPRO_OK)
        repro_pool_run(cpu->pool, rows_of(a), forward_task, &t);
    return st;
}

void repro_attention_forward_ref(const repro_attn_args *a)
{
    attn_task t = {a, 0};
    forward_task(&t, 0, rows_of(a));
}

repro_status repro_attention_backward(const repro_cpu *cpu, const repro_attn_args *a, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = repro_attention_check(a, 0, err);
    if (st != REPRO_OK)
        return st;
    attn_task t = {a, use_simd(cpu, a)};
    repro_pool_run(cpu->pool, rows_of(a), dsum_task, &t);
    repro_pool_run(cpu->pool, rows_of(a), dq_task, &t);
    repro_pool_run(cpu->pool, rows_of(a), dkv_task, &t);
    return REPRO_OK;
}

void repro_attention_backward_ref(const repro_attn_args *a)
{
    attn_task t = {a, 0};
    dsum_task(&t, 0, rows_of(a));
    dq_task(&t, 0, rows_of(a));
    dkv_task(&t, 0, rows_of(a));
}
