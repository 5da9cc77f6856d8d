/* repro_gemm: dispatch, thread split, cache blocking and packing around the
 * micro-kernels of gemm_kernel.h. The arithmetic order is gemm.h's contract;
 * nothing here touches a value except to copy it, so the blocking below only
 * changes speed.
 *
 * Threads: C is cut into a pm x pn grid of regions at micro-tile granularity
 * (one region per thread, each with its own packing buffer); K is never
 * split. Within a region, GotoBLAS/BLIS-style loops:
 *
 *   for pc (k-blocks of about KC, ascending):
 *     (pack A(.., pc..) where it is packed: below; once for every jc)
 *     for jc (NC columns):
 *       pack B(pc.., jc..) into NR-wide strips    (kc x nc, stays in L2)
 *       for ir (MR rows):                         (A's MR x kc rows stay in L1)
 *         for jr (NR columns):
 *           micro-kernel: the C tile continues its accumulators over kc k's
 *
 * (The k-blocks of an element still come in ascending order: pc is the
 * outer loop, and each C tile is stored after one block and reloaded by
 * the next.)
 *
 * (Before each micro-kernel, the next C tile is prefetched for writing,
 * where the k-block is long enough to hide the hints: PREFETCH_C_MIN_KC.)
 * On the AVX2 path the ir and jr loops run inside the block kernel
 * (gemm_kernel.h), one call for a region's tiles, at every k-block
 * length; elsewhere only short k-blocks take it (see block_long_kc).
 * A is only broadcast, so the kernels mostly read it in place through its
 * strides (no packing, so no copy of A per thread either). B is read in place too
 * where packing would not pay: when it is contiguous along n and the region
 * has so few rows (at most DIRECT_MAX_TILES micro-tiles, as in dW of a
 * 10-wide layer) that each packed strip would be read only once or twice,
 * or K is so short (under PREFETCH_C_MIN_KC: dX of a 10-wide layer) that
 * the block of B is a few KB and stays in L1 in place; then only the
 * ragged last strip (narrower than NR) is packed.
 * A is packed in one case: when its rows are contiguous but k is strided
 * by a multiple of 512 bytes (dW's dy^T: A(o,b) = dy[b][o], O = 128, 256).
 * Then a micro-tile's successive k's sit in at most 8 of L1's 64 sets and
 * evict each other; packed, they are one contiguous [kc][MR] block. Other
 * strides (the conv's im2col, 196 or 784 floats) spread over the sets, and
 * with few column strips to share it the copy would cost more than it saves.
 *
 * Narrow products (N <= REPRO_GEMM_NARROW_N, a classifier's last layer
 * forward) take the narrow kernel where the path has one (AVX2): rows of
 * C in the lanes rather than columns, so 10 columns do not leave 6 lanes
 * of 16 idle (gemm_narrow_avx2.c; 128x10x128 and 256x10x256 read
 * 0.86-0.97x OpenBLAS before, 1.09-1.30x since, on a Zen 4's AVX2 path,
 * bench_gemm). The AVX-512 path keeps its tiles: 16-lane vectors on a
 * core with full-width AVX-512 units (Zen 5) do twice the work of the
 * narrow kernel's 8. */
#include "ops/cpu/gemm.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ops/cpu/gemm_kernel.h"
#include "repro/isa.h"

enum {
    KC_TARGET = 256,      /* k-block: A's MR x KC rows in L1 */
    NC_TARGET = 512,      /* columns of B packed at once: KC x NC floats in L2 */
    MIN_MACS_PER_THREAD = 262144, /* below this a thread costs more than it saves */
    DIRECT_MAX_TILES = 2,  /* row tiles up to which B is read in place (see above) */
    FAR_B_BYTES = 1 << 20, /* a B larger than this is taken to come from L3 or memory: half this
                            * Xeon's 2 MB L2, twice Zen 3's 512 KB */
    NARROW_ROWS = 8,      /* the narrow kernel's rows of C at once (its lanes) */
    NARROW_MIN_M = 16,    /* narrow products at least this tall take the narrow kernel */
    SMALL_BUF_FLOATS = 4096, /* packing buffers up to this size (16 KB) live on the caller's stack */
    PREFETCH_C_MIN_KC = 64 /* k-blocks shorter than this leave the next C tile to the hardware (a
                            * tile of 9 or 10 k's is over before the hints pay for themselves: dX of
                            * the 10-wide layer, conv1's forward, 1.17-1.33x faster without), and
                            * go to the block kernel, the region's tiles in one call */
};

