/* Every CUDA kernel (src/ops/cuda/) against its CPU reference, bit for bit,
 * in the style of ggml's test-backend-ops: for each kernel and shape, random
 * inputs (with +-0, subnormals, +-1e30 and, where meaningful, +-inf and
 * NaN mixed in) go through the CPU reference (the _ref functions,
 * repro_gemm_ref, repro_sum_canonical, the header element formulas in a
 * host loop) and the CUDA kernel, and the outputs are compared bit for bit.
 * One line per kernel and shape: PASS, or FAIL with the first differing
 * index and both values in hex.
 *
 * NaN: every float must match bit for bit, except that a NaN matches any
 * NaN. NVIDIA arithmetic returns the canonical NaN 0x7fffffff where x86
 * returns a quieted operand, and gemm.h already leaves "which NaN" open;
 * the lines say how many NaNs were compared that way.
 *
 *   test_cuda_ops            the bitwise checks; exit 0 all pass, 1 a failure
 *   test_cuda_ops --bench    also the GEMM timings against cuBLAS SGEMM (FP32)
 *   test_cuda_ops --bench-only   the timings alone
 * Exit 77 with "SKIPPED: no CUDA device" without a GPU. */
#include <cuda_runtime.h>
#include <cublas_v2.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "ops/cuda/cuda_ops.h"

extern "C" {
#include "ops/cpu/gemm.h"
#include "ops/cpu/linear.h"
#include "ops/cpu/ops.h"
#include "ops/reduce.h"
}
#include "ops/ops_math.h"
#include "repro/math.h"

#include "cuda_test.cuh"

static void cmp_f(const char *kernel, const char *shape, const fvec &cpu, const fvec &gpu)
{
    size_t nan = 0;
    char detail[200];
    for (size_t i = 0; i < cpu.size(); i++) {
        bool both_nan = cpu[i] != cpu[i] && gpu[i] != gpu[i];
        if (both_nan) {
            nan++;
            continue;
        }
        if (bits(cpu[i]) != bits(gpu[i])) {
            snprintf(detail, sizeof detail, "first difference at %zu of %zu: cpu 0x%08x (%a) gpu 0x%08x (%a)", i,
                     cpu.size(), bits(cpu[i]), (double)cpu[i], bits(gpu[i]), (double)gpu[i]);
            report(kernel, shape, false, detail);
            return;
        }
    }
    snprintf(detail, sizeof detail, "%zu values bitwise equal%s", cpu.size(),
             nan ? " (NaNs compared as a class)" : "");
    if (nan)
        snprintf(detail + strlen(detail), sizeof detail - strlen(detail), ", %zu NaN", nan);
    report(kernel, shape, true, detail);
}

template <typename T>
static void cmp_int(const char *kernel, const char *shape, const std::vector<T> &cpu, const std::vector<T> &gpu)
{
    char detail[160];
    for (size_t i = 0; i < cpu.size(); i++)
        if (cpu[i] != gpu[i]) {
            snprintf(detail, sizeof detail, "first difference at %zu of %zu: cpu %lld gpu %lld", i, cpu.size(),
                     (long long)cpu[i], (long long)gpu[i]);
            report(kernel, shape, false, detail);
            return;
        }
    snprintf(detail, sizeof detail, "%zu values equal", cpu.size());
    report(kernel, shape, true, detail);
}

static const repro_cpu g_cpu = {REPRO_ISA_SCALAR, NULL};

/* ---- GEMM ---- */

struct gemm_case {
    int64_t M, N, K;
    int a_trans, b_trans, accumulate, bias, specials;
};

static const char *const tiling_names[REPRO_CUDA_GEMM_TILINGS] = {"auto", "128x128", "32x32", "16x16", "64x64"};

static void test_gemm(rng &r, const gemm_case &c, repro_cuda_gemm_tiling tiling)
{
    int64_t M = c.M, N = c.N, K = c.K, ldc = N + (N % 3 == 0 ? 0 : 5);
    /* specials: 1 = +-0, subnormals, +-1e30; 2 = also +-inf and NaN (then
     * most outputs of a long chain are NaN, so only short chains use it) */
    fvec A = gen(r, (size_t)(M * K), -1.0f, 1.0f, c.specials, c.specials == 2);
    fvec B = gen(r, (size_t)(K * N), -1.0f, 1.0f, c.specials, c.specials == 2);
    fvec bias = gen(r, (size_t)N, -1.0f, 1.0f, 0, 0);
    fvec C0 = gen(r, (size_t)(M * ldc), -4.0f, 4.0f, 1, 0);
    int64_t a_rs = c.a_trans ? 1 : K, a_cs = c.a_trans ? M : 1;
    int64_t b_rs = c.b_trans ? 1 : N, b_cs = c.b_trans ? K : 1;
    fvec Cc = C0;
    repro_gemm_ref(M, N, K, A.data(), a_rs, a_cs, B.data(), b_rs, b_cs, c.bias ? bias.data() : NULL, Cc.data(),
                   ldc, c.accumulate);
    dbuf<float> dA(A), dB(B), dbias(bias), dC(C0);
    REPRO_OK_OR_DIE(repro_cuda_gemm_tiled(tiling, M, N, K, dA.p, a_rs, a_cs, dB.p, b_rs, b_cs,
                                          c.bias ? dbias.p : NULL, dC.p, ldc, c.accumulate, NULL, &err_));
    char shape[128];
    snprintf(shape, sizeof shape, "%s %lldx%lldx%lld %s%s%s%s%s", tiling_names[tiling], (long long)M, (long long)N,
             (long long)K,
             c.a_trans ? "At" : "A", c.b_trans ? "Bt" : "B", c.accumulate ? " acc" : "", c.bias ? " bias" : "",
             c.specials == 2 ? " inf/nan" : c.specials ? " sp" : "");
    cmp_f("gemm", shape, Cc, dC.down());
}

