/* The parameter gradients of batch norm and group norm over a range of
 * channels (private to batchnorm.c and groupnorm.c): norm_seq.h's
 * norm_param_channel for each, on the scalar path as written there, on the
 * AVX2 and AVX-512 paths by norm_param_avx2.c (several channels' chains at
 * once, the same bits). */
#ifndef REPRO_OPS_CPU_NORM_PARAM_H
#define REPRO_OPS_CPU_NORM_PARAM_H

#include <stdint.h>

#include "repro/isa.h"

typedef struct repro_norm_param_args {
    float *dgamma, *dbeta;                 /* [C], accumulated from their values */
    const float *dy, *x, *mean, *rstd;     /* [N][C][HW] x 2; the statistics, indexed by stat_of */
    int64_t N, C, HW;
    int64_t (*stat_of)(int64_t n, int64_t c, const void *arg); /* sample n's statistics for channel c */
    const void *arg;
} repro_norm_param_args;

void repro_norm_params_avx2(const repro_norm_param_args *a, int64_t c0, int64_t c1);

/* Channels [c0, c1) on the path of isa. */
void repro_norm_params(repro_isa isa, const repro_norm_param_args *a, int64_t c0, int64_t c1);

#endif
