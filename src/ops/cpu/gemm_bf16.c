/* The bf16 matrix product on the CPU: the tensor core's arithmetic
 * (src/ops/tc_model.h) in the GPU's order. See gemm_bf16.h.
 *
 * The threaded version packs both operands once into k-contiguous bf16 rows
 * with each value decoded (significand, exponent, sign), so the per-block
 * work is integer multiplies, shifts and adds; repro_tc_block stays the one
 * text of the rounding rules, and the decoded block below is tested bit for
 * bit against it (tests/test_gemm_bf16.c). */
#include "ops/cpu/gemm_bf16.h"

#include <stdlib.h>

#include "ops/cpu/gemm_bf16_kernel.h"
#include "ops/tc_model.h"

enum { BLOCK = REPRO_BF16_BLOCK, LANES = REPRO_BF16_PANEL };

void repro_gemm_bf16_ref(int64_t M, int64_t N, int64_t K, const float *A, int64_t a_rs, int64_t a_cs,
                         const float *B, int64_t b_rs, int64_t b_cs, const float *bias, float *C, int64_t ldc,
                         int accumulate)
{
    const repro_tc_params p = REPRO_TC_HOPPER_BF16;
    uint16_t a[BLOCK], b[BLOCK];
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            float c = accumulate ? C[m * ldc + n] : 0.0f;
            for (int64_t k0 = 0; k0 < K; k0 += BLOCK) {
                int len = K - k0 < BLOCK ? (int)(K - k0) : BLOCK;
                for (int i = 0; i < len; i++) {
                    a[i] = repro_bf16_from_float(A[m * a_rs + (k0 + i) * a_cs]);
                    b[i] = repro_bf16_from_float(B[(k0 + i) * b_rs + n * b_cs]);
                }
                c = repro_tc_block(a, b, len, c, p);
            }
            C[m * ldc + n] = bias ? c + bias[n] : c;
        }
}

typedef struct bf16_job {
    int64_t M, N, K, Kp, ldc;
    const uint16_t *Ap, *Bp; /* [M][Kp], [N][Kp] */
    const float *bias;
    float *C;
    int accumulate;
} bf16_job;

static void rows_task(void *ctx, int64_t begin, int64_t end)
{
    const bf16_job *j = ctx;
    const repro_tc_params p = REPRO_TC_HOPPER_BF16;
    for (int64_t m = begin; m < end; m++)
        for (int64_t n = 0; n < j->N; n++) {
            float c = j->accumulate ? j->C[m * j->ldc + n] : 0.0f;
            const uint16_t *a = j->Ap + m * j->Kp, *b = j->Bp + n * j->Kp;
            for (int64_t k0 = 0; k0 < j->K; k0 += BLOCK)
                c = repro_tc_block(a + k0, b + k0, BLOCK, c, p);
            j->C[m * j->ldc + n] = j->bias ? c + j->bias[n] : c;
        }
}

/* dst[r][k] = bf16(src(r, k)), zero for K <= k < Kp */
static void pack(uint16_t *dst, const float *src, int64_t rows, int64_t K, int64_t Kp, int64_t rs, int64_t cs)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < Kp; k++)
            dst[r * Kp + k] = k < K ? repro_bf16_from_float(src[r * rs + k * cs]) : 0;
}

/* ---- the SIMD path: decoded operands (gemm_bf16_kernel.h) ---- */

float repro_bf16_block_slow(const repro_bf16_operands *o, int64_t m, int64_t n, int64_t k0, float c)
{
    uint16_t a[BLOCK], b[BLOCK];
    for (int i = 0; i < BLOCK; i++) {
        a[i] = repro_bf16_from_float(o->Af[m * o->Kp + k0 + i]); /* exact: they are bf16 values */
        b[i] = repro_bf16_from_float(o->Bf[repro_bf16_b_at(o, k0 + i, n)]);
    }
    const repro_tc_params p = REPRO_TC_HOPPER_BF16;
    return repro_tc_block(a, b, BLOCK, c, p);
}

