/* The bf16 tensor-core GEMM against its CPU twin, bit for bit.
 *
 *   test_cuda_bf16            model == hardware on >= 10^7 dot products of
 *                             random and adversarial inputs, and the GEMM's
 *                             every layout, odd shape, bias and accumulate
 *   test_cuda_bf16 --bench    4096^3 and 8192^3 against cuBLAS bf16 (fp32 compute)
 *   test_cuda_bf16 --bench-layers   the 6-layer encoder's products, every tiling
 *
 * The CPU side is repro_gemm_bf16_ref: src/ops/tc_model.h's block sum in
 * ascending k blocks of 16. A mismatch prints the inputs of the first
 * differing output, so a model change can be made from the report. */
#include <cublas_v2.h>
#include <cuda_bf16.h>

#include "cuda_test.cuh"

extern "C" {
#include "ops/cpu/gemm_bf16.h"
#include "ops/tc_model.h"
}
#include "ops/cuda/cuda_bf16.h"

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* One value of an input distribution: a random significand with an
 * exponent drawn from [lo, hi] (unbiased), random sign. */
static float value(rng &r, int lo, int hi)
{
    int e = lo + (int)(r.next() % (uint32_t)(hi - lo + 1));
    uint32_t E = (uint32_t)(e + 127);
    return from_bits((r.next() & 1u) << 31 | E << 23 | (r.next() & 0x7fffffu));
}

enum dist { SPREAD4, SPREAD30, TINY, SUBNORMAL, CANCEL, SPECIAL, INTEGER, NDIST };
static const char *dist_name[NDIST] = {"spread4", "spread30", "tiny", "subnormal", "cancel", "special", "integer"};

/* A [M][K], B [K][N] and C [M][N] (the accumulate input) of one distribution. */
static void fill(rng &r, dist d, fvec &A, fvec &B, fvec &C, int64_t M, int64_t N, int64_t K)
{
    for (int64_t m = 0; m < M; m++)
        for (int64_t k = 0; k < K; k++) {
            float &a = A[(size_t)(m * K + k)];
            switch (d) {
            case SPREAD4: a = value(r, -4, 4); break;
            case SPREAD30: a = value(r, -15, 15); break;
            case TINY: a = value(r, -80, -62); break;
            case SUBNORMAL: a = r.next() % 3 ? value(r, -70, -55) : from_bits(r.next() & 0x807fffffu); break;
            case CANCEL: a = (k & 1) ? -A[(size_t)(m * K + k - 1)] : value(r, -3, 3); break;
            case SPECIAL: {
                static const uint32_t sp[] = {0x7f800000u, 0xff800000u, 0x7fc00000u, 0x00000000u,
                                              0x80000000u, 0x00010000u, 0x7e000000u};
                a = r.next() % 24 == 0 ? from_bits(sp[r.next() % 7]) : value(r, -3, 3);
                break;
            }
            case INTEGER: a = (float)((int)(r.next() % 17) - 8); break;
            default: break;
            }
        }
    for (int64_t k = 0; k < K; k++)
        for (int64_t n = 0; n < N; n++) {
            float &b = B[(size_t)(k * N + n)];
            switch (d) {
            case TINY: b = value(r, -80, -62); break;
            case SUBNORMAL: b = value(r, -70, -55); break;
            case CANCEL: b = (k & 1) ? B[(size_t)((k - 1) * N + n)] : value(r, -3, 3); break;
            case INTEGER: b = (float)((int)(r.next() % 17) - 8); break;
            case SPREAD30: b = value(r, -15, 15); break;
            default: b = value(r, -4, 4); break;
            }
        }
    for (size_t i = 0; i < C.size(); i++) {
        switch (d) {
        case TINY: C[i] = r.next() % 2 ? 0.0f : from_bits(r.next() & 0x8000ffffu); break;
        case SUBNORMAL: C[i] = from_bits(r.next() & 0x807fffffu); break;
        case INTEGER: C[i] = (float)((int)(r.next() % 201) - 100); break;
        default: C[i] = r.next() % 4 == 0 ? 0.0f : value(r, -20, 20); break;
        }
    }
}

