/* What the CUDA tests share (tests/cuda/test_cuda_*.cu): a fixed LCG for
 * inputs with special values mixed in, device buffers, and one PASS/FAIL
 * line per kernel and shape. Each test includes it once. */
#ifndef REPRO_TESTS_CUDA_TEST_CUH
#define REPRO_TESTS_CUDA_TEST_CUH

#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "repro/status.h"

typedef std::vector<float> fvec;

static int g_fail = 0, g_pass = 0;

#define CUDA_OK(call)                                                                                     \
    do {                                                                                                  \
        cudaError_t e_ = (call);                                                                          \
        if (e_ != cudaSuccess) {                                                                          \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_));       \
            exit(1);                                                                                      \
        }                                                                                                 \
    } while (0)

#define REPRO_OK_OR_DIE(call)                                                                             \
    do {                                                                                                  \
        repro_error err_;                                                                                 \
        err_.message[0] = 0;                                                                              \
        repro_status st_ = (call);                                                                        \
        if (st_ != REPRO_OK) {                                                                            \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, err_.message);         \
            exit(1);                                                                                      \
        }                                                                                                 \
    } while (0)

/* ---- inputs: a fixed LCG, so every run tests the same numbers ---- */

struct rng {
    uint64_t s;
    uint32_t next()
    {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        return (uint32_t)(s >> 33);
    }
    float uniform(float lo, float hi) { return lo + (hi - lo) * (float)(next() >> 8) * 0x1p-24f; }
};

enum special { FINITE_ONLY = 0, WITH_NONFINITE = 1 };

/* n values in [lo, hi), about one in `one_in` replaced by a special: +-0,
 * subnormals, +-1e30, tiny normals, and +-inf / NaN when nonfinite. */
static inline fvec gen_specials(rng &r, size_t n, float lo, float hi, int specials, int nonfinite, uint32_t one_in)
{
    static const float fin[] = {0.0f, -0.0f, 1e-40f, -3e-39f, 1e30f, -1e30f, 1e-30f, -2.5e-38f, 7e-45f};
    static const float nonfin[] = {INFINITY, -INFINITY, NAN};
    fvec v(n);
    for (size_t i = 0; i < n; i++) {
        v[i] = r.uniform(lo, hi);
        if (specials && r.next() % one_in == 0) {
            uint32_t k = r.next();
            v[i] = nonfinite && k % 5 == 0 ? nonfin[k / 5 % 3] : fin[k % 9];
        }
    }
    return v;
}

/* every 13th-ish value special */
static inline fvec gen(rng &r, size_t n, float lo, float hi, int specials, int nonfinite)
{
    return gen_specials(r, n, lo, hi, specials, nonfinite, 13);
}

/* ---- device buffers ---- */

template <typename T> struct dbuf {
    T *p = nullptr;
    size_t n = 0;
    explicit dbuf(size_t count) : n(count) { CUDA_OK(cudaMalloc(&p, (count ? count : 1) * sizeof(T))); }
    dbuf(const std::vector<T> &h) : dbuf(h.size()) { up(h); }
    ~dbuf() { cudaFree(p); }
    dbuf(const dbuf &) = delete;
    dbuf &operator=(const dbuf &) = delete;
    void up(const std::vector<T> &h) { CUDA_OK(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice)); }
    std::vector<T> down() const
    {
        std::vector<T> h(n);
        CUDA_OK(cudaDeviceSynchronize());
        CUDA_OK(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
        return h;
    }
};

/* ---- comparison ---- */

static inline uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline void report(const char *kernel, const char *shape, bool ok, const char *detail)
{
    printf("%s  %-30s %-40s %s\n", ok ? "PASS" : "FAIL", kernel, shape, detail);
    fflush(stdout);
    if (ok)
        g_pass++;
    else
        g_fail++;
}

#endif