typedef void (*pack_bt_fn)(float *dst, const float *src, int64_t cs, int64_t kc8, int w8, int nr);
typedef void (*pack_bn_fn)(float *dst, const float *src, int64_t rs, int64_t kc, int64_t w, int nr);
typedef void (*narrow_pack_fn)(float *panel, const float *A, int64_t a_rs, int64_t a_cs, int64_t K, int rows);
typedef void (*narrow_fn)(const float *a, int64_t a_rs, const float *panel, const float *bp, int64_t K, int64_t N,
                          float *c, int64_t ldc, int rows, int accumulate, const float *bias);

typedef struct gemm_impl {
    int mr, nr;
    int b_vec; /* B in place: a last strip of a multiple of this many columns reads no further */
    int mr_edge; /* a region's last row tile goes whole up to this many rows (A in place) */
    repro_gemm_kernel_fn kernel;
    repro_gemm_block_fn block; /* a region's tiles in one call; NULL: the kernel tile by tile */
    /* The block kernel takes long k-blocks too, else they go tile by tile
     * (a call each, the next C tile prefetched). AVX2: a region's 6 x 16
     * tiles in one call ran cnn fc1's dX and dW (128x3136x128) in 0.59-0.68
     * s a 600 calls against 0.64-0.76 tile by tile (OpenBLAS 0.64-0.70 in a
     * second set; scratch driver, five runs, a Zen 4), and bench_gemm's
     * long-k products at 0.96-1.07x OpenBLAS against 0.91-1.03x. Not the
     * prefetch: without it, tile by tile read the same. AVX-512 keeps tile by tile:
     * its block kernel's 4 x 32 tiles (8 accumulators, for short k) were as
     * fast or faster on a Zen 4, whose AVX-512 units are 256 bits wide, but
     * would leave a Zen 5's full-width units short of fma chains, and 8 x 32
     * tiles inside the block kernel ran 5-10 % slower (they take the
     * registers its loops need). */
    int block_long_kc;
    pack_bt_fn pack_bt; /* NULL: plain C only */
    pack_bt_fn pack_bt_far; /* for a B larger than FAR_B_BYTES; NULL: pack_bt */
    pack_bn_fn pack_bn; /* NULL: plain C only */
    narrow_pack_fn narrow_pack; /* with narrow: the narrow kernel, for N <= REPRO_GEMM_NARROW_N; NULL: none */
    narrow_fn narrow;
} gemm_impl;

