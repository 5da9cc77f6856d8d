/* repro/math.h gives the same bits on the GPU as on the host.
 *
 * For each function, a kernel evaluates it on the stride sweep of
 * tests/test_math.c (bit patterns f, f + S, f + 2S, ... below 2^32 for the
 * function's index f, S = 41 by default, ~1.05e8 inputs) and the host
 * evaluates the same header's function on the same inputs; every result must
 * match bit for bit, NaNs included (the header makes its NaN bits itself).
 * repro_powif is checked on base = the swept pattern, n = index mod 4099.
 * Prints, per function, the count, the mismatches (the first few in full)
 * and the hash of the results in input order, which for S = 41 equals the
 * "result hash" that tests/test_math.c prints for the C build.
 *
 *   test_math_cuda [STRIDE]     (STRIDE = 1 checks all 2^32 inputs)
 *
 * Exit 0: all equal; 1: a mismatch or CUDA error; 77: no CUDA device.
 * Build (the project's device flags; on x86-64 the host compiler cannot
 * contract a*b+c without -mfma, -Xcompiler -ffp-contract=off makes it sure):
 *   nvcc -std=c++17 --fmad=false -ftz=false -prec-div=true -prec-sqrt=true \
 *        -Xcompiler -ffp-contract=off -arch=sm_90 -I include \
 *        tests/cuda/test_math_cuda.cu -o test_math_cuda */
#include <cuda_runtime.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vector>

#include "repro/math.h"

enum { F_EXP, F_LOG, F_LOG1P, F_EXPM1, F_TANH, F_SIGMOID, F_SINPI, F_COSPI, F_SQRT, F_POWI, NFN };
static const char *const fn_names[NFN] = {"expf",     "logf",   "log1pf", "expm1f", "tanhf",
                                          "sigmoidf", "sinpif", "cospif", "sqrtf",  "powif"};

/* Function fid at input number i (of the sweep), on host or device. */
REPRO_HD static inline float eval(int fid, float x, uint64_t i)
{
    switch (fid) {
    case F_EXP: return repro_expf(x);
    case F_LOG: return repro_logf(x);
    case F_LOG1P: return repro_log1pf(x);
    case F_EXPM1: return repro_expm1f(x);
    case F_TANH: return repro_tanhf(x);
    case F_SIGMOID: return repro_sigmoidf(x);
    case F_SINPI: return repro_sinpif(x);
    case F_COSPI: return repro_cospif(x);
    case F_SQRT: return repro_sqrtf(x);
    default: return repro_powif(x, (int64_t)(i % 4099u));
    }
}

/* The input number i of function fid's sweep. */
REPRO_HD static inline float input(int fid, uint64_t i, uint64_t stride)
{
    return repro_math_bitsf((uint32_t)((uint64_t)fid + i * stride));
}

/* out[k] = eval(fid, input(first + k)) for k < n. */
__global__ void eval_kernel(int fid, uint64_t first, uint64_t n, uint64_t stride, uint32_t *out)
{
    uint64_t k = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k < n) {
        uint64_t i = first + k;
        out[k] = repro_math_fbits(eval(fid, input(fid, i, stride), i));
    }
}

#define CUDA_OK(call)                                                                \
    do {                                                                             \
        cudaError_t e_ = (call);                                                     \
        if (e_ != cudaSuccess) {                                                     \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,           \
                    cudaGetErrorString(e_));                                         \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

int main(int argc, char **argv)
{
    uint64_t stride = argc > 1 ? strtoull(argv[1], NULL, 10) : 41;
    if (stride == 0) {
        fprintf(stderr, "test_math_cuda: STRIDE must be a positive integer\n");
        return 1;
    }
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("SKIPPED: no CUDA device\n");
        return 77;
    }
    cudaDeviceProp prop;
    CUDA_OK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s (sm_%d%d), stride %" PRIu64 "\n", prop.name, prop.major, prop.minor, stride);

    const uint64_t chunk = (uint64_t)1 << 25;
    uint32_t *d_out;
    CUDA_OK(cudaMalloc(&d_out, chunk * sizeof(uint32_t)));
    std::vector<uint32_t> dev(chunk);
    uint64_t total_bad = 0;
    for (int fid = 0; fid < NFN; fid++) {
        uint64_t count = (((uint64_t)1 << 32) - (uint64_t)fid + stride - 1) / stride;
        uint64_t bad = 0, hash = 0xcbf29ce484222325ull;
        for (uint64_t first = 0; first < count; first += chunk) {
            uint64_t n = count - first < chunk ? count - first : chunk;
            unsigned blocks = (unsigned)((n + 255) / 256);
            eval_kernel<<<blocks, 256>>>(fid, first, n, stride, d_out);
            CUDA_OK(cudaGetLastError());
            CUDA_OK(cudaMemcpy(dev.data(), d_out, n * sizeof(uint32_t), cudaMemcpyDeviceToHost));
            for (uint64_t k = 0; k < n; k++) {
                uint64_t i = first + k;
                float x = input(fid, i, stride);
                uint32_t host = repro_math_fbits(eval(fid, x, i));
                hash = (hash ^ dev[k]) * 0x100000001b3ull;
                if (host != dev[k] && bad++ < 10)
                    printf("  MISMATCH %s(%a = 0x%08x%s): host 0x%08x, device 0x%08x\n",
                           fn_names[fid], (double)x, repro_math_fbits(x),
                           fid == F_POWI ? ", n = index mod 4099" : "", host, dev[k]);
            }
        }
        printf("%-9s %10" PRIu64 " inputs, %" PRIu64 " mismatches, result hash %016" PRIx64 "\n",
               fn_names[fid], count, bad, hash);
        total_bad += bad;
    }
    CUDA_OK(cudaFree(d_out));
    printf("test_math_cuda: %s\n", total_bad ? "FAIL: host and device bits differ" : "host and device bits equal");
    return total_bad ? 1 : 0;
}
