/* The linear layer as three products and one column sum: see linear.h.
 * How each product maps onto repro_gemm (A(m,k), B(k,n) strides):
 *   forward  y  = x  W^T: M=B, N=O, K=I; A = x  (I, 1), B(i,o) = W[o][i] (1, I)
 *   dx          = dy W:   M=B, N=I, K=O; A = dy (O, 1), B = W (I, 1)
 *   dW         += dy^T x: M=O, N=I, K=B; A(o,b) = dy[b][o] (1, O), B = x (I, 1) */
#include "ops/cpu/linear.h"

#include <stddef.h>

#include "ops/cpu/gemm.h"
#include "ops/cpu/gemm_bf16.h"

/* The layer over one matrix product: repro_gemm (fp32) or repro_gemm_bf16
 * (the tensor core's arithmetic); both share the signature and strides. */
typedef repro_status (*gemm_fn)(const repro_cpu *cpu, int64_t M, int64_t N, int64_t K, const float *A, int64_t a_rs,
                                int64_t a_cs, const float *B, int64_t b_rs, int64_t b_cs, const float *bias,
                                float *C, int64_t ldc, int accumulate, repro_error *err);

static repro_status forward_with(gemm_fn gemm, const char *what, const repro_cpu *cpu, float *y, const float *x,
                                 const float *w, const float *bias, int64_t B, int64_t I, int64_t O,
                                 repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = gemm(cpu, B, O, I, x, I, 1, w, 1, I, bias, y, O, 0, err);
    if (st != REPRO_OK)
        return repro_error_prefix(err, "%s forward (%lldx%lld -> %lld)", what, (long long)B, (long long)I,
                                  (long long)O);
    return REPRO_OK;
}

/* db[o] += dy[b][o] for b ascending: each o its own chain, the loop over o
 * inner so that the independent chains run side by side. fp32 in both
 * precisions (a sum, not a product). */
static void bias_grad(float *db, const float *dy, int64_t B, int64_t O)
{
    for (int64_t b = 0; b < B; b++)
        for (int64_t o = 0; o < O; o++)
            db[o] = db[o] + dy[b * O + o];
}

static repro_status backward_with(gemm_fn gemm, const char *what, const repro_cpu *cpu, float *dx, float *dw,
                                  float *db, const float *dy, const float *x, const float *w, int64_t B, int64_t I,
                                  int64_t O, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = REPRO_OK;
    if (dx)
        st = gemm(cpu, B, I, O, dy, O, 1, w, I, 1, NULL, dx, I, 0, err);
    if (st == REPRO_OK)
        st = gemm(cpu, O, I, B, dy, 1, O, x, I, 1, NULL, dw, I, 1, err);
    if (st != REPRO_OK)
        return repro_error_prefix(err, "%s backward (%lldx%lld -> %lld)", what, (long long)B, (long long)I,
                                  (long long)O);
    if (db)
        bias_grad(db, dy, B, O);
    return REPRO_OK;
}

repro_status repro_linear_forward(const repro_cpu *cpu, float *y, const float *x, const float *w,
                                  const float *bias, int64_t B, int64_t I, int64_t O,
                                  repro_error *err)
{
    return forward_with(repro_gemm, "linear", cpu, y, x, w, bias, B, I, O, err);
}

repro_status repro_linear_backward(const repro_cpu *cpu, float *dx, float *dw, float *db,
                                   const float *dy, const float *x, const float *w,
                                   int64_t B, int64_t I, int64_t O, repro_error *err)
{
    return backward_with(repro_gemm, "linear", cpu, dx, dw, db, dy, x, w, B, I, O, err);
}

repro_status repro_linear_forward_bf16(const repro_cpu *cpu, float *y, const float *x, const float *w,
                                       const float *bias, int64_t B, int64_t I, int64_t O, repro_error *err)
{
    return forward_with(repro_gemm_bf16, "bf16 linear", cpu, y, x, w, bias, B, I, O, err);
}

repro_status repro_linear_backward_bf16(const repro_cpu *cpu, float *dx, float *dw, float *db, const float *dy,
                                        const float *x, const float *w, int64_t B, int64_t I, int64_t O,
                                        repro_error *err)
{
    return backward_with(repro_gemm_bf16, "bf16 linear", cpu, dx, dw, db, dy, x, w, B, I, O, err);
}