typedef void (*rows_kernel)(const repro_bf16_operands *o, int64_t m0, int64_t m1);

/* The SIMD kernel of a path, NULL where it has none (each architecture's
 * exist only there). */
static rows_kernel simd_kernel(repro_isa isa)
{
#if defined(__x86_64__)
    if (isa == REPRO_ISA_AVX512)
        return repro_gemm_bf16_rows_avx512;
    if (isa == REPRO_ISA_AVX2)
        return repro_gemm_bf16_rows_avx2;
#elif defined(__aarch64__)
    if (isa == REPRO_ISA_NEON)
        return repro_gemm_bf16_rows_neon;
#endif
    (void)isa;
    return NULL;
}

const char *repro_gemm_bf16_kernel(repro_isa isa)
{
    rows_kernel k = simd_kernel(isa);
#if defined(__x86_64__)
    if (k == repro_gemm_bf16_rows_avx512)
        return "avx512";
    if (k == repro_gemm_bf16_rows_avx2)
        return "avx2";
#elif defined(__aarch64__)
    if (k == repro_gemm_bf16_rows_neon)
        return "neon";
#endif
    return "reference";
}

typedef struct simd_job {
    repro_bf16_operands o;
    rows_kernel rows;
} simd_job;

static void simd_task(void *ctx, int64_t begin, int64_t end)
{
    const simd_job *j = ctx;
    j->rows(&j->o, begin, end);
}

enum { RANGE = 100 }; /* the in-range kernels' bound on alignment exponents */

int repro_bf16_in_range(const repro_bf16_ranges *r, int64_t Kp)
{
    int log2_kp = 0;
    while ((int64_t)1 << log2_kp < Kp)
        log2_kp++;
    int products = r->a_lo <= r->a_hi && r->b_lo <= r->b_hi;
    if (products && (r->a_lo + r->b_lo < -RANGE || r->a_hi + r->b_hi + 2 + log2_kp >= RANGE))
        return 0;
    return r->c_lo > r->c_hi || (r->c_lo >= -RANGE && r->c_hi + 1 < RANGE);
}

int repro_bf16_narrow(const repro_bf16_ranges *r)
{
    return (r->a_lo > r->a_hi || r->a_hi - r->a_lo <= 63) && (r->b_lo > r->b_hi || r->b_hi - r->b_lo <= 63);
}

/* The range of a run of nonzero exponents (zeros are REPRO_BF16_ZERO_EXP). */
typedef struct exp_range {
    int32_t lo, hi;
} exp_range;

static inline void widen(exp_range *r, int32_t e)
{
    int zero = e == REPRO_BF16_ZERO_EXP;
    r->hi = !zero && e > r->hi ? e : r->hi;
    r->lo = !zero && e < r->lo ? e : r->lo;
}

/* One value: the bf16 value of x (rounded as repro_bf16_from_float rounds a
 * finite float) and its block exponent; *bad set when it is not finite (or
 * rounds to infinity). Branch-free, so the loops below vectorize. */
static inline float decode1(float x, int32_t *e, uint32_t *bad)
{
    uint32_t u = repro_tc_f2u(x);
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1)) & 0xffff0000u;
    *bad |= ((u & 0x7fffffffu) >= 0x7f800000u) | ((r & 0x7f800000u) == 0x7f800000u);
    uint32_t E = r >> 23 & 0xff;
    *e = E ? (int32_t)E - 127 : (r & 0x7fffffu) ? -126 : REPRO_BF16_ZERO_EXP;
    return repro_tc_u2f(r);
}

/* A's row m: Af/Ae[m][k], zeros for K <= k < Kp. */
static inline uint32_t decode_a(float *f, int32_t *e, const float *src, int64_t stride, int64_t K, int64_t Kp,
                                exp_range *range)
{
    uint32_t bad = 0;
    exp_range r = *range;
    for (int64_t k = 0; k < K; k++) {
        f[k] = decode1(src[k * stride], &e[k], &bad);
        widen(&r, e[k]);
    }
    for (int64_t k = K; k < Kp; k++)
        f[k] = 0.0f, e[k] = REPRO_BF16_ZERO_EXP;
    *range = r;
    return bad;
}

