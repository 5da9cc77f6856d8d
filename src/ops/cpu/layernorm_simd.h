/* Layer norm's parameter gradients on SIMD lanes (private to layernorm.c):
 * features [d0, d1) of
 *   dgamma[d] = fmaf(dy[b][d], xhat[b][d], dgamma[d])   b ascending
 *   dbeta[d]  = dbeta[d] + dy[b][d]                     b ascending
 *   xhat[b][d] = (x[b][d] - mean[b]) * rstd[b]
 * (src/ops/cpu/ops.h), with the features in the lanes: each lane is one
 * feature's two chains over b in the written order, the vector FMA rounding
 * once as fmaf does. Several vectors of features run at once, so that the
 * chains' latency overlaps. The same bits as the scalar loop
 * (tests/test_ops.c checks every ISA path). */
#ifndef REPRO_OPS_CPU_LAYERNORM_SIMD_H
#define REPRO_OPS_CPU_LAYERNORM_SIMD_H

#include <stdint.h>

void repro_layernorm_params_avx2(float *dgamma, float *dbeta, const float *dy, const float *x, const float *mean,
                                 const float *rstd, int64_t B, int64_t D, int64_t d0, int64_t d1);
void repro_layernorm_params_avx512(float *dgamma, float *dbeta, const float *dy, const float *x, const float *mean,
                                   const float *rstd, int64_t B, int64_t D, int64_t d0, int64_t d1);

#endif
