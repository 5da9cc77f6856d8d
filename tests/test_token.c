/* Token kernels and the text format (ctest-labels: threads):
 *   - embedding forward/backward and the LM cross-entropy: the threaded
 *     kernels (1 and 3 threads) give the references' bits; the LM
 *     cross-entropy on every ISA path this CPU has (its rows on SIMD
 *     lanes) too, over vocabularies that fill no, one or several vectors,
 *     row counts past a lane block and a chunk, ignored targets, and
 *     logits that tie, overflow, underflow the exponential or are NaN; the embedding
 *     backward adds repeated tokens' rows in ascending position order (a
 *     known answer that any other order would change), and two micro-batches
 *     in order give one batch's bits;
 *   - gradient checks in double: LM cross-entropy over embedding rows used
 *     as logits, d loss / d W against central differences;
 *   - lm_cross_entropy with an ignored target id (ignore_index): the
 *     written order over the counted positions, +0 for ignored rows and
 *     all-ignored samples, a known answer and a gradient check; the pad
 *     mask's known answers;
 *   - bad ids are refused naming the position;
 *   - UTF-8 decoding and the vocabulary: known answers, every kind of
 *     ill-formed input named with its byte offset; text files: windows,
 *     vocabulary, empty / short / invalid files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/pool.h"
#include "gradcheck.h"
#include "ops/cpu/embedding.h"
#include "ops/cpu/patchify.h"
#include "ops/token_math.h"
#include "repro/data.h"
#include "repro/isa.h"
#include "train/generate.h"
#include "testutil.h"

static void fill(float *x, int64_t n, uint32_t seed)
{
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) * 0x1p-24f * 2.0f - 1.0f;
    }
}

static repro_cpu cpu_with(int threads)
{
    repro_cpu c = {REPRO_ISA_SCALAR, NULL};
    repro_error err;
    if (threads > 1 && repro_pool_create(threads, &c.pool, &err) != REPRO_OK)
        c.pool = NULL;
    return c;
}

static void test_embedding_twins(void)
{
    enum { N = 37, V = 7, D = 19 };
    float ids[N], w[V * D], dy[N * D], y_ref[N * D], y[N * D], dw_ref[V * D], dw[V * D], dw_split[V * D];
    for (int p = 0; p < N; p++)
        ids[p] = (float)((p * p + 5) % (V - 1)); /* repeats; row V-1 never used */
    fill(w, V * D, 1);
    fill(dy, N * D, 2);
    fill(dw_ref, V * D, 3); /* a gradient already holding earlier micro-batches */
    memcpy(dw, dw_ref, sizeof dw);
    memcpy(dw_split, dw_ref, sizeof dw);
    repro_error err;
    CHECK(repro_embedding_forward_ref(y_ref, ids, w, N, V, D, &err) == REPRO_OK);
    CHECK(repro_embedding_backward_ref(dw_ref, ids, dy, N, V, D, &err) == REPRO_OK);
    for (int p = 0; p < N; p++)
        CHECK_BITS(y_ref + p * D, w + (int)ids[p] * D, D, "embedding row");
    for (int threads = 1; threads <= 3; threads += 2) {
        repro_cpu cpu = cpu_with(threads);
        float dwt[V * D];
        memcpy(dwt, dw, sizeof dw);
        CHECK(repro_embedding_forward(&cpu, y, ids, w, N, V, D, &err) == REPRO_OK);
        CHECK_BITS(y, y_ref, N * D, "embedding forward, threaded");
        CHECK(repro_embedding_backward(&cpu, dwt, ids, dy, N, V, D, &err) == REPRO_OK);
        CHECK_BITS(dwt, dw_ref, V * D, "embedding backward, threaded");
        repro_pool_destroy(cpu.pool);
    }
    /* micro-batches of 20 and 17 positions, in order: one batch's bits */
    repro_cpu cpu = cpu_with(3);
    CHECK(repro_embedding_backward(&cpu, dw_split, ids, dy, 20, V, D, &err) == REPRO_OK);
    CHECK(repro_embedding_backward(&cpu, dw_split, ids + 20, dy + 20 * D, N - 20, V, D, &err) == REPRO_OK);
    CHECK_BITS(dw_split, dw_ref, V * D, "embedding backward, two micro-batches");
    /* a bad id is named */
    ids[11] = 2.5f;
    CHECK(repro_embedding_forward(&cpu, y, ids, w, N, V, D, &err) == REPRO_ERR_ARG);
    CHECK_MSG(strstr(err.message, "position 11 holds 2.5, not a token id in [0, 7)") != NULL, "%s", err.message);
    ids[11] = 7.0f;
    CHECK(repro_embedding_backward(&cpu, dw, ids, dy, N, V, D, &err) == REPRO_ERR_ARG);
    CHECK_MSG(strstr(err.message, "position 11 holds 7") != NULL, "%s", err.message);
    repro_pool_destroy(cpu.pool);
}

/* Token 1 at positions 0, 1, 2 with dy 1e8, 1, -1e8: ascending order gives
 * (1e8 + 1) - 1e8 = 0 (1e8 + 1 rounds to 1e8); any other order gives 1. */
