/* Attention on the CPU: the row functions of src/ops/attention_math.h (or
 * their SIMD twins, attention_lanes.h / attention_neon.c), over a thread
 * pool. A task is a range of units, 64 rows (or keys) of one (b, h), each
 * computed whole by one thread, so the order of a sum never depends on the
 * split. */
#include "ops/cpu/attention.h"

#include <stdint.h>
#include <stdlib.h>

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

/* What a task runs: the scalar rows, or their SIMD twins. On x86-64 the
 * twins are block functions (attention_lanes.h: 64 rows of one (b, h) a
 * unit, sharing a packed block of keys or queries), AVX-512 where the CPU
 * has it, else AVX2; on aarch64 NEON rows. */
typedef struct attn_task {
    const repro_attn_args *a;
    repro_isa isa;
} attn_task;

typedef void block_fn(const repro_attn_args *a, int64_t u, float *scratch);
typedef void row_fn(const repro_attn_args *a, int64_t r);

/* The block twin of pass k (0 forward, 1 dq, 2 dk and dv) on this ISA, or
 * NULL (rows). */
static block_fn *block_twin(repro_isa isa, int k)
{
#if defined(__x86_64__)
    static block_fn *const avx2[3] = {repro_attn_forward_block_avx2, repro_attn_dq_block_avx2,
                                      repro_attn_dkv_block_avx2};
    static block_fn *const avx512[3] = {repro_attn_forward_block_avx512, repro_attn_dq_block_avx512,
                                        repro_attn_dkv_block_avx512};
    if (isa == REPRO_ISA_AVX512)
        return avx512[k];
    if (isa == REPRO_ISA_AVX2)
        return avx2[k];
#else
    (void)isa, (void)k;
#endif
    return NULL;
}

/* The row function of pass k: NEON's twin on aarch64 (its int32 offsets
 * must reach every token), else the reference (the same bits). */
static row_fn *row_of(const repro_attn_args *a, repro_isa isa, int k)
{
    static row_fn *const ref[3] = {repro_attn_forward_row, repro_attn_dq_row, repro_attn_dkv_row};
#if defined(__aarch64__)
    static row_fn *const neon[3] = {repro_attn_forward_row_neon, repro_attn_dq_row_neon, repro_attn_dkv_row_neon};
    if (isa == REPRO_ISA_NEON && a->T * 3 * a->H * a->hd < INT32_MAX)
        return neon[k];
#endif
    (void)a, (void)isa;
    return ref[k];
}

static int64_t blocks_of(const repro_attn_args *a)
{
    return (a->T + REPRO_ATTN_BLOCK - 1) / REPRO_ATTN_BLOCK;
}

/* Units [begin, end) of pass k: (b, h, block of 64 rows), through the
 * block twin with its scratch, or row by row (no twin, or no memory for
 * its scratch: the same bits). */
static void run_units(const attn_task *t, int k, int64_t begin, int64_t end)
{
    const repro_attn_args *a = t->a;
    block_fn *twin = block_twin(t->isa, k);
    float *scratch = twin ? malloc(repro_attn_scratch_floats(a->hd) * sizeof(float)) : NULL;
    if (scratch) {
        for (int64_t u = begin; u < end; u++)
            twin(a, u, scratch);
        free(scratch);
        return;
    }
    row_fn *row = row_of(a, t->isa, k);
    int64_t nb = blocks_of(a);
    for (int64_t u = begin; u < end; u++) {
        int64_t lo = (u % nb) * REPRO_ATTN_BLOCK, hi = lo + REPRO_ATTN_BLOCK < a->T ? lo + REPRO_ATTN_BLOCK : a->T;
        for (int64_t i = lo; i < hi; i++)
            row(a, u / nb * a->T + i);
    }
}

static void forward_task(void *p, int64_t begin, int64_t end)
{
    run_units(p, 0, begin, end);
}

static void dsum_task(void *p, int64_t begin, int64_t end)
{
    const attn_task *t = p;
    for (int64_t r = begin; r < end; r++)
        repro_attn_dsum_row(t->a, r);
}

static void dq_task(void *p, int64_t begin, int64_t end)
{
    run_units(p, 1, begin, end);
}

static void dkv_task(void *p, int64_t begin, int64_t end)
{
    run_units(p, 2, begin, end);
}

static int64_t units_of(const repro_attn_args *a)
{
    return a->B * a->H * blocks_of(a);
}

static int64_t rows_of(const repro_attn_args *a)
{
    return a->B * a->H * a->T;
}

repro_status repro_attention_forward(const repro_cpu *cpu, const repro_attn_args *a, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = repro_attention_check(a, 1, err);
    attn_task t = {a, cpu->isa};
    if (st == REPRO_OK)
        repro_pool_run(cpu->pool, units_of(a), forward_task, &t);
    return st;
}

void repro_attention_forward_ref(const repro_attn_args *a)
{
    attn_task t = {a, REPRO_ISA_SCALAR};
    forward_task(&t, 0, units_of(a));
}

repro_status repro_attention_backward(const repro_cpu *cpu, const repro_attn_args *a, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = repro_attention_check(a, 0, err);
    if (st != REPRO_OK)
        return st;
    attn_task t = {a, cpu->isa};
    repro_pool_run(cpu->pool, rows_of(a), dsum_task, &t);
    repro_pool_run(cpu->pool, units_of(a), dq_task, &t);
    repro_pool_run(cpu->pool, units_of(a), dkv_task, &t);
    return REPRO_OK;
}

void repro_attention_backward_ref(const repro_attn_args *a)
{
    attn_task t = {a, REPRO_ISA_SCALAR};
    dsum_task(&t, 0, rows_of(a));
    dq_task(&t, 0, units_of(a));
    dkv_task(&t, 0, units_of(a));
}
