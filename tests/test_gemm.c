/* repro_gemm gives exactly the bits of repro_gemm_ref (the contract of
 * gemm.h) on every ISA path this CPU supports, every thread count 1-4, every
 * stride layout, with and without accumulate and bias; repro_gemm_ref in turn
 * equals an independent float-only loop written here. Inputs include
 * subnormals, huge values that overflow to inf, negative zeros and NaNs.
 * ctest-labels: threads */
#include <math.h>
#include <stdint.h>
#include <sys/resource.h>

#include "ops/cpu/gemm.h"
#include "repro/isa.h"
#include "testutil.h"

enum { MAX_THREADS = 4 };

static repro_pool *pools[MAX_THREADS + 1];
static const repro_isa isas[] = {REPRO_ISA_SCALAR, REPRO_ISA_AVX2, REPRO_ISA_AVX512, REPRO_ISA_NEON};
enum { N_ISAS = 4 };
static int isa_ok[N_ISAS];

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t next_u32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* Mostly uniform in [-1, 1); with `specials`, about 1 in 16 values is a
 * subnormal, a huge value, a signed zero, an infinity or a NaN. */
static float draw(int specials)
{
    uint32_t r = next_u32();
    float u = (float)(r >> 8) * 0x1p-23f - 1.0f;
    if (!specials || (r & 15) != 0)
        return u;
    switch ((r >> 4) % 7) {
    case 0: return 1e-40f * (u < 0 ? -1.0f : 1.0f);   /* subnormal */
    case 1: return 1e30f * (u < 0 ? -1.0f : 1.0f);    /* overflows in products */
    case 2: return -0.0f;
    case 3: return 0.0f;
    case 4: return INFINITY * (u < 0 ? -1.0f : 1.0f);
    case 5: return NAN;
    default: return 0x1p-140f * u;                    /* subnormal products */
    }
}

static float *filled(size_t n, int specials)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = draw(specials);
    return p;
}

/* The test's own statement of the contract: float-only, no strides tricks. */
static void naive(int64_t M, int64_t N, int64_t K, const float *A, int64_t a_rs, int64_t a_cs,
                  const float *B, int64_t b_rs, int64_t b_cs, const float *bias, float *C, int64_t ldc,
                  int accumulate)
{
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            float s = 0.0f;
            if (accumulate)
                s = C[m * ldc + n];
            for (int64_t k = 0; k < K; k++) {
                float a = A[m * a_rs + k * a_cs], b = B[k * b_rs + n * b_cs];
                s = fmaf(a, b, s);
            }
            if (bias)
                s = s + bias[n];
            C[m * ldc + n] = s;
        }
}

/* Bitwise equality, except that any NaN equals any NaN: x86 gives a NaN
 * result the sign and payload of one NaN operand picked by its position, and
 * compilers swap the operands of commutative operations freely (a Debug build
 * of the reference really does differ there). Everything else: every bit. */
static int same(const float *a, const float *b, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t ua, ub;
        memcpy(&ua, &a[i], 4);
        memcpy(&ub, &b[i], 4);
        if (ua != ub && !(isnan(a[i]) && isnan(b[i]))) {
            fprintf(stderr, "%s: first difference at %zu: %a (0x%08x) vs %a (0x%08x)\n", what, i,
                    (double)a[i], ua, (double)b[i], ub);
            return 0;
        }
    }
    return 1;
}

/* One shape and layout against the reference on every path and thread count.
 * heavy: only threads 1 and 4 on the (slow) scalar path. */