/* A chain that must stay -0: C = -0, A(m,k) = -0 or +0, accumulate over a
 * partial k tile. A padded fmaf(0, 0, -0) would give +0. */
static void test_gemm_negzero(repro_cuda_gemm_tiling tiling)
{
    int64_t M = 130, N = 129, K = 13;
    fvec A((size_t)(M * K), -0.0f), B((size_t)(K * N), 1.5f), C0((size_t)(M * N), -0.0f);
    fvec Cc = C0;
    repro_gemm_ref(M, N, K, A.data(), K, 1, B.data(), N, 1, NULL, Cc.data(), N, 1);
    dbuf<float> dA(A), dB(B), dC(C0);
    REPRO_OK_OR_DIE(repro_cuda_gemm_tiled(tiling, M, N, K, dA.p, K, 1, dB.p, N, 1, NULL, dC.p, N, 1, NULL, &err_));
    cmp_f("gemm (-0 chains)", tiling_names[tiling], Cc, dC.down());
    if (tiling != REPRO_CUDA_GEMM_AUTO)
        return;
    /* K = 0: C = +0 + bias without accumulate */
    fvec bias(N, -0.0f), Ck = C0;
    repro_gemm_ref(M, N, 0, NULL, 0, 0, NULL, 0, 0, bias.data(), Ck.data(), N, 0);
    dbuf<float> dbias(bias), dC2(C0);
    REPRO_OK_OR_DIE(repro_cuda_gemm(M, N, 0, NULL, 0, 0, NULL, 0, 0, dbias.p, dC2.p, N, 0, NULL, &err_));
    cmp_f("gemm (K = 0)", "130x129x0 bias", Ck, dC2.down());
}

/* ---- linear ---- */

static void test_linear(rng &r, int64_t B, int64_t I, int64_t O)
{
    fvec x = gen(r, (size_t)(B * I), -1.0f, 1.0f, 1, 0), w = gen(r, (size_t)(O * I), -0.1f, 0.1f, 1, 0);
    fvec bias = gen(r, (size_t)O, -0.1f, 0.1f, 0, 0), dy = gen(r, (size_t)(B * O), -1.0f, 1.0f, 1, 0);
    fvec dw0 = gen(r, (size_t)(O * I), -0.01f, 0.01f, 1, 0), db0 = gen(r, (size_t)O, -0.01f, 0.01f, 1, 0);
    fvec y((size_t)(B * O)), dx((size_t)(B * I)), dw = dw0, db = db0;
    repro_error err;
    if (repro_linear_forward(&g_cpu, y.data(), x.data(), w.data(), bias.data(), B, I, O, &err) != REPRO_OK ||
        repro_linear_backward(&g_cpu, dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), B, I, O,
                              &err) != REPRO_OK) {
        fprintf(stderr, "cpu linear: %s\n", err.message);
        exit(1);
    }
    dbuf<float> dx_(x), dw_(w), dbias(bias), ddy(dy), dy_out((size_t)(B * O)), ddx((size_t)(B * I)), ddw(dw0),
        ddb(db0);
    REPRO_OK_OR_DIE(repro_cuda_linear_forward(dy_out.p, dx_.p, dw_.p, dbias.p, B, I, O, NULL, &err_));
    REPRO_OK_OR_DIE(
        repro_cuda_linear_backward(ddx.p, ddw.p, ddb.p, ddy.p, dx_.p, dw_.p, B, I, O, NULL, &err_));
    char shape[64];
    snprintf(shape, sizeof shape, "B=%lld %lld->%lld", (long long)B, (long long)I, (long long)O);
    cmp_f("linear forward", shape, y, dy_out.down());
    cmp_f("linear backward dx", shape, dx, ddx.down());
    cmp_f("linear backward dW (acc)", shape, dw, ddw.down());
    cmp_f("linear backward db (acc)", shape, db, ddb.down());
}

/* ---- activations, add ---- */


/* every activation of src/ops/activations.h, from its row alone */
static void test_activation(rng &r, repro_act act, int64_t n)
{
    fvec x = gen(r, (size_t)n, -8.0f, 8.0f, 1, 1), dy = gen(r, (size_t)n, -2.0f, 2.0f, 1, 1);
    fvec y((size_t)n), dx((size_t)n);
    repro_act_forward_ref(act, y.data(), x.data(), n);
    const fvec &saved = repro_act_reads_output(act) ? y : x;
    repro_act_backward_ref(act, dx.data(), dy.data(), saved.data(), n);
    dbuf<float> dxin(x), ddy(dy), dyout((size_t)n), ddx((size_t)n), dsaved(saved);
    char fw[64], bw[64], shape[32];
    snprintf(fw, sizeof fw, "%s forward", repro_act_name(act));
    snprintf(bw, sizeof bw, "%s backward", repro_act_name(act));
    snprintf(shape, sizeof shape, "n=%lld", (long long)n);
    REPRO_OK_OR_DIE(repro_cuda_act_forward(act, dyout.p, dxin.p, n, NULL, &err_));
    REPRO_OK_OR_DIE(repro_cuda_act_backward(act, ddx.p, ddy.p, dsaved.p, n, NULL, &err_));
    cmp_f(fw, shape, y, dyout.down());
    cmp_f(bw, shape, dx, ddx.down());
}

