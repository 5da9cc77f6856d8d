/* The CUDA convolution and pooling kernels (src/ops/cuda/cuda_conv.h)
 * against their CPU references, bit for bit: for each kernel, shape and
 * tiling, random inputs (with +-0, subnormals, +-1e30 and, in the short
 * chains, +-inf and NaN mixed in) go through the CPU `_ref` function and
 * the CUDA kernel, and the outputs are compared bit for bit (a NaN matches
 * any NaN: NVIDIA arithmetic returns its canonical NaN where x86 returns a
 * quieted operand). dw and db accumulate from non-zero (and, in one test,
 * -0) starting values. Every tiling is run on every shape it can take:
 * they all run the same chains, so each must give the reference's bits.
 * One PASS/FAIL line per kernel, shape and tiling.
 *
 *   test_cuda_conv              the bitwise checks; exit 0 all pass, 1 a failure
 *   test_cuda_conv --bench      also the timings of the example layers (batch 128)
 *                               against cuDNN FP32 (loaded at run time)
 *   test_cuda_conv --bench-only the timings alone
 * Exit 77 with "SKIPPED: no CUDA device" without a GPU. */
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "ops/cuda/cuda_conv.h"

extern "C" {
#include "ops/cpu/conv.h"
#include "ops/cpu/pool2d.h"
}

#include "cuda_test.cuh"

typedef std::vector<int32_t> ivec;
static void cmp_f(const char *kernel, const char *shape, const fvec &cpu, const fvec &gpu)
{
    size_t nan = 0, negzero = 0;
    char detail[200];
    for (size_t i = 0; i < cpu.size(); i++) {
        if (cpu[i] != cpu[i] && gpu[i] != gpu[i]) {
            nan++;
            continue;
        }
        if (bits(cpu[i]) != bits(gpu[i])) {
            snprintf(detail, sizeof detail, "first difference at %zu of %zu: cpu 0x%08x (%a) gpu 0x%08x (%a)", i,
                     cpu.size(), bits(cpu[i]), (double)cpu[i], bits(gpu[i]), (double)gpu[i]);
            report(kernel, shape, false, detail);
            return;
        }
        negzero += bits(cpu[i]) == 0x80000000u;
    }
    snprintf(detail, sizeof detail, "%zu values bitwise equal", cpu.size());
    if (nan)
        snprintf(detail + strlen(detail), sizeof detail - strlen(detail), ", %zu NaN (as a class)", nan);
    if (negzero)
        snprintf(detail + strlen(detail), sizeof detail - strlen(detail), ", %zu -0", negzero);
    report(kernel, shape, true, detail);
}

static void cmp_i(const char *kernel, const char *shape, const ivec &cpu, const ivec &gpu)
{
    char detail[160];
    for (size_t i = 0; i < cpu.size(); i++)
        if (cpu[i] != gpu[i]) {
            snprintf(detail, sizeof detail, "first difference at %zu of %zu: cpu %d gpu %d", i, cpu.size(),
                     (int)cpu[i], (int)gpu[i]);
            report(kernel, shape, false, detail);
            return;
        }
    snprintf(detail, sizeof detail, "%zu values equal", cpu.size());
    report(kernel, shape, true, detail);
}

/* ---- the CPU references (one place to adapt if their signatures move) ---- */

static void ref_conv_forward(const repro_conv2d_shape *s, float *y, const float *x, const float *w,
                             const float *bias)
{
    repro_conv2d_forward_ref(s, y, x, w, bias);
}

static void ref_conv_backward(const repro_conv2d_shape *s, float *dx, float *dw, float *db, const float *dy,
                              const float *x, const float *w)
{
    repro_conv2d_backward_ref(s, dx, dw, db, dy, x, w);
}

/* ---- conv2d ---- */

struct conv_case {
    int64_t N, C, H, W, O, KH, KW, sh, sw, ph, pw, dh, dw, groups;
    int specials; /* 0 none, 1 +-0 / subnormal / 1e30, 2 also inf and NaN */
};

static repro_conv2d_shape conv_shape_of(const conv_case &c)
{
    repro_conv2d_shape s;
    memset(&s, 0, sizeof s);
    s.N = c.N, s.C = c.C, s.H = c.H, s.W = c.W, s.O = c.O, s.KH = c.KH, s.KW = c.KW;
    s.stride_h = c.sh, s.stride_w = c.sw, s.pad_h = c.ph, s.pad_w = c.pw, s.dil_h = c.dh, s.dil_w = c.dw;
    s.groups = c.groups;
    REPRO_OK_OR_DIE(repro_conv2d_shape_check(&s, &err_));
    return s;
}

static void conv_name(char *buf, size_t n, const repro_conv2d_shape &s, int specials)
{
    snprintf(buf, n, "N%lld C%lld %lldx%lld O%lld k%lldx%lld s%lld,%lld p%lld,%lld d%lld,%lld g%lld%s", (long long)s.N,
             (long long)s.C, (long long)s.H, (long long)s.W, (long long)s.O, (long long)s.KH, (long long)s.KW,
             (long long)s.stride_h, (long long)s.stride_w, (long long)s.pad_h, (long long)s.pad_w, (long long)s.dil_h,
             (long long)s.dil_w, (long long)s.groups, specials == 2 ? " inf/nan" : specials ? " sp" : "");
}

static const repro_cuda_conv_tiling fwd_tilings[] = {REPRO_CUDA_CONV_AUTO,   REPRO_CUDA_CONV_DIRECT,
                                                     REPRO_CUDA_CONV_128X64, REPRO_CUDA_CONV_64X64,
                                                     REPRO_CUDA_CONV_128X32, REPRO_CUDA_CONV_64X32,
                                                     REPRO_CUDA_CONV_PIXEL,  REPRO_CUDA_CONV_PIXEL2};
static const repro_cuda_conv_tiling dw_tilings[] = {REPRO_CUDA_CONV_AUTO,   REPRO_CUDA_CONV_DIRECT,
                                                    REPRO_CUDA_CONV_W32X32, REPRO_CUDA_CONV_W16X32,
                                                    REPRO_CUDA_CONV_W16X16, REPRO_CUDA_CONV_W8X16,
                                                    REPRO_CUDA_CONV_WROWS16X8, REPRO_CUDA_CONV_WROWS16X4,
                                                    REPRO_CUDA_CONV_WROWS8X4WS, REPRO_CUDA_CONV_WROWS8X4WS1};

/* A call that may refuse a tiling for the shape: false = refused (skip). */
static bool ran(repro_status st, const repro_error &err, const char *what)
{
    if (st == REPRO_OK)
        return true;
    if (st == REPRO_ERR_UNSUPPORTED)
        return false;
    fprintf(stderr, "%s failed: %s\n", what, err.message);
    exit(1);
}

/* Forward with bias, dx, dw (accumulating from dw0) and db (from db0), each
 * tiling against the reference. */
