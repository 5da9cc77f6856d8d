/* The CUDA attention and softmax kernels against their CPU _ref twins, bit
 * for bit (src/ops/cuda/cuda_attention.h, src/ops/attention_math.h): for
 * T in {1, 7, 64, 65, 128, 300} (one block, a block and one key, several
 * blocks), 1 and 8 heads, head_dim 64, 32, 16, 128 (the tiled kernels') and
 * 24 (row kernels only), and the modes plain, causal, key padding (each
 * sample its own length) and causal with dropout, every kernel variant's
 * forward o, m, l and dropout mask and backward dqkv must be the same bits. Softmax on a few row widths and GELU (erf form) likewise.
 *
 * One line per case: PASS, or FAIL with the first differing index and both
 * values in hex. Exit 0 all pass, 1 a failure, 77 with "SKIPPED: no CUDA
 * device" without a GPU.
 *
 * --bench [rows]: forward + backward times at T = 128, 512, 2048 (8 heads
 * of 64, the batch chosen so that B * H * T = 262144 rows fill the GPU) of
 * the default (tiled) kernels, and with `rows` of the row kernels too; the
 * peer is bench/torch_attention.py. */
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "ops/cuda/attention_tiled.cuh"
#include "ops/cuda/cuda_attention.h"

extern "C" {
#include "ops/cpu/attention.h"
#include "ops/cpu/gelu_erf.h"
#include "ops/cpu/softmax.h"
}

#include "cuda_test.cuh"

static void cmp_f(const char *kernel, const char *shape, const fvec &cpu, const fvec &gpu)
{
    char detail[200] = "";
    for (size_t i = 0; i < cpu.size(); i++) {
        if (cpu[i] != cpu[i] && gpu[i] != gpu[i])
            continue;
        if (bits(cpu[i]) != bits(gpu[i])) {
            snprintf(detail, sizeof detail, "at %zu: cpu %a (0x%08x) gpu %a (0x%08x)", i, (double)cpu[i],
                     bits(cpu[i]), (double)gpu[i], bits(gpu[i]));
            report(kernel, shape, false, detail);
            return;
        }
    }
    report(kernel, shape, true, "");
}

static void cmp_u8(const char *kernel, const char *shape, const std::vector<uint8_t> &cpu,
                   const std::vector<uint8_t> &gpu)
{
    bool ok = cpu == gpu;
    report(kernel, shape, ok, ok ? "" : "dropout masks differ");
}

/* The m and l rows of stat [B][3][H][T] (the forward's; dsum is the backward's). */
static fvec m_and_l(const fvec &stat, int64_t B, int64_t H, int64_t T)
{
    fvec out;
    for (int64_t b = 0; b < B; b++)
        out.insert(out.end(), stat.begin() + b * 3 * H * T, stat.begin() + (b * 3 + 2) * H * T);
    return out;
}

enum mode { PLAIN, CAUSAL, PADDING, CAUSAL_DROPOUT };
static const char *const mode_names[] = {"plain", "causal", "padding", "causal+dropout"};

