/* The linear layer through OpenBLAS sgemm: what `mode: fast` runs on the
 * CPU. NOT bit-exact: OpenBLAS picks its kernels and blocking by CPU model
 * and splits the contracted dimension differently with its thread count,
 * so the sums are added in orders this file does not control. It computes
 * the same products as linear.c (same shapes and meaning) and is tested
 * against it within a tolerance (tests/test_linear_blas.c), never bitwise.
 * It runs only where determinism: warn or off allowed it. */
#include "ops/cpu/linear.h"

#include <cblas.h> /* after linear.h: it pulls in <complex.h>, whose macro I would break that header */

void repro_blas_set_threads(int threads)
{
    openblas_set_num_threads(threads);
}

/* y = x W^T (sgemm, beta 0), then + bias row by row. */
void repro_linear_forward_blas(float *y, const float *x, const float *w, const float *bias, int64_t rows,
                               int64_t in, int64_t out)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)rows, (blasint)out, (blasint)in, 1.0f, x,
                (blasint)in, w, (blasint)in, 0.0f, y, (blasint)out);
    if (bias)
        for (int64_t b = 0; b < rows; b++)
            for (int64_t o = 0; o < out; o++)
                y[b * out + o] = y[b * out + o] + bias[o];
}

/* dx = dy W (beta 0); dW += dy^T x (beta 1); db += column sums of dy. */
void repro_linear_backward_blas(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                                int64_t rows, int64_t in, int64_t out)
{
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)rows, (blasint)in, (blasint)out, 1.0f, dy,
                    (blasint)out, w, (blasint)in, 0.0f, dx, (blasint)in);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)out, (blasint)in, (blasint)rows, 1.0f, dy,
                (blasint)out, x, (blasint)in, 1.0f, dw, (blasint)in);
    if (db)
        for (int64_t b = 0; b < rows; b++)
            for (int64_t o = 0; o < out; o++)
                db[o] = db[o] + dy[b * out + o];
}
