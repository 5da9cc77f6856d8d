/* check_math: the exhaustive accuracy check of repro/math.h over all 2^32
 * float inputs, against double-precision libm (see tests/math_ref.h for the
 * reference and the error measure).
 *
 *   check_math [-j THREADS] [FUNCTION...]     (default: all functions)
 *
 * FUNCTION is one of expf logf log1pf expm1f tanhf sigmoidf sinpif cospif
 * (against double libm), or gelu_erf gelu_erf_grad (GELU's erf form and
 * its derivative against long double libm, tests/gelu_ref.h; not in the
 * default set).
 * Prints, per function, the max error in ulps, an input attaining it, and how
 * many results differ from the double reference rounded to float (those are
 * within a hair of a rounding midpoint; the double reference may itself be
 * the one on the wrong side), then PASS or FAIL (max error > 1 ulp). Exits 1
 * if any function fails, 2 on a usage error. Each function takes about a
 * minute per thread-core. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/gelu_ref.h"
#include "../tests/math_ref.h"

#define MAX_THREADS 256

typedef struct {
    const math_fn *fn;
    uint64_t start, end;
    math_stats st;
} slice;

static void *run_slice(void *arg)
{
    slice *s = (slice *)arg;
    math_check_range(s->fn, s->start, s->end, 1, &s->st);
    return NULL;
}

/* Checks fn over all 2^32 inputs split into nthreads contiguous slices; the
 * worst input reported is the lowest bit pattern among the slices' worst. */
static int check_one(const math_fn *fn, int nthreads)
{
    static slice slices[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    uint64_t total = (uint64_t)1 << 32;
    for (int t = 0; t < nthreads; t++) {
        slices[t].fn = fn;
        slices[t].start = total * (uint64_t)t / (uint64_t)nthreads;
        slices[t].end = total * (uint64_t)(t + 1) / (uint64_t)nthreads;
        if (pthread_create(&tid[t], NULL, run_slice, &slices[t]) != 0) {
            fprintf(stderr, "check_math: cannot start thread %d\n", t);
            exit(2);
        }
    }
    math_stats all = {0, 0, -1.0, 0, 0};
    for (int t = 0; t < nthreads; t++) {
        pthread_join(tid[t], NULL);
        const math_stats *st = &slices[t].st;
        all.count += st->count;
        all.not_cr += st->not_cr;
        if (st->max_ulp > all.max_ulp) {
            all.max_ulp = st->max_ulp;
            all.worst_bits = st->worst_bits;
        }
    }
    float x;
    memcpy(&x, &all.worst_bits, 4);
    int pass = all.count == total && all.max_ulp <= 1.0;
    printf("%-9s %" PRIu64 " inputs, max error %.9f ulp at %a (0x%08x): ours %a, ref %.17g; "
           "%" PRIu64 " differ from the rounded reference: %s\n",
           fn->name, all.count, all.max_ulp, (double)x, all.worst_bits, (double)fn->ours(x),
           fn->ref(x), all.not_cr, pass ? "PASS" : "FAIL");
    fflush(stdout);
    return pass;
}

int main(int argc, char **argv)
{
    int nthreads = 1;
    int first = 1;
    if (argc >= 3 && strcmp(argv[1], "-j") == 0) {
        nthreads = atoi(argv[2]);
        if (nthreads < 1 || nthreads > MAX_THREADS) {
            fprintf(stderr, "check_math: -j wants 1..%d threads, got '%s'\n", MAX_THREADS, argv[2]);
            return 2;
        }
        first = 3;
    }
    enum { NFNS = MATH_NFNS + GELU_NFNS };
    const math_fn *fns[NFNS];
    int want[NFNS];
    for (int f = 0; f < NFNS; f++) {
        fns[f] = f < MATH_NFNS ? &math_fns[f] : &gelu_fns[f - MATH_NFNS];
        want[f] = first == argc && f < MATH_NFNS;
    }
    for (int i = first; i < argc; i++) {
        int found = 0;
        for (int f = 0; f < NFNS; f++) {
            if (strcmp(argv[i], fns[f]->name) == 0) {
                want[f] = 1;
                found = 1;
            }
        }
        if (!found) {
            fprintf(stderr, "check_math: unknown function '%s' (expected one of:", argv[i]);
            for (int f = 0; f < NFNS; f++)
                fprintf(stderr, " %s", fns[f]->name);
            fprintf(stderr, ")\n");
            return 2;
        }
    }
    int failed = 0;
    for (int f = 0; f < NFNS; f++)
        if (want[f] && !check_one(fns[f], nthreads))
            failed++;
    printf("check_math: %s\n", failed ? "FAIL" : "all checked functions PASS");
    return failed ? 1 : 0;
}