static void attention_case(rng &r, int64_t B, int64_t T, int64_t H, int64_t hd, mode md)
{
    char shape[120];
    snprintf(shape, sizeof shape, "B=%lld T=%lld H=%lld hd=%lld %s", (long long)B, (long long)T, (long long)H,
             (long long)hd, mode_names[md]);
    int64_t D = H * hd;
    size_t nqkv = (size_t)(B * T * 3 * D), no = (size_t)(B * T * D), nstat = (size_t)(B * 3 * H * T);
    size_t nkeep = md == CAUSAL_DROPOUT ? (size_t)(B * H * T * T) : 0;
    fvec qkv = gen(r, nqkv, -2.0f, 2.0f, 1, 0), dout = gen(r, no, -1.0f, 1.0f, 0, 0);
    fvec kpm((size_t)(B * T), 0.0f);
    if (md == PADDING)
        for (int64_t b = 0; b < B; b++)
            for (int64_t j = T - (T * b) / (B + 1) - (b > 0); j < T; j++)
                if (j >= 0)
                    kpm[(size_t)(b * T + j)] = 1.0f;
    std::vector<uint32_t> pos((size_t)B);
    for (int64_t b = 0; b < B; b++)
        pos[(size_t)b] = (uint32_t)(11 + 5 * b);
    fvec o(no), stat(nstat), dqkv(nqkv);
    std::vector<uint8_t> keep(nkeep ? nkeep : 1);
    repro_attn_args a;
    memset(&a, 0, sizeof a);
    a.B = B;
    a.T = T;
    a.H = H;
    a.hd = hd;
    a.scale = 1.0f / sqrtf((float)hd);
    a.causal = md == CAUSAL || md == CAUSAL_DROPOUT;
    a.p = md == CAUSAL_DROPOUT ? 0.2f : 0.0f;
    a.seed = 99;
    a.step = 12345;
    a.node = 4;
    a.sample_pos = pos.data();
    a.qkv = qkv.data();
    a.kpm = md == PADDING ? kpm.data() : NULL;
    a.o = o.data();
    a.stat = stat.data();
    a.keep = nkeep ? keep.data() : NULL;
    a.dout = dout.data();
    a.dqkv = dqkv.data();
    repro_attention_forward_ref(&a);
    repro_attention_backward_ref(&a);

    dbuf<float> d_qkv(qkv), d_dout(dout), d_kpm(kpm), d_o(no), d_stat(nstat), d_dqkv(nqkv);
    dbuf<uint32_t> d_pos(pos);
    dbuf<uint8_t> d_keep(keep.size());
    repro_attn_args g = a;
    g.sample_pos = d_pos.p;
    g.qkv = d_qkv.p;
    g.kpm = md == PADDING ? d_kpm.p : NULL;
    g.o = d_o.p;
    g.stat = d_stat.p;
    g.keep = nkeep ? d_keep.p : NULL;
    g.dout = d_dout.p;
    g.dqkv = d_dqkv.p;
    /* every forward kernel, then every backward kernel from the default forward */
    static const struct {
        int variant;
        const char *name;
    } fwd[] = {{REPRO_CUDA_ATTN_ROW, "thread a row"}, {REPRO_CUDA_ATTN_WARP, "warp a row"},
               {REPRO_CUDA_ATTN_TILED, "tiled"}},
      bwd[] = {{REPRO_CUDA_ATTN_ROW, "thread a row"}, {REPRO_CUDA_ATTN_TILED, "tiled"}};
    const bool tiled = repro_cuda_attention_tiled_fits(&g);
    char what[120];
    for (const auto &f : fwd) {
        if (f.variant == REPRO_CUDA_ATTN_TILED && !tiled)
            continue;
        d_o.up(fvec(no, -7.0f)); /* stale values a kernel must overwrite */
        REPRO_OK_OR_DIE(repro_cuda_attention_forward_variant(&g, f.variant, NULL, &err_));
        snprintf(what, sizeof what, "attention forward o (%s)", f.name);
        cmp_f(what, shape, o, d_o.down());
        snprintf(what, sizeof what, "attention m, l (%s)", f.name);
        cmp_f(what, shape, m_and_l(stat, B, H, T), m_and_l(d_stat.down(), B, H, T));
        if (nkeep) {
            snprintf(what, sizeof what, "attention dropout mask (%s)", f.name);
            cmp_u8(what, shape, keep, d_keep.down());
        }
    }
    REPRO_OK_OR_DIE(repro_cuda_attention_forward(&g, NULL, &err_));
    for (const auto &b : bwd) {
        if (b.variant == REPRO_CUDA_ATTN_TILED && !tiled)
            continue;
        d_dqkv.up(fvec(nqkv, -7.0f));
        REPRO_OK_OR_DIE(repro_cuda_attention_backward_variant(&g, b.variant, NULL, &err_));
        snprintf(what, sizeof what, "attention m, l, dsum (%s)", b.name);
        cmp_f(what, shape, stat, d_stat.down());
        snprintf(what, sizeof what, "attention backward dqkv (%s)", b.name);
        cmp_f(what, shape, dqkv, d_dqkv.down());
    }
}