static void check_case(int64_t M, int64_t N, int64_t K, int a_t, int b_t, int accumulate, int with_bias,
                       int specials, int heavy)
{
    int64_t ldc = N + 3; /* padding that must stay untouched */
    int64_t a_rs = a_t ? 1 : K, a_cs = a_t ? M : 1;
    int64_t b_rs = b_t ? 1 : N, b_cs = b_t ? K : 1;
    size_t c_size = (size_t)(M * ldc);
    float *A = filled((size_t)(M * K), specials), *B = filled((size_t)(K * N), specials);
    float *bias = with_bias ? filled((size_t)N, specials) : NULL;
    float *C0 = filled(c_size, specials);
    float *want = malloc(c_size * sizeof *want), *got = malloc(c_size * sizeof *got);
    memcpy(want, C0, c_size * sizeof *want);
    repro_gemm_ref(M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, bias, want, ldc, accumulate);
    char what[160];
    snprintf(what, sizeof what, "M=%lld N=%lld K=%lld a_t=%d b_t=%d acc=%d bias=%d specials=%d",
             (long long)M, (long long)N, (long long)K, a_t, b_t, accumulate, with_bias, specials);
    if (M * N * K <= 300000) {
        memcpy(got, C0, c_size * sizeof *got);
        naive(M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, bias, got, ldc, accumulate);
        CHECK_MSG(same(want, got, c_size, what), "reference vs naive loop: %s", what);
    }
    for (int i = 0; i < N_ISAS; i++) {
        if (!isa_ok[i])
            continue;
        for (int t = 1; t <= MAX_THREADS; t++) {
            if (heavy && isas[i] == REPRO_ISA_SCALAR && t != 1 && t != MAX_THREADS)
                continue;
            repro_cpu cpu = {isas[i], pools[t]};
            repro_error err = {0};
            memcpy(got, C0, c_size * sizeof *got);
            repro_status st = repro_gemm(&cpu, M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, bias, got, ldc,
                                         accumulate, &err);
            CHECK_MSG(st == REPRO_OK, "%s: %s", what, err.message);
            CHECK_MSG(same(want, got, c_size, what), "%s path, %d threads: %s",
                      repro_isa_name(isas[i]), t, what);
        }
    }
    free(A), free(B), free(bias), free(C0), free(want), free(got);
}

static void sampled_shapes(void)
{
    static const int64_t sizes[] = {1, 2, 7, 17, 33, 255, 257, 1000};
    enum { N_SIZES = sizeof sizes / sizeof sizes[0] };
    int cases = 0;
    for (int i = 0; i < N_SIZES; i++)
        for (int j = 0; j < N_SIZES; j++)
            for (int l = 0; l < N_SIZES; l++) {
                int64_t M = sizes[i], N = sizes[j], K = sizes[l];
                /* every shape up to 40k MACs, a sample of the larger ones */
                if (M * N * K > 40000 && (i * 7 + j * 3 + l) % 11 != 0)
                    continue;
                if (M * N * K > 2000000)
                    continue;
                int layout = (i + j + l) % 4, variant = (i * 3 + j + l * 5) % 3;
                int accumulate = variant == 1, bias = variant == 2;
                check_case(M, N, K, layout & 1, layout >> 1, accumulate, bias, (i + l) % 2, 0);
                cases++;
            }
    printf("sampled shapes: %d cases\n", cases);
}

/* Every layout x accumulate x bias on shapes with edges in every dimension. */
static void all_layouts(void)
{
    static const int64_t shapes[][3] = {{7, 17, 33}, {33, 33, 257}, {17, 65, 300}, {1, 1000, 7}, {257, 1, 17}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int layout = 0; layout < 4; layout++)
            for (int variant = 0; variant < 3; variant++)
                for (int specials = 0; specials < 2; specials++)
                    check_case(shapes[s][0], shapes[s][1], shapes[s][2], layout & 1, layout >> 1,
                               variant == 1, variant == 2, specials, 0);
}

/* The MLP's products (784-256-256-10, batch 256), each in its own layout. */
static void mlp_shapes(void)
{
    check_case(256, 256, 784, 0, 1, 0, 1, 0, 1); /* forward layer 1: x W^T + b */
    check_case(256, 256, 256, 0, 1, 0, 1, 0, 1); /* forward layer 2 */
    check_case(256, 10, 256, 0, 1, 0, 1, 0, 1);  /* forward layer 3 */
    check_case(256, 256, 10, 0, 0, 0, 0, 0, 1);  /* dx layer 3: dy W */
    check_case(256, 784, 256, 0, 0, 0, 0, 0, 1); /* dx of a 784-wide input */
    check_case(256, 784, 256, 1, 0, 1, 0, 0, 1); /* dW layer 1: dy^T x, accumulating */
    check_case(10, 256, 256, 1, 0, 1, 0, 0, 1);  /* dW layer 3 */
    check_case(256, 256, 256, 0, 0, 0, 0, 0, 1); /* dx layer 2 */
    check_case(256, 256, 256, 1, 0, 1, 0, 0, 1); /* dW layer 2 */
}

