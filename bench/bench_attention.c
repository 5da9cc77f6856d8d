/* Milliseconds of the exact attention kernels on the CPU (forward, then
 * backward: dsum, dq, dk and dv), 8 heads of 64, causal and full, at
 * T = 128 and 256 with 4 sequences, then the char LM's shape
 * (examples/char_lm.yaml: 32 sequences of 64 tokens, 4 heads of 32,
 * causal, attention dropout 0.1), on each ISA path this CPU has at 1 and
 * 2 threads (best of several repetitions: the machine is shared). GFLOP/s
 * counts 4 B H T^2 hd for the forward (halved when causal) and 2.5 times
 * that for the backward, the usual count; the backward recomputes more.
 *
 *   build/bench/bench_attention [repetitions]     (default 3) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/pool.h"
#include "ops/cpu/attention.h"
#include "repro/isa.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *array(int64_t n)
{
    float *p = malloc((size_t)n * sizeof *p);
    for (int64_t i = 0; i < n; i++)
        p[i] = (float)(i % 23) * 0.01f - 0.11f;
    return p;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    const int64_t Ts[] = {128, 256};
    const repro_isa isas[] = {REPRO_ISA_SCALAR, REPRO_ISA_AVX2, REPRO_ISA_AVX512};
    for (int threads = 1; threads <= 2; threads++) {
        repro_pool *pool = NULL;
        repro_error err;
        if (repro_pool_create(threads, &pool, &err) != REPRO_OK)
            return 1;
        for (int k = 0; k < 3; k++) {
            if (!repro_isa_supported(isas[k]))
                continue;
            repro_cpu cpu = {isas[k], pool};
            for (int c = 0; c < 5; c++) {
                /* 4 x 8 heads of 64 at T = 128, 256, full and causal; then the char LM */
                int lm = c == 4, causal = lm || c % 2;
                int64_t B = lm ? 32 : 4, H = lm ? 4 : 8, hd = lm ? 32 : 64, T = lm ? 64 : Ts[c / 2], D = H * hd;
                float p = lm ? 0.1f : 0.0f;
                repro_attn_args a;
                memset(&a, 0, sizeof a);
                a.B = B, a.T = T, a.H = H, a.hd = hd, a.scale = 1.0f / (hd == 64 ? 8.0f : 5.656854f);
                a.causal = causal, a.p = p, a.seed = 1, a.step = 7, a.node = 2;
                float *qkv = array(B * T * 3 * D), *o = array(B * T * D), *stat = array(B * 3 * H * T);
                float *dout = array(B * T * D), *dqkv = array(B * T * 3 * D);
                uint8_t *keep = p > 0 ? calloc((size_t)(B * H * T * T), 1) : NULL;
                uint32_t *pos = calloc((size_t)B, sizeof *pos);
                a.qkv = qkv, a.o = o, a.stat = stat, a.dout = dout, a.dqkv = dqkv, a.keep = keep, a.sample_pos = pos;
                double fwd = 1e30, bwd = 1e30;
                for (int r = 0; r < reps; r++) {
                    double t0 = now();
                    if (repro_attention_forward(&cpu, &a, &err) != REPRO_OK)
                        return 1;
                    double t1 = now();
                    if (repro_attention_backward(&cpu, &a, &err) != REPRO_OK)
                        return 1;
                    double t2 = now();
                    fwd = t1 - t0 < fwd ? t1 - t0 : fwd;
                    bwd = t2 - t1 < bwd ? t2 - t1 : bwd;
                }
                double flop = 4.0 * (double)(B * H * T * T * hd) * (causal ? 0.5 : 1.0);
                printf("attention %-6s x%d B=%lld H=%lld T=%lld hd=%lld %-6s%s fwd %8.2f ms (%5.2f GFLOP/s)  bwd %8.2f "
                       "ms (%5.2f GFLOP/s)\n",
                       repro_isa_name(isas[k]), threads, (long long)B, (long long)H, (long long)T, (long long)hd,
                       causal ? "causal" : "full", p > 0 ? " p=0.1" : "", fwd * 1e3, flop / fwd * 1e-9, bwd * 1e3,
                       2.5 * flop / bwd * 1e-9);
                fflush(stdout);
                free(qkv), free(o), free(stat), free(dout), free(dqkv), free(keep), free(pos);
            }
        }
        repro_pool_destroy(pool);
    }
    return 0;
}
