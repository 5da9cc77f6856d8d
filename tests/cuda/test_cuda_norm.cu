/* The CUDA batch norm, group norm and SiLU kernels against their CPU _ref
 * twins, bit for bit (src/ops/cuda/cuda_norm.h, cuda_ops.h), in the style of
 * tests/cuda/test_cuda_ops.cu: for each kernel and shape, random inputs
 * (+-0, subnormals, +-1e30 and, where asked, +-inf and NaN mixed in) go
 * through the CPU reference and the CUDA kernel and the outputs are
 * compared bit for bit, a NaN matching any NaN (which NaN is not promised).
 * The backward reads the GPU's own mean and rstd, as training would.
 *
 * Shapes cover every team width of the statistics kernels (32, 64, 128
 * and 256 threads: 1 to 98 blocks of the canonical sum, one and several
 * chunks of lanes), runs of 1 value (a [N][C] input), ghost-batch groups,
 * group norm from one group (layer norm over C*HW) to C groups (instance
 * norm). Also: micro-batches of whole groups on the device, a CUDA graph
 * capture of forward and backward, and the argument checks.
 *
 * One line per kernel and shape: PASS, or FAIL with the first differing
 * index and both values in hex. Exit 0 all pass, 1 a failure, 77 with
 * "SKIPPED: no CUDA device" without a GPU. */
#include <cuda_runtime.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "ops/cuda/cuda_norm.h"
#include "ops/cuda/cuda_ops.h"

extern "C" {
#include "ops/cpu/norm.h"
#include "ops/cpu/ops.h"
}

#include "cuda_test.cuh"

/* specials about one in 400 (rare, so that most normalisation groups stay
 * finite and a few do not) */
static fvec gen_rare(rng &r, size_t n, float lo, float hi, int specials, int nonfinite)
{
    return gen_specials(r, n, lo, hi, specials, nonfinite, 400);
}

static void cmp_f(const char *kernel, const char *shape, const fvec &cpu, const fvec &gpu)
{
    size_t nan = 0;
    char detail[200];
    if (cpu.size() != gpu.size()) {
        snprintf(detail, sizeof detail, "sizes differ: cpu %zu gpu %zu", cpu.size(), gpu.size());
        report(kernel, shape, false, detail);
        return;
    }
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
    }
    snprintf(detail, sizeof detail, "%zu values bitwise equal", cpu.size());
    if (nan)
        snprintf(detail + strlen(detail), sizeof detail - strlen(detail), " (%zu NaN compared as a class)", nan);
    report(kernel, shape, true, detail);
}

/* ---- batch norm ---- */

struct bn_inputs {
    fvec x, dy, gamma, beta, rm0, rv0, dg0, db0;
};

static bn_inputs bn_gen(rng &r, int64_t n, int64_t C, int specials)
{
    bn_inputs in;
    in.x = gen_rare(r, (size_t)n, -3.0f, 5.0f, specials, specials == 2);
    in.dy = gen_rare(r, (size_t)n, -1.0f, 1.0f, specials, specials == 2);
    in.gamma = gen_rare(r, (size_t)C, 0.5f, 1.5f, 0, 0);
    in.beta = gen_rare(r, (size_t)C, -0.5f, 0.5f, 0, 0);
    in.rm0 = gen_rare(r, (size_t)C, -1.0f, 1.0f, 0, 0);
    in.rv0 = gen_rare(r, (size_t)C, 0.5f, 2.0f, 0, 0);
    in.dg0 = gen_rare(r, (size_t)C, -0.1f, 0.1f, 0, 0);
    in.db0 = gen_rare(r, (size_t)C, -0.1f, 0.1f, 0, 0);
    return in;
}