/* 32 values of B at one place of a panel (dst stride 1, or PANEL down k). */
static inline uint32_t decode_b(float *f, int16_t *e, int64_t dstride, const float *src, int64_t stride, int64_t n,
                                exp_range *range)
{
    uint32_t bad = 0;
    exp_range r = *range;
    for (int64_t i = 0; i < n; i++) {
        int32_t ei;
        f[i * dstride] = decode1(src[i * stride], &ei, &bad);
        e[i * dstride] = (int16_t)ei;
        widen(&r, ei);
    }
    *range = r;
    return bad;
}

/* decode's plain loops, for the paths without their own decoder. */
static int decode_scalar(const repro_bf16_operands *o, float *Af, int32_t *Ae, float *Bf, int16_t *Be,
                         const float *A, int64_t a_rs, int64_t a_cs, const float *B, int64_t b_rs, int64_t b_cs,
                         int64_t K, repro_bf16_ranges *r)
{
    const int64_t M = o->M, N = o->N, Kp = o->Kp, Np = o->Np;
    uint32_t bad = 0;
    exp_range ra = {INT32_MAX, INT32_MIN}, rb = ra;
    for (int64_t m = 0; m < M; m++)
        bad |= a_cs == 1 ? decode_a(Af + m * Kp, Ae + m * Kp, A + m * a_rs, 1, K, Kp, &ra)
                         : decode_a(Af + m * Kp, Ae + m * Kp, A + m * a_rs, a_cs, K, Kp, &ra);
    for (int64_t i = 0; i < Kp * Np; i++)
        Bf[i] = 0.0f, Be[i] = REPRO_BF16_ZERO_EXP;
    if (b_cs == 1 || b_rs != 1) /* n contiguous (or neither): row by row of a panel */
        for (int64_t n0 = 0; n0 < N; n0 += LANES) {
            int64_t w = N - n0 < LANES ? N - n0 : LANES;
            for (int64_t k = 0; k < K; k++) {
                int64_t at = repro_bf16_b_at(o, k, n0);
                bad |= b_cs == 1 ? decode_b(Bf + at, Be + at, 1, B + k * b_rs + n0, 1, w, &rb)
                                 : decode_b(Bf + at, Be + at, 1, B + k * b_rs + n0 * b_cs, b_cs, w, &rb);
            }
        }
    else /* k contiguous: column by column */
        for (int64_t n = 0; n < N; n++) {
            int64_t at = repro_bf16_b_at(o, 0, n);
            bad |= decode_b(Bf + at, Be + at, LANES, B + n * b_cs, 1, K, &rb);
        }
    r->a_lo = ra.lo, r->a_hi = ra.hi, r->b_lo = rb.lo, r->b_hi = rb.hi;
    return !bad;
}

/* Work split over the pool's threads: slice t of `slices` takes units
 * [t * units / slices, (t + 1) * units / slices) and keeps what it finds
 * in its own slot t, which the caller merges in order. */
enum { MAX_SLICES = 64 };
typedef void (*slice_fn)(void *ctx, int64_t t, int64_t u0, int64_t u1);
typedef struct slice_job {
    slice_fn fn;
    void *ctx;
    int64_t units, slices;
} slice_job;

static void slice_task(void *ctx, int64_t begin, int64_t end)
{
    const slice_job *j = ctx;
    for (int64_t t = begin; t < end; t++)
        j->fn(j->ctx, t, t * j->units / j->slices, (t + 1) * j->units / j->slices);
}

/* Returns the number of slices. */
static int64_t run_slices(const repro_cpu *cpu, int64_t units, slice_fn fn, void *ctx)
{
    int64_t threads = cpu->pool ? repro_pool_threads(cpu->pool) : 1;
    slice_job j = {fn, ctx, units, threads < MAX_SLICES ? threads : MAX_SLICES};
    if (j.slices > 1)
        repro_pool_run(cpu->pool, j.slices, slice_task, &j);
    else
        slice_task(&j, 0, 1);
    return j.slices;
}

