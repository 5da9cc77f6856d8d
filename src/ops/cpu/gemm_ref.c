/* The matrix product's reference: the contract of gemm.h as a plain triple
 * loop. It is the test oracle; keep it obviously equal to the contract. */
#include <math.h>

#include "ops/cpu/gemm.h"

void repro_gemm_ref(int64_t M, int64_t N, int64_t K,
                    const float *A, int64_t a_rs, int64_t a_cs,
                    const float *B, int64_t b_rs, int64_t b_cs,
                    const float *bias, float *C, int64_t ldc, int accumulate)
{
    for (int64_t m = 0; m < M; m++) {
        for (int64_t n = 0; n < N; n++) {
            float acc = accumulate ? C[m * ldc + n] : 0.0f;
            for (int64_t k = 0; k < K; k++)
                acc = fmaf(A[m * a_rs + k * a_cs], B[k * b_rs + n * b_cs], acc);
            C[m * ldc + n] = bias ? acc + bias[n] : acc;
        }
    }
}
