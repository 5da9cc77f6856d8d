/* A bit-exact model of a tensor core's bf16 -> fp32 multiply-accumulate.
 *
 * An NVIDIA tensor core does not evaluate c + sum a_i*b_i as a chain of
 * IEEE fmaf. For one k-block of products it (1) forms every product
 * a_i*b_i exactly, (2) aligns the products and the accumulator c to the
 * largest exponent among them, keeping `extra_bits` bits below the 24 of an
 * fp32 significand and dropping (truncating) the rest of each term, (3) adds
 * the aligned terms exactly, and (4) rounds the sum once to fp32 toward
 * zero. A longer dot product is a chain of such blocks, the result of one
 * being the c of the next. This is the shape of the models of Khattak and
 * Mikaitis (arXiv 2512.07004); the parameters for the GPU at hand were
 * established by probing it (tools/tc_probe.cu, docs/bf16.md), and
 * tests/cuda/test_cuda_bf16.cu checks the model against the hardware.
 *
 * The arithmetic is integer only (int64), so it is the same on every host
 * and compiler: it is the CPU twin of the GPU's bf16 GEMM.
 *
 * Inputs a and b are bf16 bit patterns (uint16_t); c and the result are
 * fp32. One written order: block after block, k ascending. */
#ifndef REPRO_OPS_TC_MODEL_H
#define REPRO_OPS_TC_MODEL_H

#include <stdint.h>
#include <string.h>

#include "repro/defs.h"

/* How one block is evaluated; repro_tc_hopper_bf16 is the one the GPU uses. */
typedef struct repro_tc_params {
    int block;         /* products per block (k-block size) */
    int extra_bits;    /* alignment bits kept below fp32's 24 */
    int round_nearest; /* 0: final rounding toward zero; 1: to nearest even */
    int min_exp;       /* the alignment exponent is at least this (-1000: no limit) */
    int floor_align;   /* 0: alignment truncates magnitudes; 1: two's complement (toward -inf) */
} repro_tc_params;

#define REPRO_TC_HOPPER_BF16 {16, 2, 0, -133, 0}