static void test_add(rng &r, int64_t n)
{
    fvec y = gen(r, (size_t)n, -1.0f, 1.0f, 1, 1), x = gen(r, (size_t)n, -1.0f, 1.0f, 1, 1);
    dbuf<float> dy(y), dx(x);
    repro_add_inplace_ref(y.data(), x.data(), n);
    REPRO_OK_OR_DIE(repro_cuda_add_inplace(dy.p, dx.p, n, NULL, &err_));
    char shape[32];
    snprintf(shape, sizeof shape, "n=%lld", (long long)n);
    cmp_f("add_inplace", shape, y, dy.down());
}

/* ---- batch gathers (copies: the loader's bits) ---- */

static void test_gather(rng &r, int64_t n_rows, int64_t row_floats, int64_t n)
{
    fvec src = gen(r, (size_t)(n_rows * row_floats), -1.0f, 1.0f, 2, 1);
    std::vector<uint32_t> rows((size_t)n);
    for (auto &v : rows)
        v = r.next() % (uint32_t)n_rows;
    fvec want((size_t)(n * row_floats));
    for (int64_t i = 0; i < n; i++)
        memcpy(&want[(size_t)(i * row_floats)], &src[(size_t)rows[(size_t)i] * (size_t)row_floats],
               (size_t)row_floats * sizeof(float));
    dbuf<float> dsrc(src), ddst((size_t)(n * row_floats));
    dbuf<uint32_t> drows(rows), dpos((size_t)n);
    REPRO_OK_OR_DIE(repro_cuda_gather_rows(ddst.p, dsrc.p, (size_t)row_floats * sizeof(float), drows.p, n, NULL,
                                           &err_));
    REPRO_OK_OR_DIE(repro_cuda_fill_positions(dpos.p, 4000000000u, n, NULL, &err_));
    char shape[64];
    snprintf(shape, sizeof shape, "%lld rows of %lld from %lld", (long long)n, (long long)row_floats,
             (long long)n_rows);
    cmp_f("gather rows", shape, want, ddst.down());
    std::vector<uint32_t> pos = dpos.down();
    bool ok = true;
    for (int64_t i = 0; i < n; i++)
        ok = ok && pos[(size_t)i] == 4000000000u + (uint32_t)i;
    report("fill positions", shape, ok, ok ? "" : "wrong position");
}

/* mode fast's atomic bias gradient: not exact, so within float rounding of
 * the exact column sums (relative to the sum of magnitudes). */
static void test_fast_bias_grad(rng &r, int64_t B, int64_t O)
{
    fvec dy = gen(r, (size_t)(B * O), -1.0f, 1.0f, 0, 0), db0 = gen(r, (size_t)O, -1.0f, 1.0f, 0, 0);
    dbuf<float> ddy(dy), ddb(db0);
    REPRO_OK_OR_DIE(repro_cuda_fast_bias_grad(ddb.p, ddy.p, B, O, NULL, &err_));
    fvec got = ddb.down();
    bool ok = true;
    for (int64_t o = 0; o < O; o++) {
        double sum = db0[(size_t)o], mag = fabs((double)db0[(size_t)o]);
        for (int64_t b = 0; b < B; b++) {
            sum += dy[(size_t)(b * O + o)];
            mag += fabs((double)dy[(size_t)(b * O + o)]);
        }
        ok = ok && fabs((double)got[(size_t)o] - sum) <= 1e-6 * mag + 1e-30;
    }
    char shape[48];
    snprintf(shape, sizeof shape, "%lldx%lld (tolerance)", (long long)B, (long long)O);
    report("fast bias grad", shape, ok, ok ? "" : "off by more than float rounding");
}

/* ---- dropout ---- */

static void test_dropout(rng &r, int64_t B, int64_t D, float p, uint64_t step)
{
    fvec x = gen(r, (size_t)(B * D), -2.0f, 2.0f, 1, 1), dy = gen(r, (size_t)(B * D), -2.0f, 2.0f, 1, 1);
    std::vector<uint32_t> pos((size_t)B);
    for (auto &v : pos)
        v = r.next() % 60000;
    fvec y((size_t)(B * D)), dx((size_t)(B * D));
    std::vector<uint8_t> mask((size_t)(B * D));
    repro_error err;
    if (repro_dropout_forward_ref(y.data(), mask.data(), x.data(), B, D, p, 1234567, 2, step, pos.data(), &err) !=
        REPRO_OK) {
        fprintf(stderr, "cpu dropout: %s\n", err.message);
        exit(1);
    }
    repro_dropout_backward_ref(dx.data(), dy.data(), mask.data(), B, D, p);
    dbuf<float> dxin(x), dyout((size_t)(B * D)), ddy(dy), ddx((size_t)(B * D));
    dbuf<uint8_t> dmask((size_t)(B * D));
    dbuf<uint32_t> dpos(pos);
    REPRO_OK_OR_DIE(repro_cuda_dropout_forward(dyout.p, dmask.p, dxin.p, B, D, p, 1234567, 2, step, dpos.p, NULL,
                                               &err_));
    REPRO_OK_OR_DIE(repro_cuda_dropout_backward(ddx.p, ddy.p, dmask.p, B, D, p, NULL, &err_));
    char shape[64];
    snprintf(shape, sizeof shape, "%lldx%lld p=%g step=%llu", (long long)B, (long long)D, (double)p,
             (unsigned long long)step);
    cmp_int("dropout mask", shape, mask, dmask.down());
    cmp_f("dropout forward", shape, y, dyout.down());
    cmp_f("dropout backward", shape, dx, ddx.down());
}