/* The conv net's products (examples/fashion_cnn.yaml, batch 128): its linear
 * layers 3136-128-10 and conv2d.c's per-image products of conv1 (1->32,
 * 28x28) and conv2 (32->64, 14x14), in their layouts (bench_gemm's list). */
static void cnn_shapes(void)
{
    check_case(128, 128, 3136, 0, 1, 0, 1, 0, 1); /* fc1 forward */
    check_case(128, 3136, 128, 0, 0, 0, 0, 0, 1); /* fc1 dX */
    check_case(128, 3136, 128, 1, 0, 1, 0, 0, 1); /* fc1 dW */
    check_case(128, 10, 128, 0, 1, 0, 1, 0, 1);   /* fc2 forward */
    check_case(128, 128, 10, 0, 0, 0, 0, 0, 1);   /* fc2 dX */
    check_case(10, 128, 128, 1, 0, 1, 0, 0, 1);   /* fc2 dW */
    check_case(784, 32, 9, 1, 1, 0, 1, 0, 1);     /* conv1 forward, pixels x taps */
    check_case(10, 32, 784, 0, 1, 1, 0, 0, 1);    /* conv1 dW (+ the bias row) */
    check_case(196, 64, 288, 1, 1, 0, 1, 0, 1);   /* conv2 forward */
    check_case(196, 32, 576, 1, 0, 0, 0, 0, 1);   /* conv2 dX */
    check_case(289, 64, 196, 0, 1, 1, 0, 0, 1);   /* conv2 dW */
}

/* A whose rows run along k (a_cs == 1), read in place by the kernels'
 * instances for that layout, across two k-blocks of 150 (K = 300), so
 * the k loop unrolled by 4 has a tail of 2, 13 rows (a one-row last
 * tile) and 1100 columns (two column blocks, a ragged last strip); every
 * B layout, accumulate and bias, specials. */
static void a_along_k_wide(void)
{
    for (int b_t = 0; b_t < 2; b_t++)
        for (int variant = 0; variant < 3; variant++)
            check_case(13, 1100, 300, 0, b_t, variant == 1, variant == 2, variant == 0, 1);
}

/* The edges of the micro-kernels: every row count up to three tiles of the
 * widest path (so each instance R = 1..MR, and B read in place for short
 * regions, packed for taller ones), widths around one and two vectors and
 * a whole tile, with and without accumulate and bias, specials included. */
static void kernel_edges(void)
{
    static const int64_t widths[] = {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 64, 65};
    int cases = 0;
    for (int64_t M = 1; M <= 25; M++)
        for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
            int64_t N = widths[w], K = 5 + (M * 7 + (int64_t)w) % 23;
            int variant = (int)((M + (int64_t)w) % 3), layout = (int)((M * 5 + (int64_t)w) % 4);
            check_case(M, N, K, layout & 1, layout >> 1, variant == 1, variant == 2, (int)(M % 2), 1);
            cases++;
        }
    /* B in place over several k-blocks (K > 256), with the bias on the last */
    check_case(10, 100, 784, 0, 0, 0, 1, 1, 1);
    check_case(3, 65, 600, 0, 0, 1, 0, 1, 1);
    check_case(17, 49, 513, 1, 0, 0, 1, 0, 1);
    printf("kernel edges: %d cases\n", cases);
}

/* Short k-blocks (K < 64) go to the block kernels, the region's tiles in
 * one call: several rows and columns of tiles with ragged last ones, B in
 * place and packed in the same call's region, and A packed into
 * micro-panels (its k stride a multiple of 128 floats, many columns), each
 * with accumulate and bias. */