static void test_conv(rng &r, const conv_case &c)
{
    const repro_conv2d_shape s = conv_shape_of(c);
    const int64_t Cg = s.C / s.groups, nx = s.N * s.C * s.H * s.W, ny = s.N * s.O * s.OH * s.OW;
    const int64_t nw = s.O * Cg * s.KH * s.KW;
    const int nonfinite = c.specials == 2;
    fvec x = gen(r, (size_t)nx, -1.0f, 1.0f, c.specials, nonfinite);
    fvec w = gen(r, (size_t)nw, -0.5f, 0.5f, c.specials, nonfinite);
    fvec bias = gen(r, (size_t)s.O, -0.5f, 0.5f, c.specials, 0);
    fvec dy = gen(r, (size_t)ny, -1.0f, 1.0f, c.specials, nonfinite);
    fvec dw0 = gen(r, (size_t)nw, -0.1f, 0.1f, 1, 0), db0 = gen(r, (size_t)s.O, -0.1f, 0.1f, 1, 0);

    fvec y((size_t)ny), dx((size_t)nx), dw = dw0, db = db0;
    ref_conv_forward(&s, y.data(), x.data(), w.data(), bias.data());
    ref_conv_backward(&s, dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data());

    dbuf<float> d_x(x), d_w(w), d_bias(bias), d_dy(dy), d_y((size_t)ny), d_dx((size_t)nx), d_dw(dw0), d_db(db0);
    char shape[160], name[96];
    conv_name(shape, sizeof shape, s, c.specials);
    repro_cuda_conv_tiling af, adx, adw;
    repro_cuda_conv2d_auto_tilings(&s, &af, &adx, &adw);
    for (repro_cuda_conv_tiling t : fwd_tilings) {
        repro_error err;
        const char *tn = t == REPRO_CUDA_CONV_AUTO ? repro_cuda_conv_tiling_name(af) : repro_cuda_conv_tiling_name(t);
        CUDA_OK(cudaMemset(d_y.p, 0xff, (size_t)ny * sizeof(float))); /* NaN: an unwritten output shows */
        if (ran(repro_cuda_conv2d_forward_tiled(t, &s, d_y.p, d_x.p, d_w.p, d_bias.p, NULL, &err), err,
                "conv2d forward")) {
            snprintf(name, sizeof name, "conv2d forward [%s%s]", t == REPRO_CUDA_CONV_AUTO ? "auto=" : "", tn);
            cmp_f(name, shape, y, d_y.down());
        }
        CUDA_OK(cudaMemset(d_dx.p, 0xff, (size_t)nx * sizeof(float)));
        const char *txn = t == REPRO_CUDA_CONV_AUTO ? repro_cuda_conv_tiling_name(adx) : tn;
        if (ran(repro_cuda_conv2d_backward_tiled(t, REPRO_CUDA_CONV_AUTO, &s, d_dx.p, NULL, NULL, d_dy.p, d_x.p, d_w.p,
                                                 NULL, &err),
                err, "conv2d backward")) {
            snprintf(name, sizeof name, "conv2d backward dx [%s%s]", t == REPRO_CUDA_CONV_AUTO ? "auto=" : "", txn);
            cmp_f(name, shape, dx, d_dx.down());
        }
    }
    for (repro_cuda_conv_tiling t : dw_tilings) {
        repro_error err;
        const char *tn = t == REPRO_CUDA_CONV_AUTO ? repro_cuda_conv_tiling_name(adw) : repro_cuda_conv_tiling_name(t);
        d_dw.up(dw0);
        d_db.up(db0);
        if (!ran(repro_cuda_conv2d_backward_tiled(REPRO_CUDA_CONV_AUTO, t, &s, NULL, d_dw.p, d_db.p, d_dy.p, d_x.p,
                                                  d_w.p, NULL, &err),
                 err, "conv2d backward"))
            continue;
        snprintf(name, sizeof name, "conv2d backward dw acc [%s%s]", t == REPRO_CUDA_CONV_AUTO ? "auto=" : "", tn);
        cmp_f(name, shape, dw, d_dw.down());
        snprintf(name, sizeof name, "conv2d backward db acc [%s%s]", t == REPRO_CUDA_CONV_AUTO ? "auto=" : "", tn);
        cmp_f(name, shape, db, d_db.down());
        /* dy, or x, 1 and 2 floats past an aligned address: the row kernel
         * copies dy (and, with its staging warp, x) 16, 8 or 4 bytes at a time
         * by their alignment */
        for (int shift = 1; shift <= 2; shift++) {
            for (int of_x = 0; of_x <= 1; of_x++) {
                const fvec &src = of_x ? x : dy;
                dbuf<float> d_off(src.size() + 2);
                CUDA_OK(cudaMemcpy(d_off.p + shift, src.data(), src.size() * sizeof(float), cudaMemcpyHostToDevice));
                d_dw.up(dw0);
                d_db.up(db0);
                REPRO_OK_OR_DIE(repro_cuda_conv2d_backward_tiled(
                    REPRO_CUDA_CONV_AUTO, t, &s, NULL, d_dw.p, d_db.p, of_x ? d_dy.p : d_off.p + shift,
                    of_x ? d_off.p + shift : d_x.p, d_w.p, NULL, &err_));
                snprintf(name, sizeof name, "conv2d backward dw acc, %s +%d [%s]", of_x ? "x" : "dy", shift, tn);
                cmp_f(name, shape, dw, d_dw.down());
                snprintf(name, sizeof name, "conv2d backward db acc, %s +%d [%s]", of_x ? "x" : "dy", shift, tn);
                cmp_f(name, shape, db, d_db.down());
            }
        }
        /* without db: no bias column in the tiles, dw alone */
        d_dw.up(dw0);
        REPRO_OK_OR_DIE(repro_cuda_conv2d_backward_tiled(REPRO_CUDA_CONV_AUTO, t, &s, NULL, d_dw.p, NULL, d_dy.p,
                                                         d_x.p, d_w.p, NULL, &err_));
        snprintf(name, sizeof name, "conv2d backward dw, no db [%s]",
                 t == REPRO_CUDA_CONV_AUTO ? "auto" : repro_cuda_conv_tiling_name(t));
        cmp_f(name, shape, dw, d_dw.down());
        /* db alone (the tiles' one bias column) */
        d_db.up(db0);
        REPRO_OK_OR_DIE(repro_cuda_conv2d_backward_tiled(REPRO_CUDA_CONV_AUTO, t, &s, NULL, NULL, d_db.p, d_dy.p,
                                                         d_x.p, d_w.p, NULL, &err_));
        snprintf(name, sizeof name, "conv2d backward db, no dw [%s]",
                 t == REPRO_CUDA_CONV_AUTO ? "auto" : repro_cuda_conv_tiling_name(t));
        cmp_f(name, shape, db, d_db.down());
    }
    /* dx, dw and db in one call (AUTO), as training calls it */
    CUDA_OK(cudaMemset(d_dx.p, 0xff, (size_t)nx * sizeof(float)));
    d_dw.up(dw0);
    d_db.up(db0);
    REPRO_OK_OR_DIE(
        repro_cuda_conv2d_backward(&s, d_dx.p, d_dw.p, d_db.p, d_dy.p, d_x.p, d_w.p, NULL, &err_));
    cmp_f("conv2d backward dx [auto, all]", shape, dx, d_dx.down());
    cmp_f("conv2d backward dw acc [auto, all]", shape, dw, d_dw.down());
    cmp_f("conv2d backward db acc [auto, all]", shape, db, d_db.down());
    /* forward without bias (AUTO) */
    fvec y0((size_t)ny);
    ref_conv_forward(&s, y0.data(), x.data(), w.data(), NULL);
    REPRO_OK_OR_DIE(repro_cuda_conv2d_forward(&s, d_y.p, d_x.p, d_w.p, NULL, NULL, &err_));
    cmp_f("conv2d forward, no bias [auto]", shape, y0, d_y.down());
}