/* specials: 0 none, 1 finite specials, 2 also inf and NaN */
static void test_batchnorm(rng &r, int64_t N, int64_t C, int64_t HW, int64_t group, int specials)
{
    const int64_t n = N * C * HW, P = (N / group) * C;
    const float eps = 1e-5f, mom = 0.1f;
    bn_inputs in = bn_gen(r, n, C, specials);
    fvec y((size_t)n), mean((size_t)P), rstd((size_t)P), rm = in.rm0, rv = in.rv0, dx((size_t)n), dg = in.dg0,
                       db = in.db0, ye((size_t)n);
    REPRO_OK_OR_DIE(repro_batchnorm_forward_train_ref(y.data(), mean.data(), rstd.data(), rm.data(), rv.data(), NULL,
                                                      in.x.data(), in.gamma.data(), in.beta.data(), N, C, HW, group,
                                                      eps, mom, &err_));
    REPRO_OK_OR_DIE(repro_batchnorm_backward_ref(dx.data(), dg.data(), db.data(), in.dy.data(), in.x.data(),
                                                 mean.data(), rstd.data(), in.gamma.data(), N, C, HW, group, &err_));
    REPRO_OK_OR_DIE(repro_batchnorm_forward_eval_ref(ye.data(), in.x.data(), in.gamma.data(), in.beta.data(),
                                                     in.rm0.data(), in.rv0.data(), N, C, HW, eps, &err_));

    dbuf<float> d_x(in.x), d_dy(in.dy), d_g(in.gamma), d_b(in.beta), d_rm(in.rm0), d_rv(in.rv0), d_dg(in.dg0),
        d_db(in.db0), d_rm0(in.rm0), d_rv0(in.rv0), d_y((size_t)n), d_mean((size_t)P), d_rstd((size_t)P),
        d_dx((size_t)n), d_ye((size_t)n);
    REPRO_OK_OR_DIE(repro_cuda_batchnorm_forward_train(d_y.p, d_mean.p, d_rstd.p, d_rm.p, d_rv.p, NULL, d_x.p, d_g.p, d_b.p,
                                                       N, C, HW, group, eps, mom, NULL, &err_));
    REPRO_OK_OR_DIE(repro_cuda_batchnorm_backward(d_dx.p, d_dg.p, d_db.p, d_dy.p, d_x.p, d_mean.p, d_rstd.p, d_g.p, N,
                                                  C, HW, group, NULL, &err_));
    REPRO_OK_OR_DIE(repro_cuda_batchnorm_forward_eval(d_ye.p, d_x.p, d_g.p, d_b.p, d_rm0.p, d_rv0.p, N, C, HW, eps,
                                                      NULL, &err_));
    char shape[64];
    snprintf(shape, sizeof shape, "N%lld C%lld HW%lld group%lld%s", (long long)N, (long long)C, (long long)HW,
             (long long)group, specials == 2 ? " sp+nan" : specials ? " sp" : "");
    cmp_f("batchnorm train y", shape, y, d_y.down());
    cmp_f("batchnorm train mean", shape, mean, d_mean.down());
    cmp_f("batchnorm train rstd", shape, rstd, d_rstd.down());
    cmp_f("batchnorm running_mean", shape, rm, d_rm.down());
    cmp_f("batchnorm running_var", shape, rv, d_rv.down());
    cmp_f("batchnorm backward dx", shape, dx, d_dx.down());
    cmp_f("batchnorm backward dgamma", shape, dg, d_dg.down());
    cmp_f("batchnorm backward dbeta", shape, db, d_db.down());
    cmp_f("batchnorm eval y", shape, ye, d_ye.down());

    /* a data-parallel step: the groups' statistics logged, the running
     * statistics left alone (train/bn_world.h) */
    fvec gs((size_t)(2 * P)), y2((size_t)n), mean2((size_t)P), rstd2((size_t)P);
    REPRO_OK_OR_DIE(repro_batchnorm_forward_train_ref(y2.data(), mean2.data(), rstd2.data(), NULL, NULL, gs.data(),
                                                      in.x.data(), in.gamma.data(), in.beta.data(), N, C, HW, group,
                                                      eps, mom, &err_));
    dbuf<float> d_gs((size_t)(2 * P)), d_y2((size_t)n);
    REPRO_OK_OR_DIE(repro_cuda_batchnorm_forward_train(d_y2.p, d_mean.p, d_rstd.p, NULL, NULL, d_gs.p, d_x.p, d_g.p,
                                                       d_b.p, N, C, HW, group, eps, mom, NULL, &err_));
    cmp_f("batchnorm logged group statistics", shape, gs, d_gs.down());
    cmp_f("batchnorm logged y", shape, y2, d_y2.down());
}

/* Two micro-batches of whole groups on the device, in order, equal the
 * CPU's one batch: y, mean, rstd, the running statistics, dx, dgamma, dbeta. */
