/* The token kernels on the GPU, bit for bit against the CPU references
 * (src/ops/cpu/embedding.h): embedding forward and backward (repeated
 * tokens, a gradient already holding earlier micro-batches, the ascending
 * order's known answer), the LM cross-entropy forward and backward (with
 * and without an ignored target id), the pad mask, and patchify.
 * One PASS/FAIL line per case; exit 77 without a GPU. */
extern "C" {
#include "ops/cpu/embedding.h"
#include "ops/cpu/patchify.h"
}

#include "cuda_test.cuh"
#include "ops/cuda/cuda_token.h"

static bool same(const fvec &a, const fvec &b)
{
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); i++)
        if (bits(a[i]) != bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]))
            return false;
    return true;
}

static fvec ids_for(int64_t N, int64_t V)
{
    fvec ids((size_t)N);
    for (int64_t p = 0; p < N; p++)
        ids[(size_t)p] = (float)((p * p + 3 * p + 1) % (V > 1 ? V - 1 : 1));
    return ids;
}

static void test_embedding(rng &r, int64_t N, int64_t V, int64_t D)
{
    char shape[64];
    snprintf(shape, sizeof shape, "N=%lld V=%lld D=%lld", (long long)N, (long long)V, (long long)D);
    fvec ids = ids_for(N, V), w = gen(r, (size_t)(V * D), -1, 1, 1, 0), dy = gen(r, (size_t)(N * D), -1, 1, 1, 0);
    fvec dw0 = gen(r, (size_t)(V * D), -1, 1, 0, 0);
    fvec y_ref((size_t)(N * D)), dw_ref = dw0;
    REPRO_OK_OR_DIE(repro_embedding_forward_ref(y_ref.data(), ids.data(), w.data(), N, V, D, &err_));
    REPRO_OK_OR_DIE(repro_embedding_backward_ref(dw_ref.data(), ids.data(), dy.data(), N, V, D, &err_));
    dbuf<float> d_ids(ids), d_w(w), d_dy(dy), d_y((size_t)(N * D)), d_dw(dw0);
    REPRO_OK_OR_DIE(repro_cuda_embedding_forward(d_y.p, d_ids.p, d_w.p, N, V, D, NULL, &err_));
    report("embedding forward", shape, same(d_y.down(), y_ref), "");
    REPRO_OK_OR_DIE(repro_cuda_embedding_backward(d_dw.p, d_ids.p, d_dy.p, N, V, D, NULL, &err_));
    report("embedding backward", shape, same(d_dw.down(), dw_ref), "");
}

static void test_order(void)
{
    fvec ids = {1, 1, 1}, dy = {1e8f, 1.0f, -1e8f}, dw = {0, 0};
    dbuf<float> d_ids(ids), d_dy(dy), d_dw(dw);
    REPRO_OK_OR_DIE(repro_cuda_embedding_backward(d_dw.p, d_ids.p, d_dy.p, 3, 2, 1, NULL, &err_));
    fvec got = d_dw.down();
    report("embedding backward order", "(1e8 + 1) - 1e8", got[1] == 0.0f, got[1] == 0.0f ? "" : "not ascending");
}

static void test_lm(rng &r, int64_t B, int64_t T, int64_t V)
{
    char shape[64];
    snprintf(shape, sizeof shape, "B=%lld T=%lld V=%lld", (long long)B, (long long)T, (long long)V);
    fvec z = gen(r, (size_t)(B * T * V), -8, 8, 1, 0), target = ids_for(B * T, V + 1);
    fvec loss_ref((size_t)B), dz_ref((size_t)(B * T * V));
    float scale = 1.0f / (float)B; /* the kernels divide by T */
    REPRO_OK_OR_DIE(repro_lm_xent_forward_ref(loss_ref.data(), z.data(), target.data(), B, T, V, -1, &err_));
    REPRO_OK_OR_DIE(repro_lm_xent_backward_ref(dz_ref.data(), z.data(), target.data(), B, T, V, -1, scale, &err_));
    dbuf<float> d_z(z), d_t(target), d_loss((size_t)B), d_dz((size_t)(B * T * V));
    REPRO_OK_OR_DIE(repro_cuda_lm_xent_forward(d_loss.p, d_z.p, d_t.p, B, T, V, -1, NULL, &err_));
    report("lm cross-entropy forward", shape, same(d_loss.down(), loss_ref), "");
    REPRO_OK_OR_DIE(repro_cuda_lm_xent_backward(d_dz.p, d_z.p, d_t.p, B, T, V, -1, scale, NULL, &err_));
    report("lm cross-entropy backward", shape, same(d_dz.down(), dz_ref), "");
}

/* ignore_index: target id `ignore` at about one position in three (a whole
 * sample when B > 1: its loss and gradient are +0), outside the vocabulary
 * when ignore >= V (not a token, and not refused) */
