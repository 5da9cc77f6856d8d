// Probe the tensor core's bf16 -> fp32 arithmetic and rank candidate models.
//
//   nvcc -O2 -std=c++17 -I src -I include -Xcompiler -fopenmp tools/tc_probe.cu -o tc_probe
//   ./tc_probe [tiles_per_category]
//
// Each test is one mma.sync.m16n8k16 (A 16x16, B 16x8, C 16x8 -> 128 dot
// products of 16 terms), or a chain of four for k = 64, on inputs built to
// expose one feature of the arithmetic: the block size, the alignment bits
// kept, the final rounding, subnormals, cancellation, carries. Every
// candidate of src/ops/tc_model.h is evaluated on the host; the table says
// how many of each category's results each candidate gets wrong. The model
// the GPU follows is the one with no mismatch anywhere (docs/bf16.md).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <cuda_runtime.h>

extern "C" {
#include "ops/tc_model.h"
}

#define CHECK(x)                                                                      \
    do {                                                                              \
        cudaError_t e_ = (x);                                                         \
        if (e_ != cudaSuccess) {                                                      \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

// A[t] 16x16 row-major, B[t] 16x8 stored as Bt 8x16 (n-major: Bt[n][k]),
// C[t] 16x8 row-major; chains of `nk` k-blocks: A is 16 x 16nk, Bt 8 x 16nk.
__global__ void mma_tiles(const uint16_t *A, const uint16_t *Bt, const float *C, float *D, int nk) {
    int t = blockIdx.x, lane = threadIdx.x, g = lane >> 2, q = lane & 3;
    int K = 16 * nk;
    const uint16_t *a = A + (size_t)t * 16 * K, *bt = Bt + (size_t)t * 8 * K;
    const float *c = C + (size_t)t * 128;
    float d0 = c[g * 8 + 2 * q], d1 = c[g * 8 + 2 * q + 1];
    float d2 = c[(g + 8) * 8 + 2 * q], d3 = c[(g + 8) * 8 + 2 * q + 1];
    for (int kb = 0; kb < nk; kb++) {
        int k0 = kb * 16;
        auto pack = [](uint16_t lo, uint16_t hi) { return (uint32_t)lo | ((uint32_t)hi << 16); };
        uint32_t a0 = pack(a[g * K + k0 + 2 * q], a[g * K + k0 + 2 * q + 1]);
        uint32_t a1 = pack(a[(g + 8) * K + k0 + 2 * q], a[(g + 8) * K + k0 + 2 * q + 1]);
        uint32_t a2 = pack(a[g * K + k0 + 2 * q + 8], a[g * K + k0 + 2 * q + 9]);
        uint32_t a3 = pack(a[(g + 8) * K + k0 + 2 * q + 8], a[(g + 8) * K + k0 + 2 * q + 9]);
        uint32_t b0 = pack(bt[g * K + k0 + 2 * q], bt[g * K + k0 + 2 * q + 1]);
        uint32_t b1 = pack(bt[g * K + k0 + 2 * q + 8], bt[g * K + k0 + 2 * q + 9]);
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
            : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
    }
    float *d = D + (size_t)t * 128;
    d[g * 8 + 2 * q] = d0;
    d[g * 8 + 2 * q + 1] = d1;
    d[(g + 8) * 8 + 2 * q] = d2;
    d[(g + 8) * 8 + 2 * q + 1] = d3;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd() {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}
static int rnd_in(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }
// A bf16 with unbiased exponent e (clamped to the normal range) and random fraction.
static uint16_t bf(int e, int negative) {
    int E = e + 127;
    if (E < 1) E = 1;
    if (E > 254) E = 254;
    return (uint16_t)((negative ? 0x8000 : 0) | (E << 7) | (rnd() & 0x7f));
}
static float f32(int e, int negative) {
    int E = e + 127;
    if (E < 1) E = 1;
    if (E > 254) E = 254;
    return repro_tc_u2f((negative ? 0x80000000u : 0) | ((uint32_t)E << 23) | (rnd() & 0x7fffff));
}

enum { CAT_INT, CAT_UNIFORM, CAT_SPREAD8, CAT_SPREAD30, CAT_CANCEL, CAT_C_BIG, CAT_C_SMALL, CAT_SUBNORMAL,
       CAT_CARRY, CAT_ZEROS, CAT_ONE_BIG, CAT_SPECIAL, CAT_HALVES, CAT_TINY, CAT_CHAIN, NCAT };
static const char *cat_name[NCAT] = {"integers", "uniform", "spread8", "spread30", "cancel", "c_big",
                                     "c_small", "subnormal", "carry", "zeros", "one_big", "special",
                                     "halves", "tiny", "chain64"};

// Fills one dot product's 16*nk pairs and c for category `cat`.
static void gen_dot(int cat, uint16_t *a, uint16_t *b, int K, float *c) {
    int s = rnd() & 1;
    for (int k = 0; k < K; k++) {
        int sa = rnd() & 1, sb = rnd() & 1;
        switch (cat) {
        case CAT_INT:
            a[k] = repro_bf16_from_float((float)rnd_in(-8, 8));
            b[k] = repro_bf16_from_float((float)rnd_in(-8, 8));
            break;
        case CAT_UNIFORM: a[k] = bf(0, sa), b[k] = bf(0, sb); break;
        case CAT_SPREAD8: case CAT_CHAIN: a[k] = bf(rnd_in(-4, 4), sa), b[k] = bf(rnd_in(-4, 4), sb); break;
        case CAT_SPREAD30: a[k] = bf(rnd_in(-15, 15), sa), b[k] = bf(rnd_in(-15, 15), sb); break;
        case CAT_CANCEL:
            if (k & 1) a[k] = a[k - 1] ^ 0x8000 ^ (rnd() % 3 == 0 ? 1 : 0), b[k] = b[k - 1];
            else a[k] = bf(rnd_in(-3, 3), sa), b[k] = bf(rnd_in(-3, 3), sb);
            break;
        case CAT_C_BIG: case CAT_C_SMALL: a[k] = bf(rnd_in(-2, 2), sa), b[k] = bf(rnd_in(-2, 2), sb); break;
        case CAT_SUBNORMAL: {
            int e = rnd_in(-70, -55);
            a[k] = rnd() % 4 == 0 ? (uint16_t)((sa << 15) | (rnd() & 0x7f)) : bf(e, sa);
            b[k] = bf(rnd_in(-70, -55), sb);
            break;
        }
        case CAT_CARRY: a[k] = (uint16_t)((127 << 7) | 0x7f), b[k] = (uint16_t)((rnd_in(120, 127) << 7) | 0x7f); break;
        case CAT_ZEROS:
            a[k] = rnd() % 2 ? (uint16_t)(sa << 15) : bf(rnd_in(-5, 5), sa);
            b[k] = rnd() % 2 ? (uint16_t)(sb << 15) : bf(rnd_in(-5, 5), sb);
            break;
        case CAT_ONE_BIG: a[k] = bf(k == 0 ? 0 : -rnd_in(1, 40), sa), b[k] = bf(0, sb); break;
        case CAT_SPECIAL: {
            static const uint16_t sp[] = {0x7f80, 0xff80, 0x7fc0, 0x0000, 0x8000, 0x3f80, 0x0001, 0x7f7f};
            a[k] = rnd() % 8 == 0 ? sp[rnd() % 8] : bf(rnd_in(-3, 3), sa);
            b[k] = rnd() % 8 == 0 ? sp[rnd() % 8] : bf(rnd_in(-3, 3), sb);
            break;
        }
        case CAT_TINY: a[k] = bf(rnd_in(-80, -66), sa), b[k] = bf(rnd_in(-80, -66), sb); break;
        case CAT_HALVES: // the block boundary: big terms in one half of the block
            a[k] = bf((k % 16) < 8 ? rnd_in(8, 12) : rnd_in(-12, -8), sa), b[k] = bf(0, sb);
            break;
        }
    }
    switch (cat) {
    case CAT_INT: *c = (float)rnd_in(-100, 100); break;
    case CAT_C_BIG: *c = f32(rnd_in(10, 30), s); break;
    case CAT_C_SMALL: *c = f32(rnd_in(-40, -10), s); break;
    case CAT_SUBNORMAL: *c = rnd() % 2 ? repro_tc_u2f((s << 31) | (rnd() & 0x7fffff)) : f32(rnd_in(-140, -110), s); break;
    case CAT_CARRY: *c = f32(rnd_in(0, 8), 0); break;
    case CAT_ZEROS: *c = rnd() % 2 ? (s ? -0.0f : 0.0f) : f32(rnd_in(-5, 5), s); break;
    case CAT_TINY: *c = rnd() % 2 ? 0.0f : repro_tc_u2f((s << 31) | (rnd() & 0xffff)); break;
    case CAT_SPECIAL: *c = rnd() % 16 == 0 ? repro_tc_u2f(0x7f800000u | (s << 31)) : f32(rnd_in(-3, 3), s); break;
    default: *c = rnd() % 4 == 0 ? 0.0f : f32(rnd_in(-3, 3), s); break;
    }
}

// Prints the GPU's result for dot products with products beyond fp32's
// range, the one region the model leaves open (docs/bf16.md).
static void overflow_table() {
    const int T = 24;
    std::vector<uint16_t> A(16 * 16 * T, 0), Bt(8 * 16 * T, 0);
    std::vector<float> C(128 * T, 0.0f), D(128 * T);
    // tile t, row 0, col 0: a = {big, x}, b = {2^j, 1}, c
    const uint16_t big[] = {0x7f00, 0x7f7f, 0x7e00, 0x7f40};
    const int js[] = {0, 1, 2, 3, 8, 30};
    const uint16_t xs[] = {0x0000, 0xff00};
    for (int t = 0; t < T; t++) {
        A[(size_t)t * 256 + 0] = big[t % 4];
        A[(size_t)t * 256 + 1] = xs[(t / 12) % 2];
        Bt[(size_t)t * 128 + 0] = (uint16_t)((127 + js[(t / 4) % 6 / 2 * 2 + (t % 2)]) << 7);
        Bt[(size_t)t * 128 + 1] = 0x3f80;
    }
    uint16_t *dA, *dB;
    float *dC, *dD;
    CHECK(cudaMalloc(&dA, A.size() * 2));
    CHECK(cudaMalloc(&dB, Bt.size() * 2));
    CHECK(cudaMalloc(&dC, C.size() * 4));
    CHECK(cudaMalloc(&dD, D.size() * 4));
    CHECK(cudaMemcpy(dA, A.data(), A.size() * 2, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(dB, Bt.data(), Bt.size() * 2, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(dC, C.data(), C.size() * 4, cudaMemcpyHostToDevice));
    mma_tiles<<<T, 32>>>(dA, dB, dC, dD, 1);
    CHECK(cudaMemcpy(D.data(), dD, D.size() * 4, cudaMemcpyDeviceToHost));
    const repro_tc_params h = REPRO_TC_HOPPER_BF16;
    for (int t = 0; t < T; t++) {
        const uint16_t *a = &A[(size_t)t * 256], *b = &Bt[(size_t)t * 128];
        printf("overflow: %04x*%04x + %04x*%04x: gpu %08x (%g) model %08x\n", a[0], b[0], a[1], b[1],
               repro_tc_f2u(D[(size_t)t * 128]), D[(size_t)t * 128],
               repro_tc_f2u(repro_tc_dot(a, 1, b, 1, 16, 0.0f, h)));
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "overflow")) {
        overflow_table();
        return 0;
    }
    int tiles = argc > 1 ? atoi(argv[1]) : 1000;
    // tc_probe TILES kat FILE N: also write N known answers per category to FILE
    FILE *kat_out = argc > 3 && !strcmp(argv[2], "kat") ? fopen(argv[3], "w") : NULL;
    int kat_per_cat = argc > 4 ? atoi(argv[4]) : 0;
    if (kat_out)
        fprintf(kat_out, "# H200 tensor core, mma.sync.m16n8k16 bf16 -> fp32 (tools/tc_probe.cu)\n"
                         "# category c(hex fp32) then a*b pairs (hex bf16 a, hex bf16 b) k ascending, then the GPU's d\n");
    std::vector<repro_tc_params> cand;
    for (int block : {4, 8, 16})
        for (int eb = 0; eb <= 3; eb++)
            for (int rn = 0; rn <= 1; rn++)
                for (int me : {-133, -1000})
                    for (int fl = 0; fl <= 1; fl++) cand.push_back({block, eb, rn, me, fl});
    size_t nc = cand.size();
    std::vector<long> miss(nc * NCAT, 0);
    long total_dots = 0;
    int shown[NCAT] = {0};
    for (int cat = 0; cat < NCAT; cat++) {
        int nk = cat == CAT_CHAIN ? 4 : 1, K = 16 * nk;
        std::vector<uint16_t> A((size_t)tiles * 16 * K), Bt((size_t)tiles * 8 * K);
        std::vector<float> C((size_t)tiles * 128), D((size_t)tiles * 128);
        // One dot product per (m, n): its row of A and column of B are written
        // together, so each of the 128 dots is a fresh draw of the category.
        std::vector<uint16_t> ra(K), rb(K);
        for (int t = 0; t < tiles; t++)
            for (int m = 0; m < 16; m++)
                for (int n = 0; n < 8; n++) {
                    float c;
                    gen_dot(cat, ra.data(), rb.data(), K, &c);
                    // A's row m is shared by the 8 dots of that row; use column n's
                    // draw for B and, for n == 0, A's row (the rest reuse it).
                    if (n == 0) memcpy(&A[((size_t)t * 16 + m) * K], ra.data(), K * 2);
                    if (m == 0) memcpy(&Bt[((size_t)t * 8 + n) * K], rb.data(), K * 2);
                    C[(size_t)t * 128 + m * 8 + n] = c;
                }
        uint16_t *dA, *dB;
        float *dC, *dD;
        CHECK(cudaMalloc(&dA, A.size() * 2));
        CHECK(cudaMalloc(&dB, Bt.size() * 2));
        CHECK(cudaMalloc(&dC, C.size() * 4));
        CHECK(cudaMalloc(&dD, D.size() * 4));
        CHECK(cudaMemcpy(dA, A.data(), A.size() * 2, cudaMemcpyHostToDevice));
        CHECK(cudaMemcpy(dB, Bt.data(), Bt.size() * 2, cudaMemcpyHostToDevice));
        CHECK(cudaMemcpy(dC, C.data(), C.size() * 4, cudaMemcpyHostToDevice));
        mma_tiles<<<tiles, 32>>>(dA, dB, dC, dD, nk);
        CHECK(cudaGetLastError());
        CHECK(cudaMemcpy(D.data(), dD, D.size() * 4, cudaMemcpyDeviceToHost));
        cudaFree(dA), cudaFree(dB), cudaFree(dC), cudaFree(dD);
        total_dots += (long)tiles * 128;
        if (kat_out) // known-answer lines for tests/data/tc_bf16_kat.txt: the first dots of each category
            for (int i = 0; i < kat_per_cat && i < tiles * 128; i++) {
                int t = i / 128, m = (i % 128) / 8, n = i % 8;
                fprintf(kat_out, "%s %08x", cat_name[cat], repro_tc_f2u(C[(size_t)t * 128 + m * 8 + n]));
                for (int k = 0; k < K; k++)
                    fprintf(kat_out, " %04x%04x", A[((size_t)t * 16 + m) * K + k], Bt[((size_t)t * 8 + n) * K + k]);
                fprintf(kat_out, " %08x\n", repro_tc_f2u(D[(size_t)t * 128 + m * 8 + n]));
            }
#pragma omp parallel for schedule(dynamic)
        for (long ci = 0; ci < (long)nc; ci++) {
            long bad = 0;
            for (int t = 0; t < tiles; t++)
                for (int m = 0; m < 16; m++)
                    for (int n = 0; n < 8; n++) {
                        const uint16_t *a = &A[((size_t)t * 16 + m) * K], *b = &Bt[((size_t)t * 8 + n) * K];
                        float r = repro_tc_dot(a, 1, b, 1, K, C[(size_t)t * 128 + m * 8 + n], cand[ci]);
                        float g = D[(size_t)t * 128 + m * 8 + n];
                        uint32_t ru = repro_tc_f2u(r), gu = repro_tc_f2u(g);
                        int both_nan = (ru & 0x7fffffff) > 0x7f800000 && (gu & 0x7fffffff) > 0x7f800000;
                        if (ru != gu && !both_nan) {
                            bad++;
                            const repro_tc_params h = REPRO_TC_HOPPER_BF16;
                            if (cand[ci].block == h.block && cand[ci].extra_bits == h.extra_bits &&
                                cand[ci].round_nearest == h.round_nearest && cand[ci].min_exp == h.min_exp &&
                                cand[ci].floor_align == h.floor_align) {
#pragma omp critical
                                if (shown[cat] < 4) {
                                    shown[cat]++;
                                    printf("mismatch %s: gpu %08x model %08x c %08x a/b:", cat_name[cat], gu, ru,
                                           repro_tc_f2u(C[(size_t)t * 128 + m * 8 + n]));
                                    for (int k = 0; k < K && k < 16; k++) printf(" %04x*%04x", a[k], b[k]);
                                    printf("\n");
                                }
                            }
                        }
                    }
            miss[ci * NCAT + cat] = bad;
        }
    }
    printf("%ld dot products per candidate; mismatches per category:\n%-24s", total_dots, "block/extra/rn/minexp/fl");
    for (int cat = 0; cat < NCAT; cat++) printf(" %9s", cat_name[cat]);
    printf(" %9s\n", "total");
    for (size_t ci = 0; ci < nc; ci++) {
        long sum = 0;
        printf("%2d/%d/%d/%5d/%-10d", cand[ci].block, cand[ci].extra_bits, cand[ci].round_nearest, cand[ci].min_exp,
               cand[ci].floor_align);
        for (int cat = 0; cat < NCAT; cat++) printf(" %9ld", miss[ci * NCAT + cat]), sum += miss[ci * NCAT + cat];
        printf(" %9ld%s\n", sum, sum == 0 ? "  <== matches every result" : "");
    }
    if (kat_out)
        fclose(kat_out);
    return 0;
}
