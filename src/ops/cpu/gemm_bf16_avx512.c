/* The bf16 GEMM's AVX-512 kernel: gemm_bf16_avx2.c on 16 lanes, a tile of 4
 * rows x 32 columns (eight groups of 16 outputs), each block of 16 products
 * in two passes (the alignment exponent, then the aligned sum), the same
 * steps in the same order. Each value and exponent of B a pass loads serves
 * all four rows; the final int32 -> float conversion rounds toward zero by
 * its own embedded rounding mode (no MXCSR change).
 *
 * Two versions of a block: block_in_range for operands whose exponents
 * keep every lane inside the range where the steps are exact (o->in_range,
 * gemm_bf16_kernel.h: then no lane needs checking but for the int32 sum's
 * overflow), and block, which checks each lane and sends the rare ones out
 * of range to the model. See gemm_bf16_kernel.h for why each step is exact;
 * tests/test_gemm_bf16.c checks the bits against repro_gemm_bf16_ref. */
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
    const int8_t *be8; /* [Kp / 2][32][2] (o->narrow) */
} panel;

/* The sum's int32 overflow in a lane's sign bit: both terms' signs differ
 * from the result's. */
static inline __m512i overflow_of(__m512i sum, __m512i ct, __m512i s)
{
    return _mm512_ternarylogic_epi32(sum, ct, s, 0x42);
}

/* A block's second pass: sum[r][g] += trunc(a * b * scale[r][g]) for its
 * 16 k, in order. */