/* Compares and reports; on a mismatch prints the first one's inputs. */
static bool same_bits(const fvec &got, const fvec &want, const fvec &A, const fvec &B, int64_t N, int64_t K,
                      char *detail, size_t cap)
{
    long bad = 0, first = -1;
    for (size_t i = 0; i < got.size(); i++) {
        uint32_t g = bits(got[i]), w = bits(want[i]);
        bool nan2 = (g & 0x7fffffffu) > 0x7f800000u && (w & 0x7fffffffu) > 0x7f800000u;
        if (g != w && !nan2) {
            if (first < 0)
                first = (long)i;
            bad++;
        }
    }
    if (!bad) {
        snprintf(detail, cap, "%zu outputs bitwise", got.size());
        return true;
    }
    int64_t m = first / N, n = first % N;
    snprintf(detail, cap, "%ld of %zu differ; first C[%lld][%lld]: gpu %08x cpu %08x", bad, got.size(),
             (long long)m, (long long)n, bits(got[(size_t)first]), bits(want[(size_t)first]));
    fprintf(stderr, "first mismatch inputs (bf16 a*b, k ascending):");
    for (int64_t k = 0; k < K && k < 32; k++)
        fprintf(stderr, " %04x*%04x", repro_bf16_from_float(A[(size_t)(m * K + k)]),
                repro_bf16_from_float(B[(size_t)(k * N + n)]));
    fprintf(stderr, "\n");
    return false;
}

/* >= 10^7 dot products a kernel: every distribution, K = 16 (one block) and
 * K = 80 (a chain of five), accumulate on (C as the first block's c), on
 * the mma.sync kernel and on the wgmma one where it runs. */
static long model_vs_hardware(rng &r, repro_cuda_bf16_tiling tiling, const char *kernel)
{
    const int64_t M = 256, N = 256;
    long dots = 0;
    char detail[256], shape[96];
    for (int d = 0; d < NDIST; d++)
        for (int64_t K : {16, 80})
            for (int rep = 0; rep < 11; rep++) {
                fvec A((size_t)(M * K)), B((size_t)(K * N)), C((size_t)(M * N));
                fill(r, (dist)d, A, B, C, M, N, K);
                dbuf<float> dA(A), dB(B), dC(C);
                REPRO_OK_OR_DIE(repro_cuda_gemm_bf16_tiled(tiling, M, N, K, dA.p, K, 1, dB.p, N, 1, NULL, dC.p, N, 1,
                                                           NULL, &err_));
                fvec want = C;
                repro_gemm_bf16_ref(M, N, K, A.data(), K, 1, B.data(), N, 1, NULL, want.data(), N, 1);
                bool ok = same_bits(dC.down(), want, A, B, N, K, detail, sizeof detail);
                dots += M * N;
                if (!ok || rep == 10) {
                    snprintf(shape, sizeof shape, "%s, %s, k %lld, x%d", kernel, dist_name[d], (long long)K, rep + 1);
                    report("bf16 model == tensor core", shape, ok, detail);
                    if (!ok)
                        break;
                }
            }
    return dots;
}

/* The GEMM's layouts and odd shapes: strided / transposed operands, bias,
 * accumulate, M, N, K not multiples of anything. */
static void shapes(rng &r)
{
    static const int64_t dims[][3] = {{1, 1, 1},     {3, 5, 7},       {17, 33, 15},   {128, 128, 32},
                                      {130, 129, 33}, {257, 100, 784}, {64, 10, 128},  {100, 784, 10},
                                      {300, 200, 1}, {5, 300, 4096}};
    char detail[256], shape[96];
    for (auto &s : dims) {
        int64_t M = s[0], N = s[1], K = s[2];
        for (int layout = 0; layout < 4; layout++) {
            int a_t = layout & 1, b_t = layout >> 1;
            int64_t a_rs = a_t ? 1 : K, a_cs = a_t ? M : 1, b_rs = b_t ? 1 : N, b_cs = b_t ? K : 1;
            fvec A = gen(r, (size_t)(M * K), -2.0f, 2.0f, 1, 0), B = gen(r, (size_t)(K * N), -2.0f, 2.0f, 1, 0);
            fvec C = gen(r, (size_t)(M * N), -1.0f, 1.0f, 0, 0), bias = gen(r, (size_t)N, -1.0f, 1.0f, 0, 0);
            for (int run = 0; run < 2 * REPRO_CUDA_BF16_TILINGS; run++) {
                int acc = run & 1;
                repro_cuda_bf16_tiling tiling = (repro_cuda_bf16_tiling)(run >> 1);
                static const char *tiling_name[] = {"auto", "128x128", "32x64", "wgmma 128x256", "wgmma 64x128"};
                if ((tiling == REPRO_CUDA_BF16_WGMMA || tiling == REPRO_CUDA_BF16_WGMMA_64X128) &&
                    !repro_cuda_bf16_wgmma_ready())
                    continue;
                dbuf<float> dA(A), dB(B), dC(C), db(bias);
                REPRO_OK_OR_DIE(repro_cuda_gemm_bf16_tiled(tiling, M, N, K, dA.p, a_rs, a_cs, dB.p, b_rs, b_cs,
                                                           acc ? NULL : db.p, dC.p, N, acc, NULL, &err_));
                fvec want = C;
                repro_gemm_bf16_ref(M, N, K, A.data(), a_rs, a_cs, B.data(), b_rs, b_cs, acc ? NULL : bias.data(),
                                    want.data(), N, acc);
                fvec got = dC.down();
                long bad = 0;
                for (size_t i = 0; i < got.size(); i++)
                    bad += bits(got[i]) != bits(want[i]) &&
                           !(got[i] != got[i] && want[i] != want[i]);
                snprintf(shape, sizeof shape, "%lldx%lldx%lld A%s B%s %s %s", (long long)M, (long long)N,
                         (long long)K, a_t ? "^T" : "", b_t ? "^T" : "", acc ? "accumulate" : "bias",
                         tiling_name[run >> 1]);
                snprintf(detail, sizeof detail, bad ? "%ld differ" : "bitwise", bad);
                report("bf16 gemm == cpu reference", shape, bad == 0, detail);
            }
        }
    }
}

