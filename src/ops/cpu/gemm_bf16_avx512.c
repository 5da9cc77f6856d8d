/* The bf16 GEMM's AVX-512 kernel: gemm_bf16_avx2.c on 16 lanes, a tile of 4
 * rows x 32 columns (eight groups of 16 outputs), each block of 16 products
 * in two passes (the alignment exponent, then the aligned sum), the same
 * steps in the same order. Each value and exponent of B a pass loads serves
 * all four rows; the final int32 -> float conversion rounds toward zero by
 * its own embedded rounding mode (no MXCSR change). See gemm_bf16_kernel.h
 * for why each step is exact; tests/test_gemm_bf16.c checks the bits
 * against repro_gemm_bf16_ref. */
#include <immintrin.h>
#include <string.h>

#include "ops/cpu/gemm_bf16_kernel.h"

enum { G = REPRO_BF16_PANEL / 16, R = 4, BLOCK = REPRO_BF16_BLOCK, RANGE = 100, LOW = -2000 };

/* 2^(25 - top) for |top| <= RANGE, as floats: the exponent in place. */
static inline __m512i scale_bits(__m512i top)
{
    return _mm512_slli_epi32(_mm512_sub_epi32(_mm512_set1_epi32(127 + 25), top), 23);
}

/* 2^(top - 25) from the bits of 2^(25 - top): the biased exponents sum to 254. */
static inline __m512 unscale_of(__m512i scale_bits)
{
    return _mm512_castsi512_ps(_mm512_sub_epi32(_mm512_set1_epi32(254 << 23), scale_bits));
}

/* The exponents of c's lanes for the alignment: floor(log2 |c|), 1000 for
 * an infinite c (a block that overflowed: the model's from then on), and
 * INT_MIN for +-0 (the conversion of getexp's -infinity). A subnormal c gets
 * its own exponent (below -126) where the model's is -126: the two differ
 * only where c's exponent decides the alignment, and then both lie below
 * -RANGE, where the lane goes to the model anyway. */
static inline __m512i exps_of(__m512 c)
{
    return _mm512_cvttps_epi32(_mm512_min_ps(_mm512_getexp_ps(c), _mm512_set1_ps(1000.0f)));
}

/* A panel of B: its values and exponents, k after k (repro_bf16_b_at). */
typedef struct panel {
    const float *bf;   /* [Kp][32] */
    const int16_t *be; /* [Kp][32] */
} panel;

/* Which of the block's 16 products have a nonzero a in some row of the tile. */
static inline unsigned live_of(const int32_t *ae, int64_t Kp, int rows)
{
    unsigned live = 0;
    for (int r = 0; r < rows; r++)
        live |= _mm512_cmpneq_epi32_mask(_mm512_loadu_si512(ae + r * Kp), _mm512_set1_epi32(REPRO_BF16_ZERO_EXP));
    return live;
}

/* One block for `rows` (1..R) rows x 32 outputs: c + the 16 products.
 * Returns the rows that have lanes needing the model. */
static inline __attribute__((always_inline)) unsigned block(const repro_bf16_operands *o, const panel *pb,
                                                             int64_t m, int rows, int64_t k0, __m512 c[R][G])
{
    const int64_t Kp = o->Kp;
    const float *a = o->Af + m * Kp + k0;
    const int32_t *ae = o->Ae + m * Kp + k0;
    const unsigned live = live_of(ae, Kp, rows);
    __m512i top16[R], top[R][G];
    for (int r = 0; r < R; r++)
        top16[r] = _mm512_set1_epi16(LOW);
    for (unsigned bits = live; bits; bits &= bits - 1) {
        int k = __builtin_ctz(bits);
        __m512i e = _mm512_loadu_si512(pb->be + (k0 + k) * REPRO_BF16_PANEL);
#pragma GCC unroll 4
        for (int r = 0; r < rows; r++)
            top16[r] = _mm512_max_epi16(top16[r], _mm512_add_epi16(_mm512_set1_epi16((short)ae[r * Kp + k]), e));
    }
    for (int r = 0; r < rows; r++) {
        top[r][0] = _mm512_cvtepi16_epi32(_mm512_castsi512_si256(top16[r]));
        top[r][1] = _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(top16[r], 1));
    }
    __m512i sum[R][G], bits_of_scale[R][G];
    __m512 scale[R][G];
    __mmask16 slow[R];
    for (int r = 0; r < rows; r++) {
        slow[r] = 0;
        for (int g = 0; g < G; g++) {
            __m512i t = _mm512_max_epi32(top[r][g], exps_of(c[r][g]));
            /* lanes beyond +-RANGE go to the model, except those with only
             * zero terms (t below -500): any alignment gives their +0 */
            __m512i tc = _mm512_min_epi32(_mm512_max_epi32(t, _mm512_set1_epi32(-RANGE)), _mm512_set1_epi32(RANGE));
            slow[r] |= _mm512_mask_cmpneq_epi32_mask(_mm512_cmpge_epi32_mask(t, _mm512_set1_epi32(-500)), t, tc);
            bits_of_scale[r][g] = scale_bits(tc);
            scale[r][g] = _mm512_castsi512_ps(bits_of_scale[r][g]);
            sum[r][g] = _mm512_setzero_si512();
        }
    }
    for (unsigned bits = live; bits; bits &= bits - 1) {
        int k = __builtin_ctz(bits);
        const float *b = pb->bf + (k0 + k) * REPRO_BF16_PANEL;
#pragma GCC unroll 2
        for (int g = 0; g < G; g++) {
            __m512 bv = _mm512_loadu_ps(b + 16 * g);
#pragma GCC unroll 4
            for (int r = 0; r < rows; r++) {
                __m512 p = _mm512_mul_ps(_mm512_set1_ps(a[r * Kp + k]), bv); /* exact */
                sum[r][g] = _mm512_add_epi32(sum[r][g], _mm512_cvttps_epi32(_mm512_mul_ps(p, scale[r][g])));
            }
        }
    }
    /* |sum| < 16 * 2^27 = 2^31, c's term < 2^26: their sum may overflow
     * int32 (sign bits: both terms' differ from the result's), and then the
     * lane goes to the model */
    unsigned need = 0;
    for (int r = 0; r < rows; r++) {
        __m512i overflow = _mm512_setzero_si512();
        for (int g = 0; g < G; g++) {
            __m512i ct = _mm512_cvttps_epi32(_mm512_mul_ps(c[r][g], scale[r][g]));
            __m512i s = _mm512_add_epi32(sum[r][g], ct);
            overflow = _mm512_or_si512(overflow, _mm512_ternarylogic_epi32(sum[r][g], ct, s, 0x42));
            __m512 f = _mm512_cvt_roundepi32_ps(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            c[r][g] = _mm512_mul_ps(f, unscale_of(bits_of_scale[r][g]));
        }
        need |= (unsigned)((slow[r] | _mm512_movepi32_mask(overflow)) != 0) << r;
    }
    return need;
}

