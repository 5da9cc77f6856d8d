/* The canonical reduction: THE one way repro sums a long run of floats
 * (the loss over a batch, a gradient norm, a mean over a row). Its shape is
 * fixed by n alone, never by the thread count or the device, so every
 * backend that follows it gets the same bits.
 *
 * Order (every + and * one binary32 operation, round to nearest even):
 *   - the elements e[0..n) are cut into blocks of REPRO_CANON_BLOCK = 1024
 *     consecutive elements, the last one shorter;
 *   - within a block of length L starting at s, 8 lane accumulators:
 *       lane j = ((+0 + e[s+j]) + e[s+j+8]) + e[s+j+16] + ...   (j + 8k < L,
 *       k ascending; a lane with no element stays +0);
 *   - block sum = ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7));
 *   - the m block sums b[0..m) combine by a pairwise tree:
 *       S(b[0..m)) = m == 1 ? b[0] : S(b[0..h)) + S(b[h..m)),  h = (m + 1) / 2;
 *   - n == 0 gives +0.
 *
 * The element e[i] is produced by repro_canon_elem from a repro_canon_src,
 * so the same shape sums x[i], x[i]*x[i], (x[i]-a)^2, ... without a
 * temporary array. The block sum below is REPRO_HD so the CUDA backend
 * includes this same text.
 *
 * Segmented layout: the sequence need not be contiguous. With
 * seg_len > 0, element i of the sequence is read at offset
 *     p(i) = (i / seg_len) * seg_stride + i % seg_len
 * of x (and of y): runs of seg_len contiguous values, seg_stride apart
 * (batch norm sums channel c of several samples: runs of H*W values, C*H*W
 * apart). seg_len == 0 means contiguous, p(i) = i. The layout only says
 * where e[i] lives: blocks, lanes and tree stay those of the logical index
 * i, so a segmented sum has the bits of the contiguous sum of a gathered
 * copy. */
#ifndef REPRO_OPS_REDUCE_H
#define REPRO_OPS_REDUCE_H

#include <stdint.h>

#include "repro/defs.h"

#define REPRO_CANON_BLOCK 1024
#define REPRO_CANON_LANES 8

/* What element i of a canonical sum is (each line is its exact order). */
typedef enum repro_canon_kind {
    REPRO_CANON_X = 0,       /* e = x[i] */
    REPRO_CANON_SQ,          /* e = x[i] * x[i] */
    REPRO_CANON_CENTRED_SQ,  /* d = x[i] - a; e = d * d */
    REPRO_CANON_XY,          /* e = x[i] * y[i] */
    REPRO_CANON_Y_XHAT       /* xhat = (x[i] - a) * b; e = y[i] * xhat */
} repro_canon_kind;

typedef struct repro_canon_src {
    repro_canon_kind kind;
    const float *x;     /* the sequence's values, at offsets p(i) (see the layout above) */
    const float *y;     /* the same layout, for REPRO_CANON_XY and REPRO_CANON_Y_XHAT */
    float a, b;         /* constants of REPRO_CANON_CENTRED_SQ / REPRO_CANON_Y_XHAT */
    int64_t seg_len;    /* 0: contiguous; > 0: runs of seg_len values ... */
    int64_t seg_stride; /* ... seg_stride apart (unused when seg_len == 0) */
} repro_canon_src;

/* The offset in x (and y) of element i: p(i) of the layout above. */
REPRO_HD REPRO_INLINE int64_t repro_canon_offset(const repro_canon_src *s, int64_t i)
{
    if (s->seg_len <= 0)
        return i;
    return (i / s->seg_len) * s->seg_stride + i % s->seg_len;
}

/* The element stored at offset p of x (and y), computed as if src->kind
 * were `kind` (a constant at every call site, so the compiler drops the
 * switch from the inner loop). Each case is its element's exact order. */
REPRO_HD REPRO_INLINE float repro_canon_elem_at(const repro_canon_src *s, repro_canon_kind kind, int64_t p)
{
    switch (kind) {
    case REPRO_CANON_SQ:
        return s->x[p] * s->x[p];
    case REPRO_CANON_CENTRED_SQ: {
        float d = s->x[p] - s->a;
        return d * d;
    }
    case REPRO_CANON_XY:
        return s->x[p] * s->y[p];
    case REPRO_CANON_Y_XHAT: {
        float xhat = (s->x[p] - s->a) * s->b;
        return s->y[p] * xhat;
    }
    case REPRO_CANON_X:
    default:
        return s->x[p];
    }
}