static void test_embedding_order(void)
{
    float ids[3] = {1, 1, 1}, dy[3] = {1e8f, 1.0f, -1e8f}, dw[2] = {0, 0};
    repro_error err;
    repro_cpu cpu = cpu_with(3);
    CHECK(repro_embedding_backward(&cpu, dw, ids, dy, 3, 2, 1, &err) == REPRO_OK);
    CHECK_MSG(dw[1] == 0.0f && dw[0] == 0.0f, "dW[1] = %g, expected 0 (positions ascending)", (double)dw[1]);
    repro_pool_destroy(cpu.pool);
}

/* The LM loss of logits z [B][T][V] in double. */
static double lm_loss_d(const float *zf, const double *zd, const float *target, int B, int T, int V)
{
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        double acc = 0.0;
        for (int t = 0; t < T; t++) {
            int r = (b * T + t) * V;
            double m = -INFINITY, s = 0.0;
            for (int j = 0; j < V; j++)
                m = fmax(m, zd ? zd[r + j] : zf[r + j]);
            for (int j = 0; j < V; j++)
                s += exp((zd ? zd[r + j] : zf[r + j]) - m);
            acc += m + log(s) - (zd ? zd[r + (int)target[b * T + t]] : zf[r + (int)target[b * T + t]]);
        }
        total += acc / T;
    }
    return total / B;
}

static void test_lm_xent(void)
{
    enum { B = 3, T = 4, V = 9 };
    float z[B * T * V], target[B * T], loss_ref[B], loss[B], dz_ref[B * T * V], dz[B * T * V];
    fill(z, B * T * V, 7);
    for (int i = 0; i < B * T; i++)
        target[i] = (float)((i * 5 + 1) % V);
    repro_error err;
    float scale = 1.0f / (float)B; /* the kernel divides by T */
    CHECK(repro_lm_xent_forward_ref(loss_ref, z, target, B, T, V, -1, &err) == REPRO_OK);
    CHECK(repro_lm_xent_backward_ref(dz_ref, z, target, B, T, V, -1, scale, &err) == REPRO_OK);
    for (int threads = 1; threads <= 3; threads += 2) {
        repro_cpu cpu = cpu_with(threads);
        CHECK(repro_lm_xent_forward(&cpu, loss, z, target, B, T, V, -1, &err) == REPRO_OK);
        CHECK_BITS(loss, loss_ref, B, "lm cross-entropy forward, threaded");
        CHECK(repro_lm_xent_backward(&cpu, dz, z, target, B, T, V, -1, scale, &err) == REPRO_OK);
        CHECK_BITS(dz, dz_ref, B * T * V, "lm cross-entropy backward, threaded");
        repro_pool_destroy(cpu.pool);
    }
    /* known answer: equal logits give ln V at every position */
    float flat[B * T * V];
    for (int i = 0; i < B * T * V; i++)
        flat[i] = 0.25f;
    CHECK(repro_lm_xent_forward_ref(loss, flat, target, B, T, V, -1, &err) == REPRO_OK);
    CHECK_MSG(fabs(loss[1] - log(9.0)) < 1e-6, "uniform loss %.9g, expected ln 9", (double)loss[1]);
    /* gradient check of the mean loss with respect to z */
    double num[B * T * V], zd[B * T * V];
    for (int i = 0; i < B * T * V; i++)
        zd[i] = z[i];
    for (int i = 0; i < B * T * V; i++) {
        double h = step_of(zd[i]), keep = zd[i];
        zd[i] = keep + h;
        double up = lm_loss_d(NULL, zd, target, B, T, V);
        zd[i] = keep - h;
        double down = lm_loss_d(NULL, zd, target, B, T, V);
        zd[i] = keep;
        num[i] = (up - down) / (2 * h);
    }
    compare("lm_cross_entropy dz", dz_ref, num, B * T * V);
    target[5] = 9.0f;
    CHECK(repro_lm_xent_forward_ref(loss, z, target, B, T, V, -1, &err) == REPRO_ERR_ARG);
    CHECK_MSG(strstr(err.message, "position 5 holds 9, not a token id in [0, 9)") != NULL, "%s", err.message);
}

/* The LM loss with an ignored target id, in double: the mean over samples
 * of each sample's mean over its counted positions (0 with none). */
static double lm_loss_ignore_d(const double *zd, const float *target, int B, int T, int V, float ignore)
{
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        double acc = 0.0;
        int n = 0;
        for (int t = 0; t < T; t++) {
            if (target[b * T + t] == ignore)
                continue;
            const double *z = zd + (b * T + t) * V;
            double m = -INFINITY, s = 0.0;
            for (int j = 0; j < V; j++)
                m = fmax(m, z[j]);
            for (int j = 0; j < V; j++)
                s += exp(z[j] - m);
            acc += m + log(s) - z[(int)target[b * T + t]];
            n++;
        }
        total += n ? acc / n : 0.0;
    }
    return total / B;
}

/* ignore_index: sample 0 has no ignored target, sample 1 two of six,
 * sample 2 all six, sample 3 the first. Asserts, bit for bit: a sample
 * with none ignored is the unignored kernel's; sample 1's loss is the
 * written order (+0 + l0 + l2 + l3 + l5) / 4 of the single positions'
 * losses, and its counted rows of dz are the single rows' with scale / 4;
 * ignored rows and the all-ignored sample are +0 (loss and dz); threads
 * give the reference's bits; a known answer from double; the gradient of
 * the mean loss against central differences; an ignored id outside the
 * vocabulary is not refused, and is named when not ignored. */
