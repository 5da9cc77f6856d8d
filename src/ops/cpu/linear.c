/* The linear layer as three products and one column sum: see linear.h.
 * How each product maps onto repro_gemm (A(m,k), B(k,n) strides):
 *   forward  y  = x  W^T: M=B, N=O, K=I; A = x  (I, 1), B(i,o) = W[o][i] (1, I)
 *   dx          = dy W:   M=B, N=I, K=O; A = dy (O, 1), B = W (I, 1)
 *   dW         += dy^T x: M=O, N=I, K=B; A(o,b) = dy[b][o] (1, O), B = x (I, 1) */
#include "ops/cpu/linear.h"

#include <stddef.h>

#include "ops/cpu/gemm.h"

repro_status repro_linear_forward(const repro_cpu *cpu, float *y, const float *x, const float *w,
                                  const float *bias, int64_t B, int64_t I, int64_t O,
                                  repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = repro_gemm(cpu, B, O, I, x, I, 1, w, 1, I, bias, y, O, 0, err);
    if (st != REPRO_OK)
        return repro_error_prefix(err, "linear forward (%lldx%lld -> %lld)",
                                  (long long)B, (long long)I, (long long)O);
    return REPRO_OK;
}

/* db[o] += dy[b][o] for b ascending: each o its own chain, the loop over o
 * inner so that the independent chains run side by side. */
static void bias_grad(float *db, const float *dy, int64_t B, int64_t O)
{
    for (int64_t b = 0; b < B; b++)
        for (int64_t o = 0; o < O; o++)
            db[o] = db[o] + dy[b * O + o];
}

repro_status repro_linear_backward(const repro_cpu *cpu, float *dx, float *dw, float *db,
                                   const float *dy, const float *x, const float *w,
                                   int64_t B, int64_t I, int64_t O, repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    repro_status st = REPRO_OK;
    if (dx)
        st = repro_gemm(cpu, B, I, O, dy, O, 1, w, I, 1, NULL, dx, I, 0, err);
    if (st == REPRO_OK)
        st = repro_gemm(cpu, O, I, B, dy, 1, O, x, I, 1, NULL, dw, I, 1, err);
    if (st != REPRO_OK)
        return repro_error_prefix(err, "linear backward (%lldx%lld -> %lld)",
                                  (long long)B, (long long)I, (long long)O);
    if (db)
        bias_grad(db, dy, B, O);
    return REPRO_OK;
}