static void test_batchnorm_micro(rng &r, int64_t N, int64_t C, int64_t HW, int64_t group, int64_t cut)
{
    const int64_t n = N * C * HW, P = (N / group) * C, off = cut * C * HW, poff = (cut / group) * C;
    const float eps = 1e-5f, mom = 0.1f;
    bn_inputs in = bn_gen(r, n, C, 0);
    fvec y((size_t)n), mean((size_t)P), rstd((size_t)P), rm = in.rm0, rv = in.rv0, dx((size_t)n), dg = in.dg0,
                       db = in.db0;
    REPRO_OK_OR_DIE(repro_batchnorm_forward_train_ref(y.data(), mean.data(), rstd.data(), rm.data(), rv.data(), NULL,
                                                      in.x.data(), in.gamma.data(), in.beta.data(), N, C, HW, group,
                                                      eps, mom, &err_));
    REPRO_OK_OR_DIE(repro_batchnorm_backward_ref(dx.data(), dg.data(), db.data(), in.dy.data(), in.x.data(),
                                                 mean.data(), rstd.data(), in.gamma.data(), N, C, HW, group, &err_));
    dbuf<float> d_x(in.x), d_dy(in.dy), d_g(in.gamma), d_b(in.beta), d_rm(in.rm0), d_rv(in.rv0), d_dg(in.dg0),
        d_db(in.db0), d_y((size_t)n), d_mean((size_t)P), d_rstd((size_t)P), d_dx((size_t)n);
    REPRO_OK_OR_DIE(repro_cuda_batchnorm_forward_train(d_y.p, d_mean.p, d_rstd.p, d_rm.p, d_rv.p, NULL, d_x.p, d_g.p, d_b.p,
                                                       cut, C, HW, group, eps, mom, NULL, &err_));
    REPRO_OK_OR_DIE(repro_cuda_batchnorm_forward_train(d_y.p + off, d_mean.p + poff, d_rstd.p + poff, d_rm.p, d_rv.p, NULL,
                                                       d_x.p + off, d_g.p, d_b.p, N - cut, C, HW, group, eps, mom,
                                                       NULL, &err_));
    REPRO_OK_OR_DIE(repro_cuda_batchnorm_backward(d_dx.p, d_dg.p, d_db.p, d_dy.p, d_x.p, d_mean.p, d_rstd.p, d_g.p,
                                                  cut, C, HW, group, NULL, &err_));
    REPRO_OK_OR_DIE(repro_cuda_batchnorm_backward(d_dx.p + off, d_dg.p, d_db.p, d_dy.p + off, d_x.p + off,
                                                  d_mean.p + poff, d_rstd.p + poff, d_g.p, N - cut, C, HW, group, NULL,
                                                  &err_));
    char shape[64];
    snprintf(shape, sizeof shape, "N%lld=%lld+%lld C%lld HW%lld group%lld", (long long)N, (long long)cut,
             (long long)(N - cut), (long long)C, (long long)HW, (long long)group);
    cmp_f("batchnorm micro y", shape, y, d_y.down());
    cmp_f("batchnorm micro mean", shape, mean, d_mean.down());
    cmp_f("batchnorm micro rstd", shape, rstd, d_rstd.down());
    cmp_f("batchnorm micro running_mean", shape, rm, d_rm.down());
    cmp_f("batchnorm micro running_var", shape, rv, d_rv.down());
    cmp_f("batchnorm micro dx", shape, dx, d_dx.down());
    cmp_f("batchnorm micro dgamma", shape, dg, d_dg.down());
    cmp_f("batchnorm micro dbeta", shape, db, d_db.down());
}

/* ---- group norm ---- */