static void test_lm_ignore(void)
{
    enum { B = 4, T = 6, V = 7, PAD = 3 };
    float z[B * T * V], target[B * T], loss_ref[B], loss[B], dz_ref[B * T * V], dz[B * T * V];
    fill(z, B * T * V, 17);
    for (int i = 0; i < B * T; i++) {
        target[i] = (float)((i * 5 + 2) % V);
        if (target[i] == PAD)
            target[i] = 0.0f; /* PAD only where placed below */
    }
    target[1 * T + 1] = target[1 * T + 4] = PAD;
    for (int t = 0; t < T; t++)
        target[2 * T + t] = PAD;
    target[3 * T + 0] = PAD;
    repro_error err;
    const float scale = 0.75f / (float)B; /* head weight 0.75 */
    CHECK(repro_lm_xent_forward_ref(loss_ref, z, target, B, T, V, PAD, &err) == REPRO_OK);
    CHECK(repro_lm_xent_backward_ref(dz_ref, z, target, B, T, V, PAD, scale, &err) == REPRO_OK);
    for (int threads = 1; threads <= 3; threads += 2) {
        repro_cpu cpu = cpu_with(threads);
        CHECK(repro_lm_xent_forward(&cpu, loss, z, target, B, T, V, PAD, &err) == REPRO_OK);
        CHECK_BITS(loss, loss_ref, B, "lm cross-entropy forward with ignore_index, threaded");
        CHECK(repro_lm_xent_backward(&cpu, dz, z, target, B, T, V, PAD, scale, &err) == REPRO_OK);
        CHECK_BITS(dz, dz_ref, B * T * V, "lm cross-entropy backward with ignore_index, threaded");
        repro_pool_destroy(cpu.pool);
    }
    /* sample 0, nothing ignored: the kernel without ignore_index */
    float l0, d0[T * V];
    CHECK(repro_lm_xent_forward_ref(&l0, z, target, 1, T, V, -1, &err) == REPRO_OK);
    CHECK(repro_lm_xent_backward_ref(d0, z, target, 1, T, V, -1, scale, &err) == REPRO_OK);
    CHECK_BITS(&loss_ref[0], &l0, 1, "a sample with no ignored target: the loss without ignore_index");
    CHECK_BITS(dz_ref, d0, T * V, "a sample with no ignored target: dz without ignore_index");
    /* sample 1: the written order over its counted positions 0, 2, 3, 5 */
    float acc = 0.0f;
    static const int counted[4] = {0, 2, 3, 5};
    for (int k = 0; k < 4; k++) {
        int r = 1 * T + counted[k];
        float lt, dt[V];
        CHECK(repro_lm_xent_forward_ref(&lt, z + r * V, target + r, 1, 1, V, -1, &err) == REPRO_OK);
        acc = acc + lt;
        CHECK(repro_lm_xent_backward_ref(dt, z + r * V, target + r, 1, 1, V, -1, scale / 4.0f, &err) == REPRO_OK);
        CHECK_BITS(dz_ref + r * V, dt, V, "a counted row: (softmax - onehot) * scale / n_valid");
    }
    acc = acc / 4.0f;
    CHECK_BITS(&loss_ref[1], &acc, 1, "loss = (+0 + l0 + l2 + l3 + l5) / 4, in that order");
    /* ignored rows and the all-ignored sample: +0 exactly */
    const float zero[T * V] = {0};
    CHECK_BITS(dz_ref + (1 * T + 1) * V, zero, V, "an ignored row's gradient");
    CHECK_BITS(dz_ref + (1 * T + 4) * V, zero, V, "an ignored row's gradient");
    CHECK_BITS(dz_ref + 2 * T * V, zero, T * V, "an all-ignored sample's gradient");
    CHECK_BITS(&loss_ref[2], zero, 1, "an all-ignored sample's loss");
    CHECK_BITS(dz_ref + 3 * T * V, zero, V, "sample 3's ignored first row");
    /* each loss against double */
    double zd[B * T * V], num[B * T * V];
    for (int i = 0; i < B * T * V; i++)
        zd[i] = z[i];
    for (int b = 0; b < B; b++) {
        double want = lm_loss_ignore_d(zd + b * T * V, target + b * T, 1, T, V, PAD);
        CHECK_MSG(fabs(loss_ref[b] - want) <= 1e-6 * (1.0 + fabs(want)), "sample %d: loss %.9g, double %.9g", b,
                  (double)loss_ref[b], want);
    }
    /* the gradient of 0.75 * the batch mean */
    for (int i = 0; i < B * T * V; i++) {
        double h = step_of(zd[i]), keep = zd[i];
        zd[i] = keep + h;
        double up = lm_loss_ignore_d(zd, target, B, T, V, PAD);
        zd[i] = keep - h;
        double down = lm_loss_ignore_d(zd, target, B, T, V, PAD);
        zd[i] = keep;
        num[i] = 0.75 * (up - down) / (2 * h);
    }
    compare("lm_cross_entropy dz with ignore_index", dz_ref, num, B * T * V);
    /* known answer: rows (1, 2) -> target 0 and (0, 0) -> target 1 around an
     * ignored row: (log(1 + e) + ln 2) / 2 = 1.00320443... (as PyTorch's
     * F.cross_entropy(..., ignore_index=9) gives) */
    float kz[3 * 2] = {1.0f, 2.0f, 5.0f, -5.0f, 0.0f, 0.0f}, kt[3] = {0.0f, 9.0f, 1.0f}, kl, kd[3 * 2];
    CHECK(repro_lm_xent_forward_ref(&kl, kz, kt, 1, 3, 2, 9, &err) == REPRO_OK);
    CHECK_MSG(fabs(kl - 1.0032044340) < 2e-7, "known answer: loss %.9g, want 1.003204434", (double)kl);
    CHECK(repro_lm_xent_backward_ref(kd, kz, kt, 1, 3, 2, 9, 1.0f, &err) == REPRO_OK);
    /* d/dz of the mean: (softmax - onehot) / 2 */
    CHECK_MSG(fabs(kd[0] - (1.0 / (1.0 + exp(1.0)) - 1.0) / 2.0) < 1e-7 && kd[2] == 0.0f && kd[3] == 0.0f &&
                  kd[4] == 0.25f && kd[5] == -0.25f,
              "known answer: dz %.9g %.9g %.9g %.9g %.9g %.9g", (double)kd[0], (double)kd[1], (double)kd[2],
              (double)kd[3], (double)kd[4], (double)kd[5]);
    /* 9 is outside the vocabulary of 2: not refused when ignored, named otherwise */
    CHECK(repro_lm_xent_forward_ref(&kl, kz, kt, 1, 3, 2, -1, &err) == REPRO_ERR_ARG);
    CHECK_MSG(strstr(err.message, "lm cross-entropy: position 1 holds 9, not a token id in [0, 2)") != NULL, "%s",
              err.message);
}

