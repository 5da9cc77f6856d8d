/* The device twin of include/repro/rng.h: a kernel draws Philox blocks, keys,
 * raw words, uniforms, normals and below() at many coordinates, and every
 * result must equal the host's bit for bit (same header, same arithmetic).
 *
 * Standalone; build and run from the repository root with:
 *   nvcc -std=c++17 --fmad=false -ftz=false -prec-div=true -prec-sqrt=true
 *        -Xcompiler -ffp-contract=off -arch=sm_90 -I include
 *        tests/cuda/test_rng_cuda.cu -o test_rng_cuda && ./test_rng_cuda
 * Exit 0: all equal; 1: a difference (the first few are printed);
 * 77: no CUDA device ("SKIPPED: no CUDA device"). */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <cuda_runtime.h>

#include "repro/rng.h"

// Per index i: 4 Philox words, 2 key words, u32, below, uniform bits, normal bits.
enum { N = 1 << 20, WORDS = 10 };

// The coordinates of index i: spread over the counter and key space, with
// elements up to 2^33 (and 2^34 for u32/uniform).
struct coords {
    uint64_t seed;
    uint32_t purpose, id0, c0, c1, c2, bound;
    uint64_t element;
};

__host__ __device__ static coords coords_of(uint32_t i)
{
    coords c;
    c.seed = (uint64_t)i * 0x9E3779B97F4A7C15ull;
    c.purpose = 1 + i % 7;
    c.id0 = i >> 6;
    c.c0 = i * 2654435761u;
    c.c1 = i >> 3;
    c.c2 = i & 1 ? 0xffffffffu : 0u;
    c.bound = i % 3 == 0 ? 0xffffffffu : 1 + (i * 40503u) % 100000u;
    c.element = ((uint64_t)i * 0x2545F491ull) & ((1ull << 33) - 1);
    return c;
}

__host__ __device__ static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

// out[WORDS] for index i; the same function runs on host and device.
__host__ __device__ static void draw(uint32_t i, uint32_t *out)
{
    uint32_t ctr[4] = {i, i * 7u, ~i, 0x12345678u};
    uint32_t key[2] = {i * 3u, 42u};
    repro_philox4x32_10(ctr, key, out);
    coords c = coords_of(i);
    repro_rng_key k = repro_rng_derive(c.seed, c.purpose, c.id0, 0);
    out[4] = k.k[0];
    out[5] = k.k[1];
    out[6] = repro_rng_u32(k, c.c0, c.c1, c.c2, c.element << 1);
    out[7] = repro_rng_below(k, c.c0, c.c1, c.c2, c.element, c.bound);
    out[8] = float_bits(repro_rng_uniform(k, c.c0, c.c1, c.c2, c.element << 1 | 1));
    out[9] = float_bits(repro_rng_normal(k, c.c0, c.c1, c.c2, c.element));
}

__global__ void draw_kernel(uint32_t *out)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N)
        draw(i, out + (size_t)i * WORDS);
}

int main()
{
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        printf("SKIPPED: no CUDA device\n");
        return 77;
    }
    uint32_t *d_out;
    size_t bytes = (size_t)N * WORDS * sizeof(uint32_t);
    if (cudaMalloc(&d_out, bytes) != cudaSuccess) {
        fprintf(stderr, "cudaMalloc of %zu bytes failed\n", bytes);
        return 1;
    }
    draw_kernel<<<N / 256, 256>>>(d_out);
    std::vector<uint32_t> dev((size_t)N * WORDS), host((size_t)N * WORDS);
    cudaError_t e = cudaMemcpy(dev.data(), d_out, bytes, cudaMemcpyDeviceToHost);
    cudaFree(d_out);
    if (e != cudaSuccess) {
        fprintf(stderr, "kernel or copy failed: %s\n", cudaGetErrorString(e));
        return 1;
    }
    static const char *names[WORDS] = {"philox[0]", "philox[1]", "philox[2]", "philox[3]", "key[0]",
                                       "key[1]", "u32", "below", "uniform", "normal"};
    long diffs[WORDS] = {0};
    long total = 0;
    for (uint32_t i = 0; i < N; i++) {
        uint32_t *h = &host[(size_t)i * WORDS], *d = &dev[(size_t)i * WORDS];
        draw(i, h);
        for (int w = 0; w < WORDS; w++) {
            if (h[w] == d[w])
                continue;
            if (total++ < 10)
                fprintf(stderr, "index %u %s: host %08x device %08x\n", i, names[w], h[w], d[w]);
            diffs[w]++;
        }
    }
    for (int w = 0; w < WORDS; w++)
        printf("%-10s %8ld of %d differ\n", names[w], diffs[w], N);
    printf("test_rng_cuda: %s\n", total ? "FAILED" : "all bitwise equal");
    return total ? 1 : 0;
}