REPRO_HD REPRO_INLINE uint32_t repro_tc_f2u(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

REPRO_HD REPRO_INLINE float repro_tc_u2f(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* 2^e as a double, for -1022 <= e <= 1023 (exact; no libm). */
REPRO_HD REPRO_INLINE double repro_tc_pow2(int e) {
    uint64_t u = (uint64_t)(e + 1023) << 52;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* Special operands (NaN, infinity) follow IEEE: returns 1 and sets *out when
 * the block has one. NaN results are the canonical NaN the GPU gives. */
REPRO_HD REPRO_INLINE int repro_tc_special(const uint16_t *a, const uint16_t *b, int n, float c, float *out) {
    int pos_inf = 0, neg_inf = 0, nan = 0;
    uint32_t cu = repro_tc_f2u(c);
    if ((cu & 0x7fffffffu) > 0x7f800000u) nan = 1;
    else if ((cu & 0x7fffffffu) == 0x7f800000u) {
        if (cu >> 31) neg_inf = 1;
        else pos_inf = 1;
    }
    for (int i = 0; i < n; i++) {
        uint32_t ea = (a[i] >> 7) & 0xff, eb = (b[i] >> 7) & 0xff;
        uint32_t fa = a[i] & 0x7f, fb = b[i] & 0x7f;
        int a_nan = ea == 0xff && fa, b_nan = eb == 0xff && fb;
        int a_inf = ea == 0xff && !fa, b_inf = eb == 0xff && !fb;
        int a_zero = (a[i] & 0x7fff) == 0, b_zero = (b[i] & 0x7fff) == 0;
        if (a_nan || b_nan || (a_inf && b_zero) || (b_inf && a_zero)) nan = 1;
        else if ((a_inf || b_inf) && ((a[i] ^ b[i]) >> 15)) neg_inf = 1;
        else if (a_inf || b_inf) pos_inf = 1;
    }
    if (nan || (pos_inf && neg_inf)) {
        *out = repro_tc_u2f(0x7fffffffu);
        return 1;
    }
    if (pos_inf || neg_inf) {
        *out = repro_tc_u2f(pos_inf ? 0x7f800000u : 0xff800000u);
        return 1;
    }
    return 0;
}

/* One block: c + sum_{i<n} a_i*b_i, n <= 64. */
REPRO_HD REPRO_INLINE float repro_tc_block(const uint16_t *a, const uint16_t *b, int n, float c,
                                          repro_tc_params p) {
    float special;
    if (repro_tc_special(a, b, n, c, &special)) return special;
    const int F = 23 + p.extra_bits; /* fraction bits of the aligned terms */
    int64_t mag[65];
    int exps[65], neg[65], count = 0;
    for (int i = 0; i < n; i++) { /* products exactly: m * 2^(e - 14) */
        uint32_t ea = (a[i] >> 7) & 0xff, eb = (b[i] >> 7) & 0xff;
        uint32_t ma = (a[i] & 0x7f) | (ea ? 0x80u : 0), mb = (b[i] & 0x7f) | (eb ? 0x80u : 0);
        if (!ma || !mb) continue;
        mag[count] = (int64_t)(ma * mb) << (F - 14);
        exps[count] = (ea ? (int)ea : 1) - 127 + (eb ? (int)eb : 1) - 127;
        neg[count++] = (a[i] ^ b[i]) >> 15;
    }
    uint32_t cu = repro_tc_f2u(c);
    if (cu & 0x7fffffffu) { /* c: m * 2^(e - 23) */
        uint32_t ec = (cu >> 23) & 0xff;
        mag[count] = (int64_t)((cu & 0x7fffff) | (ec ? 0x800000u : 0)) << (F - 23);
        exps[count] = (ec ? (int)ec : 1) - 127;
        neg[count++] = cu >> 31;
    }
    if (count == 0) return 0.0f; /* only zero terms: +0, as the hardware gives */
    int top = p.min_exp;
    for (int i = 0; i < count; i++)
        if (exps[i] > top) top = exps[i];
    int64_t sum = 0; /* exact: at most 65 terms below 2^(F+3) */
    for (int i = 0; i < count; i++) {
        int shift = top - exps[i];
        int64_t v = neg[i] ? -mag[i] : mag[i];
        if (p.floor_align) sum += shift >= 63 ? (v < 0 ? -1 : 0) : v >> shift; /* arithmetic shift */
        else sum += shift >= 63 ? 0 : (neg[i] ? -(mag[i] >> shift) : mag[i] >> shift);
    }
    if (sum == 0) return 0.0f;
    uint64_t u = (uint64_t)(sum < 0 ? -sum : sum);
    int scale = top - F; /* value = u * 2^scale */
    int bits = 0;
    while ((u >> bits) > 1) bits++;
    bits++; /* bit length of u */
    int drop = bits - 24;
    if (scale + drop < -149) drop = -149 - scale; /* fp32 subnormal grid */
    if (drop > 0) {
        uint64_t q = drop >= 64 ? 0 : u >> drop;
        if (p.round_nearest && drop <= 64) {
            uint64_t rem = drop == 64 ? u : u & ((UINT64_C(1) << drop) - 1);
            uint64_t half = UINT64_C(1) << (drop - 1);
            if (rem > half || (rem == half && (q & 1))) q++;
        }
        u = q;
        scale += drop;
    }
    if (u == 0) return 0.0f; /* underflow to zero: +0, as the hardware gives */
    while (u >= (UINT64_C(1) << 24)) { /* rounding carried into a new bit */
        u >>= 1;
        scale++;
    }
    if (scale + 23 > 127) /* overflow: infinity even though the rounding is toward zero */
        return repro_tc_u2f((sum < 0 ? 0x80000000u : 0) | 0x7f800000u);
    float r = (float)((double)u * repro_tc_pow2(scale));
    return sum < 0 ? -r : r;
}

/* A dot product of length k: blocks in order, each block's result the next
 * one's c. Zero-padded to whole blocks (zeros change nothing). */
REPRO_HD REPRO_INLINE float repro_tc_dot(const uint16_t *a, int64_t a_stride, const uint16_t *b, int64_t b_stride,
                                        int64_t k, float c, repro_tc_params p) {
    uint16_t ab[64], bb[64];
    for (int64_t k0 = 0; k0 < k; k0 += p.block) {
        int n = k - k0 < p.block ? (int)(k - k0) : p.block;
        for (int i = 0; i < n; i++) {
            ab[i] = a[(k0 + i) * a_stride];
            bb[i] = b[(k0 + i) * b_stride];
        }
        c = repro_tc_block(ab, bb, n, c, p);
    }
    return c;
}

/* fp32 -> bf16, round to nearest even (NaN stays a quiet NaN): the one
 * rounding of an input to a bf16 GEMM. */
REPRO_HD REPRO_INLINE uint16_t repro_bf16_from_float(float x) {
    uint32_t u = repro_tc_f2u(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

REPRO_HD REPRO_INLINE float repro_bf16_to_float(uint16_t h) {
    return repro_tc_u2f((uint32_t)h << 16);
}

#endif