/* dw and db chains that must stay -0: they start at -0 and every product
 * is -0 (dy = -0, x > 0, padding taps +0), over a chain that is not a whole
 * number of tiles. A padded fmaf(0, 0, -0) would give +0. */
static void test_conv_negzero(const conv_case &c)
{
    const repro_conv2d_shape s = conv_shape_of(c);
    const int64_t Cg = s.C / s.groups, nx = s.N * s.C * s.H * s.W, ny = s.N * s.O * s.OH * s.OW;
    const int64_t nw = s.O * Cg * s.KH * s.KW;
    fvec x((size_t)nx, 0.75f), w((size_t)nw, 0.5f), dy((size_t)ny, -0.0f), dw0((size_t)nw, -0.0f),
        db0((size_t)s.O, -0.0f);
    fvec dw = dw0, db = db0;
    ref_conv_backward(&s, NULL, dw.data(), db.data(), dy.data(), x.data(), w.data());
    dbuf<float> d_x(x), d_w(w), d_dy(dy), d_dw(dw0), d_db(db0);
    char shape[160], name[96];
    conv_name(shape, sizeof shape, s, 0);
    for (repro_cuda_conv_tiling t : dw_tilings) {
        repro_error err;
        d_dw.up(dw0);
        d_db.up(db0);
        if (!ran(repro_cuda_conv2d_backward_tiled(REPRO_CUDA_CONV_AUTO, t, &s, NULL, d_dw.p, d_db.p, d_dy.p, d_x.p,
                                                  d_w.p, NULL, &err),
                 err, "conv2d backward"))
            continue;
        snprintf(name, sizeof name, "conv2d dw (-0 chains) [%s]", repro_cuda_conv_tiling_name(t));
        cmp_f(name, shape, dw, d_dw.down());
        snprintf(name, sizeof name, "conv2d db (-0 chains) [%s]", repro_cuda_conv_tiling_name(t));
        cmp_f(name, shape, db, d_db.down());
    }
}

/* Invalid calls fail with the right status and launch nothing. */
static void test_conv_errors(void)
{
    conv_case c = {2, 4, 9, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0};
    repro_conv2d_shape s = conv_shape_of(c);
    dbuf<float> buf(4096);
    fvec before(4096, 1.5f);
    buf.up(before);
    repro_error err;
    bool ok = true;
    repro_conv2d_shape bad = s;
    bad.OH = s.OH + 1; /* not filled by the check */
    ok = ok && repro_cuda_conv2d_forward(&bad, buf.p, buf.p, buf.p, NULL, NULL, &err) == REPRO_ERR_ARG;
    bad = s;
    bad.groups = 3; /* does not divide C */
    ok = ok && repro_cuda_conv2d_forward(&bad, buf.p, buf.p, buf.p, NULL, NULL, &err) == REPRO_ERR_ARG;
    ok = ok && repro_cuda_conv2d_forward(&s, NULL, buf.p, buf.p, NULL, NULL, &err) == REPRO_ERR_ARG;
    ok = ok && repro_cuda_conv2d_backward(&s, buf.p, buf.p, NULL, NULL, buf.p, buf.p, NULL, &err) == REPRO_ERR_ARG;
    ok = ok && repro_cuda_conv2d_forward(NULL, buf.p, buf.p, buf.p, NULL, NULL, &err) == REPRO_ERR_ARG;
    /* a dw tiling for the forward, a forward tiling for dw */
    ok = ok && repro_cuda_conv2d_forward_tiled(REPRO_CUDA_CONV_W8X16, &s, buf.p, buf.p, buf.p, NULL, NULL, &err) ==
                   REPRO_ERR_UNSUPPORTED;
    ok = ok && repro_cuda_conv2d_backward_tiled(REPRO_CUDA_CONV_AUTO, REPRO_CUDA_CONV_64X64, &s, buf.p, buf.p, NULL,
                                                buf.p, buf.p, buf.p, NULL, &err) == REPRO_ERR_UNSUPPORTED;
    /* a 7x7 kernel (49 taps) is too wide for the forward tiles */
    conv_case c7 = {1, 1, 9, 9, 8, 7, 7, 1, 1, 0, 0, 1, 1, 1, 0};
    repro_conv2d_shape s7 = conv_shape_of(c7);
    ok = ok && repro_cuda_conv2d_forward_tiled(REPRO_CUDA_CONV_64X64, &s7, buf.p, buf.p, buf.p, NULL, NULL, &err) ==
                   REPRO_ERR_UNSUPPORTED;
    repro_pool2d_shape p = {1, 1, 4, 4, 3, 3, 1, 1, 2, 1, 0, 0}; /* padding 2 > 3/2 */
    p.OH = (4 + 4 - 3) / 1 + 1;
    p.OW = (4 + 2 - 3) / 1 + 1;
    ok = ok && repro_cuda_avgpool2d_forward(&p, buf.p, buf.p, NULL, &err) == REPRO_ERR_ARG;
    ok = ok && repro_cuda_global_avgpool_forward(buf.p, buf.p, 1, 0, 4, NULL, &err) == REPRO_ERR_ARG;
    fvec after = buf.down();
    ok = ok && memcmp(before.data(), after.data(), before.size() * sizeof(float)) == 0;
    report("conv/pool invalid calls", "bad shapes, NULL, tilings", ok,
           ok ? "refused, nothing written" : "a wrong status or a launch");
}

/* ---- pooling ---- */

struct pool_case {
    int64_t N, C, H, W, KH, KW, sh, sw, ph, pw;
    int values; /* 0 uniform with specials and NaN, 1 small integers (ties), 2 uniform */
};

static repro_pool2d_shape pool_shape_of(const pool_case &c)
{
    repro_pool2d_shape s;
    memset(&s, 0, sizeof s);
    s.N = c.N, s.C = c.C, s.H = c.H, s.W = c.W, s.KH = c.KH, s.KW = c.KW;
    s.stride_h = c.sh, s.stride_w = c.sw, s.pad_h = c.ph, s.pad_w = c.pw;
    REPRO_OK_OR_DIE(repro_pool2d_shape_check(&s, &err_));
    return s;
}

static fvec pool_values(rng &r, size_t n, int kind)
{
    if (kind == 1) { /* ties, and +0 / -0 ties */
        fvec v(n);
        for (auto &e : v) {
            uint32_t k = r.next() % 5;
            e = k == 4 ? -0.0f : (float)k - 1.0f;
        }
        return v;
    }
    return gen(r, n, -2.0f, 2.0f, kind == 0, kind == 0);
}