static void test_groupnorm(rng &r, int64_t N, int64_t C, int64_t HW, int64_t groups, int specials)
{
    const int64_t n = N * C * HW, P = N * groups;
    const float eps = 1e-5f;
    bn_inputs in = bn_gen(r, n, C, specials);
    fvec y((size_t)n), mean((size_t)P), rstd((size_t)P), dx((size_t)n), dg = in.dg0, db = in.db0;
    REPRO_OK_OR_DIE(repro_groupnorm_forward_ref(y.data(), mean.data(), rstd.data(), in.x.data(), in.gamma.data(),
                                                in.beta.data(), N, C, HW, groups, eps, &err_));
    REPRO_OK_OR_DIE(repro_groupnorm_backward_ref(dx.data(), dg.data(), db.data(), in.dy.data(), in.x.data(),
                                                 mean.data(), rstd.data(), in.gamma.data(), N, C, HW, groups, &err_));
    dbuf<float> d_x(in.x), d_dy(in.dy), d_g(in.gamma), d_b(in.beta), d_dg(in.dg0), d_db(in.db0), d_y((size_t)n),
        d_mean((size_t)P), d_rstd((size_t)P), d_dx((size_t)n);
    REPRO_OK_OR_DIE(repro_cuda_groupnorm_forward(d_y.p, d_mean.p, d_rstd.p, d_x.p, d_g.p, d_b.p, N, C, HW, groups,
                                                 eps, NULL, &err_));
    REPRO_OK_OR_DIE(repro_cuda_groupnorm_backward(d_dx.p, d_dg.p, d_db.p, d_dy.p, d_x.p, d_mean.p, d_rstd.p, d_g.p, N,
                                                  C, HW, groups, NULL, &err_));
    char shape[64];
    snprintf(shape, sizeof shape, "N%lld C%lld HW%lld groups%lld%s", (long long)N, (long long)C, (long long)HW,
             (long long)groups, specials == 2 ? " sp+nan" : specials ? " sp" : "");
    cmp_f("groupnorm forward y", shape, y, d_y.down());
    cmp_f("groupnorm forward mean", shape, mean, d_mean.down());
    cmp_f("groupnorm forward rstd", shape, rstd, d_rstd.down());
    cmp_f("groupnorm backward dx", shape, dx, d_dx.down());
    cmp_f("groupnorm backward dgamma", shape, dg, d_dg.down());
    cmp_f("groupnorm backward dbeta", shape, db, d_db.down());
}

/* ---- SiLU ---- */

static void test_silu(rng &r, int64_t n)
{
    fvec x = gen_rare(r, (size_t)n, -12.0f, 12.0f, 1, 1), dy = gen_rare(r, (size_t)n, -2.0f, 2.0f, 1, 1);
    for (size_t i = 0; i < x.size(); i += 97) /* the tails: sigmoid saturates at 40 and -104 */
        x[i] = (i / 97) % 2 ? 150.0f * (float)((i / 194) % 3) - 150.0f : 41.0f;
    fvec y((size_t)n), dx((size_t)n);
    repro_act_forward_ref(REPRO_ACT_SILU, y.data(), x.data(), n);
    repro_act_backward_ref(REPRO_ACT_SILU, dx.data(), dy.data(), x.data(), n);
    dbuf<float> d_x(x), d_dy(dy), d_y((size_t)n), d_dx((size_t)n);
    REPRO_OK_OR_DIE(repro_cuda_act_forward(REPRO_ACT_SILU, d_y.p, d_x.p, n, NULL, &err_));
    REPRO_OK_OR_DIE(repro_cuda_act_backward(REPRO_ACT_SILU, d_dx.p, d_dy.p, d_x.p, n, NULL, &err_));
    char shape[32];
    snprintf(shape, sizeof shape, "n=%lld", (long long)n);
    cmp_f("silu forward", shape, y, d_y.down());
    cmp_f("silu backward", shape, dx, d_dx.down());
}

/* ---- CUDA graph: the calls capture (no allocation, sync or copy inside) ---- */

