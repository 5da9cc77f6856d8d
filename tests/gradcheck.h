/* What the gradient checks share (tests/test_gradcheck*.c): the finite
 * difference step and the comparison of analytic float gradients with
 * central differences in double, |a - n| <= RTOL |n| + ATOL. */
#ifndef REPRO_TESTS_GRADCHECK_H
#define REPRO_TESTS_GRADCHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "testutil.h"

#define RTOL 1e-4
#define ATOL 1e-6

/* The central-difference step at x: 1e-6, relative for |x| > 1. */
static inline double step_of(double x)
{
    return 1e-6 * (fabs(x) > 1.0 ? fabs(x) : 1.0);
}

/* Compares analytic[n] with numeric[n]; prints and checks the worst ratio. */
static inline void compare(const char *name, const float *analytic, const double *numeric, int64_t n)
{
    double worst = 0.0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        double r = fabs((double)analytic[i] - numeric[i]) / (RTOL * fabs(numeric[i]) + ATOL);
        if (!(r <= worst)) {
            worst = r;
            at = i;
        }
    }
    printf("%-40s n=%-5lld worst |a-n|/(%.0e|n|+%.0e) = %.3g (at %lld: analytic %.9g numeric %.9g)\n", name,
           (long long)n, RTOL, ATOL, worst, (long long)at, (double)analytic[at], numeric[at]);
    CHECK_MSG(worst <= 1.0, "%s: gradient off by %.3g tolerances at %lld", name, worst, (long long)at);
}

#endif