static void test_pool(rng &r, const pool_case &c)
{
    const repro_pool2d_shape s = pool_shape_of(c);
    const int64_t nx = s.N * s.C * s.H * s.W, ny = s.N * s.C * s.OH * s.OW;
    fvec x = pool_values(r, (size_t)nx, c.values), dy = gen(r, (size_t)ny, -1.0f, 1.0f, 1, c.values == 0);
    fvec y((size_t)ny), dx((size_t)nx), ya((size_t)ny), dxa((size_t)nx);
    ivec am((size_t)ny);
    repro_maxpool2d_forward_ref(&s, y.data(), am.data(), x.data());
    repro_maxpool2d_backward_ref(&s, dx.data(), dy.data(), am.data());
    repro_avgpool2d_forward_ref(&s, ya.data(), x.data());
    repro_avgpool2d_backward_ref(&s, dxa.data(), dy.data());
    dbuf<float> d_x(x), d_dy(dy), d_y((size_t)ny), d_dx((size_t)nx);
    dbuf<int32_t> d_am((size_t)ny);
    char shape[128];
    snprintf(shape, sizeof shape, "N%lld C%lld %lldx%lld k%lldx%lld s%lld,%lld p%lld,%lld %s", (long long)s.N,
             (long long)s.C, (long long)s.H, (long long)s.W, (long long)s.KH, (long long)s.KW, (long long)s.stride_h,
             (long long)s.stride_w, (long long)s.pad_h, (long long)s.pad_w,
             c.values == 1 ? "ties" : c.values == 0 ? "sp inf/nan" : "");
    REPRO_OK_OR_DIE(repro_cuda_maxpool2d_forward(&s, d_y.p, d_am.p, d_x.p, NULL, &err_));
    cmp_f("maxpool2d forward y", shape, y, d_y.down());
    cmp_i("maxpool2d forward argmax", shape, am, d_am.down());
    /* the backward reads the GPU's own argmax, as training would */
    REPRO_OK_OR_DIE(repro_cuda_maxpool2d_backward(&s, d_dx.p, d_dy.p, d_am.p, NULL, &err_));
    cmp_f("maxpool2d backward dx", shape, dx, d_dx.down());
    REPRO_OK_OR_DIE(repro_cuda_avgpool2d_forward(&s, d_y.p, d_x.p, NULL, &err_));
    cmp_f("avgpool2d forward", shape, ya, d_y.down());
    REPRO_OK_OR_DIE(repro_cuda_avgpool2d_backward(&s, d_dx.p, d_dy.p, NULL, &err_));
    cmp_f("avgpool2d backward", shape, dxa, d_dx.down());
}

static void test_global_avg(rng &r, int64_t N, int64_t C, int64_t HW, int specials)
{
    fvec x = gen(r, (size_t)(N * C * HW), -3.0f, 5.0f, specials, specials), dy = gen(r, (size_t)(N * C), -1.0f, 1.0f, 1, 0);
    fvec y((size_t)(N * C)), dx((size_t)(N * C * HW));
    repro_global_avgpool_forward_ref(y.data(), x.data(), N, C, HW);
    repro_global_avgpool_backward_ref(dx.data(), dy.data(), N, C, HW);
    dbuf<float> d_x(x), d_dy(dy), d_y((size_t)(N * C)), d_dx((size_t)(N * C * HW));
    REPRO_OK_OR_DIE(repro_cuda_global_avgpool_forward(d_y.p, d_x.p, N, C, HW, NULL, &err_));
    REPRO_OK_OR_DIE(repro_cuda_global_avgpool_backward(d_dx.p, d_dy.p, N, C, HW, NULL, &err_));
    char shape[64];
    snprintf(shape, sizeof shape, "N%lld C%lld HW%lld%s", (long long)N, (long long)C, (long long)HW,
             specials ? " sp inf/nan" : "");
    cmp_f("global avgpool forward", shape, y, d_y.down());
    cmp_f("global avgpool backward", shape, dx, d_dx.down());
}

/* ---- a CUDA Graph: conv forward + backward and pooling recorded by stream
 * capture (no allocation, copy or sync inside), replayed twice ---- */

static void test_graph(rng &r)
{
    const repro_conv2d_shape s = conv_shape_of({5, 3, 28, 28, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1});
    repro_pool2d_shape ps;
    memset(&ps, 0, sizeof ps);
    ps.N = s.N, ps.C = s.O, ps.H = s.OH, ps.W = s.OW, ps.KH = ps.KW = 2, ps.stride_h = ps.stride_w = 2;
    REPRO_OK_OR_DIE(repro_pool2d_shape_check(&ps, &err_));
    const int64_t nx = s.N * s.C * s.H * s.W, ny = s.N * s.O * s.OH * s.OW, nw = s.O * s.C * s.KH * s.KW;
    const int64_t np = ps.N * ps.C * ps.OH * ps.OW;
    fvec x = gen(r, (size_t)nx, -1.0f, 1.0f, 1, 0), w = gen(r, (size_t)nw, -0.5f, 0.5f, 1, 0);
    fvec bias = gen(r, (size_t)s.O, -0.5f, 0.5f, 0, 0), dp = gen(r, (size_t)np, -1.0f, 1.0f, 1, 0);
    fvec dw0 = gen(r, (size_t)nw, -0.1f, 0.1f, 0, 0), db0 = gen(r, (size_t)s.O, -0.1f, 0.1f, 0, 0);
    /* reference: y = conv(x); p = maxpool(y); dy = maxpool backward(dp); dx, dw += , db += (twice) */
    fvec y((size_t)ny), p((size_t)np), dy((size_t)ny), dx((size_t)nx), dw = dw0, db = db0;
    ivec am((size_t)np);
    ref_conv_forward(&s, y.data(), x.data(), w.data(), bias.data());
    repro_maxpool2d_forward_ref(&ps, p.data(), am.data(), y.data());
    repro_maxpool2d_backward_ref(&ps, dy.data(), dp.data(), am.data());
    for (int rep = 0; rep < 2; rep++)
        ref_conv_backward(&s, dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data());

    dbuf<float> d_x(x), d_w(w), d_bias(bias), d_dp(dp), d_y((size_t)ny), d_p((size_t)np), d_dy((size_t)ny),
        d_dx((size_t)nx), d_dw(dw0), d_db(db0);
    dbuf<int32_t> d_am((size_t)np);
    cudaStream_t st;
    CUDA_OK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    cudaGraph_t graph;
    repro_error err;
    err.message[0] = 0;
    CUDA_OK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
    bool ok = repro_cuda_conv2d_forward(&s, d_y.p, d_x.p, d_w.p, d_bias.p, st, &err) == REPRO_OK &&
              repro_cuda_maxpool2d_forward(&ps, d_p.p, d_am.p, d_y.p, st, &err) == REPRO_OK &&
              repro_cuda_maxpool2d_backward(&ps, d_dy.p, d_dp.p, d_am.p, st, &err) == REPRO_OK &&
              repro_cuda_conv2d_backward(&s, d_dx.p, d_dw.p, d_db.p, d_dy.p, d_x.p, d_w.p, st, &err) == REPRO_OK;
    CUDA_OK(cudaStreamEndCapture(st, &graph));
    if (!ok) {
        report("CUDA graph capture", "conv + maxpool fwd/bwd", false, err.message);
        return;
    }
    cudaGraphExec_t exec;
    CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
    CUDA_OK(cudaGraphLaunch(exec, st)); /* dw, db accumulate twice */
    CUDA_OK(cudaGraphLaunch(exec, st));
    CUDA_OK(cudaStreamSynchronize(st));
    const char *shape = "N5 C3 28x28 O32 k3x3 p1, pool 2x2";
    cmp_f("graph: conv2d forward", shape, y, d_y.down());
    cmp_f("graph: maxpool2d forward", shape, p, d_p.down());
    cmp_f("graph: conv2d backward dx", shape, dx, d_dx.down());
    cmp_f("graph: conv2d backward dw (2x acc)", shape, dw, d_dw.down());
    cmp_f("graph: conv2d backward db (2x acc)", shape, db, d_db.down());
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    cudaStreamDestroy(st);
}