static void softmax_case(rng &r, int64_t rows, int64_t n)
{
    char shape[80];
    snprintf(shape, sizeof shape, "%lld x %lld", (long long)rows, (long long)n);
    fvec x = gen(r, (size_t)(rows * n), -8.0f, 8.0f, 1, 0), dy = gen(r, (size_t)(rows * n), -1.0f, 1.0f, 0, 0);
    fvec y(x.size()), dx(x.size());
    repro_softmax_forward_ref(y.data(), x.data(), rows, n);
    repro_softmax_backward_ref(dx.data(), dy.data(), y.data(), rows, n);
    dbuf<float> d_x(x), d_dy(dy), d_y(x.size()), d_dx(x.size());
    REPRO_OK_OR_DIE(repro_cuda_softmax_forward(d_y.p, d_x.p, rows, n, NULL, &err_));
    cmp_f("softmax forward", shape, y, d_y.down());
    d_y.up(y); /* backward from the reference's y, as in training it reads its own */
    REPRO_OK_OR_DIE(repro_cuda_softmax_backward(d_dx.p, d_dy.p, d_y.p, rows, n, NULL, &err_));
    cmp_f("softmax backward", shape, dx, d_dx.down());
}

static void gelu_erf_case(rng &r, size_t n)
{
    char shape[40];
    snprintf(shape, sizeof shape, "%zu values", n);
    fvec x = gen(r, n, -25.0f, 25.0f, 1, 1), dy = gen(r, n, -1.0f, 1.0f, 0, 0), y(n), dx(n);
    repro_gelu_erf_forward_ref(y.data(), x.data(), (int64_t)n);
    repro_gelu_erf_backward_ref(dx.data(), dy.data(), x.data(), (int64_t)n);
    dbuf<float> d_x(x), d_dy(dy), d_y(n), d_dx(n);
    REPRO_OK_OR_DIE(repro_cuda_gelu_erf_forward(d_y.p, d_x.p, (int64_t)n, NULL, &err_));
    REPRO_OK_OR_DIE(repro_cuda_gelu_erf_backward(d_dx.p, d_dy.p, d_x.p, (int64_t)n, NULL, &err_));
    cmp_f("gelu_erf forward", shape, y, d_y.down());
    cmp_f("gelu_erf backward", shape, dx, d_dx.down());
}