/* pad mask: 1 exactly where the id is the pad id (any float elsewhere,
 * even a non-integer or an id past any vocabulary), threaded = reference. */
static void test_pad_mask(void)
{
    enum { N = 41 };
    float ids[N], y_ref[N], y[N];
    for (int p = 0; p < N; p++)
        ids[p] = (float)((p * 7) % 5);
    ids[3] = 2.5f;
    ids[8] = 1e9f;
    ids[9] = -0.0f;
    repro_pad_mask_forward_ref(y_ref, ids, N, 0.0f);
    for (int p = 0; p < N; p++)
        CHECK_MSG(y_ref[p] == (ids[p] == 0.0f ? 1.0f : 0.0f), "pad mask at %d: %g for id %g", p, (double)y_ref[p],
                  (double)ids[p]);
    CHECK(y_ref[9] == 1.0f && y_ref[3] == 0.0f && y_ref[0] == 1.0f && y_ref[1] == 0.0f);
    repro_cpu cpu = cpu_with(3);
    repro_error err;
    CHECK(repro_pad_mask_forward(&cpu, y, ids, N, 0.0f, &err) == REPRO_OK);
    CHECK_BITS(y, y_ref, N, "pad mask, threaded");
    CHECK(repro_pad_mask_forward(&cpu, y, ids, N, 2.0f, &err) == REPRO_OK);
    CHECK(y[5 * 1] == 0.0f && y[6] == 1.0f && y[3] == 0.0f); /* ids[6] = 42 % 5 = 2 */
    repro_pool_destroy(cpu.pool);
}

/* d loss / d W through an embedding whose rows are the logits (D = V). */
static void test_embedding_gradcheck(void)
{
    enum { B = 2, T = 5, V = 6 };
    float ids[B * T], target[B * T], w[V * V], z[B * T * V], dz[B * T * V], dw[V * V] = {0};
    for (int i = 0; i < B * T; i++) {
        ids[i] = (float)((i * 3) % 4); /* repeats; rows 4, 5 unused: their gradient is 0 */
        target[i] = (float)((i * 2 + 1) % V);
    }
    fill(w, V * V, 9);
    repro_error err;
    CHECK(repro_embedding_forward_ref(z, ids, w, B * T, V, V, &err) == REPRO_OK);
    CHECK(repro_lm_xent_backward_ref(dz, z, target, B, T, V, -1, 1.0f / B, &err) == REPRO_OK);
    CHECK(repro_embedding_backward_ref(dw, ids, dz, B * T, V, V, &err) == REPRO_OK);
    double num[V * V], wd[V * V], zd[B * T * V];
    for (int i = 0; i < V * V; i++)
        wd[i] = w[i];
    for (int i = 0; i < V * V; i++) {
        double h = step_of(wd[i]), keep = wd[i], f[2];
        for (int k = 0; k < 2; k++) {
            wd[i] = keep + (k ? -h : h);
            for (int p = 0; p < B * T; p++)
                for (int j = 0; j < V; j++)
                    zd[p * V + j] = wd[(int)ids[p] * V + j];
            f[k] = lm_loss_d(NULL, zd, target, B, T, V);
        }
        wd[i] = keep;
        num[i] = (f[0] - f[1]) / (2 * h);
    }
    compare("embedding dW (through lm loss)", dw, num, V * V);
}

static void check_utf8(const char *bytes, const char *expect)
{
    uint32_t *cp = NULL;
    int64_t n = 0;
    repro_error err;
    repro_status st = repro_utf8_decode("t.txt", (const unsigned char *)bytes, strlen(bytes), &cp, &n, &err);
    CHECK_MSG(st == REPRO_ERR_FORMAT && strstr(err.message, expect), "%s: got '%s'", expect,
              st ? err.message : "success");
    free(cp);
}