/* ---- timings (--bench) against cuDNN FP32, opened at run time ---- */

/* The example layers at batch 128: an MNIST-style net and ResNet blocks. */
static const conv_case bench_layers[] = {
    {128, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0},   /* conv1 1->32 on 28x28 */
    {128, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0},  /* conv2 32->64 on 14x14 */
    {128, 16, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0},  /* fashion_resnet's 16->16 on 28x28 */
    {128, 32, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0},  /* fashion_resnet's 32->32 on 14x14 */
    {128, 64, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0},  /* res 64->64 on 14x14 */
    {128, 64, 7, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0},    /* res 64->64 on 7x7 */
    {128, 64, 14, 14, 128, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0}, /* down 64->128 3x3 stride 2: 14x14 -> 7x7 */
    {128, 64, 14, 14, 128, 1, 1, 2, 2, 0, 0, 1, 1, 1, 0}, /* shortcut 64->128 1x1 stride 2 */
};
static const char *const bench_names[] = {"conv1 1->32 28x28", "conv2 32->64 14x14", "res 16->16 28x28",
                                          "res 32->32 14x14",  "res 64->64 14x14",
                                          "res 64->64 7x7",    "down 64->128 s2 3x3", "down 64->128 s2 1x1"};

static double time_ms(void (*fn)(void *), void *ctx, int reps)
{
    cudaEvent_t a, b;
    CUDA_OK(cudaEventCreate(&a));
    CUDA_OK(cudaEventCreate(&b));
    fn(ctx); /* warm-up */
    fn(ctx);
    CUDA_OK(cudaEventRecord(a));
    for (int i = 0; i < reps; i++)
        fn(ctx);
    CUDA_OK(cudaEventRecord(b));
    CUDA_OK(cudaEventSynchronize(b));
    float ms = 0;
    CUDA_OK(cudaEventElapsedTime(&ms, a, b));
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    return ms / reps;
}

struct bench_ctx {
    repro_conv2d_shape s;
    repro_cuda_conv_tiling tiling;
    float *x, *w, *bias, *y, *dy, *dx, *dw, *db;
};

static void run_fwd(void *p)
{
    bench_ctx *c = (bench_ctx *)p;
    REPRO_OK_OR_DIE(repro_cuda_conv2d_forward_tiled(c->tiling, &c->s, c->y, c->x, c->w, c->bias, NULL, &err_));
}

#if __has_include(<cudnn.h>)
#include <cudnn.h>
#define HAVE_CUDNN_HEADERS 1

/* The cuDNN entry points the bench uses, looked up with dlsym so that the
 * test needs no cuDNN to build its checks or to start (the types come from
 * the header's declarations; nothing links against them). */
struct cudnn_api {
    void *lib;
    decltype(&cudnnGetErrorString) GetErrorString;
    decltype(&cudnnCreate) Create;
    decltype(&cudnnDestroy) Destroy;
    decltype(&cudnnCreateTensorDescriptor) CreateTensorDescriptor;
    decltype(&cudnnSetTensor4dDescriptor) SetTensor4dDescriptor;
    decltype(&cudnnCreateFilterDescriptor) CreateFilterDescriptor;
    decltype(&cudnnSetFilter4dDescriptor) SetFilter4dDescriptor;
    decltype(&cudnnCreateConvolutionDescriptor) CreateConvolutionDescriptor;
    decltype(&cudnnSetConvolution2dDescriptor) SetConvolution2dDescriptor;
    decltype(&cudnnSetConvolutionGroupCount) SetConvolutionGroupCount;
    decltype(&cudnnSetConvolutionMathType) SetConvolutionMathType;
    decltype(&cudnnFindConvolutionForwardAlgorithm) FindConvolutionForwardAlgorithm;
    decltype(&cudnnFindConvolutionBackwardDataAlgorithm) FindConvolutionBackwardDataAlgorithm;
    decltype(&cudnnFindConvolutionBackwardFilterAlgorithm) FindConvolutionBackwardFilterAlgorithm;
    decltype(&cudnnConvolutionForward) ConvolutionForward;
    decltype(&cudnnConvolutionBackwardData) ConvolutionBackwardData;
    decltype(&cudnnConvolutionBackwardFilter) ConvolutionBackwardFilter;
    decltype(&cudnnConvolutionBackwardBias) ConvolutionBackwardBias;
    decltype(&cudnnAddTensor) AddTensor;
};

template <typename F> static bool sym(void *lib, const char *name, F *out)
{
    void *p = dlsym(lib, name);
    memcpy(out, &p, sizeof p);
    return p != NULL;
}

/* Opens libcudnn.so.9 (or $REPRO_CUDNN_LIB); false with a note if absent. */
static bool cudnn_open(cudnn_api *a)
{
    const char *path = getenv("REPRO_CUDNN_LIB");
    a->lib = dlopen(path && *path ? path : "libcudnn.so.9", RTLD_NOW | RTLD_GLOBAL);
    if (!a->lib) {
        printf("cuDNN not loaded (%s): set REPRO_CUDNN_LIB to libcudnn.so.9 (PyTorch's is under "
               "site-packages/nvidia/cudnn/lib) for the comparison\n",
               dlerror());
        return false;
    }
    bool ok = sym(a->lib, "cudnnGetErrorString", &a->GetErrorString) && sym(a->lib, "cudnnCreate", &a->Create) &&
              sym(a->lib, "cudnnDestroy", &a->Destroy) &&
              sym(a->lib, "cudnnCreateTensorDescriptor", &a->CreateTensorDescriptor) &&
              sym(a->lib, "cudnnSetTensor4dDescriptor", &a->SetTensor4dDescriptor) &&
              sym(a->lib, "cudnnCreateFilterDescriptor", &a->CreateFilterDescriptor) &&
              sym(a->lib, "cudnnSetFilter4dDescriptor", &a->SetFilter4dDescriptor) &&
              sym(a->lib, "cudnnCreateConvolutionDescriptor", &a->CreateConvolutionDescriptor) &&
              sym(a->lib, "cudnnSetConvolution2dDescriptor", &a->SetConvolution2dDescriptor) &&
              sym(a->lib, "cudnnSetConvolutionGroupCount", &a->SetConvolutionGroupCount) &&
              sym(a->lib, "cudnnSetConvolutionMathType", &a->SetConvolutionMathType) &&
              sym(a->lib, "cudnnFindConvolutionForwardAlgorithm", &a->FindConvolutionForwardAlgorithm) &&
              sym(a->lib, "cudnnFindConvolutionBackwardDataAlgorithm", &a->FindConvolutionBackwardDataAlgorithm) &&
              sym(a->lib, "cudnnFindConvolutionBackwardFilterAlgorithm",
                  &a->FindConvolutionBackwardFilterAlgorithm) &&
              sym(a->lib, "cudnnConvolutionForward", &a->ConvolutionForward) &&
              sym(a->lib, "cudnnConvolutionBackwardData", &a->ConvolutionBackwardData) &&
              sym(a->lib, "cudnnConvolutionBackwardFilter", &a->ConvolutionBackwardFilter) &&
              sym(a->lib, "cudnnConvolutionBackwardBias", &a->ConvolutionBackwardBias) &&
              sym(a->lib, "cudnnAddTensor", &a->AddTensor);
    if (!ok)
        printf("cuDNN loaded but a legacy convolution entry point is missing: no comparison\n");
    return ok;
}

