/* repro_norm_params: norm_param.h. */
#include "ops/cpu/norm_param.h"

#include "ops/cpu/norm_seq.h"

void repro_norm_params(repro_isa isa, const repro_norm_param_args *a, int64_t c0, int64_t c1)
{
#if defined(__x86_64__)
    if (isa == REPRO_ISA_AVX2 || isa == REPRO_ISA_AVX512) {
        repro_norm_params_avx2(a, c0, c1);
        return;
    }
#endif
    (void)isa;
    for (int64_t c = c0; c < c1; c++)
        norm_param_channel(a->dgamma, a->dbeta, a->dy, a->x, a->mean, a->rstd, a->N, a->C, a->HW, c, a->stat_of,
                           a->arg);
}