/* ---- layer norm ---- */

static void test_layernorm(rng &r, int64_t B, int64_t D, int specials)
{
    fvec x = gen(r, (size_t)(B * D), -3.0f, 5.0f, specials, 0), gamma = gen(r, (size_t)D, 0.5f, 1.5f, 0, 0),
         beta = gen(r, (size_t)D, -0.5f, 0.5f, 0, 0), dy = gen(r, (size_t)(B * D), -1.0f, 1.0f, specials, 0);
    fvec dg0 = gen(r, (size_t)D, -0.1f, 0.1f, 0, 0), db0 = gen(r, (size_t)D, -0.1f, 0.1f, 0, 0);
    fvec y((size_t)(B * D)), mean((size_t)B), rstd((size_t)B), dx((size_t)(B * D)), dg = dg0, db = db0;
    repro_layernorm_forward_ref(y.data(), mean.data(), rstd.data(), x.data(), gamma.data(), beta.data(), B, D,
                                1e-5f);
    repro_layernorm_backward_ref(dx.data(), dg.data(), db.data(), dy.data(), x.data(), mean.data(), rstd.data(),
                                 gamma.data(), B, D);
    dbuf<float> dx_in(x), dgam(gamma), dbet(beta), ddy(dy), dyo((size_t)(B * D)), dmean((size_t)B),
        drstd((size_t)B), ddx((size_t)(B * D)), ddg(dg0), ddb(db0);
    REPRO_OK_OR_DIE(repro_cuda_layernorm_forward(dyo.p, dmean.p, drstd.p, dx_in.p, dgam.p, dbet.p, B, D, 1e-5f,
                                                 NULL, &err_));
    /* the backward reads the GPU's own mean/rstd, as training would */
    REPRO_OK_OR_DIE(repro_cuda_layernorm_backward(ddx.p, ddg.p, ddb.p, ddy.p, dx_in.p, dmean.p, drstd.p, dgam.p, B,
                                                  D, NULL, &err_));
    char shape[48];
    snprintf(shape, sizeof shape, "%lldx%lld%s", (long long)B, (long long)D, specials ? " sp" : "");
    cmp_f("layernorm forward y", shape, y, dyo.down());
    cmp_f("layernorm forward mean", shape, mean, dmean.down());
    cmp_f("layernorm forward rstd", shape, rstd, drstd.down());
    cmp_f("layernorm backward dx", shape, dx, ddx.down());
    cmp_f("layernorm backward dgamma", shape, dg, ddg.down());
    cmp_f("layernorm backward dbeta", shape, db, ddb.down());
}

/* ---- losses ---- */

static void test_xent(rng &r, int64_t B, int64_t C, float lo, float hi, int nonfinite)
{
    fvec z = gen(r, (size_t)(B * C), lo, hi, 1, nonfinite);
    std::vector<int32_t> labels((size_t)B);
    for (auto &l : labels)
        l = (int32_t)(r.next() % (uint32_t)C);
    fvec loss((size_t)B), dz((size_t)(B * C));
    std::vector<int32_t> pred((size_t)B);
    repro_error err;
    if (repro_softmax_xent_forward_ref(loss.data(), pred.data(), z.data(), labels.data(), B, C, &err) != REPRO_OK ||
        repro_softmax_xent_backward_ref(dz.data(), z.data(), labels.data(), B, C, 1.0f / 256.0f, &err) != REPRO_OK) {
        fprintf(stderr, "cpu xent: %s\n", err.message);
        exit(1);
    }
    dbuf<float> dzin(z), dloss((size_t)B), ddz((size_t)(B * C));
    dbuf<int32_t> dlab(labels), dpred((size_t)B);
    REPRO_OK_OR_DIE(repro_cuda_softmax_xent_forward(dloss.p, dpred.p, dzin.p, dlab.p, B, C, NULL, &err_));
    REPRO_OK_OR_DIE(repro_cuda_softmax_xent_backward(ddz.p, dzin.p, dlab.p, B, C, 1.0f / 256.0f, NULL, &err_));
    char shape[64];
    snprintf(shape, sizeof shape, "%lldx%lld z in [%g,%g)%s", (long long)B, (long long)C, (double)lo, (double)hi,
             nonfinite ? " inf/nan" : "");
    cmp_f("softmax xent loss", shape, loss, dloss.down());
    cmp_int("softmax xent pred", shape, pred, dpred.down());
    cmp_f("softmax xent backward", shape, dz, ddz.down());
}

