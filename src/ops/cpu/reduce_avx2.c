/* One block of the canonical sum (src/ops/reduce.h) on AVX2: its 8 lane
 * accumulators are the 8 lanes of one register. Lane j takes elements
 * j, j + 8, j + 16, ... of the block in order, each element computed by
 * the same float operations as repro_canon_elem_at (separate multiplies
 * and adds: intrinsics are never contracted), then the lanes combine as
 * ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)). The same bits as
 * repro_canon_block for every kind and layout; tests/test_reduce.c checks
 * them. Used on the AVX2 and AVX-512 paths (reduce.c). */
#include <immintrin.h>

#include "ops/cpu/reduce_simd.h"

/* The 8 elements whose values sit at x[0..8) (and y[0..8)). */
static inline __attribute__((always_inline)) __m256 elems(const repro_canon_src *s, const repro_canon_kind kind,
                                                          const float *x, const float *y)
{
    const __m256 xv = _mm256_loadu_ps(x);
    switch (kind) {
    case REPRO_CANON_SQ:
        return _mm256_mul_ps(xv, xv);
    case REPRO_CANON_CENTRED_SQ: {
        __m256 d = _mm256_sub_ps(xv, _mm256_set1_ps(s->a));
        return _mm256_mul_ps(d, d);
    }
    case REPRO_CANON_XY:
        return _mm256_mul_ps(xv, _mm256_loadu_ps(y));
    case REPRO_CANON_Y_XHAT: {
        __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(xv, _mm256_set1_ps(s->a)), _mm256_set1_ps(s->b));
        return _mm256_mul_ps(_mm256_loadu_ps(y), xhat);
    }
    case REPRO_CANON_X:
    default:
        return xv;
    }
}

static float combine(__m256 acc)
{
    float l[8];
    _mm256_storeu_ps(l, acc);
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

/* The last len < 8 elements: lanes [0, len) add theirs, the others stay. */
static inline __attribute__((always_inline)) __m256 tail(const repro_canon_src *s, const repro_canon_kind kind,
                                                         __m256 acc, const float *xs, const float *ys, int len)
{
    const __m256i keep = _mm256_cmpgt_epi32(_mm256_set1_epi32(len), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_blendv_ps(acc, _mm256_add_ps(acc, elems(s, kind, xs, ys)), _mm256_castsi256_ps(keep));
}

/* Contiguous: element i at offset i. */
static inline __attribute__((always_inline)) float block_of(const repro_canon_src *s, const repro_canon_kind kind,
                                                            int64_t start, int64_t len)
{
    const int two = kind == REPRO_CANON_XY || kind == REPRO_CANON_Y_XHAT;
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= len; i += 8)
        acc = _mm256_add_ps(acc, elems(s, kind, s->x + start + i, two ? s->y + start + i : NULL));
    if (i < len) { /* copied out: the loads must not read past the block's last value */
        float xs[8] = {0}, ys[8] = {0};
        for (int j = 0; i + j < len; j++) {
            xs[j] = s->x[start + i + j];
            ys[j] = two ? s->y[start + i + j] : 0.0f;
        }
        acc = tail(s, kind, acc, xs, ys, (int)(len - i));
    }
    return combine(acc);
}

/* Segmented: element i at p(i); eight elements inside one run are loaded
 * in place, a group that crosses runs is gathered through the cursor. */
static inline __attribute__((always_inline)) float block_seg_of(const repro_canon_src *s,
                                                                const repro_canon_kind kind, int64_t start,
                                                                int64_t len)
{
    const int two = kind == REPRO_CANON_XY || kind == REPRO_CANON_Y_XHAT;
    const int64_t seg_len = s->seg_len;
    int64_t off = start % seg_len, base = (start / seg_len) * s->seg_stride;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < len; i += 8) {
        const int n = len - i < 8 ? (int)(len - i) : 8;
        if (n == 8 && off + 8 <= seg_len) {
            acc = _mm256_add_ps(acc, elems(s, kind, s->x + base + off, two ? s->y + base + off : NULL));
            off += 8;
            if (off == seg_len) {
                off = 0;
                base += s->seg_stride;
            }
            continue;
        }
        float xs[8] = {0}, ys[8] = {0};
        for (int j = 0; j < n; j++) {
            xs[j] = s->x[base + off];
            ys[j] = two ? s->y[base + off] : 0.0f;
            if (++off == seg_len) {
                off = 0;
                base += s->seg_stride;
            }
        }
        acc = n == 8 ? _mm256_add_ps(acc, elems(s, kind, xs, ys)) : tail(s, kind, acc, xs, ys, n);
    }
    return combine(acc);
}

float repro_canon_block_avx2(const repro_canon_src *s, int64_t start, int64_t len)
{
    if (s->seg_len > 0) {
        switch (s->kind) {
        case REPRO_CANON_SQ:
            return block_seg_of(s, REPRO_CANON_SQ, start, len);
        case REPRO_CANON_CENTRED_SQ:
            return block_seg_of(s, REPRO_CANON_CENTRED_SQ, start, len);
        case REPRO_CANON_XY:
            return block_seg_of(s, REPRO_CANON_XY, start, len);
        case REPRO_CANON_Y_XHAT:
            return block_seg_of(s, REPRO_CANON_Y_XHAT, start, len);
        case REPRO_CANON_X:
        default:
            return block_seg_of(s, REPRO_CANON_X, start, len);
        }
    }
    switch (s->kind) {
    case REPRO_CANON_SQ:
        return block_of(s, REPRO_CANON_SQ, start, len);
    case REPRO_CANON_CENTRED_SQ:
        return block_of(s, REPRO_CANON_CENTRED_SQ, start, len);
    case REPRO_CANON_XY:
        return block_of(s, REPRO_CANON_XY, start, len);
    case REPRO_CANON_Y_XHAT:
        return block_of(s, REPRO_CANON_Y_XHAT, start, len);
    case REPRO_CANON_X:
    default:
        return block_of(s, REPRO_CANON_X, start, len);
    }
}