static inline __attribute__((always_inline)) void second_pass(const panel *pb, const float *a, int64_t Kp, int rows,
                                                              int64_t k0, __m512 scale[R][G], __m512i sum[R][G])
{
#pragma GCC unroll 2
    for (int k = 0; k < BLOCK; k++) {
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
}

/* A block's end: c = RZ(sum + trunc(c * scale)) / scale. |sum| < 16 * 2^27
 * = 2^31 and c's term < 2^26, so their sum may overflow int32 (the sign
 * bits: both terms' differ from the result's); returns the rows with such
 * lanes, which go to the model. */
static inline __attribute__((always_inline)) unsigned round_block(int rows, __m512 c[R][G], __m512 scale[R][G],
                                                                  __m512i bits_of_scale[R][G], __m512i sum[R][G])
{
    unsigned need = 0;
#pragma GCC unroll 4
    for (int r = 0; r < rows; r++) {
        __m512i overflow = _mm512_setzero_si512();
#pragma GCC unroll 2
        for (int g = 0; g < G; g++) {
            __m512i ct = _mm512_cvttps_epi32(_mm512_mul_ps(c[r][g], scale[r][g]));
            __m512i s = _mm512_add_epi32(sum[r][g], ct);
            overflow = _mm512_or_si512(overflow, overflow_of(sum[r][g], ct, s));
            __m512 f = _mm512_cvt_roundepi32_ps(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            c[r][g] = _mm512_mul_ps(f, unscale_of(bits_of_scale[r][g]));
        }
        need |= (unsigned)(_mm512_movepi32_mask(overflow) != 0) << r;
    }
    return need;
}

/* Pass one on int16 exponents: top16[r] = each lane's largest product
 * exponent, or `floor` where none is larger (or there is none). */
static inline __attribute__((always_inline)) void pass_one_int16(const repro_bf16_operands *o, const panel *pb,
                                                                 int64_t m, int rows, int64_t k0, short floor,
                                                                 __m512i top16[R])
{
    const int64_t Kp = o->Kp;
    const int32_t *ae = o->Ae + m * Kp + k0;
#pragma GCC unroll 4
    for (int r = 0; r < rows; r++)
        top16[r] = _mm512_set1_epi16(floor);
#pragma GCC unroll 16
    for (int k = 0; k < BLOCK; k++) {
        __m512i e = _mm512_loadu_si512(pb->be + (k0 + k) * REPRO_BF16_PANEL);
#pragma GCC unroll 4
        for (int r = 0; r < rows; r++)
            top16[r] = _mm512_max_epi16(top16[r], _mm512_add_epi16(_mm512_set1_epi16((short)ae[r * Kp + k]), e));
    }
}

/* Pass one of an in-range block, exponents as int16: each lane's largest
 * product exponent, or -RANGE where none is larger (or there is none), as a
 * float's exponent field: (top + 127) << 23. */
static inline __attribute__((always_inline)) void tops_wide(const repro_bf16_operands *o, const panel *pb,
                                                            int64_t m, int rows, int64_t k0, __m512i top[R][G])
{
    __m512i top16[R];
    pass_one_int16(o, pb, m, rows, k0, -RANGE, top16);
#pragma GCC unroll 4
    for (int r = 0; r < rows; r++) {
        __m512i t16 = _mm512_add_epi16(top16[r], _mm512_set1_epi16(127));
        top[r][0] = _mm512_slli_epi32(_mm512_cvtepi16_epi32(_mm512_castsi512_si256(t16)), 23);
        top[r][1] = _mm512_slli_epi32(_mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(t16, 1)), 23);
    }
}

/* The same from the int8 exponents (o->narrow): two k a step in 64 lanes
 * (a column's even and odd k side by side), then the pair's larger, in the
 * high half of each 32-bit lane: repro_bf16_b8_at orders the columns so
 * that the in-lane unpacks give them in order. */
static inline __attribute__((always_inline)) void tops_narrow(const repro_bf16_operands *o, const panel *pb,
                                                              int64_t m, int rows, int64_t k0, __m512i top[R][G])
{
    const int64_t Kp = o->Kp;
    const int8_t *ae = o->Ae8 + m * Kp + k0;
    __m512i top8[R];
#pragma GCC unroll 4
    for (int r = 0; r < rows; r++)
        top8[r] = _mm512_set1_epi8(-128);
#pragma GCC unroll 8
    for (int k = 0; k < BLOCK; k += 2) {
        __m512i e = _mm512_loadu_si512(pb->be8 + (k0 + k) * REPRO_BF16_PANEL);
#pragma GCC unroll 4
        for (int r = 0; r < rows; r++) {
            int16_t pair;
            memcpy(&pair, ae + r * Kp + k, sizeof pair);
            top8[r] = _mm512_max_epi8(top8[r], _mm512_adds_epi8(_mm512_set1_epi16(pair), e));
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < rows; r++) {
        __m512i both = _mm512_max_epi8(top8[r], _mm512_srli_epi16(top8[r], 8)); /* in the even bytes */
        __m512i t16 = _mm512_srai_epi16(_mm512_slli_epi16(both, 8), 8);
        __mmask32 none = _mm512_cmpeq_epi16_mask(t16, _mm512_set1_epi16(-128));
        t16 = _mm512_mask_mov_epi16(_mm512_add_epi16(t16, _mm512_set1_epi16((short)(o->exp_bias + 127))), none,
                                    _mm512_set1_epi16(127 - RANGE));
        t16 = _mm512_slli_epi16(t16, 7); /* (top + 127) << 7: 27..227 fit */
        top[r][0] = _mm512_unpacklo_epi16(_mm512_setzero_si512(), t16);
        top[r][1] = _mm512_unpackhi_epi16(_mm512_setzero_si512(), t16);
    }
}

/* One block of an in-range product (o->in_range) for `rows` (1..R) rows x
 * 32 outputs: c + the 16 products. Every nonzero product's exponent and
 * every c's lie within +-RANGE, so the alignment exponent needs no clamp:
 * it starts at -RANGE, which is the model's for the lanes that hold a
 * product (theirs is at least -RANGE) and exact for the others (their c is
 * 0 or a multiple of 2^(-RANGE-25): kept whole at any alignment from
 * -RANGE up). Returns the rows whose int32 sum overflowed in some lane. */
static inline __attribute__((always_inline)) unsigned block_in_range(const repro_bf16_operands *o, const panel *pb,
                                                                      int64_t m, int rows, int narrow, int64_t k0,
                                                                      __m512 c[R][G])
{
    const int64_t Kp = o->Kp;
    const float *a = o->Af + m * Kp + k0;
    __m512i top[R][G];
    if (narrow)
        tops_narrow(o, pb, m, rows, k0, top);
    else
        tops_wide(o, pb, m, rows, k0, top);
    __m512i sum[R][G], bits_of_scale[R][G];
    __m512 scale[R][G];
#pragma GCC unroll 4
    for (int r = 0; r < rows; r++) {
#pragma GCC unroll 2
        for (int g = 0; g < G; g++) {
            /* exponent fields: c's is 0 for +-0, below every top's */
            __m512i c_field = _mm512_and_si512(_mm512_castps_si512(c[r][g]), _mm512_set1_epi32(0x7f800000));
            __m512i t = _mm512_max_epi32(top[r][g], c_field);
            bits_of_scale[r][g] = _mm512_sub_epi32(_mm512_set1_epi32((int)((127u + 25 + 127) << 23)), t);
            scale[r][g] = _mm512_castsi512_ps(bits_of_scale[r][g]);
            sum[r][g] = _mm512_setzero_si512();
        }
    }
    second_pass(pb, a, Kp, rows, k0, scale, sum);
    return round_block(rows, c, scale, bits_of_scale, sum);
}

/* One block for `rows` (1..R) rows x 32 outputs: c + the 16 products, any
 * exponents. Returns the rows that have lanes needing the model. */
static inline __attribute__((always_inline)) unsigned block(const repro_bf16_operands *o, const panel *pb,
                                                             int64_t m, int rows, int64_t k0, __m512 c[R][G])
{
    const int64_t Kp = o->Kp;
    const float *a = o->Af + m * Kp + k0;
    __m512i top16[R], top[R][G];
    pass_one_int16(o, pb, m, rows, k0, LOW, top16);
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
    second_pass(pb, a, Kp, rows, k0, scale, sum);
    unsigned need = round_block(rows, c, scale, bits_of_scale, sum);
    for (int r = 0; r < rows; r++)
        need |= (unsigned)(slow[r] != 0) << r;
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

/* Which block a tile runs: any exponents, in range, in range as int8. */
enum { ANY, IN_RANGE, NARROW };

/* rows (1..R) rows of a panel over all of K; c: in, then out. */
static inline __attribute__((always_inline)) void tile(const repro_bf16_operands *o, const panel *pb, int64_t m,
                                                       int rows, int kind, int64_t n0, __m512 c[R][G])
{
    for (int64_t k0 = 0; k0 < o->Kp; k0 += BLOCK) {
        __m512 before[R][G];
        memcpy(before, c, sizeof before);
        unsigned need = kind == ANY ? block(o, pb, m, rows, k0, c)
                                    : block_in_range(o, pb, m, rows, kind == NARROW, k0, c);
        if (need) /* rare */
            for (int r = 0; r < rows; r++)
                if (need >> r & 1)
                    redo(o, m + r, n0, k0, c[r], before[r]);
    }
}

typedef void (*tile_fn)(const repro_bf16_operands *o, const panel *pb, int64_t m, int64_t n0, __m512 c[R][G]);

#define TILE(rows, kind, name)                                                                                        \
    static void name(const repro_bf16_operands *o, const panel *pb, int64_t m, int64_t n0, __m512 c[R][G])           \
    {                                                                                                                 \
        tile(o, pb, m, rows, kind, n0, c);                                                                            \
    }
TILE(1, ANY, tile1)
TILE(2, ANY, tile2)
TILE(3, ANY, tile3)
TILE(4, ANY, tile4)
TILE(1, IN_RANGE, tile1_in_range)
TILE(2, IN_RANGE, tile2_in_range)
TILE(3, IN_RANGE, tile3_in_range)
TILE(4, IN_RANGE, tile4_in_range)
TILE(1, NARROW, tile1_narrow)
TILE(2, NARROW, tile2_narrow)
TILE(3, NARROW, tile3_narrow)
TILE(4, NARROW, tile4_narrow)

/* C's rows m.. (rows of them), columns n0.. (w of them) from the tile's
 * sums: + bias, where there is one. */
static void store_tile(const repro_bf16_operands *o, int64_t m, int rows, int64_t n0, int w, __m512 c[R][G])
{
    for (int r = 0; r < rows; r++) {
        float *crow = o->C + (m + r) * o->ldc + n0;
        for (int g = 0; g < G; g++) {
            int lanes = w - 16 * g;
            if (lanes <= 0)
                break;
            __m512 v = c[r][g];
            if (lanes >= 16) { /* whole: AMD cores run masked loads and stores slowly */
                if (o->bias)
                    v = _mm512_add_ps(v, _mm512_loadu_ps(o->bias + n0 + 16 * g));
                _mm512_storeu_ps(crow + 16 * g, v);
            } else {
                __mmask16 k = (__mmask16)((1u << lanes) - 1);
                if (o->bias) /* a branch, not a masked load: bias may be NULL */
                    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, o->bias + n0 + 16 * g));
                _mm512_mask_storeu_ps(crow + 16 * g, k, v);
            }
        }
    }
}

/* Panels of 32 columns outermost, so a panel of B (Kp x 32 values and
 * exponents) stays in cache while every row of A passes over it. */
void repro_gemm_bf16_rows_avx512(const repro_bf16_operands *o, int64_t m0, int64_t m1)
{
    static const tile_fn any[R + 1] = {NULL, tile1, tile2, tile3, tile4};
    static const tile_fn in_range[R + 1] = {NULL, tile1_in_range, tile2_in_range, tile3_in_range, tile4_in_range};
    static const tile_fn narrow[R + 1] = {NULL, tile1_narrow, tile2_narrow, tile3_narrow, tile4_narrow};
    const tile_fn *tiles = o->narrow ? narrow : o->in_range ? in_range : any;
    for (int64_t n0 = 0; n0 < o->Np; n0 += REPRO_BF16_PANEL) {
        const int64_t at = repro_bf16_b_at(o, 0, n0);
        const panel pb = {o->Bf + at, o->Be + at, o->narrow ? o->Be8 + at : NULL};
        const int w = o->N - n0 < REPRO_BF16_PANEL ? (int)(o->N - n0) : REPRO_BF16_PANEL;
        for (int64_t m = m0; m < m1; m += R) {
            const int rows = m1 - m < R ? (int)(m1 - m) : R;
            __m512 c[R][G];
            for (int r = 0; r < R; r++)
                for (int g = 0; g < G; g++) {
                    const float *from = o->C + (m + r) * o->ldc + n0 + 16 * g;
                    int lanes = w - 16 * g;
                    c[r][g] = !o->accumulate || r >= rows || lanes <= 0 ? _mm512_setzero_ps()
                              : lanes >= 16 ? _mm512_loadu_ps(from)
                                            : _mm512_maskz_loadu_ps((__mmask16)((1u << lanes) - 1), from);
                }
            tiles[rows](o, &pb, m, n0, c);
            store_tile(o, m, rows, n0, w, c);
        }
    }
}