static void test_regression(rng &r, int64_t B, int64_t T)
{
    fvec p = gen(r, (size_t)(B * T), -3.0f, 3.0f, 1, 1), y = gen(r, (size_t)(B * T), -3.0f, 3.0f, 1, 0);
    fvec lm((size_t)B), lh((size_t)B), gm((size_t)(B * T)), gh((size_t)(B * T));
    repro_mse_forward_ref(lm.data(), p.data(), y.data(), B, T);
    repro_mse_backward_ref(gm.data(), p.data(), y.data(), B, T, 0.5f / 256.0f);
    repro_huber_forward_ref(lh.data(), p.data(), y.data(), B, T, 1.0f);
    repro_huber_backward_ref(gh.data(), p.data(), y.data(), B, T, 1.0f, 0.5f / 256.0f);
    dbuf<float> dp(p), dy(y), dlm((size_t)B), dlh((size_t)B), dgm((size_t)(B * T)), dgh((size_t)(B * T));
    REPRO_OK_OR_DIE(repro_cuda_mse_forward(dlm.p, dp.p, dy.p, B, T, NULL, &err_));
    REPRO_OK_OR_DIE(repro_cuda_mse_backward(dgm.p, dp.p, dy.p, B, T, 0.5f / 256.0f, NULL, &err_));
    REPRO_OK_OR_DIE(repro_cuda_huber_forward(dlh.p, dp.p, dy.p, B, T, 1.0f, NULL, &err_));
    REPRO_OK_OR_DIE(repro_cuda_huber_backward(dgh.p, dp.p, dy.p, B, T, 1.0f, 0.5f / 256.0f, NULL, &err_));
    char shape[48];
    snprintf(shape, sizeof shape, "%lldx%lld", (long long)B, (long long)T);
    cmp_f("mse forward", shape, lm, dlm.down());
    cmp_f("mse backward", shape, gm, dgm.down());
    cmp_f("huber forward", shape, lh, dlh.down());
    cmp_f("huber backward", shape, gh, dgh.down());
}

/* ---- canonical sums ---- */

static void test_canon(rng &r, int64_t n, int nonfinite, float lo, float hi)
{
    fvec x = gen(r, (size_t)n, lo, hi, 1, nonfinite);
    fvec cpu = {repro_sum_canonical(x.data(), n), repro_sumsq_canonical(x.data(), n)};
    dbuf<float> dx(x), dout(2), scratch((size_t)repro_cuda_canon_scratch(n));
    REPRO_OK_OR_DIE(repro_cuda_sum_canonical(dout.p, dx.p, n, scratch.p, NULL, &err_));
    REPRO_OK_OR_DIE(repro_cuda_sumsq_canonical(dout.p + 1, dx.p, n, scratch.p, NULL, &err_));
    char shape[64];
    snprintf(shape, sizeof shape, "n=%lld%s", (long long)n, nonfinite ? " inf/nan" : "");
    cmp_f("canonical sum, sum of squares", shape, cpu, dout.down());
}

/* ---- optimisers ---- */

static repro_adam_coef adam_coef(float lr, int64_t t, float wd, int adamw)
{
    float b1 = 0.9f, b2 = 0.999f;
    repro_adam_coef c = {};
    c.lr = lr;
    c.eps = 1e-8f;
    c.b1 = b1;
    c.b2 = b2;
    c.one_minus_b1 = 1.0f - b1;
    c.one_minus_b2 = 1.0f - b2;
    c.c1 = 1.0f - repro_powif(b1, t);
    c.c2 = 1.0f - repro_powif(b2, t);
    c.l2 = adamw ? 0.0f : wd;
    c.decay_factor = adamw ? 1.0f - lr * wd : 1.0f;
    return c;
}

static void test_adam(rng &r, int64_t n, int64_t t, float wd, int adamw)
{
    fvec p = gen(r, (size_t)n, -1.0f, 1.0f, 1, 0), m = gen(r, (size_t)n, -0.01f, 0.01f, 1, 0),
         v = gen(r, (size_t)n, 0.0f, 1e-4f, 0, 0), g = gen(r, (size_t)n, -1.0f, 1.0f, 1, 1);
    for (auto &e : v) /* a second moment is never negative */
        e = e < 0.0f ? -e : e;
    repro_adam_coef c = adam_coef(1e-3f, t, wd, adamw);
    dbuf<float> dp(p), dm(m), dv(v), dg(g);
    for (int64_t i = 0; i < n; i++)
        repro_adam_elem(&c, &p[(size_t)i], &m[(size_t)i], &v[(size_t)i], g[(size_t)i]);
    REPRO_OK_OR_DIE(repro_cuda_adam_step(&c, dp.p, dm.p, dv.p, dg.p, n, NULL, &err_));
    char shape[64];
    snprintf(shape, sizeof shape, "n=%lld t=%lld wd=%g", (long long)n, (long long)t, (double)wd);
    const char *name = adamw ? "adamw" : "adam";
    char k[3][32];
    snprintf(k[0], 32, "%s p", name);
    snprintf(k[1], 32, "%s m", name);
    snprintf(k[2], 32, "%s v", name);
    cmp_f(k[0], shape, p, dp.down());
    cmp_f(k[1], shape, m, dm.down());
    cmp_f(k[2], shape, v, dv.down());
}