#define DNN_OK(api, call)                                                                                 \
    do {                                                                                                  \
        cudnnStatus_t s_ = (call);                                                                        \
        if (s_ != CUDNN_STATUS_SUCCESS) {                                                                 \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, (api).GetErrorString(s_));     \
            exit(1);                                                                                      \
        }                                                                                                 \
    } while (0)

struct dnn_ctx {
    cudnn_api *api;
    cudnnHandle_t h;
    cudnnTensorDescriptor_t xd, yd, bd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    cudnnConvolutionFwdAlgo_t fa;
    cudnnConvolutionBwdDataAlgo_t da;
    cudnnConvolutionBwdFilterAlgo_t wa;
    void *ws;
    size_t ws_bytes;
    bench_ctx *b;
};

static void dnn_fwd(void *p)
{
    dnn_ctx *c = (dnn_ctx *)p;
    const float one = 1.0f, zero = 0.0f;
    DNN_OK(*c->api, c->api->ConvolutionForward(c->h, &one, c->xd, c->b->x, c->wd, c->b->w, c->cd, c->fa, c->ws,
                                               c->ws_bytes, &zero, c->yd, c->b->y));
    DNN_OK(*c->api, c->api->AddTensor(c->h, &one, c->bd, c->b->bias, &one, c->yd, c->b->y));
}

static void dnn_dx(void *p)
{
    dnn_ctx *c = (dnn_ctx *)p;
    const float one = 1.0f, zero = 0.0f;
    DNN_OK(*c->api, c->api->ConvolutionBackwardData(c->h, &one, c->wd, c->b->w, c->yd, c->b->dy, c->cd, c->da,
                                                    c->ws, c->ws_bytes, &zero, c->xd, c->b->dx));
}

static void dnn_dw(void *p) /* dw and db, accumulating (beta = 1) as ours do */
{
    dnn_ctx *c = (dnn_ctx *)p;
    const float one = 1.0f;
    DNN_OK(*c->api, c->api->ConvolutionBackwardFilter(c->h, &one, c->xd, c->b->x, c->yd, c->b->dy, c->cd, c->wa,
                                                      c->ws, c->ws_bytes, &one, c->wd, c->b->dw));
    DNN_OK(*c->api, c->api->ConvolutionBackwardBias(c->h, &one, c->yd, c->b->dy, &one, c->bd, c->b->db));
}

/* The fastest deterministic FP32 algorithm of each pass (cudnnFind*, math
 * type CUDNN_DEFAULT_MATH with NVIDIA_TF32_OVERRIDE=0: no TF32), and one
 * workspace large enough for all three. */