static void test_utf8(void)
{
    const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"; /* a é € 😀 */
    uint32_t *cp = NULL;
    int64_t n = 0;
    repro_error err;
    CHECK(repro_utf8_decode("t.txt", (const unsigned char *)s, strlen(s), &cp, &n, &err) == REPRO_OK);
    CHECK(n == 4 && cp[0] == 'a' && cp[1] == 0xe9 && cp[2] == 0x20ac && cp[3] == 0x1f600);
    char out[5];
    CHECK(repro_utf8_encode(0x1f600, out) == 4 && !memcmp(out, "\xf0\x9f\x98\x80", 4));
    CHECK(repro_utf8_encode(0xe9, out) == 2 && !memcmp(out, "\xc3\xa9", 2));
    free(cp);
    check_utf8("ab\xff", "'t.txt': invalid UTF-8 at byte 2: byte 0xf8-0xff never occurs in UTF-8");
    check_utf8("abc\x80", "'t.txt': invalid UTF-8 at byte 3: a continuation byte starts a character");
    check_utf8("x\xc0\xaf", "at byte 1: an overlong encoding");
    check_utf8("xy\xed\xa0\x80", "at byte 2: a UTF-16 surrogate");
    check_utf8("\xf4\x90\x80\x80", "at byte 0: a code point above U+10FFFF");
    check_utf8("ok\xe2\x82", "at byte 2: the text ends inside a character");
    check_utf8("ok\xe2\x28\xa1", "at byte 2: a character is cut short");
    /* vocab.json round trip */
    uint32_t vocab[4] = {'\n', '"', 0xe9, 0x1f600}, *back = NULL;
    int32_t nb = 0, pad = 7;
    char *json = repro_vocab_json(vocab, 4, -1);
    CHECK(json && strstr(json, "\"\\n\", \"\\\"\", \"\xc3\xa9\", \"\xf0\x9f\x98\x80\""));
    CHECK(repro_vocab_parse("vocab.json", json, &back, &nb, &pad, &err) == REPRO_OK && nb == 4 &&
          pad == -1 && !memcmp(back, vocab, sizeof vocab));
    free(json);
    free(back);
    CHECK(repro_vocab_parse("v.json", "{\"tokens\": [\"b\", \"a\"]}", &back, &nb, &pad, &err) == REPRO_ERR_FORMAT);
    CHECK_MSG(strstr(err.message, "'v.json': not a vocabulary") != NULL, "%s", err.message);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

static void test_text_files(void)
{
    char dir[512], a[600], b[600], pat[600];
    snprintf(dir, sizeof dir, "%s/text", REPRO_TEST_TMP);
    mkdir(REPRO_TEST_TMP, 0755);
    mkdir(dir, 0755);
    snprintf(a, sizeof a, "%s/a.txt", dir);
    snprintf(b, sizeof b, "%s/b.txt", dir);
    snprintf(pat, sizeof pat, "%s/*.txt", dir);
    write_file(a, "bca");
    write_file(b, "ab\xc3\xa9");
    repro_dataset ds;
    repro_error err;
    CHECK(repro_text_read(pat, 3, 0, &ds, &err) == REPRO_OK);
    /* "bcaabé": vocabulary a b c é -> ids 1 2 0 0 1 3; windows of 3: n = 3 */
    CHECK(ds.n_vocab == 4 && ds.vocab[0] == 'a' && ds.vocab[3] == 0xe9);
    CHECK(ds.n == 3 && ds.n_tokens == 6 && ds.n_features == 3 && ds.n_targets == 3 && ds.n_classes == 4);
    uint32_t idx[2] = {2, 0};
    float x[6], y[6];
    repro_dataset_gather(&ds, idx, 2, x, NULL, y);
    const float ex[6] = {0, 0, 1, 1, 2, 0}, ey[6] = {0, 1, 3, 2, 0, 0};
    CHECK_BITS(x, ex, 6, "text windows x");
    CHECK_BITS(y, ey, 6, "text windows y");
    repro_dataset_free(&ds);
    CHECK(repro_text_read(pat, 6, 0, &ds, &err) == REPRO_ERR_FORMAT);
    CHECK_MSG(strstr(err.message, "6 characters, fewer than data.context + 1 = 7") != NULL, "%s", err.message);
    write_file(b, "ab\xc3");
    CHECK(repro_text_read(pat, 2, 0, &ds, &err) == REPRO_ERR_FORMAT);
    CHECK_MSG(strstr(err.message, "b.txt': invalid UTF-8 at byte 2: the text ends inside a character") != NULL, "%s",
              err.message);
    write_file(b, "");
    CHECK(repro_text_read(pat, 2, 0, &ds, &err) == REPRO_ERR_FORMAT);
    CHECK_MSG(strstr(err.message, "b.txt': the text file is empty") != NULL, "%s", err.message);
    snprintf(pat, sizeof pat, "%s/*.none", dir);
    CHECK(repro_text_read(pat, 2, 0, &ds, &err) == REPRO_ERR_IO);
    CHECK_MSG(strstr(err.message, "no file matches") != NULL, "%s", err.message);
}

/* text_samples documents on a known text: the split at separator lines, the
 * chunks, the padding with id 0, the vocabulary with its pad, limit, the
 * separator that never occurs, blank-line separators and the errors. */
static void test_text_documents(void)
{
    char dir[512], a[600], b[600], pat[600];
    snprintf(dir, sizeof dir, "%s/text_docs", REPRO_TEST_TMP);
    mkdir(REPRO_TEST_TMP, 0755);
    mkdir(dir, 0755);
    snprintf(a, sizeof a, "%s/a.txt", dir);
    snprintf(b, sizeof b, "%s/b.txt", dir);
    snprintf(pat, sizeof pat, "%s/*.txt", dir);
    /* a.txt: "ab\n", "" (skipped), "x\n", "hello\n" (no separator after it);
       b.txt: "" and "\n" (one character: no target, skipped), "yz" */
    write_file(a, "ab\n%\n%\nx\n%\nhello\n");
    write_file(b, "%\n\n%\nyz");
    repro_dataset ds;
    repro_error err;
    CHECK(repro_text_read_documents(pat, "%", 4, 0, &ds, &err) == REPRO_OK);
    /* the vocabulary: the pad (U+0000) first, then \n a b e h l o x y z ('%' only in separators) */
    const uint32_t ev[11] = {0, '\n', 'a', 'b', 'e', 'h', 'l', 'o', 'x', 'y', 'z'};
    CHECK(ds.padded && ds.n_vocab == 11 && !memcmp(ds.vocab, ev, sizeof ev));
    CHECK(ds.n == 5 && ds.n_tokens == 25 && ds.n_features == 4 && ds.n_targets == 4 && ds.n_classes == 11);
    /* rows of context + 1: ab\n.. | x\n... | hello | o\n... (chunk 1 of hello\n: [4, 6)) | yz... */
    const int32_t rows[25] = {2, 3, 1, 0, 0, 8, 1, 0, 0, 0, 5, 4, 6, 6, 7, 7, 1, 0, 0, 0, 9, 10, 0, 0, 0};
    CHECK(!memcmp(ds.tokens, rows, sizeof rows));
    uint32_t idx[5] = {3, 0, 2, 4, 1};
    float x[20], y[20];
    repro_dataset_gather(&ds, idx, 5, x, NULL, y);
    const float ex[20] = {7, 1, 0, 0, 2, 3, 1, 0, 5, 4, 6, 6, 9, 10, 0, 0, 8, 1, 0, 0};
    const float ey[20] = {1, 0, 0, 0, 3, 1, 0, 0, 4, 6, 6, 7, 10, 0, 0, 0, 1, 0, 0, 0};
    CHECK_BITS(x, ex, 20, "text documents x");
    CHECK_BITS(y, ey, 20, "text documents y");
    /* vocab.json: "pad_id": 0 and a null token 0; read back as written */
    char *json = repro_vocab_json(ds.vocab, ds.n_vocab, REPRO_TEXT_PAD_ID);
    CHECK_MSG(json && strstr(json, "\"size\":\t11,\n\t\"pad_id\":\t0,\n\t\"tokens\":\t[null, \"\\n\", \"a\", \"b\""),
              "%s", json);
    uint32_t *back = NULL;
    int32_t nb = 0, pad = -1;
    CHECK(repro_vocab_parse("vocab.json", json, &back, &nb, &pad, &err) == REPRO_OK && nb == 11 && pad == 0 &&
          !memcmp(back, ev, sizeof ev));
    free(json);
    free(back);
    CHECK(repro_vocab_parse("v.json", "{\"pad_id\": 1, \"tokens\": [null, \"a\"]}", &back, &nb, &pad, &err) ==
          REPRO_ERR_FORMAT);
    CHECK(repro_vocab_parse("v.json", "{\"pad_id\": 0, \"tokens\": [\"a\", \"b\"]}", &back, &nb, &pad, &err) ==
          REPRO_ERR_FORMAT);
    CHECK(repro_vocab_parse("v.json", "{\"pad_id\": 0, \"tokens\": [null]}", &back, &nb, &pad, &err) ==
          REPRO_ERR_FORMAT);
    CHECK(repro_vocab_parse("v.json", "{\"tokens\": [null, \"a\"]}", &back, &nb, &pad, &err) == REPRO_ERR_FORMAT);
    CHECK_MSG(strstr(err.message, "'v.json': not a vocabulary") != NULL, "%s", err.message);
    repro_dataset_free(&ds);
    /* limit_train keeps the first rows */
    CHECK(repro_text_read_documents(pat, "%", 4, 2, &ds, &err) == REPRO_OK && ds.n == 2 && ds.n_vocab == 11);
    repro_dataset_free(&ds);
    /* a separator that never occurs: each file one document, '%' a character.
       a.txt: 17 characters -> ceil(16 / 4) = 4 chunks; b.txt: 7 -> 2 */
    CHECK(repro_text_read_documents(pat, "#", 4, 0, &ds, &err) == REPRO_OK);
    CHECK(ds.n == 6 && ds.n_vocab == 12 && ds.vocab[2] == '%');
    repro_dataset_free(&ds);
    /* a chunk that fills its row exactly: no padding in the data, the pad still id 0 */
    write_file(a, "abcde");
    remove(b);
    CHECK(repro_text_read_documents(pat, "%", 4, 0, &ds, &err) == REPRO_OK);
    const int32_t full[5] = {1, 2, 3, 4, 5};
    CHECK(ds.n == 1 && ds.n_vocab == 6 && ds.vocab[0] == 0 && !memcmp(ds.tokens, full, sizeof full));
    repro_dataset_free(&ds);
    /* the default separator: blank lines (several in a row make empty documents) */
    write_file(a, "ab\n\n\ncd\ne\n\n");
    CHECK(repro_text_read_documents(pat, "", 3, 0, &ds, &err) == REPRO_OK);
    const int32_t blank[8] = {2, 3, 1, 0, 4, 5, 1, 6}; /* "ab\n" + pad, "cd\ne" (chunk 0 of "cd\ne\n"), ... */
    CHECK(ds.n == 3 && !memcmp(ds.tokens, blank, sizeof blank));
    CHECK(ds.tokens[8] == 6 && ds.tokens[9] == 1 && ds.tokens[10] == 0 && ds.tokens[11] == 0);
    repro_dataset_free(&ds);
    /* no document of 2 or more characters: an error naming the files */
    write_file(a, "%\n%\nq"); /* "", "", "q" */
    CHECK(repro_text_read_documents(pat, "%", 4, 0, &ds, &err) == REPRO_ERR_FORMAT);
    char want[800];
    snprintf(want, sizeof want,
             "'%s': no document of 2 or more characters (documents are split at lines holding only '%%')", pat);
    CHECK_MSG(!strcmp(err.message, want), "%s", err.message);
    write_file(a, "\n\n\n");
    CHECK(repro_text_read_documents(pat, "", 4, 0, &ds, &err) == REPRO_ERR_FORMAT);
    snprintf(want, sizeof want, "'%s': no document of 2 or more characters (documents are split at blank lines)",
             pat);
    CHECK_MSG(!strcmp(err.message, want), "%s", err.message);
    write_file(a, "");
    CHECK(repro_text_read_documents(pat, "%", 4, 0, &ds, &err) == REPRO_ERR_FORMAT);
    CHECK_MSG(strstr(err.message, "a.txt': the text file is empty") != NULL, "%s", err.message);
    /* the pad is never drawn, even as the largest logit, greedy or sampled */
    const float z[4] = {9.0f, 1.0f, 3.0f, 2.0f};
    CHECK(repro_generate_next(z, 4, -1, 0.0f, 0, 1, 0) == 0);
    CHECK(repro_generate_next(z, 4, REPRO_TEXT_PAD_ID, 0.0f, 0, 1, 0) == 2);
    for (uint64_t p = 0; p < 64; p++) {
        int32_t t = repro_generate_next(z, 4, REPRO_TEXT_PAD_ID, 2.0f, 0, 1, p);
        CHECK_MSG(t >= 1 && t < 4, "position %llu drew %d", (unsigned long long)p, (int)t);
    }
}

/* Known answers: x[n][c][h][w] = 1000n + 100c + 10h + w, so every value names its place. */
static void test_patchify(void)
{
    repro_patchify_shape sh = {2, 3, 4, 6, 2};
    enum { NX = 2 * 3 * 4 * 6 };
    float x[NX], y[NX], y1[NX], back[NX];
    for (int n = 0; n < 2; n++)
        for (int c = 0; c < 3; c++)
            for (int h = 0; h < 4; h++)
                for (int w = 0; w < 6; w++)
                    x[((n * 3 + c) * 4 + h) * 6 + w] = (float)(1000 * n + 100 * c + 10 * h + w);
    repro_patchify_forward_ref(&sh, y, x);
    /* 6 patches of 12 values; patch 4 = (ph 1, pw 1), value 7 = (c 1, i 1, j 1) -> x[n][1][3][3] */
    CHECK(y[(1 * 6 + 4) * 12 + 7] == 1133.0f && y[0] == 0.0f && y[11] == 211.0f && y[1 * 12 + 0] == 2.0f);
    repro_error err;
    repro_cpu cpu = cpu_with(3);
    CHECK(repro_patchify_forward(&cpu, &sh, y1, x, &err) == REPRO_OK);
    CHECK_BITS(y1, y, NX, "patchify forward, threaded");
    CHECK(repro_patchify_backward(&cpu, &sh, back, y, &err) == REPRO_OK);
    CHECK_BITS(back, x, NX, "patchify backward is the inverse");
    sh.P = 4;
    CHECK(repro_patchify_forward(&cpu, &sh, y1, x, &err) == REPRO_ERR_ARG);
    CHECK_MSG(strstr(err.message, "patch 4 does not tile a 4x6 image") != NULL, "%s", err.message);
    repro_pool_destroy(cpu.pool);
}

/* The sinusoidal encoding against its formula in double (the float steps
 * round the exponent (absolute 9.21 * 2^-24 per rounding, which exp turns into
 * a relative error of w) and the angle: |error| <= 2^-19 (t w) + 2^-23), and
 * the threaded kernel against the reference. */
static void test_sinusoidal(void)
{
    enum { B = 2, T = 50, D = 12 };
    double worst = 0;
    for (int64_t t = 0; t < 4096; t += 7)
        for (int64_t d = 0; d < 64; d++) {
            double w = pow(10000.0, -(double)(d - d % 2) / 64.0), a = (double)t * w;
            double want = d % 2 ? cos(a) : sin(a), got = repro_sinusoidal_pe(t, d, 64);
            double e = fabs(got - want) / (a * 0x1p-19 + 0x1p-23);
            worst = e > worst ? e : worst;
        }
    CHECK_MSG(worst <= 1.0, "sinusoidal encoding off by %g of its bound", worst);
    CHECK(repro_sinusoidal_pe(0, 0, 8) == 0.0f && repro_sinusoidal_pe(0, 1, 8) == 1.0f);
    float x[B * T * D], y_ref[B * T * D], y[B * T * D];
    fill(x, B * T * D, 4);
    repro_sinusoidal_forward_ref(y_ref, x, B, T, D);
    repro_cpu cpu = cpu_with(3);
    repro_error err;
    CHECK(repro_sinusoidal_forward(&cpu, y, x, B, T, D, &err) == REPRO_OK);
    CHECK_BITS(y, y_ref, B * T * D, "sinusoidal forward, threaded");
    CHECK(y_ref[T * D + 3 * D + 4] == x[T * D + 3 * D + 4] + repro_sinusoidal_pe(3, 4, D)); /* sample 1, t 3 */
    repro_pool_destroy(cpu.pool);
}

/* Logits that exercise every branch of the row statistics and dz: ties
 * (the first maximum wins, +0 against -0 too), values whose exponential
 * is 0, inf or NaN (the lanes' scalar fallback), and ordinary ones. */
static void awkward_logits(float *z, int64_t n, uint32_t seed)
{
    fill(z, n, seed);
    for (int64_t i = 0; i < n; i++) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed;
        switch (h % 61) {
        case 0: z[i] = 0.0f; break;
        case 1: z[i] = -0.0f; break;
        case 2: z[i] = 120.0f; break;          /* exp(z - m) under -104 for the others */
        case 3: z[i] = -150.0f; break;
        case 4: z[i] = 0.5f; break;           /* ties with each other */
        case 5: z[i] = (h >> 8) % 5 ? 0.5f : 30.0f;
                break;
        default: z[i] = z[i] * 8.0f; break;   /* exponentials across [e^-16, 1] */
        }
    }
}

