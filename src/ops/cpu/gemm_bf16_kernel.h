/* The bf16 GEMM's SIMD kernels and what they share with gemm_bf16.c
 * (private).
 *
 * The operands come decoded: every bf16 value as the float it is (exact)
 * and its block exponent e (the model's: floor(log2 |x|), -126 for
 * subnormals, REPRO_BF16_ZERO_EXP for zero), so a block's alignment exponent
 * is a max of integer sums and each aligned, truncated term is
 * trunc(a * b * 2^(25 - top)): a*b is exact in fp32 (8 x 8 significant bits),
 * the scaling by a power of two is exact, and the truncating conversion to
 * int32 is the model's truncation (src/ops/tc_model.h). Blocks outside the
 * range where those steps are exact (alignment exponent beyond +-100, sums
 * near 2^31) go through repro_tc_block itself; non-finite inputs send the
 * whole product there (gemm_bf16.c). Operands whose exponent ranges keep
 * every block inside that range (repro_bf16_in_range) take kernels that
 * check no lane but for the sum's size, and read pass one's exponents as
 * int8 where the ranges allow (repro_bf16_narrow); docs/bf16.md, "Speed". */
#ifndef REPRO_OPS_CPU_GEMM_BF16_KERNEL_H
#define REPRO_OPS_CPU_GEMM_BF16_KERNEL_H

#include <stdint.h>

#define REPRO_BF16_ZERO_EXP (-1000)
#define REPRO_BF16_BLOCK 16
#define REPRO_BF16_PANEL 32 /* columns the SIMD kernel takes at once; Np is a multiple */

typedef struct repro_bf16_operands {
    int64_t M, N, Kp, Np, ldc;
    const float *Af;   /* [M][Kp]  A(m,k) as bf16 values, 0 for k >= K */
    const int32_t *Ae; /* [M][Kp]  their block exponents */
    const float *Bf;   /* B(k,n) at repro_bf16_b_at, 0 for n >= N */
    const int16_t *Be; /* their block exponents, at the same places (int16: pass one takes twice the lanes) */
    const float *bias;
    float *C;
    int accumulate;
    int in_range; /* repro_bf16_in_range held for these operands (and C, when accumulating) */
    /* In range with each operand's exponents within 63 of its largest
     * (repro_bf16_narrow), the AVX-512 kernel reads them as int8, from its
     * largest down, -128 for zero: a sum of two never leaves int8 (a
     * saturating add keeps zero's at -128), and pass one takes 64 lanes. */
    int narrow;
    const int8_t *Ae8; /* [M][Kp] */
    const int8_t *Be8; /* at repro_bf16_b8_at */
    int32_t exp_bias;  /* the two largest exponents' sum: a product's exponent is bias + its int8 sum */
} repro_bf16_operands;

/* Where B(k, n) lies in Bf and Be: panels of REPRO_BF16_PANEL columns one
 * after the other, each Kp rows of PANEL values; a kernel streams a panel in
 * order. b_at(o, k, n0) + j for a panel's first column n0 and j < PANEL. */
static inline int64_t repro_bf16_b_at(const repro_bf16_operands *o, int64_t k, int64_t n)
{
    return n / REPRO_BF16_PANEL * o->Kp * REPRO_BF16_PANEL + k * REPRO_BF16_PANEL + n % REPRO_BF16_PANEL;
}

/* Where B(k, n)'s int8 exponent lies: panels as in repro_bf16_b_at, each
 * pair of k (even, odd) as 64 bytes, the pair's two exponents of a column
 * side by side (one int16 broadcast of A's pair lines up with them), the
 * 32 columns' pairs in the order that the AVX-512 kernel's in-lane unpacks
 * of 16-bit words (each 128-bit lane's words 0-3, then 4-7) put back in
 * order: column 16h + 4L + q at word 8L + 4h + q. */
static inline int64_t repro_bf16_b8_at(const repro_bf16_operands *o, int64_t k, int64_t n)
{
    int64_t j = n % REPRO_BF16_PANEL, h = j / 16, L = j % 16 / 4, q = j % 4;
    return n / REPRO_BF16_PANEL * o->Kp * REPRO_BF16_PANEL + (k & ~(int64_t)1) * REPRO_BF16_PANEL +
           2 * (8 * L + 4 * h + q) + (k & 1);
}

/* The block exponent of a float (the model's e for c, and for inputs). */
static inline int32_t repro_bf16_block_exp(uint32_t bits)
{
    uint32_t E = (bits >> 23) & 0xff;
    if (E)
        return (int32_t)E - 127;
    return (bits & 0x7fffffu) ? -126 : REPRO_BF16_ZERO_EXP;
}