static gemm_impl impl_of(repro_isa isa)
{
    /* each architecture's twins only exist there (repro_cpu_check refuses the others) */
    switch (isa) {
#if defined(__x86_64__)
    case REPRO_ISA_AVX512:
        return (gemm_impl){REPRO_GEMM_AVX512_MR, REPRO_GEMM_AVX512_NR, REPRO_GEMM_AVX512_B_VEC,
                           REPRO_GEMM_AVX512_MR_EDGE,
                           repro_gemm_kernel_avx512,
                           repro_gemm_block_avx512, 0, repro_gemm_pack_bt_avx2, repro_gemm_pack_bt_far_avx2,
                           repro_gemm_pack_b_avx2, NULL, NULL};
    case REPRO_ISA_AVX2:
        return (gemm_impl){REPRO_GEMM_AVX2_MR, REPRO_GEMM_AVX2_NR, REPRO_GEMM_AVX2_B_VEC, REPRO_GEMM_AVX2_MR,
                           repro_gemm_kernel_avx2,
                           repro_gemm_block_avx2, 1, repro_gemm_pack_bt_avx2, repro_gemm_pack_bt_far_avx2,
                           repro_gemm_pack_b_avx2, repro_gemm_narrow_pack_a_avx2, repro_gemm_narrow_avx2};
#endif
#if defined(__aarch64__)
    case REPRO_ISA_NEON:
        return (gemm_impl){REPRO_GEMM_NEON_MR, REPRO_GEMM_NEON_NR, REPRO_GEMM_NEON_B_VEC, REPRO_GEMM_NEON_MR,
                           repro_gemm_kernel_neon, NULL, 0,
                           repro_gemm_pack_bt_neon, NULL, NULL, NULL, NULL};
#endif
    default:
        break;
    }
    return (gemm_impl){REPRO_GEMM_SCALAR_MR, REPRO_GEMM_SCALAR_NR, REPRO_GEMM_SCALAR_B_VEC, REPRO_GEMM_SCALAR_MR,
                       repro_gemm_kernel_scalar,
                       NULL, 0, NULL, NULL, NULL, NULL, NULL};
}

typedef struct gemm_job {
    gemm_impl impl;
    int64_t M, N, K;
    const float *A, *B, *bias;
    int64_t a_rs, a_cs, b_rs, b_cs, ldc;
    float *C;
    int accumulate;
    int64_t kc, nc; /* block sizes; nc a multiple of nr */
    int pm, pn;     /* thread grid */
    float *buf;     /* per region: slot_floats for packed B, then packed A's micro-panels */
    size_t slot_floats, b_floats;
} gemm_job;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* dst[strip][k][NR] = B(k, j) for the kc x nc block at B, zero-padded to
 * whole strips. Reads along whichever of k or n is contiguous; when that is
 * k (a transpose), pack_bt does the bulk 8 x 8 blocks at a time. */
static void pack_b(float *dst, const float *B, int64_t rs, int64_t cs, int64_t kc, int64_t nc, int nr,
                   pack_bt_fn pack_bt, pack_bn_fn pack_bn)
{
    if (cs == 1 && pack_bn) {
        pack_bn(dst, B, rs, kc, nc, nr);
        return;
    }
    for (int64_t j0 = 0; j0 < nc; j0 += nr) {
        float *d = dst + j0 * kc;
        int w = (int)min64(nr, nc - j0);
        if (cs == 1) {
            for (int64_t k = 0; k < kc; k++) {
                const float *s = B + k * rs + j0;
                for (int j = 0; j < w; j++)
                    d[k * nr + j] = s[j];
                for (int j = w; j < nr; j++)
                    d[k * nr + j] = 0.0f;
            }
            continue;
        }
        int w8 = 0;
        int64_t kc8 = 0;
        if (rs == 1 && pack_bt) {
            w8 = w / 8 * 8;
            kc8 = kc / 8 * 8;
            pack_bt(d, B + j0 * cs, cs, kc8, w8, nr);
        }
        for (int j = 0; j < w; j++) {
            const float *s = B + (j0 + j) * cs;
            for (int64_t k = j < w8 ? kc8 : 0; k < kc; k++)
                d[k * nr + j] = s[k * rs];
        }
        /* the padding columns row by row: column by column, a strip of 16
         * columns had 16 x kc scalar stores a stride apart, which cost more
         * than its transpose (conv1's dw split in 16-channel blocks) */
        if (w < nr)
            for (int64_t k = 0; k < kc; k++)
                for (int j = w; j < nr; j++)
                    d[k * nr + j] = 0.0f;
    }
}

/* The micro-panels of packed A sit panel_stride(kc, MR) floats apart: one
 * line more than their kc x MR floats, so that a panel's k-th line and the
 * next panel's do not fall in the same L1 set (kc * MR * 4 bytes is 6 KB
 * for kc = 256: every panel in 2 of the 64 sets, and packing, which writes
 * all panels k by k, missed L1 at every store). */
