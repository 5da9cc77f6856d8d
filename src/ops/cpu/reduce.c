/* The canonical reduction on the CPU (order: src/ops/reduce.h).
 *
 * The reference walks the block tree recursively. The threaded version cuts
 * the same tree at depth SPLIT_DEPTH into at most 2^SPLIT_DEPTH subtrees
 * (each a contiguous run of blocks), sums those in parallel with the
 * reference recursion, then joins them by replaying the top of the tree.
 * Every addition happens with the same operands in both, so the bits agree
 * for any thread count, and nothing is allocated. */
#include <stddef.h>

#include "ops/cpu/ops.h"
#include "ops/cpu/reduce_simd.h"

#define SPLIT_DEPTH 6
#define MAX_SPANS (1 << SPLIT_DEPTH)

typedef float (*block_fn)(const repro_canon_src *s, int64_t start, int64_t len);

static float block_scalar(const repro_canon_src *s, int64_t start, int64_t len)
{
    return repro_canon_block(s, start, len);
}

/* S(blocks [first, first + m)) of src's n elements, m >= 1, each block by block. */
static float tree_sum_of(const repro_canon_src *src, int64_t n, int64_t first, int64_t m, block_fn block)
{
    if (m == 1) {
        int64_t start = first * REPRO_CANON_BLOCK;
        int64_t len = n - start < REPRO_CANON_BLOCK ? n - start : REPRO_CANON_BLOCK;
        return block(src, start, len);
    }
    int64_t h = (m + 1) / 2;
    float left = tree_sum_of(src, n, first, h, block);
    float right = tree_sum_of(src, n, first + h, m - h, block);
    return left + right;
}

static float tree_sum(const repro_canon_src *src, int64_t n, int64_t first, int64_t m)
{
    return tree_sum_of(src, n, first, m, block_scalar);
}

float repro_canon_sum(const repro_canon_src *src, int64_t n)
{
    if (n <= 0)
        return +0.0f;
    return tree_sum(src, n, 0, repro_canon_blocks(n));
}

float repro_canon_sum_isa(repro_isa isa, const repro_canon_src *src, int64_t n)
{
    if (n <= 0)
        return +0.0f;
    block_fn block = block_scalar;
#if defined(__x86_64__)
    if (isa == REPRO_ISA_AVX2 || isa == REPRO_ISA_AVX512)
        block = repro_canon_block_avx2;
#endif
    (void)isa;
    return tree_sum_of(src, n, 0, repro_canon_blocks(n), block);
}

float repro_sum_canonical(const float *x, int64_t n)
{
    repro_canon_src src = {REPRO_CANON_X, x, NULL, 0.0f, 0.0f, 0, 0};
    return repro_canon_sum(&src, n);
}

float repro_sumsq_canonical(const float *x, int64_t n)
{
    repro_canon_src src = {REPRO_CANON_SQ, x, NULL, 0.0f, 0.0f, 0, 0};
    return repro_canon_sum(&src, n);
}

typedef struct span {
    int64_t first, m; /* a subtree: blocks [first, first + m) */
} span;

typedef struct split_ctx {
    const repro_canon_src *src;
    int64_t n;
    span spans[MAX_SPANS];
    float sums[MAX_SPANS];
    int count;
} split_ctx;

/* Lists, left to right, the subtrees at depth SPLIT_DEPTH (or leaves above it). */
static void collect(split_ctx *c, int64_t first, int64_t m, int depth)
{
    if (m == 1 || depth == SPLIT_DEPTH) {
        c->spans[c->count].first = first;
        c->spans[c->count].m = m;
        c->count++;
        return;
    }
    int64_t h = (m + 1) / 2;
    collect(c, first, h, depth + 1);
    collect(c, first + h, m - h, depth + 1);
}

/* The top of the tree again, taking the listed subtrees' sums in order. */
static float join(const split_ctx *c, int64_t m, int depth, int *next)
{
    if (m == 1 || depth == SPLIT_DEPTH)
        return c->sums[(*next)++];
    int64_t h = (m + 1) / 2;
    float left = join(c, h, depth + 1, next);
    float right = join(c, m - h, depth + 1, next);
    return left + right;
}

static void sum_spans(void *p, int64_t begin, int64_t end)
{
    split_ctx *c = p;
    for (int64_t i = begin; i < end; i++)
        c->sums[i] = tree_sum(c->src, c->n, c->spans[i].first, c->spans[i].m);
}

/* The canonical sum with its subtrees computed in parallel (the caller has
 * checked cpu). */
static float canon_sum_threaded(const repro_cpu *cpu, const repro_canon_src *src, int64_t n)
{
    int64_t m = repro_canon_blocks(n);
    if (n <= 0 || m == 1 || !cpu->pool || repro_pool_threads(cpu->pool) == 1)
        return repro_canon_sum(src, n);
    split_ctx c;
    c.src = src;
    c.n = n;
    c.count = 0;
    collect(&c, 0, m, 0);
    repro_pool_run(cpu->pool, c.count, sum_spans, &c);
    int next = 0;
    return join(&c, m, 0, &next);
}

repro_status repro_canon_sum_mt(const repro_cpu *cpu, const repro_canon_src *src, int64_t n, float *out,
                                repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    *out = canon_sum_threaded(cpu, src, n);
    return REPRO_OK;
}

repro_status repro_sum_canonical_mt(const repro_cpu *cpu, const float *x, int64_t n, float *out, repro_error *err)
{
    repro_canon_src src = {REPRO_CANON_X, x, NULL, 0.0f, 0.0f, 0, 0};
    return repro_canon_sum_mt(cpu, &src, n, out, err);
}

repro_status repro_sumsq_canonical_mt(const repro_cpu *cpu, const float *x, int64_t n, float *out,
                                      repro_error *err)
{
    repro_canon_src src = {REPRO_CANON_SQ, x, NULL, 0.0f, 0.0f, 0, 0};
    return repro_canon_sum_mt(cpu, &src, n, out, err);
}
