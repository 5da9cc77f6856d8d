/* cuBLAS, opened at run time (mode: fast on CUDA only). Exact mode never
 * touches cuBLAS, so the library and its few hundred megabytes are neither
 * a link dependency of repro nor mapped into exact runs. Built only with
 * -DREPRO_CUDA=ON. */
#ifndef REPRO_BACKEND_CUBLAS_LIB_H
#define REPRO_BACKEND_CUBLAS_LIB_H

#include <cublas_v2.h>

#include "repro/status.h"

typedef struct repro_cublas_lib {
    void *handle; /* dlopen's */
    cublasStatus_t (*create)(cublasHandle_t *h);
    cublasStatus_t (*destroy)(cublasHandle_t h);
    cublasStatus_t (*set_stream)(cublasHandle_t h, cudaStream_t s);
    cublasStatus_t (*set_math_mode)(cublasHandle_t h, cublasMath_t mode);
    cublasStatus_t (*sgemm)(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const float *alpha, const float *A, int lda, const float *B, int ldb, const float *beta,
                            float *C, int ldc);
    const char *(*status_string)(cublasStatus_t s);
} repro_cublas_lib;

/* Opens libcublas.so.<major of the headers> (the loader's search path, then
 * the toolkit's library folder of this build) and finds its functions. */
repro_status repro_cublas_open(repro_cublas_lib *lib, repro_error *err);
void repro_cublas_close(repro_cublas_lib *lib);

#endif
