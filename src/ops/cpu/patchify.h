/* Patchify for a vision transformer: images [N][C][H][W] -> patches
 * [N][NP][C*P*P], NP = (H/P) * (W/P), P dividing H and W. A permutation of
 * the values (no arithmetic), so every twin is bitwise equal by construction:
 *   y[n][ph*(W/P) + pw][c*P*P + i*P + j] = x[n][c][ph*P + i][pw*P + j]
 * Patches run row-major over the image (ph, then pw); a patch's vector is
 * channel-major, then its rows, then its columns (PyTorch's
 * x.unfold(2, P, P).unfold(3, P, P).permute(0, 2, 3, 1, 4, 5).reshape(N, NP, C*P*P)).
 * Backward is the inverse map: dx[n][c][h][w] = dy at the same place (overwritten).
 * Threaded twins split over output rows; the CUDA twins (cuda_token.h) one
 * thread an output element. */
#ifndef REPRO_OPS_CPU_PATCHIFY_H
#define REPRO_OPS_CPU_PATCHIFY_H

#include <stdint.h>

#include "ops/cpu/cpu.h"
#include "repro/status.h"

typedef struct repro_patchify_shape {
    int64_t N, C, H, W, P;
} repro_patchify_shape;

void repro_patchify_forward_ref(const repro_patchify_shape *s, float *y, const float *x);
void repro_patchify_backward_ref(const repro_patchify_shape *s, float *dx, const float *dy);
repro_status repro_patchify_forward(const repro_cpu *cpu, const repro_patchify_shape *s, float *y, const float *x,
                                    repro_error *err);
repro_status repro_patchify_backward(const repro_cpu *cpu, const repro_patchify_shape *s, float *dx, const float *dy,
                                     repro_error *err);

#endif