/* The exponents of a GEMM's operands, over their nonzero values (lo > hi
 * where there is none): A's, B's and, when accumulating, C's. */
typedef struct repro_bf16_ranges {
    int32_t a_lo, a_hi, b_lo, b_hi, c_lo, c_hi;
} repro_bf16_ranges;

/* Whether a product with these exponents (finite inputs, Kp the padded K)
 * stays where a kernel needs no check but the int32 sum's: every nonzero
 * product's exponent is at least -100, every alignment exponent at most
 * +100 (|c| < 2^100 for every partial result: |C| plus Kp products of less
 * than 2^(a_hi + b_hi + 2)), and every nonzero C at least 2^-100. */
int repro_bf16_in_range(const repro_bf16_ranges *r, int64_t Kp);

/* Whether each operand's nonzero exponents lie within 63 of its largest
 * (the int8 form above). */
int repro_bf16_narrow(const repro_bf16_ranges *r);

/* What a decoder reads, A(m, k) = A[m * a_rs + k * a_cs] and
 * B(k, n) = B[k * b_rs + n * b_cs] for k < K, and where it writes them:
 * Af/Ae [M][Kp] and Bf/Be at repro_bf16_b_at. */
typedef struct repro_bf16_sources {
    const float *A, *B;
    int64_t a_rs, a_cs, b_rs, b_cs, K;
    float *Af, *Bf;
    int32_t *Ae;
    int16_t *Be;
} repro_bf16_sources;

/* Decodes A's rows [m0, m1) and B's columns [n0, n1) (multiples of 16, up
 * to Np), zeros beyond K and N, with r's a and b ranges over them; 0 when
 * an input is not finite or rounds to infinity (the buffers are then partly
 * written). The same values as gemm_bf16.c's plain loops, 16 (8) at a time;
 * spans apart can be decoded at once. */
int repro_bf16_decode_avx512(const repro_bf16_operands *o, const repro_bf16_sources *s, int64_t m0, int64_t m1,
                             int64_t n0, int64_t n1, repro_bf16_ranges *r);
int repro_bf16_decode_avx2(const repro_bf16_operands *o, const repro_bf16_sources *s, int64_t m0, int64_t m1,
                           int64_t n0, int64_t n1, repro_bf16_ranges *r);

/* The range of C's nonzero exponents (M x N, rows ldc apart), as
 * repro_bf16_block_exp gives them; 0 when some value is not finite. */
int repro_bf16_c_range_avx512(const float *C, int64_t M, int64_t N, int64_t ldc, int32_t *lo, int32_t *hi);
int repro_bf16_c_range_avx2(const float *C, int64_t M, int64_t N, int64_t ldc, int32_t *lo, int32_t *hi);

/* o's Ae8 and Be8 from its Ae and Be, for A's rows [m0, m1) and B's
 * columns [n0, n1) (multiples of REPRO_BF16_PANEL): e - a_bias (A),
 * e - b_bias (B), saturated to int8 (zeros at -128). Be8 as the kernel of
 * the path reads it: AVX-512 at repro_bf16_b8_at; AVX2 each pair's 32
 * columns in order, column j at bytes 2j (even k) and 2j + 1 (odd k). */
void repro_bf16_narrow_avx512(const repro_bf16_operands *o, int8_t *Ae8, int8_t *Be8, int32_t a_bias,
                              int32_t b_bias, int64_t m0, int64_t m1, int64_t n0, int64_t n1);
void repro_bf16_narrow_avx2(const repro_bf16_operands *o, int8_t *Ae8, int8_t *Be8, int32_t a_bias, int32_t b_bias,
                            int64_t m0, int64_t m1, int64_t n0, int64_t n1);

/* One block of one output through the model itself. */
float repro_bf16_block_slow(const repro_bf16_operands *o, int64_t m, int64_t n, int64_t k0, float c);

/* Rows [m0, m1) of C, 32 columns at a time (AVX2; AVX-512 on 16 lanes). */
void repro_gemm_bf16_rows_avx2(const repro_bf16_operands *o, int64_t m0, int64_t m1);
void repro_gemm_bf16_rows_avx512(const repro_bf16_operands *o, int64_t m0, int64_t m1);
/* The same on 4 lanes (aarch64 NEON). */
void repro_gemm_bf16_rows_neon(const repro_bf16_operands *o, int64_t m0, int64_t m1);

#endif