static void test_lm_ignore(rng &r, int64_t B, int64_t T, int64_t V, int64_t ignore)
{
    char shape[80];
    snprintf(shape, sizeof shape, "B=%lld T=%lld V=%lld ignore=%lld", (long long)B, (long long)T, (long long)V,
             (long long)ignore);
    fvec z = gen(r, (size_t)(B * T * V), -8, 8, 1, 0), target = ids_for(B * T, V + 1);
    for (int64_t p = 0; p < B * T; p++)
        if (p % 3 == 1 || (B > 1 && p / T == B - 1))
            target[(size_t)p] = (float)ignore;
    fvec loss_ref((size_t)B), dz_ref((size_t)(B * T * V));
    float scale = 0.5f / (float)B;
    REPRO_OK_OR_DIE(repro_lm_xent_forward_ref(loss_ref.data(), z.data(), target.data(), B, T, V, ignore, &err_));
    REPRO_OK_OR_DIE(repro_lm_xent_backward_ref(dz_ref.data(), z.data(), target.data(), B, T, V, ignore, scale, &err_));
    dbuf<float> d_z(z), d_t(target), d_loss((size_t)B), d_dz((size_t)(B * T * V));
    REPRO_OK_OR_DIE(repro_cuda_lm_xent_forward(d_loss.p, d_z.p, d_t.p, B, T, V, ignore, NULL, &err_));
    report("lm cross-entropy forward, ignore_index", shape, same(d_loss.down(), loss_ref), "");
    REPRO_OK_OR_DIE(repro_cuda_lm_xent_backward(d_dz.p, d_z.p, d_t.p, B, T, V, ignore, scale, NULL, &err_));
    report("lm cross-entropy backward, ignore_index", shape, same(d_dz.down(), dz_ref), "");
}

static void test_pad_mask(int64_t N, float pad)
{
    char shape[64];
    snprintf(shape, sizeof shape, "N=%lld pad=%g", (long long)N, (double)pad);
    fvec ids = ids_for(N, 9), y_ref((size_t)N);
    repro_pad_mask_forward_ref(y_ref.data(), ids.data(), N, pad);
    dbuf<float> d_ids(ids), d_y((size_t)N);
    REPRO_OK_OR_DIE(repro_cuda_pad_mask_forward(d_y.p, d_ids.p, N, pad, NULL, &err_));
    report("pad mask forward", shape, same(d_y.down(), y_ref), "");
}

static void test_sinusoidal(rng &r, int64_t B, int64_t T, int64_t D)
{
    char shape[64];
    snprintf(shape, sizeof shape, "B=%lld T=%lld D=%lld", (long long)B, (long long)T, (long long)D);
    size_t n = (size_t)(B * T * D);
    fvec x = gen(r, n, -1, 1, 1, 0), y_ref(n);
    repro_sinusoidal_forward_ref(y_ref.data(), x.data(), B, T, D);
    dbuf<float> d_x(x), d_y(n);
    REPRO_OK_OR_DIE(repro_cuda_sinusoidal_forward(d_y.p, d_x.p, B, T, D, NULL, &err_));
    report("sinusoidal forward", shape, same(d_y.down(), y_ref), "");
}

static void test_patchify(rng &r, int64_t N, int64_t C, int64_t H, int64_t W, int64_t P)
{
    char shape[64];
    snprintf(shape, sizeof shape, "%lldx%lldx%lldx%lld P=%lld", (long long)N, (long long)C, (long long)H, (long long)W,
             (long long)P);
    repro_patchify_shape s = {N, C, H, W, P};
    size_t n = (size_t)(N * C * H * W);
    fvec x = gen(r, n, -1, 1, 1, 1), y_ref(n), dx_ref(n);
    repro_patchify_forward_ref(&s, y_ref.data(), x.data());
    repro_patchify_backward_ref(&s, dx_ref.data(), y_ref.data());
    dbuf<float> d_x(x), d_y(n), d_dx(n);
    REPRO_OK_OR_DIE(repro_cuda_patchify_forward(&s, d_y.p, d_x.p, NULL, &err_));
    report("patchify forward", shape, same(d_y.down(), y_ref), "");
    REPRO_OK_OR_DIE(repro_cuda_patchify_backward(&s, d_dx.p, d_y.p, NULL, &err_));
    report("patchify backward", shape, same(d_dx.down(), dx_ref), "");
}

int main(void)
{
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("SKIPPED: no CUDA device\n");
        return 77;
    }
    rng r = {11};
    static const int64_t emb[][3] = {{1, 1, 1}, {37, 7, 19}, {4096, 113, 64}, {2048, 300, 33}, {64 * 128, 96, 128}};
    for (const auto &c : emb)
        test_embedding(r, c[0], c[1], c[2]);
    test_order();
    static const int64_t lm[][3] = {{1, 1, 2}, {3, 4, 9}, {64, 32, 128}, {17, 65, 113}, {3, 600, 40}};
    for (const auto &c : lm)
        test_lm(r, c[0], c[1], c[2]);
    static const int64_t ign[][4] = {{1, 1, 2, 0}, {3, 4, 9, 2}, {64, 32, 128, 0}, {17, 65, 113, 5000}, {2, 700, 30, 1}};
    for (const auto &c : ign)
        test_lm_ignore(r, c[0], c[1], c[2], c[3]);
    test_pad_mask(1, 0.0f);
    test_pad_mask(4099, 3.0f);
    test_sinusoidal(r, 3, 50, 12);
    test_sinusoidal(r, 2, 4096, 64);
    test_sinusoidal(r, 1, 1 << 20, 2);
    test_patchify(r, 2, 3, 4, 6, 2);
    test_patchify(r, 64, 3, 32, 32, 4);
    test_patchify(r, 8, 1, 28, 28, 7);
    printf("\ntest_cuda_token: %d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