/* The rare lanes out of the kernel's range: this block again, through the
 * model, from the c each lane had before it. */
static void redo(const repro_bf16_operands *o, int64_t m, int64_t n0, int64_t k0, __m512 *c, const __m512 *c_before)
{
    for (int g = 0; g < G; g++) {
        float rv[16], cv[16];
        _mm512_storeu_ps(rv, c[g]);
        _mm512_storeu_ps(cv, c_before[g]);
        for (int j = 0; j < 16; j++)
            if (n0 + 16 * g + j < o->N)
                rv[j] = repro_bf16_block_slow(o, m, n0 + 16 * g + j, k0, cv[j]);
        c[g] = _mm512_loadu_ps(rv);
    }
}

/* rows (1..R) rows of a panel over all of K; c: in, then out. */
static inline __attribute__((always_inline)) void tile(const repro_bf16_operands *o, const panel *pb, int64_t m,
                                                       int rows, int64_t n0, __m512 c[R][G])
{
    for (int64_t k0 = 0; k0 < o->Kp; k0 += BLOCK) {
        __m512 before[R][G];
        memcpy(before, c, sizeof before);
        unsigned need = block(o, pb, m, rows, k0, c);
        if (need) /* rare */
            for (int r = 0; r < rows; r++)
                if (need >> r & 1)
                    redo(o, m + r, n0, k0, c[r], before[r]);
    }
}

static void tile4(const repro_bf16_operands *o, const panel *pb, int64_t m, int64_t n0, __m512 c[R][G])
{
    tile(o, pb, m, 4, n0, c);
}

static void tile3(const repro_bf16_operands *o, const panel *pb, int64_t m, int64_t n0, __m512 c[R][G])
{
    tile(o, pb, m, 3, n0, c);
}

static void tile2(const repro_bf16_operands *o, const panel *pb, int64_t m, int64_t n0, __m512 c[R][G])
{
    tile(o, pb, m, 2, n0, c);
}

static void tile1(const repro_bf16_operands *o, const panel *pb, int64_t m, int64_t n0, __m512 c[R][G])
{
    tile(o, pb, m, 1, n0, c);
}

/* Panels of 32 columns outermost, so a panel of B (Kp x 32 values and
 * exponents) stays in cache while every row of A passes over it. */
void repro_gemm_bf16_rows_avx512(const repro_bf16_operands *o, int64_t m0, int64_t m1)
{
    static void (*const tiles[R + 1])(const repro_bf16_operands *, const panel *, int64_t, int64_t,
                                      __m512[R][G]) = {NULL, tile1, tile2, tile3, tile4};
    float tmp[R][REPRO_BF16_PANEL];
    for (int64_t n0 = 0; n0 < o->Np; n0 += REPRO_BF16_PANEL) {
        const int64_t at = repro_bf16_b_at(o, 0, n0);
        const panel pb = {o->Bf + at, o->Be + at};
        for (int64_t m = m0; m < m1; m += R) {
            int rows = m1 - m < R ? (int)(m1 - m) : R;
            int w = o->N - n0 < REPRO_BF16_PANEL ? (int)(o->N - n0) : REPRO_BF16_PANEL;
            memset(tmp, 0, sizeof tmp);
            if (o->accumulate)
                for (int r = 0; r < rows; r++)
                    memcpy(tmp[r], o->C + (m + r) * o->ldc + n0, sizeof(float) * (size_t)w);
            __m512 c[R][G];
            for (int r = 0; r < R; r++)
                for (int g = 0; g < G; g++)
                    c[r][g] = _mm512_loadu_ps(tmp[r] + 16 * g);
            tiles[rows](o, &pb, m, n0, c);
            for (int r = 0; r < R; r++)
                for (int g = 0; g < G; g++)
                    _mm512_storeu_ps(tmp[r] + 16 * g, c[r][g]);
            for (int r = 0; r < rows; r++) {
                float *crow = o->C + (m + r) * o->ldc + n0;
                for (int j = 0; j < w; j++)
                    crow[j] = o->bias ? tmp[r][j] + o->bias[n0 + j] : tmp[r][j];
            }
        }
    }
}