static void test_lm_xent_isa(void)
{
    static const struct { int B, T, V; } shapes[] = {
        {2, 3, 5},    /* V under one vector of either width */
        {3, 5, 8},    /* one AVX2 vector, 15 rows: a partial lane block */
        {2, 9, 16},   /* one AVX-512 vector */
        {1, 70, 37},  /* a ragged tail of j, rows past one chunk (64) */
        {3, 33, 128}, /* the char LM's vocabulary */
    };
    static const repro_isa isas[] = {REPRO_ISA_SCALAR, REPRO_ISA_AVX2, REPRO_ISA_AVX512};
    int ran = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int B = shapes[si].B, T = shapes[si].T, V = shapes[si].V;
        const int64_t n = (int64_t)B * T * V;
        float *z = malloc(sizeof(float) * (size_t)n), *target = malloc(sizeof(float) * (size_t)(B * T));
        float *dz_ref = malloc(sizeof(float) * (size_t)n), *dz = malloc(sizeof(float) * (size_t)n);
        float loss_ref[3], loss[3];
        awkward_logits(z, n, (uint32_t)si + 11);
        for (int r = 0; r < B * T; r++) /* every 7th target ignored (id V + 2) */
            target[r] = (float)(r % 7 == 3 ? V + 2 : (r * 5 + 1) % V);
        if (si == 4) /* one row of NaN logits: NaN loss and gradients on every path alike */
            for (int k = 0; k < V; k++)
                z[(int64_t)40 * V + k] = k == 7 ? NAN : z[(int64_t)40 * V + k];
        repro_error err;
        const float scale = 0.37f;
        CHECK(repro_lm_xent_forward_ref(loss_ref, z, target, B, T, V, V + 2, &err) == REPRO_OK);
        CHECK(repro_lm_xent_backward_ref(dz_ref, z, target, B, T, V, V + 2, scale, &err) == REPRO_OK);
        for (size_t k = 0; k < sizeof isas / sizeof isas[0]; k++) {
            if (!repro_isa_supported(isas[k]))
                continue;
            for (int threads = 1; threads <= 3; threads += 2) {
                repro_cpu cpu = cpu_with(threads);
                cpu.isa = isas[k];
                memset(dz, 0xff, sizeof(float) * (size_t)n);
                CHECK(repro_lm_xent_forward(&cpu, loss, z, target, B, T, V, V + 2, &err) == REPRO_OK);
                CHECK(repro_lm_xent_backward(&cpu, dz, z, target, B, T, V, V + 2, scale, &err) == REPRO_OK);
                char what[96];
                snprintf(what, sizeof what, "lm cross-entropy %s, %d threads, B=%d T=%d V=%d forward",
                         repro_isa_name(isas[k]), threads, B, T, V);
                /* NaN rows: which NaN comes out follows the compiler's operand
                 * order (x86 keeps the first operand's), promised by neither path */
                CHECK(test_bits_equal_nan(loss, loss_ref, B, what));
                snprintf(what, sizeof what, "lm cross-entropy %s, %d threads, B=%d T=%d V=%d backward",
                         repro_isa_name(isas[k]), threads, B, T, V);
                CHECK(test_bits_equal_nan(dz, dz_ref, (size_t)n, what));
                repro_pool_destroy(cpu.pool);
                ran++;
            }
        }
        free(z);
        free(target);
        free(dz_ref);
        free(dz);
    }
    CHECK(ran >= 10); /* the scalar path at least, at 1 and 3 threads, every shape */
}

int main(void)
{
    test_lm_xent_isa();
    test_sinusoidal();
    test_patchify();
    test_embedding_twins();
    test_embedding_order();
    test_lm_xent();
    test_lm_ignore();
    test_pad_mask();
    test_embedding_gradcheck();
    test_utf8();
    test_text_files();
    test_text_documents();
    return test_finish("test_token");
}