static void short_k_blocks(void)
{
    for (int variant = 0; variant < 3; variant++) {
        int acc = variant == 1, bias = variant == 2;
        check_case(128, 200, 10, 1, 0, acc, bias, variant == 0, 1); /* A packed, B in place */
        check_case(256, 130, 63, 1, 1, acc, bias, 0, 1);            /* A packed, B transposed */
        check_case(16, 97, 9, 0, 0, acc, bias, 1, 1);               /* B in place, then packed */
        check_case(61, 75, 1, 0, 1, acc, bias, 0, 1);
        check_case(200, 47, 33, 1, 0, acc, bias, 1, 1);
    }
}

/* Narrow products (N <= 12, M >= 16) go to the narrow kernel on AVX2
 * (gemm_narrow_avx2.c): every N up to 12 and one past it, row counts
 * with a ragged last panel of 8, K with tails of the 4-k steps (and
 * K = 1), every layout (A along k read in place, the others packed), with
 * accumulate and bias, specials on some. */
static void narrow_outputs(void)
{
    static const int64_t rows[] = {16, 17, 23, 40, 64}, ks[] = {1, 3, 4, 5, 17, 130};
    int cases = 0;
    for (int64_t N = 1; N <= 13; N++)
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
            int64_t M = rows[r], K = ks[((size_t)N + r) % (sizeof ks / sizeof ks[0])];
            for (int layout = 0; layout < 4; layout++) {
                int variant = (int)((N + (int64_t)r + layout) % 3);
                check_case(M, N, K, layout & 1, layout >> 1, variant == 1, variant == 2, (int)((N + layout) % 2), 1);
                cases++;
            }
        }
    printf("narrow outputs: %d cases\n", cases);
}

/* Exact expectations: -0 handling, inf, NaN, K == 0. */
static void known_answers(void)
{
    repro_cpu cpu = {repro_isa_best(), pools[2]};
    repro_error err;
    /* acc starts at +0: fma(-0, 1, +0) = +0, and -0 + -0 = -0 only via bias. */
    float a[2] = {-0.0f, -0.0f}, b[2] = {1.0f, 1.0f}, c[1] = {5.0f};
    CHECK(repro_gemm(&cpu, 1, 1, 2, a, 2, 1, b, 1, 1, NULL, c, 1, 0, &err) == REPRO_OK);
    CHECK(c[0] == 0.0f && !signbit(c[0]));
    float nz = -0.0f;
    CHECK(repro_gemm(&cpu, 1, 1, 2, a, 2, 1, b, 1, 1, &nz, c, 1, 0, &err) == REPRO_OK);
    CHECK(c[0] == 0.0f && !signbit(c[0])); /* +0 + -0 = +0 */
    c[0] = -0.0f; /* accumulating from -0: fma(-0, 1, -0) = -0 */
    CHECK(repro_gemm(&cpu, 1, 1, 2, a, 2, 1, b, 1, 1, NULL, c, 1, 1, &err) == REPRO_OK);
    CHECK(c[0] == 0.0f && signbit(c[0]));
    /* 1e30 * 1e30 overflows to inf; the fused product -1e60 is not
     * rounded, so adding it to inf gives inf, not inf - inf = NaN. */
    float big[2] = {1e30f, 1e30f}, sgn[2] = {1e30f, -1e30f};
    CHECK(repro_gemm(&cpu, 1, 1, 1, big, 1, 1, big, 1, 1, NULL, c, 1, 0, &err) == REPRO_OK);
    CHECK(isinf(c[0]) && c[0] > 0);
    CHECK(repro_gemm(&cpu, 1, 1, 2, big, 2, 1, sgn, 1, 1, NULL, c, 1, 0, &err) == REPRO_OK);
    CHECK(isinf(c[0]) && c[0] > 0);
    /* inf * 0 is NaN. */
    float inf0[2] = {INFINITY, 1.0f}, zero1[2] = {0.0f, 1.0f};
    CHECK(repro_gemm(&cpu, 1, 1, 2, inf0, 2, 1, zero1, 1, 1, NULL, c, 1, 0, &err) == REPRO_OK);
    CHECK(isnan(c[0]));
    /* A NaN anywhere in the chain stays NaN. */
    float withnan[3] = {1.0f, NAN, 1.0f}, ones[3] = {1.0f, 1.0f, 0.0f};
    CHECK(repro_gemm(&cpu, 1, 1, 3, withnan, 3, 1, ones, 1, 1, NULL, c, 1, 0, &err) == REPRO_OK);
    CHECK(isnan(c[0]));
    /* K == 0: +0 (+ bias), or unchanged when accumulating; M or N == 0: nothing. */
    float cc[6] = {1, 2, 3, 4, 5, 6}, bias3[3] = {-0.0f, 7.0f, -1.0f};
    CHECK(repro_gemm(&cpu, 2, 3, 0, NULL, 0, 0, NULL, 0, 0, NULL, cc, 3, 1, &err) == REPRO_OK);
    CHECK(cc[0] == 1 && cc[5] == 6);
    CHECK(repro_gemm(&cpu, 2, 3, 0, NULL, 0, 0, NULL, 0, 0, bias3, cc, 3, 0, &err) == REPRO_OK);
    CHECK(cc[0] == 0.0f && !signbit(cc[0]) && cc[1] == 7.0f && cc[5] == -1.0f);
    CHECK(repro_gemm(&cpu, 2, 3, 0, NULL, 0, 0, NULL, 0, 0, NULL, cc, 3, 0, &err) == REPRO_OK);
    CHECK(cc[1] == 0.0f && !signbit(cc[1]));
    CHECK(repro_gemm(&cpu, 0, 3, 5, NULL, 0, 0, NULL, 0, 0, NULL, NULL, 3, 0, &err) == REPRO_OK);
    CHECK(repro_gemm(&cpu, 3, 0, 5, NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, 0, &err) == REPRO_OK);
}

