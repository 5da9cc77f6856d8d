/* CPU backends over the tests' own CPU contexts (isa, pool), made on
 * demand and freed at exit: BE(&cpu) wherever a backend is expected. */
#ifndef REPRO_TEST_BACKEND_H
#define REPRO_TEST_BACKEND_H

#include <stdlib.h>

#include "backend/backend.h"

static repro_backend **be_views;
static int n_be_views;

static void free_be_views(void)
{
    for (int i = 0; i < n_be_views; i++)
        repro_backend_destroy(be_views[i]);
    free(be_views);
}

static const repro_backend *BE(const repro_cpu *cpu)
{
    if (!be_views)
        atexit(free_be_views);
    be_views = realloc(be_views, (size_t)(n_be_views + 1) * sizeof *be_views);
    repro_error err;
    if (!be_views || repro_backend_wrap_cpu(cpu, &be_views[n_be_views], &err) != REPRO_OK)
        abort(); /* a test harness failure, not a property under test */
    return be_views[n_be_views++];
}

#endif