static float time_ms(void (*fn)(void *), void *ctx, int reps)
{
    fn(ctx); /* warm-up */
    cudaEvent_t a, b;
    CUDA_OK(cudaEventCreate(&a));
    CUDA_OK(cudaEventCreate(&b));
    CUDA_OK(cudaEventRecord(a));
    for (int i = 0; i < reps; i++)
        fn(ctx);
    CUDA_OK(cudaEventRecord(b));
    CUDA_OK(cudaEventSynchronize(b));
    float ms = 0;
    CUDA_OK(cudaEventElapsedTime(&ms, a, b));
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    return ms / reps;
}

struct bench_ctx {
    int64_t n;
    const uint16_t *A, *B; /* A [n][n], B as [n][n] with k contiguous per column */
    float *C;
    cublasHandle_t h;
    repro_cuda_bf16_tiling tiling;
};

static void run_ours(void *p)
{
    bench_ctx *c = (bench_ctx *)p;
    repro_error err;
    if (repro_cuda_gemm_bf16_packed_tiled(c->tiling, c->n, c->n, c->n, c->A, c->B, NULL, c->C, c->n, 0, NULL, &err) !=
        REPRO_OK) {
        fprintf(stderr, "bench: %s\n", err.message);
        exit(1);
    }
}

/* Row-major C[m][n] = sum_k A[m][k] Bt[n][k] is column-major C^T = Bt A^T. */
static void run_cublas(void *p)
{
    bench_ctx *c = (bench_ctx *)p;
    const float one = 1.0f, zero = 0.0f;
    int n = (int)c->n;
    if (cublasGemmEx(c->h, CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &one, c->B, CUDA_R_16BF, n, c->A, CUDA_R_16BF, n,
                     &zero, c->C, CUDA_R_32F, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "cublasGemmEx failed\n");
        exit(1);
    }
}

/* Each kernel and cuBLAS on the same operands, interleaved, the same
 * warm-up; ratio = ours / cuBLAS in TFLOP/s. */
static void bench(rng &r)
{
    cublasHandle_t h;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "cublasCreate failed\n");
        exit(1);
    }
    const bool wg = repro_cuda_bf16_wgmma_ready();
    printf("| n | mma.sync 128x128 TFLOP/s | wgmma 128x256 TFLOP/s | cuBLAS bf16 (fp32 compute) TFLOP/s | "
           "best ours / cuBLAS |\n|---|---|---|---|---|\n");
    for (int64_t n : {4096, 8192}) {
        std::vector<uint16_t> hA((size_t)(n * n)), hB((size_t)(n * n));
        for (auto &v : hA) v = repro_bf16_from_float(r.uniform(-1.0f, 1.0f));
        for (auto &v : hB) v = repro_bf16_from_float(r.uniform(-1.0f, 1.0f));
        dbuf<uint16_t> dA(hA), dB(hB);
        dbuf<float> dC((size_t)(n * n));
        bench_ctx c = {n, dA.p, dB.p, dC.p, h, REPRO_CUDA_BF16_128X128};
        int reps = n == 4096 ? 50 : 10;
        double fl = 2.0 * (double)n * n * n;
        double t_mma = time_ms(run_ours, &c, reps), t_blas = time_ms(run_cublas, &c, reps), t_wg = 0;
        if (wg) {
            c.tiling = REPRO_CUDA_BF16_WGMMA;
            t_wg = time_ms(run_ours, &c, reps);
        }
        double best = wg && t_wg < t_mma ? t_wg : t_mma;
        printf("| %lld | %.1f | %s%.1f | %.1f | %.2f |\n", (long long)n, fl / t_mma * 1e-9, wg ? "" : "(none) ",
               wg ? fl / t_wg * 1e-9 : 0.0, fl / t_blas * 1e-9, t_blas / best);
    }
    cublasDestroy(h);
}