static int64_t panel_stride(int64_t kc, int MR) { return kc * MR + 16; }

/* abuf[tile * ps + k * MR + i] = A(tile*MR + i, k) for the rows < rows and
 * k < kc: A's rows are contiguous (a_rs == 1), so each k is one run of
 * `rows` floats, copied k by k across all the micro-panels. (Panel by
 * panel, every k would be a new line of A, its stride apart, with nothing
 * to overlap the misses: a tenth of dW's time.) */
static inline __attribute__((always_inline)) void pack_a_mr(float *abuf, int64_t ps, const float *a, int64_t a_cs,
                                                            int64_t kc, int64_t rows, const int MR)
{
    const int64_t full = rows / MR * MR;
    for (int64_t k = 0; k < kc; k++) {
        const float *s = a + k * a_cs;
        float *d = abuf + k * MR;
        int64_t i = 0;
        for (; i < full; i += MR, d += ps)
            memcpy(d, s + i, (size_t)MR * sizeof(float)); /* MR constant: a few moves, inline */
        for (int64_t t = 0; i < rows; i++, t++)
            d[t] = s[i];
    }
}

static void pack_a(float *abuf, int64_t ps, const float *a, int64_t a_cs, int64_t kc, int64_t rows, int MR)
{
    switch (MR) {
    case 4:
        pack_a_mr(abuf, ps, a, a_cs, kc, rows, 4);
        break;
    case 6:
        pack_a_mr(abuf, ps, a, a_cs, kc, rows, 6);
        break;
    case 8:
        pack_a_mr(abuf, ps, a, a_cs, kc, rows, 8);
        break;
    default:
        pack_a_mr(abuf, ps, a, a_cs, kc, rows, MR);
    }
}

/* Asks for the C tile at c (rows x cols, row stride ldc) to be brought into
 * the cache, for writing: the tile after the current one, whose first
 * loads (or stores) would otherwise wait on memory when C is larger than
 * L2 (dW of the 784-wide layer). A hint; it changes no value. */
static void prefetch_c(const float *c, int64_t ldc, int rows, int cols)
{
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j += 16)
            __builtin_prefetch(c + i * ldc + j, 1, 3);
}

/* Rows [m0, m1) of the nc columns at jc through the block kernel (short
 * k-blocks, and long ones where block_long_kc), all their tiles in one
 * call or two (B in place, then packed), in chunks of rows an int can
 * count. */
static void run_block(const gemm_job *j, int64_t m0, int64_t m1, int64_t jc, int64_t nc, int64_t nc_direct,
                      int64_t pc, int64_t kc, int load_c, int last, int packed_a, int64_t ps, const float *bsrc,
                      const float *bbuf, const float *abuf)
{
    const int mr = j->impl.mr, nr = j->impl.nr;
    const int64_t chunk = INT_MAX / mr * mr;
    const int64_t a_rs = packed_a ? 1 : j->a_rs, a_cs = packed_a ? mr : j->a_cs;
    const int64_t a_next = packed_a ? ps : mr * j->a_rs;
    const float *bias = last && j->bias ? j->bias + jc : NULL;
    for (int64_t i0 = m0; i0 < m1; i0 += chunk) {
        const int rows = (int)min64(chunk, m1 - i0);
        const float *a = packed_a ? abuf + (i0 - m0) / mr * ps : j->A + i0 * j->a_rs + pc * j->a_cs;
        float *c = j->C + i0 * j->ldc + jc;
        if (nc_direct > 0)
            j->impl.block(kc, a, a_rs, a_cs, a_next, bsrc, j->b_rs, nr, c, j->ldc, rows, (int)nc_direct, load_c,
                          bias);
        if (nc > nc_direct)
            j->impl.block(kc, a, a_rs, a_cs, a_next, bbuf, nr, kc * nr, c + nc_direct, j->ldc, rows,
                          (int)(nc - nc_direct), load_c, bias ? bias + nc_direct : NULL);
    }
}