static void merge(exp_range *into, int32_t lo, int32_t hi)
{
    into->lo = lo < into->lo ? lo : into->lo;
    into->hi = hi > into->hi ? hi : into->hi;
}

#if defined(__x86_64__)
typedef int (*simd_decoder)(const repro_bf16_operands *o, const repro_bf16_sources *s, int64_t m0, int64_t m1,
                            int64_t n0, int64_t n1, repro_bf16_ranges *r);
typedef void (*simd_narrower)(const repro_bf16_operands *o, int8_t *Ae8, int8_t *Be8, int32_t a_bias, int32_t b_bias,
                              int64_t m0, int64_t m1, int64_t n0, int64_t n1);

enum { ROWS = 16 }; /* a unit of A: 16 rows */

/* Units of work over both operands: A's rows by ROWS, then B's columns by
 * `b_unit` (a multiple of 16). Unit span [u0, u1) as rows and columns. */
static void units_to_spans(const repro_bf16_operands *o, int64_t b_unit, int64_t u0, int64_t u1, int64_t *m0,
                           int64_t *m1, int64_t *n0, int64_t *n1)
{
    int64_t a_units = (o->M + ROWS - 1) / ROWS;
    int64_t a0 = u0 < a_units ? u0 : a_units, a1 = u1 < a_units ? u1 : a_units;
    *m0 = a0 * ROWS < o->M ? a0 * ROWS : o->M;
    *m1 = a1 * ROWS < o->M ? a1 * ROWS : o->M;
    *n0 = ((u0 > a_units ? u0 : a_units) - a_units) * b_unit;
    *n1 = ((u1 > a_units ? u1 : a_units) - a_units) * b_unit;
}

static int64_t units_of(const repro_bf16_operands *o, int64_t b_unit)
{
    return (o->M + ROWS - 1) / ROWS + o->Np / b_unit;
}

typedef struct decode_job {
    const repro_bf16_operands *o;
    const repro_bf16_sources *s;
    simd_decoder decode;
    repro_bf16_ranges seen[MAX_SLICES];
    int ok[MAX_SLICES];
} decode_job;

static void decode_slice(void *ctx, int64_t t, int64_t u0, int64_t u1)
{
    decode_job *j = ctx;
    int64_t m0, m1, n0, n1;
    units_to_spans(j->o, 16, u0, u1, &m0, &m1, &n0, &n1);
    j->ok[t] = j->decode(j->o, j->s, m0, m1, n0, n1, &j->seen[t]);
}

/* The SIMD decoders over the pool's threads; the ranges of all slices. */
static int decode_simd(simd_decoder decode, const repro_cpu *cpu, const repro_bf16_operands *o,
                       const repro_bf16_sources *s, repro_bf16_ranges *r)
{
    decode_job j = {o, s, decode, {{0}}, {0}};
    int64_t slices = run_slices(cpu, units_of(o, 16), decode_slice, &j);
    int ok = 1;
    exp_range a = {INT32_MAX, INT32_MIN}, b = a;
    for (int64_t t = 0; t < slices; t++) {
        ok &= j.ok[t];
        merge(&a, j.seen[t].a_lo, j.seen[t].a_hi);
        merge(&b, j.seen[t].b_lo, j.seen[t].b_hi);
    }
    r->a_lo = a.lo, r->a_hi = a.hi, r->b_lo = b.lo, r->b_hi = b.hi;
    return ok;
}

typedef struct narrow_job {
    const repro_bf16_operands *o;
    simd_narrower narrow;
    int8_t *Ae8, *Be8;
    int32_t a_bias, b_bias;
} narrow_job;

static void narrow_slice(void *ctx, int64_t t, int64_t u0, int64_t u1)
{
    narrow_job *j = ctx;
    int64_t m0, m1, n0, n1;
    (void)t;
    units_to_spans(j->o, REPRO_BF16_PANEL, u0, u1, &m0, &m1, &n0, &n1); /* B's int8 layout goes by panels */
    j->narrow(j->o, j->Ae8, j->Be8, j->a_bias, j->b_bias, m0, m1, n0, n1);
}
#endif