static void test_sgd(rng &r, int64_t n, float momentum, int nesterov, float wd, int first)
{
    fvec p = gen(r, (size_t)n, -1.0f, 1.0f, 1, 0), buf = gen(r, (size_t)n, -0.1f, 0.1f, 1, 0),
         g = gen(r, (size_t)n, -1.0f, 1.0f, 1, 1);
    repro_sgd_coef c = {0.01f, wd, momentum, nesterov, first};
    dbuf<float> dp(p), db(buf), dg(g);
    for (int64_t i = 0; i < n; i++)
        repro_sgd_elem(&c, &p[(size_t)i], momentum != 0.0f ? &buf[(size_t)i] : NULL, g[(size_t)i]);
    REPRO_OK_OR_DIE(repro_cuda_sgd_step(&c, dp.p, momentum != 0.0f ? db.p : NULL, dg.p, n, NULL, &err_));
    char shape[80];
    snprintf(shape, sizeof shape, "n=%lld mom=%g%s wd=%g%s", (long long)n, (double)momentum,
             nesterov ? " nesterov" : "", (double)wd, first ? " t=1" : "");
    cmp_f("sgd p", shape, p, dp.down());
    if (momentum != 0.0f)
        cmp_f("sgd momentum buffer", shape, buf, db.down());
}

static void test_ema(rng &r, int64_t n)
{
    fvec e = gen(r, (size_t)n, -1.0f, 1.0f, 1, 0), p = gen(r, (size_t)n, -1.0f, 1.0f, 1, 1);
    dbuf<float> de(e), dp(p);
    float decay = 0.999f, omd = 1.0f - decay;
    for (size_t i = 0; i < e.size(); i++)
        e[i] = repro_ema_elem(e[i], p[i], decay, omd);
    REPRO_OK_OR_DIE(repro_cuda_ema_update(de.p, dp.p, n, decay, NULL, &err_));
    char shape[32];
    snprintf(shape, sizeof shape, "n=%lld", (long long)n);
    cmp_f("ema", shape, e, de.down());
}

/* repro_clip_grad_norm's steps (optim.c) on the host: norm from the
 * canonical sum of squares, scale by the factor when norm > max_norm. */
static void test_clip(rng &r, int64_t n, float max_norm)
{
    fvec g = gen(r, (size_t)n, -0.05f, 0.05f, 1, 0);
    dbuf<float> dg(g), dnorm(1), scratch((size_t)repro_cuda_canon_scratch(n) + 1);
    float norm = repro_sqrtf(repro_sumsq_canonical(g.data(), n));
    if (repro_clip_needed(norm, max_norm)) {
        float f = repro_clip_factor(norm, max_norm);
        for (auto &x : g)
            x = x * f;
    }
    REPRO_OK_OR_DIE(repro_cuda_clip_grad_norm(dg.p, n, max_norm, dnorm.p, scratch.p, NULL, &err_));
    char shape[48];
    snprintf(shape, sizeof shape, "n=%lld max=%g norm=%g", (long long)n, (double)max_norm, (double)norm);
    cmp_f("clip grad norm: norm", shape, fvec{norm}, dnorm.down());
    cmp_f("clip grad norm: grads", shape, g, dg.down());
}

/* ---- timings (--bench) ---- */

static double time_ms(void (*fn)(void *), void *ctx, int reps)
{
    cudaEvent_t a, b;
    CUDA_OK(cudaEventCreate(&a));
    CUDA_OK(cudaEventCreate(&b));
    fn(ctx); /* warm-up */
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
    repro_cuda_gemm_tiling tiling;
    int64_t M, N, K;
    const float *A, *B;
    float *C;
    int64_t a_rs, a_cs, b_rs, b_cs;
    cublasHandle_t h;
};

static void run_exact(void *p)
{
    bench_ctx *c = (bench_ctx *)p;
    repro_error err;
    if (repro_cuda_gemm_tiled(c->tiling, c->M, c->N, c->K, c->A, c->a_rs, c->a_cs, c->B, c->b_rs, c->b_cs, NULL,
                              c->C, c->N, 0, NULL, &err) != REPRO_OK) {
        fprintf(stderr, "bench gemm: %s\n", err.message);
        exit(1);
    }
}

/* Row-major C = op(A) op(B) as column-major C^T = op(B)^T op(A)^T. */
static void run_cublas(void *p)
{
    bench_ctx *c = (bench_ctx *)p;
    const float one = 1.0f, zero = 0.0f;
    cublasOperation_t tb = c->b_cs == 1 ? CUBLAS_OP_N : CUBLAS_OP_T;
    cublasOperation_t ta = c->a_cs == 1 ? CUBLAS_OP_N : CUBLAS_OP_T;
    int ldb = (int)(c->b_cs == 1 ? c->b_rs : c->b_cs), lda = (int)(c->a_cs == 1 ? c->a_rs : c->a_cs);
    if (cublasSgemm(c->h, tb, ta, (int)c->N, (int)c->M, (int)c->K, &one, c->B, ldb, c->A, lda, &zero, c->C,
                    (int)c->N) != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "cublasSgemm failed\n");
        exit(1);
    }
}

/* Times every tiling (and cuBLAS) on one product; a_trans / b_trans give
 * the strides the linear layer uses (forward: B = W^T, b_trans; dW: A = dy^T,
 * a_trans). Prints one row per tiling, "*" marking AUTO's choice. */