static void test_graph(rng &r)
{
    const int64_t N = 16, C = 8, HW = 49, group = 4, groups = 2, n = N * C * HW, P = (N / group) * C;
    const float eps = 1e-5f, mom = 0.1f;
    bn_inputs in = bn_gen(r, n, C, 0);
    fvec y((size_t)n), mean((size_t)P), rstd((size_t)P), rm = in.rm0, rv = in.rv0, dx((size_t)n), dg = in.dg0,
                       db = in.db0;
    fvec gy((size_t)n), gmean((size_t)(N * groups)), grstd((size_t)(N * groups)), gdx((size_t)n), gdg = in.dg0,
                        gdb = in.db0;
    REPRO_OK_OR_DIE(repro_batchnorm_forward_train_ref(y.data(), mean.data(), rstd.data(), rm.data(), rv.data(), NULL,
                                                      in.x.data(), in.gamma.data(), in.beta.data(), N, C, HW, group,
                                                      eps, mom, &err_));
    REPRO_OK_OR_DIE(repro_batchnorm_backward_ref(dx.data(), dg.data(), db.data(), in.dy.data(), in.x.data(),
                                                 mean.data(), rstd.data(), in.gamma.data(), N, C, HW, group, &err_));
    REPRO_OK_OR_DIE(repro_groupnorm_forward_ref(gy.data(), gmean.data(), grstd.data(), in.x.data(), in.gamma.data(),
                                                in.beta.data(), N, C, HW, groups, eps, &err_));
    REPRO_OK_OR_DIE(repro_groupnorm_backward_ref(gdx.data(), gdg.data(), gdb.data(), in.dy.data(), in.x.data(),
                                                 gmean.data(), grstd.data(), in.gamma.data(), N, C, HW, groups, &err_));
    dbuf<float> d_x(in.x), d_dy(in.dy), d_g(in.gamma), d_b(in.beta), d_rm(in.rm0), d_rv(in.rv0), d_dg(in.dg0),
        d_db(in.db0), d_y((size_t)n), d_mean((size_t)P), d_rstd((size_t)P), d_dx((size_t)n), d_gy((size_t)n),
        d_gmean((size_t)(N * groups)), d_grstd((size_t)(N * groups)), d_gdx((size_t)n), d_gdg(in.dg0), d_gdb(in.db0);
    cudaStream_t st;
    CUDA_OK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    cudaGraph_t graph;
    CUDA_OK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
    REPRO_OK_OR_DIE(repro_cuda_batchnorm_forward_train(d_y.p, d_mean.p, d_rstd.p, d_rm.p, d_rv.p, NULL, d_x.p, d_g.p, d_b.p,
                                                       N, C, HW, group, eps, mom, st, &err_));
    REPRO_OK_OR_DIE(repro_cuda_batchnorm_backward(d_dx.p, d_dg.p, d_db.p, d_dy.p, d_x.p, d_mean.p, d_rstd.p, d_g.p, N,
                                                  C, HW, group, st, &err_));
    REPRO_OK_OR_DIE(repro_cuda_groupnorm_forward(d_gy.p, d_gmean.p, d_grstd.p, d_x.p, d_g.p, d_b.p, N, C, HW, groups,
                                                 eps, st, &err_));
    REPRO_OK_OR_DIE(repro_cuda_groupnorm_backward(d_gdx.p, d_gdg.p, d_gdb.p, d_dy.p, d_x.p, d_gmean.p, d_grstd.p,
                                                  d_g.p, N, C, HW, groups, st, &err_));
    CUDA_OK(cudaStreamEndCapture(st, &graph));
    cudaGraphExec_t exec;
    CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
    CUDA_OK(cudaGraphLaunch(exec, st));
    CUDA_OK(cudaStreamSynchronize(st));
    const char *shape = "N16 C8 HW49 group4 groups2";
    cmp_f("graph batchnorm y", shape, y, d_y.down());
    cmp_f("graph batchnorm rstd", shape, rstd, d_rstd.down());
    cmp_f("graph batchnorm running_var", shape, rv, d_rv.down());
    cmp_f("graph batchnorm dx", shape, dx, d_dx.down());
    cmp_f("graph batchnorm dgamma", shape, dg, d_dg.down());
    cmp_f("graph groupnorm y", shape, gy, d_gy.down());
    cmp_f("graph groupnorm dx", shape, gdx, d_gdx.down());
    cmp_f("graph groupnorm dbeta", shape, gdb, d_gdb.down());
    CUDA_OK(cudaGraphExecDestroy(exec));
    CUDA_OK(cudaGraphDestroy(graph));
    CUDA_OK(cudaStreamDestroy(st));
}

/* ---- argument checks: the CPU's messages, nothing launched ---- */

static void expect_arg(const char *kernel, repro_status st, const repro_error &err, const char *want)
{
    bool ok = st == REPRO_ERR_ARG && strstr(err.message, want) != NULL;
    char detail[REPRO_ERROR_MESSAGE_MAX + 40];
    snprintf(detail, sizeof detail, "%s: \"%s\"", ok ? "refused" : "NOT refused as expected", err.message);
    report(kernel, "bad arguments", ok, detail);
}