/* Whether a region of `rows` rows reads B in place (its whole strips, and a
 * last strip of a multiple of b_vec columns), and whether one `cols` wide
 * packs its rows of A: the rules at the top. */
static int b_in_place(const gemm_job *j, int64_t rows)
{
    return j->b_cs == 1 && (rows <= DIRECT_MAX_TILES * j->impl.mr || j->K < PREFETCH_C_MIN_KC);
}

static int a_packed(const gemm_job *j, int64_t cols)
{
    return j->a_rs == 1 && j->a_cs % 128 == 0 && cols >= 4 * j->impl.nr;
}

/* Rows [m0, m1) x columns [n0, n1) of C, with this region's buffers. */
static void run_region(const gemm_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1, float *bbuf, float *abuf)
{
    const int mr = j->impl.mr, nr = j->impl.nr;
    const int direct = b_in_place(j, m1 - m0);
    const int packed_a = a_packed(j, n1 - n0);
    for (int64_t pc = 0; pc < j->K; pc += j->kc) {
        const int64_t kc = min64(j->kc, j->K - pc);
        const int load_c = j->accumulate || pc > 0;
        const int last = pc + kc == j->K;
        const int64_t ps = panel_stride(kc, mr);
        /* the region's rows of A for this k-block, micro-panel by micro-panel
         * ([tile][kc][MR]), once for all its column blocks */
        if (packed_a)
            pack_a(abuf, ps, j->A + m0 + pc * j->a_cs, j->a_cs, kc, m1 - m0, mr);
        for (int64_t jc = n0; jc < n1; jc += j->nc) {
            const int64_t nc = min64(j->nc, n1 - jc);
            /* columns [0, nc_direct) read in place (whole strips, then one
             * of a multiple of b_vec), the rest packed */
            const int64_t nc_direct = direct ? nc / nr * nr + nc % nr / j->impl.b_vec * j->impl.b_vec : 0;
            const float *bsrc = j->B + pc * j->b_rs + jc * j->b_cs;
            if (nc > nc_direct)
                pack_b(bbuf, bsrc + nc_direct * j->b_cs, j->b_rs, j->b_cs, kc, nc - nc_direct, nr,
                       j->impl.pack_bt, j->impl.pack_bn);
            if (j->impl.block && (kc < PREFETCH_C_MIN_KC || j->impl.block_long_kc)) {
                run_block(j, m0, m1, jc, nc, nc_direct, pc, kc, load_c, last, packed_a, ps, bsrc, bbuf, abuf);
                continue;
            }
            for (int64_t ir = m0, rows; ir < m1; ir += rows) {
                /* the last rows whole, up to mr_edge (packed A comes in panels of mr) */
                rows = m1 - ir <= j->impl.mr_edge && !packed_a ? m1 - ir : min64(mr, m1 - ir);
                const float *a = packed_a ? abuf + (ir - m0) / mr * ps : j->A + ir * j->a_rs + pc * j->a_cs;
                const int64_t a_rs = packed_a ? 1 : j->a_rs, a_cs = packed_a ? mr : j->a_cs;
                for (int64_t jr = 0, cols; jr < nc; jr += cols) {
                    /* strips of nr, the in-place and packed columns apart */
                    cols = min64(nr, (jr < nc_direct ? nc_direct : nc) - jr);
                    /* the next tile: along the row, else the start of the next row of tiles */
                    int64_t next_ir = jr + cols < nc ? ir : ir + rows, next_jr = jr + cols < nc ? jr + cols : 0;
                    if (next_ir < m1 && kc >= PREFETCH_C_MIN_KC)
                        prefetch_c(j->C + next_ir * j->ldc + jc + next_jr, j->ldc, (int)min64(mr, m1 - next_ir),
                                   (int)min64(nr, nc - next_jr));
                    const float *bias = last && j->bias ? j->bias + jc + jr : NULL;
                    const float *b = jr < nc_direct ? bsrc + jr : bbuf + (jr - nc_direct) * kc;
                    int64_t ldb = jr < nc_direct ? j->b_rs : nr;
                    j->impl.kernel(kc, a, a_rs, a_cs, b, ldb, j->C + ir * j->ldc + jc + jr, j->ldc, rows, (int)cols,
                                   load_c, bias);
                }
            }
        }
    }
}

