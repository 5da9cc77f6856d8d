/* The NEON micro-kernel: a 6 x 16 tile of C in 24 q-register accumulators
 * (of 32). Per k: four vector loads of packed B (columns j..j+3, ...,
 * j+12..j+15), then for each row i a scalar A(i,k) and four vfmaq_n_f32
 * (FMLA by element: acc + b * a, one rounding, exactly fmaf). Lane j of
 * accumulator (i, q) is C(i, 4*q + j)'s one fma chain, in ascending k: the
 * order of gemm_kernel.h. Edge tiles (nr < 16) go through a full-width copy
 * of C and of the bias on the stack, so loads and stores stay in bounds.
 * aarch64 only. */
#include <arm_neon.h>
#include <string.h>

#include "ops/cpu/gemm_kernel.h"

enum { MR = REPRO_GEMM_NEON_MR, NR = REPRO_GEMM_NEON_NR, Q = NR / 4 };

void repro_gemm_kernel_neon(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs,
                            const float *b, int64_t ldb, float *c, int64_t ldc, int mr, int nr, int load_c,
                            const float *bias)
{
    /* rows past the edge read row 0 (in bounds; they are never stored) */
    const float *row[MR];
    for (int i = 0; i < MR; i++)
        row[i] = a + (i < mr ? i : 0) * a_rs;
    /* an edge tile works on edge[][] and copies its nr columns back */
    const int full = nr == NR;
    float edge[MR][NR];
    float *cc = c;
    int64_t ldcc = ldc;
    if (!full) {
        memset(edge, 0, sizeof edge);
        for (int i = 0; load_c && i < mr; i++)
            memcpy(edge[i], c + i * ldc, (size_t)nr * sizeof(float));
        cc = &edge[0][0];
        ldcc = NR;
    }
    float32x4_t acc[MR][Q];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
        for (int q = 0; q < Q; q++)
            acc[i][q] = load_c && i < mr ? vld1q_f32(cc + i * ldcc + 4 * q) : vdupq_n_f32(0.0f);
    for (int64_t k = 0, off = 0; k < kc; k++, off += a_cs) {
        float32x4_t bk[Q];
        for (int q = 0; q < Q; q++)
            bk[q] = vld1q_f32(b + k * ldb + 4 * q);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            const float ai = row[i][off];
            for (int q = 0; q < Q; q++)
                acc[i][q] = vfmaq_n_f32(acc[i][q], bk[q], ai);
        }
    }
    if (bias) {
        float padded[NR] = {0};
        memcpy(padded, bias, (size_t)nr * sizeof(float));
        for (int q = 0; q < Q; q++) {
            const float32x4_t bq = vld1q_f32(padded + 4 * q);
            for (int i = 0; i < MR; i++)
                acc[i][q] = vaddq_f32(acc[i][q], bq);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
        for (int q = 0; q < Q && i < mr; q++)
            vst1q_f32(cc + i * ldcc + 4 * q, acc[i][q]);
    if (!full)
        for (int i = 0; i < mr; i++)
            memcpy(c + i * ldc, edge[i], (size_t)nr * sizeof(float));
}

/* r[t] = row t of a 4 x 4 block -> column t. */
static void transpose4(float32x4_t r[4])
{
    float32x4_t t0 = vtrn1q_f32(r[0], r[1]), t1 = vtrn2q_f32(r[0], r[1]);
    float32x4_t t2 = vtrn1q_f32(r[2], r[3]), t3 = vtrn2q_f32(r[2], r[3]);
    r[0] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    r[1] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
    r[2] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    r[3] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
}

/* dst[k*nr + j] = src[j*cs + k] for k < kc8, j < w8 (multiples of 8, so of
 * 4): 4 x 4 blocks. A copy, so it cannot change a bit. */
void repro_gemm_pack_bt_neon(float *dst, const float *src, int64_t cs, int64_t kc8, int w8, int nr)
{
    for (int j = 0; j < w8; j += 4)
        for (int64_t k = 0; k < kc8; k += 4) {
            float32x4_t r[4];
            for (int t = 0; t < 4; t++)
                r[t] = vld1q_f32(src + (j + t) * cs + k);
            transpose4(r);
            for (int t = 0; t < 4; t++)
                vst1q_f32(dst + (k + t) * nr + j, r[t]);
        }
}