static void test_errors(void)
{
    repro_error err;
    err.message[0] = 0;
    float *p = (float *)0x100; /* never touched: the checks come first */
    expect_arg("batchnorm train",
               repro_cuda_batchnorm_forward_train(p, p, p, p, p, NULL, p, p, p, 8, 3, 4, 3, 1e-5f, 0.1f, NULL, &err), err,
               "batch-norm group 3 does not divide the micro-batch of 8 samples");
    expect_arg("batchnorm backward",
               repro_cuda_batchnorm_backward(p, p, p, p, p, p, p, p, 4, 3, 1, 1, NULL, &err), err,
               "at least 2 are needed");
    expect_arg("batchnorm eval", repro_cuda_batchnorm_forward_eval(p, p, p, p, p, p, 2, 0, 4, 1e-5f, NULL, &err), err,
               "batch-norm shape N=2 C=0 HW=4");
    expect_arg("batchnorm train running",
               repro_cuda_batchnorm_forward_train(p, p, p, NULL, p, NULL, p, p, p, 8, 3, 4, 4, 1e-5f, 0.1f, NULL, &err),
               err, "running_mean is NULL but running_var is set");
    expect_arg("groupnorm forward",
               repro_cuda_groupnorm_forward(p, p, p, p, p, p, 2, 8, 4, 3, 1e-5f, NULL, &err), err,
               "group-norm groups 3 do not divide the 8 channels");
    expect_arg("groupnorm backward", repro_cuda_groupnorm_backward(p, p, p, p, p, p, p, p, 2, 8, 4, 0, NULL, &err),
               err, "group-norm groups 0 must be at least 1");
}

int main(void)
{
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("SKIPPED: no CUDA device\n");
        return 77;
    }
    cudaDeviceProp prop;
    CUDA_OK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
    rng r = {7};

    /* {N, C, HW, group, specials}; values per group = group * HW */
    static const int64_t bn[][5] = {
        {1, 1, 25, 1, 0},      {2, 7, 1, 2, 1},       {5, 33, 25, 5, 1},     {5, 33, 25, 1, 0},
        {8, 64, 1, 2, 0},      {8, 64, 1, 8, 1},      {8, 3, 784, 2, 1},     {8, 3, 784, 8, 0},   /* 6272: 64 */
        {16, 4, 784, 16, 1},   /* 12544: team of 128 */
        {128, 7, 1, 128, 1},   {128, 64, 196, 128, 0}, /* 25088: 256, one chunk */
        {128, 64, 196, 32, 2}, {128, 64, 784, 128, 0}, /* 100352: 256, four chunks */
        {128, 3, 784, 128, 2}, {128, 1, 784, 64, 1},  {3, 5, 1500, 3, 0},   /* runs longer than a block */
        {64, 3, 512, 64, 0},   {2, 2, 31739, 1, 1},   {1, 2, 17000, 1, 0},  /* 32, 31, 17 blocks: one warp's tree */
        {1, 2, 33000, 1, 2},   /* 33 blocks: two chunks, the walk */
    };
    for (const auto &c : bn)
        test_batchnorm(r, c[0], c[1], c[2], c[3], (int)c[4]);
    test_batchnorm_micro(r, 8, 3, 25, 2, 2);
    test_batchnorm_micro(r, 128, 16, 196, 32, 64);
    test_batchnorm_micro(r, 12, 64, 1, 4, 8);

    /* {N, C, HW, groups, specials}; values per group = (C / groups) * HW */
    static const int64_t gn[][5] = {
        {1, 1, 25, 1, 0},  {2, 7, 1, 7, 1},    {2, 7, 1, 1, 0},      {5, 33, 25, 3, 1},  {5, 33, 25, 11, 2},
        {8, 64, 196, 8, 0}, {128, 64, 1, 8, 1}, {4, 64, 784, 32, 1}, {4, 64, 784, 4, 0}, /* 12544: 128 */
        {2, 32, 3136, 1, 0}, /* 100352: 256, four chunks */
        {2, 3, 784, 1, 2},  {128, 64, 49, 32, 0},
        {2, 64, 512, 1, 1}, /* 32768: 32 blocks, one warp's tree */
    };
    for (const auto &c : gn)
        test_groupnorm(r, c[0], c[1], c[2], c[3], (int)c[4]);

    static const int64_t sizes[] = {1, 7, 255, 257, 1000, 4097, 65539};
    for (int64_t n : sizes)
        test_silu(r, n);

    test_graph(r);
    test_errors();

    printf("\ntest_cuda_norm: %d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