static void bench_gemm(rng &r, cublasHandle_t h, const char *what, int64_t M, int64_t N, int64_t K, int a_trans,
                       int b_trans, int reps, int all_tilings)
{
    fvec A = gen(r, (size_t)(M * K), -1.0f, 1.0f, 0, 0), B = gen(r, (size_t)(K * N), -1.0f, 1.0f, 0, 0);
    dbuf<float> dA(A), dB(B), dC((size_t)(M * N));
    bench_ctx c = {REPRO_CUDA_GEMM_AUTO, M, N, K, dA.p, dB.p, dC.p, a_trans ? 1 : K, a_trans ? M : 1,
                   b_trans ? 1 : N, b_trans ? K : 1, h};
    double tc = time_ms(run_cublas, &c, reps);
    double fl = 2.0 * (double)M * (double)N * (double)K;
    repro_cuda_gemm_tiling chosen = repro_cuda_gemm_auto_tiling(M, N);
    for (int t = 1; t < REPRO_CUDA_GEMM_TILINGS; t++) {
        if (!all_tilings && t != (int)chosen)
            continue;
        c.tiling = (repro_cuda_gemm_tiling)t;
        double te = time_ms(run_exact, &c, reps);
        /* spot check: 64 outputs of the timed product against the contract */
        fvec Cg = dC.down();
        int bad = 0;
        for (int s = 0; s < 64; s++) {
            int64_t m = r.next() % M, n = r.next() % N;
            float acc = 0.0f;
            for (int64_t k = 0; k < K; k++)
                acc = fmaf(A[(size_t)(m * c.a_rs + k * c.a_cs)], B[(size_t)(k * c.b_rs + n * c.b_cs)], acc);
            bad += bits(acc) != bits(Cg[(size_t)(m * N + n)]);
        }
        printf("| %-20s | %5lld x %5lld x %5lld | %-8s%s | %8.1f | %9.1f | %8.2f | %6.1f | %s |\n", what,
               (long long)M, (long long)N, (long long)K, tiling_names[t], t == (int)chosen ? "*" : " ",
               fl / te * 1e-6, fl / tc * 1e-6, te * 1e3, tc / te, bad ? "SPOT-CHECK FAIL" : "64/64 bitwise");
        if (bad)
            g_fail++;
    }
}

