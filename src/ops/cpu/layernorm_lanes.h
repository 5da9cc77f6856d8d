/* The body of layernorm_simd.h's functions (private to layernorm_avx2.c
 * and layernorm_avx512.c). The includer defines LANES, the vector type vf,
 * VLOAD(p), VSTORE(p, v), VSET1(x), VSUB(a, b), VMUL(a, b), VADD(a, b),
 * VFMA(a, b, c) (a * b + c rounded once) and FN(name). */
#include <math.h>

#include "ops/cpu/layernorm_simd.h"
#include "ops/ops_math.h"

enum { VECS = 4 }; /* vectors of features at once: 4 chains of each kind in flight */

/* Features [d, d + n * LANES), n <= VECS vectors, every b. */
static inline __attribute__((always_inline)) void block(float *dgamma, float *dbeta, const float *dy,
                                                        const float *x, const float *mean, const float *rstd,
                                                        int64_t B, int64_t D, int64_t d, const int n)
{
    vf g[VECS], bt[VECS];
#pragma GCC unroll 4
    for (int v = 0; v < n; v++) {
        g[v] = VLOAD(dgamma + d + v * LANES);
        bt[v] = VLOAD(dbeta + d + v * LANES);
    }
    for (int64_t b = 0; b < B; b++) {
        const vf mb = VSET1(mean[b]), rb = VSET1(rstd[b]);
        const float *dyb = dy + b * D + d, *xb = x + b * D + d;
#pragma GCC unroll 4
        for (int v = 0; v < n; v++) {
            vf dyv = VLOAD(dyb + v * LANES);
            vf xhat = VMUL(VSUB(VLOAD(xb + v * LANES), mb), rb);
            g[v] = VFMA(dyv, xhat, g[v]);
            bt[v] = VADD(bt[v], dyv);
        }
    }
#pragma GCC unroll 4
    for (int v = 0; v < n; v++) {
        VSTORE(dgamma + d + v * LANES, g[v]);
        VSTORE(dbeta + d + v * LANES, bt[v]);
    }
}

void FN(repro_layernorm_params)(float *dgamma, float *dbeta, const float *dy, const float *x, const float *mean,
                                const float *rstd, int64_t B, int64_t D, int64_t d0, int64_t d1)
{
    int64_t d = d0;
    for (; d + VECS * LANES <= d1; d += VECS * LANES)
        block(dgamma, dbeta, dy, x, mean, rstd, B, D, d, VECS);
    for (; d + LANES <= d1; d += LANES)
        block(dgamma, dbeta, dy, x, mean, rstd, B, D, d, 1);
    for (; d < d1; d++) { /* the scalar loop of layernorm.c (fmaf is one instruction here) */
        float g = dgamma[d], bt = dbeta[d];
        for (int64_t b = 0; b < B; b++) {
            float dyv = dy[b * D + d];
            g = fmaf(dyv, repro_layernorm_xhat(x[b * D + d], mean[b], rstd[b]), g);
            bt = bt + dyv;
        }
        dgamma[d] = g;
        dbeta[d] = bt;
    }
}