typedef struct c_job {
    repro_isa isa;
    const float *C;
    int64_t N, ldc;
    exp_range seen[MAX_SLICES];
    int ok[MAX_SLICES];
} c_job;

/* C's rows [m0, m1): their range (the model's exponents: subnormals at
 * -126); 0 when some value is not finite. */
static void c_slice(void *ctx, int64_t t, int64_t m0, int64_t m1)
{
    c_job *j = ctx;
    exp_range *range = &j->seen[t];
    const float *C = j->C + m0 * j->ldc;
    *range = (exp_range){INT32_MAX, INT32_MIN};
#if defined(__x86_64__)
    if (j->isa == REPRO_ISA_AVX512 || j->isa == REPRO_ISA_AVX2) {
        j->ok[t] = (j->isa == REPRO_ISA_AVX512 ? repro_bf16_c_range_avx512 : repro_bf16_c_range_avx2)(
            C, m1 - m0, j->N, j->ldc, &range->lo, &range->hi);
        return;
    }
#endif
    uint32_t bad = 0;
    for (int64_t m = 0; m < m1 - m0; m++)
        for (int64_t n = 0; n < j->N; n++) {
            uint32_t u = repro_tc_f2u(C[m * j->ldc + n]);
            bad |= (u & 0x7f800000u) == 0x7f800000u;
            widen(range, repro_bf16_block_exp(u));
        }
    j->ok[t] = !bad;
}

/* The range of C's nonzero exponents, over the pool's threads; 0 when some
 * value is not finite. */
static int c_exponents(const repro_cpu *cpu, const float *C, int64_t M, int64_t N, int64_t ldc, exp_range *range)
{
    c_job j = {cpu->isa, C, N, ldc, {{0, 0}}, {0}};
    int64_t slices = run_slices(cpu, M, c_slice, &j);
    int ok = 1;
    for (int64_t t = 0; t < slices; t++) {
        ok &= j.ok[t];
        merge(range, j.seen[t].lo, j.seen[t].hi);
    }
    return ok;
}

/* Decodes A into Af/Ae [M][Kp] and B into Bf/Be (repro_bf16_b_at, zeros
 * beyond K and N), and sets o->in_range; 0 when an input is not finite
 * (then the reference path runs: no speed is owed to NaNs). */
static int decode(const repro_cpu *cpu, repro_bf16_operands *o, const repro_bf16_sources *s, int8_t *Ae8,
                  int8_t *Be8, exp_range c_range)
{
    const repro_isa isa = cpu->isa;
    repro_bf16_ranges r;
#if defined(__x86_64__)
    if (isa == REPRO_ISA_AVX512 || isa == REPRO_ISA_AVX2) {
        if (!decode_simd(isa == REPRO_ISA_AVX512 ? repro_bf16_decode_avx512 : repro_bf16_decode_avx2, cpu, o, s, &r))
            return 0;
    } else
#endif
        if (!decode_scalar(o, s->Af, s->Ae, s->Bf, s->Be, s->A, s->a_rs, s->a_cs, s->B, s->b_rs, s->b_cs, s->K, &r))
        return 0;
    r.c_lo = c_range.lo, r.c_hi = c_range.hi;
    o->in_range = repro_bf16_in_range(&r, o->Kp);
#if defined(__x86_64__)
    if ((isa == REPRO_ISA_AVX512 || isa == REPRO_ISA_AVX2) && o->in_range && repro_bf16_narrow(&r)) {
        int32_t a_bias = r.a_lo <= r.a_hi ? r.a_hi : 0, b_bias = r.b_lo <= r.b_hi ? r.b_hi : 0;
        narrow_job j = {o, isa == REPRO_ISA_AVX512 ? repro_bf16_narrow_avx512 : repro_bf16_narrow_avx2, Ae8, Be8,
                        a_bias, b_bias};
        run_slices(cpu, units_of(o, REPRO_BF16_PANEL), narrow_slice, &j);
        o->narrow = 1, o->Ae8 = Ae8, o->Be8 = Be8, o->exp_bias = a_bias + b_bias;
    }
#endif
    (void)isa, (void)Ae8, (void)Be8;
    return 1;
}

