/* Batch norm's and group norm's parameter gradients (norm_seq.h's
 * norm_param_channel) for a range of channels, eight channels at once: on
 * each (n, k) the eight channels' chains each take their next step, so the
 * FMA and add latencies of one chain hide behind the others' (one chain
 * alone waits on its previous fmaf at every element). Each channel's chains
 * run n ascending, then hw ascending, exactly as written, and fmaf is one
 * instruction here (compiled with -mfma; the generic files call libm's). The
 * same bits as norm_param_channel; tests/test_norm.c checks every ISA path.
 * Used on the AVX2 and AVX-512 paths. */
#include "ops/cpu/norm_param.h"

#include <math.h>

#include "ops/ops_math.h"

enum { GROUP = 8 };

/* Channels [c, c + W), W <= GROUP. */
static inline __attribute__((always_inline)) void channels(const repro_norm_param_args *a, int64_t c, const int W)
{
    float g[GROUP], bt[GROUP], mu[GROUP], rs[GROUP];
    const float *dy[GROUP], *x[GROUP];
#pragma GCC unroll 8
    for (int j = 0; j < W; j++) {
        g[j] = a->dgamma[c + j];
        bt[j] = a->dbeta[c + j];
    }
    for (int64_t n = 0; n < a->N; n++) {
#pragma GCC unroll 8
        for (int j = 0; j < W; j++) {
            int64_t at = (n * a->C + c + j) * a->HW, st = a->stat_of(n, c + j, a->arg);
            mu[j] = a->mean[st];
            rs[j] = a->rstd[st];
            dy[j] = a->dy + at;
            x[j] = a->x + at;
        }
        for (int64_t k = 0; k < a->HW; k++) {
#pragma GCC unroll 8
            for (int j = 0; j < W; j++) {
                float v = dy[j][k];
                g[j] = fmaf(v, repro_layernorm_xhat(x[j][k], mu[j], rs[j]), g[j]);
                bt[j] = bt[j] + v;
            }
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < W; j++) {
        a->dgamma[c + j] = g[j];
        a->dbeta[c + j] = bt[j];
    }
}

void repro_norm_params_avx2(const repro_norm_param_args *a, int64_t c0, int64_t c1)
{
    int64_t c = c0;
    for (; c + GROUP <= c1; c += GROUP)
        channels(a, c, GROUP);
    for (; c + 4 <= c1; c += 4)
        channels(a, c, 4);
    for (; c < c1; c++)
        channels(a, c, 1);
}
