/* Patchify on the CPU: patchify.h's map. */
#include "ops/cpu/patchify.h"

typedef struct pjob {
    const repro_patchify_shape *s;
    float *out;
    const float *in;
    int forward;
} pjob;

/* Rows [r0, r1) of the patch matrix (r = n*NP + patch): forward copies the
 * image's values into them, backward copies them back into the image. */
static void rows(const repro_patchify_shape *s, float *out, const float *in, int forward, int64_t r0, int64_t r1)
{
    const int64_t P = s->P, GW = s->W / P, NP = (s->H / P) * GW, K = s->C * P * P;
    for (int64_t r = r0; r < r1; r++) {
        const int64_t n = r / NP, p = r % NP, ph = p / GW, pw = p % GW;
        for (int64_t k = 0; k < K; k++) {
            const int64_t c = k / (P * P), i = k / P % P, j = k % P;
            const int64_t xi = ((n * s->C + c) * s->H + ph * P + i) * s->W + pw * P + j;
            if (forward)
                out[r * K + k] = in[xi];
            else
                out[xi] = in[r * K + k];
        }
    }
}

void repro_patchify_forward_ref(const repro_patchify_shape *s, float *y, const float *x)
{
    rows(s, y, x, 1, 0, s->N * (s->H / s->P) * (s->W / s->P));
}

void repro_patchify_backward_ref(const repro_patchify_shape *s, float *dx, const float *dy)
{
    rows(s, dx, dy, 0, 0, s->N * (s->H / s->P) * (s->W / s->P));
}

static void task(void *ctx, int64_t begin, int64_t end)
{
    const pjob *j = ctx;
    rows(j->s, j->out, j->in, j->forward, begin, end);
}

static repro_status check(const repro_patchify_shape *s, repro_error *err)
{
    if (s->N < 0 || s->C < 1 || s->P < 1 || s->H < s->P || s->W < s->P || s->H % s->P || s->W % s->P)
        return repro_fail(err, REPRO_ERR_ARG, "patchify: patch %lld does not tile a %lldx%lld image",
                          (long long)s->P, (long long)s->H, (long long)s->W);
    return REPRO_OK;
}

static repro_status run(const repro_cpu *cpu, const repro_patchify_shape *s, float *out, const float *in, int forward,
                        repro_error *err)
{
    repro_status st = check(s, err);
    if (st != REPRO_OK)
        return st;
    pjob j = {s, out, in, forward};
    repro_pool_run(cpu->pool, s->N * (s->H / s->P) * (s->W / s->P), task, &j);
    return REPRO_OK;
}

repro_status repro_patchify_forward(const repro_cpu *cpu, const repro_patchify_shape *s, float *y, const float *x,
                                    repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    return run(cpu, s, y, x, 1, err);
}

repro_status repro_patchify_backward(const repro_cpu *cpu, const repro_patchify_shape *s, float *dx, const float *dy,
                                     repro_error *err)
{
    REPRO_CPU_CHECK(cpu, err);
    return run(cpu, s, dx, dy, 0, err);
}
