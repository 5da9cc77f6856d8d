/* The lane bodies of xent_simd.h (private to xent_avx2.c, LANES 8, and
 * xent_avx512.c, LANES 16). GCC vector types: lane by lane the same IEEE
 * float operations as src/ops/ops_math.h's scalar code, in the same order
 * (-ffp-contract=off keeps every product and sum rounded on its own), and
 * repro_expf on lanes (expf_lanes.h).
 *
 * The includer defines LANES and FN(name) (the name with its ISA suffix). */
#ifndef LANES
#error "define LANES before including xent_lanes.h"
#endif

#include "ops/cpu/expf_lanes.h"
#include "ops/cpu/xent_simd.h"

/* z[off[l] + j] on lane l: column j of the block's rows. */
static inline gf column(const float *z, const int64_t off[LANES], int64_t j)
{
    gf v;
    for (int l = 0; l < LANES; l++)
        v[l] = z[off[l] + j];
    return v;
}

void FN(repro_xent_stats_rows)(const float *z, int64_t ld, int64_t C, int64_t n, repro_xent_stats *out)
{
    for (int64_t r0 = 0; r0 < n; r0 += LANES) {
        const int w = n - r0 < LANES ? (int)(n - r0) : LANES;
        int64_t off[LANES]; /* lanes past the block's last row read that row again; never stored */
        for (int l = 0; l < LANES; l++)
            off[l] = (r0 + (l < w ? l : w - 1)) * ld;
        /* m = z[0]; for j = 1..C-1 ascending: if (z[j] > m) { m = z[j]; arg = j } */
        gf m = column(z, off, 0);
        gi arg = {0};
        for (int64_t j = 1; j < C; j++) {
            gf v = column(z, off, j);
            gi gt = v > m;
            m = pickf(gt, v, m);
            arg = (gt & ((gi){0} + (int32_t)j)) | (~gt & arg);
        }
        /* s = +0; for j ascending: s = s + repro_expf(z[j] - m) */
        gf s = splatf(0.0f);
        for (int64_t j = 0; j < C; j++)
            s = s + expf_lanes(column(z, off, j) - m);
        for (int l = 0; l < w; l++)
            out[r0 + l] = (repro_xent_stats){.m = m[l], .s = s[l], .arg = arg[l]};
    }
}

void FN(repro_xent_dz_row)(float *g, const float *z, int64_t C, int64_t label, repro_xent_stats st, float scale)
{
    const gf m = splatf(st.m), s = splatf(st.s), sc = splatf(scale);
    for (int64_t j = 0; j < C; j += LANES) {
        /* the last w < LANES values on a vector whose other lanes hold +0,
         * computed and never stored: a class count under the lanes (10
         * classes on 16) was all scalar expf, 2 % of the MLP's step */
        const size_t w = C - j < LANES ? (size_t)(C - j) : LANES;
        gf v = splatf(0.0f);
        memcpy(&v, z + j, w * sizeof(float));
        /* p = repro_expf(z[j] - m) / s; the label's p = p - 1.0f; p * scale */
        gf p = expf_lanes(v - m) / s;
        if (label >= j && label < j + (int64_t)w)
            p[label - j] = p[label - j] - 1.0f;
        gf out = p * sc;
        memcpy(g + j, &out, w * sizeof(float));
    }
}