/* Region `slot` of the pm x pn grid: an even share of micro-tile rows and
 * columns (a pure function of the shape and grid, not of timing). */
static void region_of(const gemm_job *j, int64_t slot, int64_t *m0, int64_t *m1, int64_t *n0, int64_t *n1)
{
    int64_t mt = ceil_div(j->M, j->impl.mr), nt = ceil_div(j->N, j->impl.nr);
    int64_t sm = slot / j->pn, sn = slot % j->pn;
    *m0 = min64(j->M, sm * mt / j->pm * j->impl.mr);
    *m1 = min64(j->M, (sm + 1) * mt / j->pm * j->impl.mr);
    *n0 = min64(j->N, sn * nt / j->pn * j->impl.nr);
    *n1 = min64(j->N, (sn + 1) * nt / j->pn * j->impl.nr);
}

static void run_slots(void *ctx, int64_t begin, int64_t end)
{
    const gemm_job *j = ctx;
    for (int64_t s = begin; s < end; s++) {
        int64_t m0, m1, n0, n1;
        region_of(j, s, &m0, &m1, &n0, &n1);
        /* no buffer (NULL) where no region packs: a region that packed
         * anyway would fault at once rather than write past a buffer */
        float *slot = j->buf ? j->buf + (size_t)s * j->slot_floats : NULL;
        run_region(j, m0, m1, n0, n1, slot, slot ? slot + j->b_floats : NULL);
    }
}

/* The thread grid: at most `threads` regions, none too small to pay for
 * itself, shaped to minimise one region's cost: its compute (rows x cols
 * fmas per k, 16 lanes a cycle) plus packing its columns of B (about one
 * cycle per element, so 16 in the same units), plus, where the columns are
 * split, as much again for each of its rows: threads that write parts of
 * the same rows of C slow each other down at the lines where their parts
 * meet (one core's prefetchers take the lines the other is writing).
 * On a Zen 4 at 2 threads, the MLP's dX of its 10-wide layer (256x256x10,
 * `bench_gemm 7`, three runs alternating the two builds) read 65-102
 * GFLOP/s split by columns and 131-186 by rows, less than one thread
 * before; the other products moved within the machine's noise. */
static void choose_grid(gemm_job *j, int threads)
{
    int64_t mt = ceil_div(j->M, j->impl.mr), nt = ceil_div(j->N, j->impl.nr);
    int64_t work = j->M * j->N * j->K / MIN_MACS_PER_THREAD;
    int64_t p_max = min64(threads, work < 1 ? 1 : work);
    double best = -1.0;
    j->pm = j->pn = 1;
    for (int64_t p = p_max; p >= 1 && best < 0; p--) {
        for (int64_t pm = 1; pm <= p; pm++) {
            int64_t pn = p / pm;
            if (pm * pn != p || pm > mt || pn > nt)
                continue;
            double rows = (double)min64(j->M, ceil_div(mt, pm) * j->impl.mr);
            double cols = (double)min64(j->N, ceil_div(nt, pn) * j->impl.nr);
            double cost = rows * cols + 16.0 * cols + (pn > 1 ? 16.0 * rows : 0.0);
            if (best < 0 || cost < best) {
                best = cost;
                j->pm = (int)pm;
                j->pn = (int)pn;
            }
        }
    }
}

/* Narrow products (N <= REPRO_GEMM_NARROW_N) through the narrow kernel:
 * B packed once as bp[k][N]; C's rows in panels of 8, an even share of
 * them per slot, each slot packing its panels of A into its own buffer. */