/* The SIMD path; returns 0 (nothing written) when it cannot take the product. */
static int gemm_simd(const repro_cpu *cpu, int64_t M, int64_t N, int64_t K, const float *A, int64_t a_rs,
                     int64_t a_cs, const float *B, int64_t b_rs, int64_t b_cs, const float *bias, float *C,
                     int64_t ldc, int accumulate, int *nomem)
{
    exp_range c_range = {INT32_MAX, INT32_MIN};
    if (accumulate && !c_exponents(cpu, C, M, N, ldc, &c_range))
        return 0;
    const int64_t Kp = (K + BLOCK - 1) / BLOCK * BLOCK, Np = (N + LANES - 1) / LANES * LANES;
    size_t na = (size_t)(M * Kp), nb = (size_t)(Kp * Np);
    void *mem = malloc((na + nb) * sizeof(float) + na * sizeof(int32_t) + nb * sizeof(int16_t) + na + nb + 1);
    if (!mem) {
        *nomem = 1;
        return 0;
    }
    float *Af = mem, *Bf = Af + na;
    int32_t *Ae = (int32_t *)(Bf + nb);
    int16_t *Be = (int16_t *)(Ae + na);
    int8_t *Ae8 = (int8_t *)(Be + nb), *Be8 = Ae8 + na;
    simd_job job = {{M, N, Kp, Np, ldc, Af, Ae, Bf, Be, bias, C, accumulate, 0, 0, NULL, NULL, 0},
                    simd_kernel(cpu->isa)};
    const repro_bf16_sources sources = {A, B, a_rs, a_cs, b_rs, b_cs, K, Af, Bf, Ae, Be};
    int ok = decode(cpu, &job.o, &sources, Ae8, Be8, c_range);
    if (ok) {
        if (cpu->pool)
            repro_pool_run(cpu->pool, M, simd_task, &job);
        else
            simd_task(&job, 0, M);
    }
    free(mem);
    return ok;
}

repro_status repro_gemm_bf16(const repro_cpu *cpu, int64_t M, int64_t N, int64_t K, const float *A, int64_t a_rs,
                             int64_t a_cs, const float *B, int64_t b_rs, int64_t b_cs, const float *bias, float *C,
                             int64_t ldc, int accumulate, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    if (M < 0 || N < 0 || K < 0 || (M > 0 && N > 0 && ldc < N))
        return repro_fail(err, REPRO_ERR_ARG, "bf16 gemm: bad shape %lldx%lldx%lld, ldc %lld", (long long)M,
                          (long long)N, (long long)K, (long long)ldc);
    if (M == 0 || N == 0)
        return REPRO_OK;
    int nomem = 0;
    if (simd_kernel(cpu->isa) &&
        gemm_simd(cpu, M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, bias, C, ldc, accumulate, &nomem))
        return REPRO_OK;
    const int64_t Kp = (K + BLOCK - 1) / BLOCK * BLOCK;
    uint16_t *Ap = malloc(((size_t)(M + N) * (size_t)Kp + 1) * sizeof *Ap);
    if (!Ap)
        return repro_fail(err, REPRO_ERR_NOMEM, "bf16 gemm: no memory to pack a %lldx%lldx%lld product",
                          (long long)M, (long long)N, (long long)K);
    uint16_t *Bp = Ap + M * Kp;
    pack(Ap, A, M, K, Kp, a_rs, a_cs);
    pack(Bp, B, N, K, Kp, b_cs, b_rs);
    bf16_job job = {M, N, K, Kp, ldc, Ap, Bp, bias, C, accumulate};
    if (cpu->pool)
        repro_pool_run(cpu->pool, M, rows_task, &job);
    else
        rows_task(&job, 0, M);
    free(Ap);
    return REPRO_OK;
}