/* e[i] of src: element i of the sequence, wherever the layout puts it. */
REPRO_HD REPRO_INLINE float repro_canon_elem(const repro_canon_src *s, repro_canon_kind kind, int64_t i)
{
    return repro_canon_elem_at(s, kind, repro_canon_offset(s, i));
}

/* Contiguous blocks: element i is at offset i. */
REPRO_HD REPRO_INLINE float repro_canon_block_of(const repro_canon_src *s, repro_canon_kind kind,
                                                 int64_t start, int64_t len)
{
    float l[REPRO_CANON_LANES];
    for (int j = 0; j < REPRO_CANON_LANES; j++)
        l[j] = +0.0f;
    int64_t i = 0;
    for (; i + REPRO_CANON_LANES <= len; i += REPRO_CANON_LANES)
        for (int j = 0; j < REPRO_CANON_LANES; j++)
            l[j] = l[j] + repro_canon_elem_at(s, kind, start + i + j);
    for (int j = 0; i + j < len; j++)
        l[j] = l[j] + repro_canon_elem_at(s, kind, start + i + j);
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

/* Segmented blocks: the same lanes, each element taken at p(i). The
 * elements start, start + 1, ... are visited in order, so p(i) follows
 * from a cursor (the run q and the offset in it) instead of a division per
 * element. */
REPRO_HD REPRO_INLINE float repro_canon_block_seg_of(const repro_canon_src *s, repro_canon_kind kind,
                                                     int64_t start, int64_t len)
{
    float l[REPRO_CANON_LANES];
    for (int j = 0; j < REPRO_CANON_LANES; j++)
        l[j] = +0.0f;
    int64_t seg_len = s->seg_len;
    int64_t off = start % seg_len;                      /* offset of element i in its run */
    int64_t base = (start / seg_len) * s->seg_stride;   /* where its run starts */
    int64_t i = 0;
    for (; i + REPRO_CANON_LANES <= len; i += REPRO_CANON_LANES)
        for (int j = 0; j < REPRO_CANON_LANES; j++) {
            l[j] = l[j] + repro_canon_elem_at(s, kind, base + off);
            if (++off == seg_len) {
                off = 0;
                base += s->seg_stride;
            }
        }
    for (int j = 0; i + j < len; j++) {
        l[j] = l[j] + repro_canon_elem_at(s, kind, base + off);
        if (++off == seg_len) {
            off = 0;
            base += s->seg_stride;
        }
    }
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

/* The sum of one block: elements [start, start + len), 1 <= len <= 1024. */
REPRO_HD REPRO_INLINE float repro_canon_block(const repro_canon_src *s, int64_t start, int64_t len)
{
    if (s->seg_len > 0) {
        switch (s->kind) {
        case REPRO_CANON_SQ:
            return repro_canon_block_seg_of(s, REPRO_CANON_SQ, start, len);
        case REPRO_CANON_CENTRED_SQ:
            return repro_canon_block_seg_of(s, REPRO_CANON_CENTRED_SQ, start, len);
        case REPRO_CANON_XY:
            return repro_canon_block_seg_of(s, REPRO_CANON_XY, start, len);
        case REPRO_CANON_Y_XHAT:
            return repro_canon_block_seg_of(s, REPRO_CANON_Y_XHAT, start, len);
        case REPRO_CANON_X:
        default:
            return repro_canon_block_seg_of(s, REPRO_CANON_X, start, len);
        }
    }
    switch (s->kind) {
    case REPRO_CANON_SQ:
        return repro_canon_block_of(s, REPRO_CANON_SQ, start, len);
    case REPRO_CANON_CENTRED_SQ:
        return repro_canon_block_of(s, REPRO_CANON_CENTRED_SQ, start, len);
    case REPRO_CANON_XY:
        return repro_canon_block_of(s, REPRO_CANON_XY, start, len);
    case REPRO_CANON_Y_XHAT:
        return repro_canon_block_of(s, REPRO_CANON_Y_XHAT, start, len);
    case REPRO_CANON_X:
    default:
        return repro_canon_block_of(s, REPRO_CANON_X, start, len);
    }
}

/* The number of blocks of a sum of n elements. */
REPRO_HD REPRO_INLINE int64_t repro_canon_blocks(int64_t n)
{
    return (n + REPRO_CANON_BLOCK - 1) / REPRO_CANON_BLOCK;
}

/* The canonical sum of src's elements [0, n), single-threaded: the
 * reference every other version of it is tested against. Any layout. */
float repro_canon_sum(const repro_canon_src *src, int64_t n);

/* sum of x[0..n) and of x[i]*x[i] in the canonical order. x[n]. */
float repro_sum_canonical(const float *x, int64_t n);
float repro_sumsq_canonical(const float *x, int64_t n);

#endif