static void bench(rng &r)
{
    cublasHandle_t h;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "cublasCreate failed\n");
        exit(1);
    }
    /* FP32 SGEMM: the default math mode, no TF32 tensor cores */
    cublasSetMathMode(h, CUBLAS_DEFAULT_MATH);
    printf("\nGEMM GFLOP/s, exact kernel vs cuBLAS SGEMM (CUBLAS_DEFAULT_MATH, NVIDIA_TF32_OVERRIDE=0); "
           "* = the tiling repro_cuda_gemm picks\n");
    printf("| %-20s | %-21s | %-9s | %-8s | %-9s | %-8s | %-6s | %s |\n", "case", "M x N x K", "tiling", "exact",
           "cuBLAS", "exact us", "ratio", "check");
    bench_gemm(r, h, "square", 4096, 4096, 4096, 0, 0, 10, 0);
    bench_gemm(r, h, "square", 2048, 2048, 2048, 0, 0, 20, 0);
    /* the Fashion MLP's products at batch 256, with the linear layer's strides */
    bench_gemm(r, h, "fwd 784->256", 256, 256, 784, 0, 1, 200, 1);
    bench_gemm(r, h, "fwd 256->256", 256, 256, 256, 0, 1, 200, 1);
    bench_gemm(r, h, "fwd 256->10", 256, 10, 256, 0, 1, 200, 1);
    bench_gemm(r, h, "dx 256<-256", 256, 256, 256, 0, 0, 200, 1);
    bench_gemm(r, h, "dx 256<-10", 256, 256, 10, 0, 0, 200, 1);
    bench_gemm(r, h, "dW 784->256", 256, 784, 256, 1, 0, 200, 1);
    bench_gemm(r, h, "dW 256->256", 256, 256, 256, 1, 0, 200, 1);
    bench_gemm(r, h, "dW 256->10", 10, 256, 256, 1, 0, 200, 1);
    /* the 6-layer d512 encoder's products (examples/transformer_6l_512d.yaml: 32 x 256 tokens) */
    bench_gemm(r, h, "enc fwd in_proj", 8192, 1536, 512, 0, 1, 10, 1);
    bench_gemm(r, h, "enc fwd out_proj", 8192, 512, 512, 0, 1, 10, 1);
    bench_gemm(r, h, "enc fwd linear1", 8192, 2048, 512, 0, 1, 10, 1);
    bench_gemm(r, h, "enc fwd linear2", 8192, 512, 2048, 0, 1, 10, 1);
    bench_gemm(r, h, "enc dx in_proj", 8192, 512, 1536, 0, 0, 10, 1);
    bench_gemm(r, h, "enc dx linear2", 8192, 2048, 512, 0, 0, 10, 1);
    bench_gemm(r, h, "enc dW in_proj", 1536, 512, 8192, 1, 0, 10, 1);
    bench_gemm(r, h, "enc dW out_proj", 512, 512, 8192, 1, 0, 10, 1);
    bench_gemm(r, h, "enc dW linear1", 2048, 512, 8192, 1, 0, 10, 1);
    bench_gemm(r, h, "enc dW linear2", 512, 2048, 8192, 1, 0, 10, 1);
    cublasDestroy(h);
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

    static const gemm_case gemms[] = {
        {1, 1, 1, 0, 0, 0, 0, 0},        {7, 7, 7, 0, 0, 0, 1, 1},        {255, 257, 1000, 0, 0, 0, 0, 0},
        {257, 255, 7, 1, 0, 1, 0, 1},    {1000, 1, 4097, 0, 1, 0, 1, 0},  {1, 1000, 4097, 1, 1, 1, 0, 1},
        {4097, 7, 255, 0, 0, 0, 1, 1},   {128, 256, 1024, 0, 0, 0, 0, 0}, {256, 256, 784, 0, 1, 0, 1, 0},
        {256, 256, 256, 0, 1, 0, 1, 1},  {256, 10, 256, 0, 1, 0, 1, 0},   {256, 784, 256, 1, 0, 1, 0, 0},
        {256, 256, 256, 1, 0, 1, 0, 1},  {384, 512, 2048, 0, 0, 1, 0, 0}, {129, 131, 9, 1, 1, 0, 0, 2},     {7, 255, 3, 0, 0, 1, 0, 2},
    };
    /* every tiling runs the same chains: each must give the reference's bits */
    for (int t = 0; t < REPRO_CUDA_GEMM_TILINGS; t++) {
        for (const gemm_case &c : gemms)
            test_gemm(r, c, (repro_cuda_gemm_tiling)t);
        test_gemm_negzero((repro_cuda_gemm_tiling)t);
    }

    test_linear(r, 256, 784, 256);
    test_linear(r, 256, 256, 256);
    test_linear(r, 256, 256, 10);
    test_linear(r, 7, 1000, 257);
    test_linear(r, 1, 1, 1);
    test_linear(r, 3000, 40, 70); /* the bias gradient's chains over several tiles of rows */

    static const int64_t sizes[] = {1, 7, 255, 257, 1000, 4097, 65539};
    for (int64_t n : sizes) {
        for (int a = 0; a < REPRO_ACT_COUNT; a++)
            test_activation(r, (repro_act)a, n);
        test_add(r, n);
    }

    test_gather(r, 1, 1, 1);
    test_gather(r, 1000, 784, 257);
    test_gather(r, 7, 3, 4097);
    test_gather(r, 60000, 15, 256);
    test_fast_bias_grad(r, 256, 256);
    test_fast_bias_grad(r, 1000, 7);

    test_dropout(r, 1, 1, 0.3f, 0);
    test_dropout(r, 7, 255, 0.3f, 17);
    test_dropout(r, 256, 784, 0.3f, ((uint64_t)1 << 32) + 5);
    test_dropout(r, 256, 256, 0.9f, 1000);
    test_dropout(r, 3, 4097, 0.5f, 3);
    test_dropout(r, 7, 257, 0.0f, 9);

    test_layernorm(r, 1, 1, 0);
    test_layernorm(r, 7, 7, 1);
    test_layernorm(r, 256, 256, 0);
    test_layernorm(r, 256, 256, 1);
    test_layernorm(r, 5, 1000, 1);
    test_layernorm(r, 3, 4097, 1);
    test_layernorm(r, 1000, 1024, 1); /* one canonical block a row, several tiles of the parameter chains */
    test_layernorm(r, 2049, 96, 0);
    test_layernorm(r, 33, 1025, 0);   /* two blocks a row: one thread a row */

    test_xent(r, 1, 1, -5.0f, 5.0f, 0);
    test_xent(r, 256, 10, -5.0f, 5.0f, 0);
    test_xent(r, 256, 10, -5.0f, 5.0f, 1);
    test_xent(r, 7, 1000, -90.0f, 90.0f, 0);
    test_xent(r, 3, 4097, -5.0f, 5.0f, 1);

    test_regression(r, 1, 1);
    test_regression(r, 256, 1);
    test_regression(r, 7, 255);
    test_regression(r, 3, 4097);

    static const int64_t canon_sizes[] = {0, 1, 7, 255, 257, 1000, 1024, 1025, 4097, 1000003, 3 * 1024 * 1024 + 17};
    for (int64_t n : canon_sizes)
        test_canon(r, n, 0, -1.0f, 1.0f);
    test_canon(r, 269322, 0, -1e3f, 1e3f);
    test_canon(r, 4097, 1, -1.0f, 1.0f);

    const int64_t mlp_params = 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10;
    test_adam(r, mlp_params, 1, 0.0f, 0);
    test_adam(r, mlp_params, 1000, 0.01f, 0);
    test_adam(r, 4097, 7, 0.01f, 1);
    test_adam(r, 1, 1, 0.0f, 1);
    test_sgd(r, 4097, 0.0f, 0, 0.0f, 1);
    test_sgd(r, 4097, 0.9f, 0, 1e-4f, 1);
    test_sgd(r, mlp_params, 0.9f, 0, 1e-4f, 0);
    test_sgd(r, 1000, 0.9f, 1, 0.0f, 0);
    test_ema(r, mlp_params);
    test_ema(r, 7);
    test_clip(r, mlp_params, 1.0f);
    test_clip(r, mlp_params, 1e6f);
    test_clip(r, 7, 1e-3f);

    printf("\ntest_cuda_ops: %d passed, %d failed\n", g_pass, g_fail);
    if (do_bench)
        bench(r);
    return g_fail ? 1 : 0;
}