static void bench(int fwd_variant, int bwd_variant, const char *label)
{
    const int64_t H = 8, hd = 64, Ts[] = {128, 512, 2048};
    for (int causal = 0; causal < 2; causal++)
        for (int64_t T : Ts) {
            int64_t B = 262144 / (H * T), D = H * hd;
            dbuf<float> qkv((size_t)(B * T * 3 * D)), o((size_t)(B * T * D)), stat((size_t)(B * 3 * H * T)),
                dout((size_t)(B * T * D)), dqkv((size_t)(B * T * 3 * D));
            rng r = {3};
            qkv.up(gen(r, qkv.n, -1.0f, 1.0f, 0, 0));
            dout.up(gen(r, dout.n, -1.0f, 1.0f, 0, 0));
            repro_attn_args a;
            memset(&a, 0, sizeof a);
            a.B = B;
            a.T = T;
            a.H = H;
            a.hd = hd;
            a.scale = 0.125f;
            a.causal = causal;
            a.qkv = qkv.p;
            a.o = o.p;
            a.stat = stat.p;
            a.dout = dout.p;
            a.dqkv = dqkv.p;
            cudaEvent_t e0, e1, e2;
            CUDA_OK(cudaEventCreate(&e0));
            CUDA_OK(cudaEventCreate(&e1));
            CUDA_OK(cudaEventCreate(&e2));
            REPRO_OK_OR_DIE(repro_cuda_attention_forward_variant(&a, fwd_variant, NULL, &err_)); /* warm-up */
            REPRO_OK_OR_DIE(repro_cuda_attention_backward_variant(&a, bwd_variant, NULL, &err_));
            const int reps = 3;
            float fwd = 0, bwd = 0;
            for (int k = 0; k < reps; k++) {
                float f, b;
                CUDA_OK(cudaEventRecord(e0));
                REPRO_OK_OR_DIE(repro_cuda_attention_forward_variant(&a, fwd_variant, NULL, &err_));
                CUDA_OK(cudaEventRecord(e1));
                REPRO_OK_OR_DIE(repro_cuda_attention_backward_variant(&a, bwd_variant, NULL, &err_));
                CUDA_OK(cudaEventRecord(e2));
                CUDA_OK(cudaEventSynchronize(e2));
                CUDA_OK(cudaEventElapsedTime(&f, e0, e1));
                CUDA_OK(cudaEventElapsedTime(&b, e1, e2));
                fwd += f / reps;
                bwd += b / reps;
            }
            /* the usual count: 4 B H T^2 hd forward, 2.5x that backward, halved when causal */
            double flop = 4.0 * (double)B * H * T * T * hd * (causal ? 0.5 : 1.0);
            printf("BENCH attention%s B=%lld H=%lld T=%lld hd=%lld %s  fwd %.3f ms (%.2f TFLOP/s)  bwd %.3f ms (%.2f "
                   "TFLOP/s)  fwd+bwd %.3f ms\n",
                   label, (long long)B, (long long)H, (long long)T, (long long)hd, causal ? "causal" : "full", fwd,
                   flop / (fwd * 1e-3) / 1e12, bwd, 2.5 * flop / (bwd * 1e-3) / 1e12, fwd + bwd);
            fflush(stdout);
            cudaEventDestroy(e0);
            cudaEventDestroy(e1);
            cudaEventDestroy(e2);
        }
}

int main(int argc, char **argv)
{
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("SKIPPED: no CUDA device\n");
        return 77;
    }
    cudaDeviceProp prop;
    CUDA_OK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
    if (argc > 1 && !strcmp(argv[1], "--bench")) {
        /* the default kernels; `--bench rows` also the row kernels they replaced */
        bench(REPRO_CUDA_ATTN_AUTO, REPRO_CUDA_ATTN_AUTO, "");
        if (argc > 2 && !strcmp(argv[2], "rows"))
            bench(REPRO_CUDA_ATTN_WARP, REPRO_CUDA_ATTN_ROW, "-rows");
        return 0;
    }
    rng r = {11};
    /* head sizes: the tiled kernels' four and one that runs the row kernels */
    const int64_t Ts[] = {1, 7, 64, 65, 128, 300}, Hs[] = {1, 8}, hds[] = {64, 32, 16, 128, 24};
    for (int64_t T : Ts)
        for (int64_t H : Hs)
            for (int64_t hd : hds)
                for (int md = PLAIN; md <= CAUSAL_DROPOUT; md++)
                    attention_case(r, 2, T, H, hd, (mode)md);
    attention_case(r, 3, 200, 2, 64, PADDING); /* three lengths cutting tiles in different places */
    softmax_case(r, 5, 1);
    softmax_case(r, 33, 10);
    softmax_case(r, 7, 1500);
    gelu_erf_case(r, 100003);
    /* argument checks: the CPU's messages, nothing launched */
    {
        repro_attn_args a;
        memset(&a, 0, sizeof a);
        a.B = 1;
        a.T = 4;
        a.H = 1;
        a.hd = 257;
        repro_error err;
        bool ok = repro_cuda_attention_forward(&a, NULL, &err) == REPRO_ERR_ARG &&
                  strstr(err.message, "attention: head_dim 257 is outside [1, 256]");
        report("attention argument check", "hd=257", ok, ok ? "" : err.message);
    }
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