static void dnn_setup(dnn_ctx *c, cudnn_api *api, bench_ctx *b, char *algos, size_t algos_len)
{
    const repro_conv2d_shape &s = b->s;
    c->api = api;
    c->b = b;
    DNN_OK(*api, api->Create(&c->h));
    DNN_OK(*api, api->CreateTensorDescriptor(&c->xd));
    DNN_OK(*api, api->CreateTensorDescriptor(&c->yd));
    DNN_OK(*api, api->CreateTensorDescriptor(&c->bd));
    DNN_OK(*api, api->CreateFilterDescriptor(&c->wd));
    DNN_OK(*api, api->CreateConvolutionDescriptor(&c->cd));
    DNN_OK(*api, api->SetTensor4dDescriptor(c->xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)s.N, (int)s.C, (int)s.H,
                                            (int)s.W));
    DNN_OK(*api, api->SetTensor4dDescriptor(c->yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)s.N, (int)s.O,
                                            (int)s.OH, (int)s.OW));
    DNN_OK(*api, api->SetTensor4dDescriptor(c->bd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, (int)s.O, 1, 1));
    DNN_OK(*api, api->SetFilter4dDescriptor(c->wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, (int)s.O,
                                            (int)(s.C / s.groups), (int)s.KH, (int)s.KW));
    DNN_OK(*api, api->SetConvolution2dDescriptor(c->cd, (int)s.pad_h, (int)s.pad_w, (int)s.stride_h,
                                                 (int)s.stride_w, (int)s.dil_h, (int)s.dil_w,
                                                 CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    DNN_OK(*api, api->SetConvolutionGroupCount(c->cd, (int)s.groups));
    DNN_OK(*api, api->SetConvolutionMathType(c->cd, CUDNN_DEFAULT_MATH));
    int n = 0;
    size_t ws = 0;
    cudnnConvolutionFwdAlgoPerf_t fp[16];
    DNN_OK(*api, api->FindConvolutionForwardAlgorithm(c->h, c->xd, c->wd, c->cd, c->yd, 16, &n, fp));
    int fi = -1;
    for (int i = 0; i < n && fi < 0; i++) /* sorted by time */
        if (fp[i].status == CUDNN_STATUS_SUCCESS && fp[i].determinism == CUDNN_DETERMINISTIC &&
            fp[i].mathType != CUDNN_TENSOR_OP_MATH && fp[i].mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
            fi = i;
    cudnnConvolutionBwdDataAlgoPerf_t dp[16];
    DNN_OK(*api, api->FindConvolutionBackwardDataAlgorithm(c->h, c->wd, c->yd, c->cd, c->xd, 16, &n, dp));
    int di = -1;
    for (int i = 0; i < n && di < 0; i++)
        if (dp[i].status == CUDNN_STATUS_SUCCESS && dp[i].determinism == CUDNN_DETERMINISTIC &&
            dp[i].mathType != CUDNN_TENSOR_OP_MATH && dp[i].mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
            di = i;
    cudnnConvolutionBwdFilterAlgoPerf_t wp[16];
    DNN_OK(*api, api->FindConvolutionBackwardFilterAlgorithm(c->h, c->xd, c->yd, c->cd, c->wd, 16, &n, wp));
    int wi = -1;
    for (int i = 0; i < n && wi < 0; i++)
        if (wp[i].status == CUDNN_STATUS_SUCCESS && wp[i].determinism == CUDNN_DETERMINISTIC &&
            wp[i].mathType != CUDNN_TENSOR_OP_MATH && wp[i].mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
            wi = i;
    if (fi < 0 || di < 0 || wi < 0) {
        fprintf(stderr, "cuDNN offers no deterministic FP32 algorithm for a pass\n");
        exit(1);
    }
    c->fa = fp[fi].algo;
    c->da = dp[di].algo;
    c->wa = wp[wi].algo;
    ws = fp[fi].memory;
    ws = dp[di].memory > ws ? dp[di].memory : ws;
    ws = wp[wi].memory > ws ? wp[wi].memory : ws;
    c->ws_bytes = ws;
    c->ws = NULL;
    if (ws)
        CUDA_OK(cudaMalloc(&c->ws, ws));
    snprintf(algos, algos_len, "fwd algo %d, bwd data %d, bwd filter %d", (int)c->fa, (int)c->da, (int)c->wa);
}

static void dnn_teardown(dnn_ctx *c)
{
    cudaFree(c->ws);
    c->api->Destroy(c->h); /* the descriptors are small; a bench run leaks them */
}
#endif

/* Ours: the backward with dx only (dw, db NULL) or dw + db only (dx NULL). */
struct bwd_ctx {
    bench_ctx *b;
    repro_cuda_conv_tiling dxt, dwt;
    int dx_pass;
};

static void run_bwd(void *p)
{
    bwd_ctx *c = (bwd_ctx *)p;
    bench_ctx *b = c->b;
    REPRO_OK_OR_DIE(repro_cuda_conv2d_backward_tiled(c->dxt, c->dwt, &b->s, c->dx_pass ? b->dx : NULL,
                                                     c->dx_pass ? NULL : b->dw, c->dx_pass ? NULL : b->db, b->dy,
                                                     b->x, b->w, NULL, &err_));
}

static void bench_layer(rng &r, const conv_case &lc, const char *what, void *dnn_api)
{
    bench_ctx b;
    memset(&b, 0, sizeof b);
    b.s = conv_shape_of(lc);
    const repro_conv2d_shape &s = b.s;
    const int64_t Cg = s.C / s.groups, nx = s.N * s.C * s.H * s.W, ny = s.N * s.O * s.OH * s.OW;
    const int64_t nw = s.O * Cg * s.KH * s.KW;
    fvec x = gen(r, (size_t)nx, -1.0f, 1.0f, 0, 0), w = gen(r, (size_t)nw, -0.5f, 0.5f, 0, 0);
    fvec bias = gen(r, (size_t)s.O, -0.5f, 0.5f, 0, 0), dy = gen(r, (size_t)ny, -1.0f, 1.0f, 0, 0);
    dbuf<float> d_x(x), d_w(w), d_bias(bias), d_dy(dy), d_y((size_t)ny), d_dx((size_t)nx), d_dw((size_t)nw),
        d_db((size_t)s.O);
    CUDA_OK(cudaMemset(d_dw.p, 0, (size_t)nw * sizeof(float)));
    CUDA_OK(cudaMemset(d_db.p, 0, (size_t)s.O * sizeof(float)));
    b.x = d_x.p, b.w = d_w.p, b.bias = d_bias.p, b.y = d_y.p, b.dy = d_dy.p, b.dx = d_dx.p, b.dw = d_dw.p,
    b.db = d_db.p;
    const double flop = 2.0 * (double)ny * (double)(Cg * s.KH * s.KW); /* each pass */
    const int reps = 20;
    repro_cuda_conv_tiling af, adx, adw;
    repro_cuda_conv2d_auto_tilings(&s, &af, &adx, &adw);

    /* ours, every tiling of each pass; AUTO's choice marked */
    double t_fwd = 0, t_dx = 0, t_dw = 0;
    for (repro_cuda_conv_tiling t : fwd_tilings) {
        if (t == REPRO_CUDA_CONV_AUTO)
            continue;
        repro_error err;
        b.tiling = t;
        if (repro_cuda_conv2d_forward_tiled(t, &s, b.y, b.x, b.w, b.bias, NULL, &err) != REPRO_OK)
            continue;
        double ms = time_ms(run_fwd, &b, reps);
        if (t == af)
            t_fwd = ms;
        printf("|   %-22s | forward  | %-7s%s | %9.1f | %8.1f |\n", what, repro_cuda_conv_tiling_name(t),
               t == af ? "*" : " ", flop / ms * 1e-6, ms * 1e3);
    }
    for (repro_cuda_conv_tiling t : dw_tilings) {
        if (t == REPRO_CUDA_CONV_AUTO)
            continue;
        repro_error err;
        if (repro_cuda_conv2d_backward_tiled(adx, t, &s, NULL, b.dw, b.db, b.dy, b.x, b.w, NULL, &err) != REPRO_OK)
            continue;
        bwd_ctx c = {&b, adx, t, 0};
        double ms = time_ms(run_bwd, &c, reps);
        if (t == adw)
            t_dw = ms;
        printf("|   %-22s | dw+db    | %-7s%s | %9.1f | %8.1f |\n", what, repro_cuda_conv_tiling_name(t),
               t == adw ? "*" : " ", flop / ms * 1e-6, ms * 1e3);
    }
    for (repro_cuda_conv_tiling t : fwd_tilings) {
        if (t == REPRO_CUDA_CONV_AUTO)
            continue;
        repro_error err;
        if (repro_cuda_conv2d_backward_tiled(t, adw, &s, b.dx, NULL, NULL, b.dy, b.x, b.w, NULL, &err) != REPRO_OK)
            continue;
        bwd_ctx c = {&b, t, adw, 1};
        double ms = time_ms(run_bwd, &c, reps);
        if (t == adx)
            t_dx = ms;
        printf("|   %-22s | dx       | %-7s%s | %9.1f | %8.1f |\n", what, repro_cuda_conv_tiling_name(t),
               t == adx ? "*" : " ", flop / ms * 1e-6, ms * 1e3);
    }

    /* spot check of the timed kernels: 64 outputs of y against the contract */
    {
        fvec yg = d_y.down();
        int bad = 0;
        for (int k = 0; k < 64; k++) {
            int64_t idx = (int64_t)(r.next() % (uint32_t)ny), t = idx;
            int64_t ow = t % s.OW;
            t /= s.OW;
            int64_t oh = t % s.OH;
            t /= s.OH;
            int64_t o = t % s.O, n = t / s.O, g = o / (s.O / s.groups);
            float acc = 0.0f;
            for (int64_t ci = 0; ci < Cg; ci++)
                for (int64_t kh = 0; kh < s.KH; kh++)
                    for (int64_t kw = 0; kw < s.KW; kw++) {
                        int64_t ih = oh * s.stride_h - s.pad_h + kh * s.dil_h, iw = ow * s.stride_w - s.pad_w + kw * s.dil_w;
                        float xv = (ih >= 0 && ih < s.H && iw >= 0 && iw < s.W)
                                       ? x[(size_t)(((n * s.C + g * Cg + ci) * s.H + ih) * s.W + iw)]
                                       : 0.0f;
                        acc = fmaf(xv, w[(size_t)(((o * Cg + ci) * s.KH + kh) * s.KW + kw)], acc);
                    }
            acc = acc + bias[(size_t)o];
            bad += bits(acc) != bits(yg[(size_t)idx]);
        }
        if (bad)
            g_fail++;
        printf("|   %-22s | spot check of the timed forward: %s |\n", what, bad ? "FAIL" : "64/64 bitwise");
    }

    double c_fwd = 0, c_dx = 0, c_dw = 0;
    char algos[96] = "no cuDNN";
#ifdef HAVE_CUDNN_HEADERS
    if (dnn_api) {
        dnn_ctx d;
        dnn_setup(&d, (cudnn_api *)dnn_api, &b, algos, sizeof algos);
        c_fwd = time_ms(dnn_fwd, &d, reps);
        c_dx = time_ms(dnn_dx, &d, reps);
        c_dw = time_ms(dnn_dw, &d, reps);
        dnn_teardown(&d);
    }
#else
    (void)dnn_api;
#endif
    const double ours = t_fwd + t_dx + t_dw, theirs = c_fwd + c_dx + c_dw;
    printf("| **%-20s** | fwd %.1f us (%.2fx), dx %.1f us (%.2fx), dw+db %.1f us (%.2fx); step %.1f us vs cuDNN "
           "%.1f us: **%.2fx** (%s) |\n",
           what, t_fwd * 1e3, c_fwd > 0 ? c_fwd / t_fwd : 0.0, t_dx * 1e3, c_dx > 0 ? c_dx / t_dx : 0.0,
           t_dw * 1e3, c_dw > 0 ? c_dw / t_dw : 0.0, ours * 1e3, theirs * 1e3, theirs > 0 ? theirs / ours : 0.0,
           algos);
}

static void bench(rng &r)
{
    void *api = NULL;
#ifdef HAVE_CUDNN_HEADERS
    static cudnn_api dnn;
    if (cudnn_open(&dnn))
        api = &dnn;
#else
    printf("cuDNN headers were absent at build time: exact kernels timed alone\n");
#endif
    printf("\nconv2d at batch 128: exact kernels (every tiling; * = AUTO's) in GFLOP/s and us; then the layer "
           "against cuDNN FP32\n(deterministic algorithms, fastest by cudnnFind*, CUDNN_DEFAULT_MATH, "
           "NVIDIA_TF32_OVERRIDE=0; forward + bias add, dx, dw + db accumulating): ratio = cuDNN time / ours\n");
    printf("| %-24s | pass     | tiling   | GFLOP/s   | us       |\n", "layer");
    for (size_t i = 0; i < sizeof bench_layers / sizeof bench_layers[0]; i++)
        bench_layer(r, bench_layers[i], bench_names[i], api);
}

int main(int argc, char **argv)
{
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("SKIPPED: no CUDA device\n");
        return 77;
    }
    int do_bench = argc > 1 && strncmp(argv[1], "--bench", 7) == 0;
    int bench_only = argc > 1 && strcmp(argv[1], "--bench-only") == 0;
    if (do_bench)
        setenv("NVIDIA_TF32_OVERRIDE", "0", 1);
    cudaDeviceProp prop;
    CUDA_OK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
    rng r = {42};
    if (bench_only) {
        bench(r);
        return g_fail ? 1 : 0;
    }

    /* N, C, H, W, O, KH, KW, stride h/w, pad h/w, dilation h/w, groups, specials */
    static const conv_case convs[] = {
        {1, 1, 5, 5, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0},     /* the smallest */
        {1, 1, 5, 5, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 2},     /* inf / NaN in short chains */
        {5, 3, 28, 28, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
        {5, 3, 28, 28, 33, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},  /* stride 2, 33 columns: a partial column tile */
        {5, 7, 31, 17, 33, 5, 5, 2, 2, 2, 2, 1, 1, 1, 1},  /* 5x5 pad 2 on an odd image */
        {5, 33, 31, 17, 7, 3, 1, 1, 1, 1, 0, 1, 1, 1, 1},  /* 3x1: 33 channels, 9 a tile, the last partial */
        {5, 33, 28, 28, 33, 1, 1, 2, 2, 0, 0, 1, 1, 1, 1}, /* 1x1 stride 2: 28 channels a tile */
        {1, 33, 28, 28, 33, 3, 3, 1, 1, 2, 2, 2, 2, 1, 1}, /* dilation 2 */
        {5, 7, 31, 17, 7, 3, 3, 2, 1, 0, 2, 2, 1, 1, 1},   /* mixed strides, paddings and dilations */
        {1, 3, 5, 5, 7, 5, 5, 1, 1, 2, 2, 2, 2, 1, 2},     /* dilated 5x5 exactly covers the padded 5x5 */
        {5, 2, 28, 28, 66, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1},  /* groups 2 */
        {5, 34, 14, 14, 18, 3, 3, 2, 2, 1, 1, 1, 1, 2, 1}, /* groups 2, stride 2 */
        {5, 7, 31, 17, 7, 3, 3, 1, 1, 1, 1, 1, 1, 7, 1},   /* depthwise */
        {5, 33, 28, 28, 66, 5, 5, 2, 2, 2, 2, 1, 1, 33, 1}, /* depthwise, multiplier 2 */
        {5, 8, 9, 9, 64, 3, 3, 1, 1, 1, 1, 1, 1, 8, 0},    /* groups of 1 -> 8 channels */
        {2, 3, 9, 9, 8, 7, 7, 1, 1, 3, 3, 1, 1, 1, 1},     /* 7x7: beyond the forward tiles (direct) */
        {3, 5, 9, 30, 6, 3, 3, 1, 1, 0, 0, 1, 1, 1, 1},    /* dw rows: no padding, 28 wide */
        {3, 4, 1, 28, 5, 1, 3, 1, 1, 0, 1, 1, 1, 1, 1},    /* dw rows: 1x3 on one-row images (a tile spans 2) */
        {2, 3, 6, 9, 4, 3, 3, 1, 1, 2, 0, 1, 1, 1, 2},     /* dw rows: padding 2 x 0, 7 wide, inf / NaN */
        {5, 6, 14, 14, 8, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1},   /* dw rows: groups 2, 14 wide */
        {2, 3, 6, 14, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 2},    /* dw rows: 14 wide, inf / NaN (x copied 8 bytes a copy) */
        {2, 2, 5, 28, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 2},    /* dw rows: 28 wide, inf / NaN (16 bytes a copy) */
        {5, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},  /* the example layers at batch 5 */
        {5, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
        {5, 64, 7, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
        {5, 64, 14, 14, 128, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
        {5, 64, 14, 14, 128, 1, 1, 2, 2, 0, 0, 1, 1, 1, 1},
    };
    for (const conv_case &c : convs)
        test_conv(r, c);
    /* the example layers at batch 128 */
    for (const conv_case &c : bench_layers) {
        conv_case cs = c;
        cs.specials = 1;
        test_conv(r, cs);
    }
    test_conv_negzero({5, 3, 7, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0});
    test_conv_negzero({3, 2, 9, 9, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2, 0});
    test_conv_negzero({3, 2, 6, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0}); /* the row kernels: 7 wide, tiles across images */
    test_conv_negzero({3, 2, 7, 14, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0}); /* and 14 and 28 wide (the staging warp's) */
    test_conv_negzero({3, 2, 5, 28, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0});
    test_conv_errors();

    static const pool_case pools[] = {
        {5, 7, 28, 28, 2, 2, 2, 2, 0, 0, 0}, {5, 7, 28, 28, 2, 2, 2, 2, 0, 0, 1}, {5, 3, 31, 17, 3, 3, 2, 2, 1, 1, 0},
        {5, 3, 31, 17, 3, 3, 2, 2, 1, 1, 1}, {1, 1, 5, 5, 3, 3, 1, 1, 1, 1, 1},   {5, 33, 5, 5, 5, 5, 3, 3, 2, 2, 0},
        {5, 7, 31, 17, 3, 1, 1, 2, 1, 0, 1}, {1, 3, 28, 28, 1, 1, 1, 1, 0, 0, 2},   {2, 4, 14, 14, 2, 2, 1, 1, 1, 1, 1},
        {128, 32, 28, 28, 2, 2, 2, 2, 0, 0, 2},
        {1100, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1}, /* 70 400 planes: more than a grid's 65 535 block rows */
        {1, 1, 600, 600, 3, 3, 2, 2, 1, 1, 1}, /* a plane of 360 000: more than 1024 blocks of threads */
    };
    for (const pool_case &c : pools)
        test_pool(r, c);
    test_global_avg(r, 1, 1, 1, 0);
    test_global_avg(r, 5, 7, 49, 1);
    test_global_avg(r, 128, 64, 49, 0);
    test_global_avg(r, 3, 5, 1025, 1);
    test_global_avg(r, 2, 3, 5000, 0);

    test_graph(r);

    printf("\ntest_cuda_conv: %d passed, %d failed\n", g_pass, g_fail);
    if (do_bench)
        bench(r);
    return g_fail ? 1 : 0;
}