typedef struct narrow_job {
    const gemm_job *j;
    const float *bp;
    float *panels; /* per slot: 8 x K floats */
    int64_t n_panels, slots, panel_floats;
} narrow_job;

static void run_narrow(void *ctx, int64_t begin, int64_t end)
{
    const narrow_job *nj = ctx;
    const gemm_job *j = nj->j;
    for (int64_t s = begin; s < end; s++) {
        float *panel = nj->panels + s * nj->panel_floats;
        for (int64_t p = s * nj->n_panels / nj->slots; p < (s + 1) * nj->n_panels / nj->slots; p++) {
            const int64_t m0 = p * NARROW_ROWS;
            const int rows = (int)min64(NARROW_ROWS, j->M - m0);
            const float *a = j->A + m0 * j->a_rs;
            /* 8 rows along k: read in place (the forward's x); else packed */
            const int in_place = rows == NARROW_ROWS && j->a_cs == 1;
            if (!in_place)
                j->impl.narrow_pack(panel, a, j->a_rs, j->a_cs, j->K, rows);
            j->impl.narrow(a, j->a_rs, in_place ? NULL : panel, nj->bp, j->K, j->N, j->C + m0 * j->ldc, j->ldc,
                           rows, j->accumulate, j->bias);
        }
    }
}

static repro_status gemm_narrow(const gemm_job *j, int threads, repro_pool *pool, repro_error *err)
{
    narrow_job nj = {.j = j, .n_panels = ceil_div(j->M, NARROW_ROWS)};
    int64_t work = j->M * j->N * j->K / MIN_MACS_PER_THREAD;
    nj.slots = min64(min64(threads, nj.n_panels), work < 1 ? 1 : work);
    nj.panel_floats = ceil_div(NARROW_ROWS * j->K, 16) * 16; /* whole 64-byte lines: every panel aligned */
    const int64_t b_floats = ceil_div(j->K * j->N, 16) * 16;
    size_t bytes = (size_t)(b_floats + nj.slots * nj.panel_floats) * sizeof(float);
    float *buf = aligned_alloc(64, bytes);
    if (!buf)
        return repro_fail(err, REPRO_ERR_NOMEM,
                          "gemm: cannot allocate %zu bytes of packing buffers for a %lldx%lldx%lld product", bytes,
                          (long long)j->M, (long long)j->N, (long long)j->K);
    for (int64_t k = 0; k < j->K; k++)
        for (int64_t n = 0; n < j->N; n++)
            buf[k * j->N + n] = j->B[k * j->b_rs + n * j->b_cs];
    nj.bp = buf;
    nj.panels = buf + b_floats;
    repro_pool_run(pool, nj.slots, run_narrow, &nj);
    free(buf);
    return REPRO_OK;
}

static repro_status check_args(const repro_cpu *cpu, int64_t M, int64_t N, int64_t K,
                               const float *A, const float *B, const float *bias, const float *C,
                               int64_t ldc, int accumulate, repro_error *err)
{
    if (!cpu)
        return repro_fail(err, REPRO_ERR_ARG, "gemm: cpu context is NULL");
    if (M < 0 || N < 0 || K < 0)
        return repro_fail(err, REPRO_ERR_ARG, "gemm: negative size M=%lld N=%lld K=%lld",
                          (long long)M, (long long)N, (long long)K);
    if (M == 0 || N == 0)
        return REPRO_OK;
    if (ldc < N)
        return repro_fail(err, REPRO_ERR_ARG, "gemm: ldc=%lld is less than N=%lld",
                          (long long)ldc, (long long)N);
    if (!C || (K > 0 && (!A || !B)))
        return repro_fail(err, REPRO_ERR_ARG, "gemm: %s is NULL for a %lldx%lldx%lld product",
                          !C ? "C" : !A ? "A" : "B", (long long)M, (long long)N, (long long)K);
    if (bias && accumulate)
        return repro_fail(err, REPRO_ERR_ARG, "gemm: bias is only allowed without accumulate");
    /* cpu->isa is not re-checked here: it comes from repro_isa_choose,
     * which refuses what this CPU cannot run, and the check (XGETBV) is
     * expensive in a virtual machine, where it may trap */
    return REPRO_OK;
}