static void bad_arguments(void)
{
    repro_cpu cpu = {REPRO_ISA_SCALAR, NULL};
    repro_error err;
    float x[4] = {0};
    CHECK(repro_gemm(&cpu, -1, 2, 2, x, 2, 1, x, 2, 1, NULL, x, 2, 0, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "negative size M=-1 N=2 K=2");
    CHECK(repro_gemm(&cpu, 2, 2, 2, x, 2, 1, x, 2, 1, NULL, x, 1, 0, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "ldc=1 is less than N=2");
    CHECK(repro_gemm(&cpu, 2, 2, 2, x, 2, 1, x, 2, 1, x, x, 2, 1, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "bias is only allowed without accumulate");
    CHECK(repro_gemm(&cpu, 2, 2, 2, NULL, 2, 1, x, 2, 1, NULL, x, 2, 0, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "A is NULL for a 2x2x2 product");
    CHECK(repro_gemm(NULL, 2, 2, 2, x, 2, 1, x, 2, 1, NULL, x, 2, 0, &err) == REPRO_ERR_ARG);
    for (int i = 0; i < N_ISAS; i++) {
        if (isa_ok[i])
            continue;
        repro_cpu bad = {isas[i], NULL};
        CHECK(repro_gemm(&bad, 2, 2, 2, x, 2, 1, x, 2, 1, NULL, x, 2, 0, &err) == REPRO_ERR_UNSUPPORTED);
        CHECK_CONTAINS(err.message, repro_isa_name(isas[i]));
    }
}

/* Subnormals survive on every path: normal inputs whose products and sums
 * are subnormal (exact multiples of 2^-149, so the answer is known) come out
 * exactly, not flushed to zero. Bitwise equality with the scalar path alone
 * would not show this: flush-to-zero (aarch64 FPCR.FZ, x86 MXCSR.FTZ/DAZ)
 * would flush the scalar code too. */
static uint32_t bits_of_f(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static void subnormals_kept(void)
{
    enum { M = 7, N = 19, K = 5 };
    float A[M * K], B[K * N], bias[N], C[M * N];
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++)
            A[i * K + k] = (float)(k + 1) * 0x1p-70f; /* normal */
    for (int k = 0; k < K; k++)
        for (int j = 0; j < N; j++)
            B[k * N + j] = 0x1p-73f; /* normal; A*B = (k+1) * 2^-143, subnormal */
    for (int j = 0; j < N; j++)
        bias[j] = (float)j * 0x1p-149f; /* the smallest subnormal, times j */
    const float want_base = (float)(K * (K + 1) / 2) * 0x1p-143f;
    for (int i = 0; i < N_ISAS; i++) {
        if (!isa_ok[i])
            continue;
        repro_cpu cpu = {isas[i], pools[2]};
        repro_error err;
        CHECK(repro_gemm(&cpu, M, N, K, A, K, 1, B, N, 1, bias, C, N, 0, &err) == REPRO_OK);
        int wrong = 0;
        for (int r = 0; r < M; r++)
            for (int j = 0; j < N; j++)
                wrong += bits_of_f(C[r * N + j]) != bits_of_f(want_base + (float)j * 0x1p-149f);
        CHECK_MSG(wrong == 0 && C[0] != 0.0f, "%s: %d subnormal results wrong (C[0] = %a, want %a)",
                  repro_isa_name(isas[i]), wrong, (double)C[0], (double)want_base);
    }
}

/* Packing buffers that cannot be allocated give REPRO_ERR_NOMEM and leave C
 * untouched. The address-space limit would break the sanitizers' shadow
 * memory, so this part runs only in plain builds. */
static void out_of_memory(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    printf("NOTE: allocation-failure check skipped under a sanitizer\n");
#else
    int64_t n = 300;
    float *A = filled((size_t)(n * n), 0), *C = filled((size_t)(n * n), 0);
    float *C0 = malloc((size_t)(n * n) * sizeof *C0);
    memcpy(C0, C, (size_t)(n * n) * sizeof *C0);
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0;
    if (!f || fscanf(f, "%ld", &pages) != 1) {
        printf("NOTE: allocation-failure check skipped (no /proc/self/statm)\n");
    } else {
        struct rlimit old, tight;
        getrlimit(RLIMIT_AS, &old);
        tight = old;
        tight.rlim_cur = (rlim_t)pages * 4096 + 64 * 1024;
        repro_cpu cpu = {REPRO_ISA_SCALAR, NULL};
        repro_error err;
        CHECK(setrlimit(RLIMIT_AS, &tight) == 0);
        /* qemu-user (the aarch64 tests) accepts the limit but does not
         * enforce it: then there is nothing to check */
        void *volatile probe = malloc((size_t)64 << 20); /* volatile: never elided */
        if (probe) {
            free(probe);
            setrlimit(RLIMIT_AS, &old);
            printf("NOTE: allocation-failure check skipped (RLIMIT_AS is not enforced here, e.g. under qemu-user)\n");
        } else {
            repro_status st = repro_gemm(&cpu, n, n, n, A, n, 1, A, n, 1, NULL, C, n, 0, &err);
            setrlimit(RLIMIT_AS, &old);
            CHECK(st == REPRO_ERR_NOMEM);
            CHECK_CONTAINS(err.message, "cannot allocate");
            CHECK_CONTAINS(err.message, "300x300x300 product");
            CHECK(test_bits_equal(C, C0, (size_t)(n * n), "C after NOMEM"));
        }
    }
    if (f)
        fclose(f);
    free(A), free(C), free(C0);
#endif
}

int main(void)
{
    for (int i = 0; i < N_ISAS; i++) {
        isa_ok[i] = repro_isa_supported(isas[i]);
        if (!isa_ok[i])
            printf("NOTE: %s path not supported by this CPU: not tested\n", repro_isa_name(isas[i]));
    }
    for (int t = 1; t <= MAX_THREADS; t++) {
        repro_error err;
        if (repro_pool_create(t, &pools[t], &err) != REPRO_OK)
            TEST_SKIP("cannot create a pool of %d threads: %s", t, err.message);
    }
    known_answers();
    subnormals_kept();
    bad_arguments();
    out_of_memory();
    all_layouts();
    sampled_shapes();
    mlp_shapes();
    cnn_shapes();
    a_along_k_wide();
    kernel_edges();
    short_k_blocks();
    narrow_outputs();
    for (int t = 1; t <= MAX_THREADS; t++)
        repro_pool_destroy(pools[t]);
    return test_finish("test_gemm");
}