/* The products of one training step of examples/transformer_6l_512d.yaml
 * (8192 tokens; per linear layer I -> O: forward x Wᵀ, dX = dY W, dW +=
 * dYᵀ X), fp32 operands as training passes them (packing included), in
 * every tiling: ms each, and which AUTO takes. */
struct layer_ctx {
    int64_t M, N, K, a_rs, a_cs, b_rs, b_cs;
    const float *A, *B;
    float *C;
    repro_cuda_bf16_tiling tiling;
};

static void run_layer(void *p)
{
    layer_ctx *c = (layer_ctx *)p;
    repro_error err;
    if (repro_cuda_gemm_bf16_tiled(c->tiling, c->M, c->N, c->K, c->A, c->a_rs, c->a_cs, c->B, c->b_rs, c->b_cs, NULL,
                                   c->C, c->N, 0, NULL, &err) != REPRO_OK) {
        fprintf(stderr, "bench: %s\n", err.message);
        exit(1);
    }
}

static void bench_layers(rng &r)
{
    const int64_t T = 8192;
    static const int64_t io[][2] = {{512, 1536}, {512, 512}, {512, 2048}, {2048, 512}, {512, 128}};
    static const char *names[] = {"auto", "mma 128x128", "mma 32x64", "wgmma 128x256", "wgmma 64x128"};
    const int n_tilings = repro_cuda_bf16_wgmma_ready() ? REPRO_CUDA_BF16_TILINGS : REPRO_CUDA_BF16_WGMMA;
    printf("| product (M x N x K) |");
    for (int t = 0; t < n_tilings; t++) printf(" %s ms |", names[t]);
    printf("\n|---|");
    for (int t = 0; t < n_tilings; t++) printf("---|");
    printf("\n");
    double total[REPRO_CUDA_BF16_TILINGS] = {0};
    for (auto &l : io) {
        int64_t I = l[0], O = l[1];
        dbuf<float> x(gen(r, (size_t)(T * I), -1.0f, 1.0f, 0, 0)), w(gen(r, (size_t)(O * I), -1.0f, 1.0f, 0, 0)),
            dy(gen(r, (size_t)(T * O), -1.0f, 1.0f, 0, 0));
        dbuf<float> out((size_t)(T * (I > O ? I : O)));
        layer_ctx cs[3] = {{T, O, I, I, 1, 1, I, x.p, w.p, out.p, REPRO_CUDA_BF16_AUTO},   /* y = x Wᵀ */
                           {T, I, O, O, 1, I, 1, dy.p, w.p, out.p, REPRO_CUDA_BF16_AUTO},  /* dX = dY W */
                           {O, I, T, 1, O, I, 1, dy.p, x.p, out.p, REPRO_CUDA_BF16_AUTO}}; /* dW = dYᵀ X */
        for (auto &c : cs) {
            printf("| %lld x %lld x %lld |", (long long)c.M, (long long)c.N, (long long)c.K);
            for (int t = 0; t < n_tilings; t++) {
                c.tiling = (repro_cuda_bf16_tiling)t;
                double ms = time_ms(run_layer, &c, 20);
                total[t] += ms;
                printf(" %.3f |", ms);
            }
            printf("\n");
        }
    }
    printf("| one layer of each, total |");
    for (int t = 0; t < n_tilings; t++) printf(" %.3f |", total[t]);
    printf("\n");
}

int main(int argc, char **argv)
{
    int dev = 0;
    if (cudaGetDeviceCount(&dev) != cudaSuccess || dev == 0) {
        printf("SKIPPED: no CUDA GPU\n");
        return 77;
    }
    cudaDeviceProp prop;
    CUDA_OK(cudaGetDeviceProperties(&prop, 0));
    if (prop.major < 8) {
        printf("SKIPPED: %s (sm_%d%d) has no bf16 tensor cores\n", prop.name, prop.major, prop.minor);
        return 77;
    }
    rng r{20261130};
    if (argc > 1 && !strcmp(argv[1], "--bench")) {
        bench(r);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "--bench-layers")) {
        bench_layers(r);
        return 0;
    }
    long dots = model_vs_hardware(r, REPRO_CUDA_BF16_32X64, "mma.sync");
    if (repro_cuda_bf16_wgmma_ready())
        dots += model_vs_hardware(r, REPRO_CUDA_BF16_WGMMA, "wgmma 128x256") +
                model_vs_hardware(r, REPRO_CUDA_BF16_WGMMA_64X128, "wgmma 64x128");
    else
        printf("wgmma: not on this GPU or build (%s, sm_%d%d): its checks skipped\n", prop.name, prop.major,
               prop.minor);
    shapes(r);
    printf("%ld dot products compared; %d passed, %d failed (%s)\n", dots, g_pass, g_fail, prop.name);
    return g_fail ? 1 : 0;
}