repro_status repro_gemm(const repro_cpu *cpu, int64_t M, int64_t N, int64_t K,
                        const float *A, int64_t a_rs, int64_t a_cs,
                        const float *B, int64_t b_rs, int64_t b_cs,
                        const float *bias, float *C, int64_t ldc, int accumulate,
                        repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = check_args(cpu, M, N, K, A, B, bias, C, ldc, accumulate, err);
    if (st != REPRO_OK || M == 0 || N == 0)
        return st;
    if (K == 0) { /* no products: C = +0 (+ bias), or unchanged */
        repro_gemm_ref(M, N, 0, A, a_rs, a_cs, B, b_rs, b_cs, bias, C, ldc, accumulate);
        return REPRO_OK;
    }
    gemm_job j = {.impl = impl_of(cpu->isa), .M = M, .N = N, .K = K, .A = A, .B = B, .bias = bias,
                  .a_rs = a_rs, .a_cs = a_cs, .b_rs = b_rs, .b_cs = b_cs, .ldc = ldc, .C = C,
                  .accumulate = accumulate};
    if (j.impl.narrow && N <= REPRO_GEMM_NARROW_N && M >= NARROW_MIN_M)
        return gemm_narrow(&j, repro_pool_threads(cpu->pool), cpu->pool, err);
    const int nr = j.impl.nr;
    if (j.impl.pack_bt_far && (double)K * (double)N * sizeof(float) > FAR_B_BYTES)
        j.impl.pack_bt = j.impl.pack_bt_far;
    choose_grid(&j, repro_pool_threads(cpu->pool));
    /* Even k-blocks (784 -> 4 x 196, not 3 x 256 + 16): C is reloaded once per block. */
    j.kc = ceil_div(K, ceil_div(K, KC_TARGET));
    int64_t region_cols = ceil_div(ceil_div(N, nr), j.pn) * nr;
    j.nc = min64(region_cols, NC_TARGET / nr * nr);
    /* Per region: the packed B block, kc x nc, then A's micro-panels
     * (panel_stride apart), each part a whole number of 64-byte lines, so
     * that every region's B block starts on a line; each only where some
     * region packs it (judged on the largest region: a smaller one packs no more). */
    int64_t region_rows = ceil_div(ceil_div(M, j.impl.mr), j.pm) * j.impl.mr;
    int b_all_in_place = b_in_place(&j, min64(M, region_rows)) && N % j.impl.b_vec == 0;
    j.b_floats = b_all_in_place ? 0 : (size_t)ceil_div(j.kc * j.nc, 16) * 16;
    size_t a_floats = a_packed(&j, min64(N, region_cols))
                          ? (size_t)ceil_div(region_rows / j.impl.mr * panel_stride(j.kc, j.impl.mr), 16) * 16
                          : 0;
    j.slot_floats = j.b_floats + a_floats;
    size_t slots = (size_t)j.pm * (size_t)j.pn;
    size_t bytes = slots * j.slot_floats * sizeof(float);
    /* small buffers on the stack: the short-k products (dX of a 10-wide
     * layer, conv1 per image) last a few microseconds, of which malloc and
     * free took a few percent */
    _Alignas(64) float small[SMALL_BUF_FLOATS];
    j.buf = bytes == 0 ? NULL : bytes <= sizeof small ? small : aligned_alloc(64, bytes);
    if (bytes && !j.buf)
        return repro_fail(err, REPRO_ERR_NOMEM,
                          "gemm: cannot allocate %zu bytes of packing buffers for a %lldx%lldx%lld product",
                          bytes, (long long)M, (long long)N, (long long)K);
    repro_pool_run(cpu->pool, (int64_t)slots, run_slots, &j);
    if (j.buf != small)
        free(j.buf); /* NULL too */
    return REPRO_OK;
}
