/* Fault injection for the I/O layer of src/record/io.h: compiled to
 * nothing unless the build was configured with -DREPRO_FAULT_INJECTION=ON
 * (tests only).
 *
 * Every write, pwrite, fsync, rename and allocation of that layer is
 * counted, in one sequence, from 1. The environment variable
 *   REPRO_FAULT=N      fails call N (writes: ENOSPC; fsync, rename: EIO;
 *                      allocations: NULL, ENOMEM)
 *   REPRO_FAULT=N+     fails call N and every later one (a disk that
 *                      stays full)
 *   REPRO_FAULT=N+KIND fails every call of KIND (write, pwrite, fsync,
 *                      rename, malloc, calloc, realloc, strdup) from call N
 *   REPRO_FAULT=0      fails nothing (counting only)
 * selects the failure; REPRO_FAULT_COUNT=PATH makes the process write the
 * number of calls it made to PATH when it exits, and REPRO_FAULT_TRACE=1
 * prints each call ("fault: 12 fsync") to stderr, so a test can walk N over
 * every call of a run (tests/test_faults.sh). Read only here, only in such
 * a build. */
#ifdef REPRO_FAULT_INJECTION
#include "record/io.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static long long fail_at;   /* 0: never */
static int fail_after;      /* every call from fail_at on */
static char fail_kind[16];  /* ... of this kind only ("" for all) */
static int trace;
static const char *count_path;
static atomic_llong calls;

static void write_count(void)
{
    FILE *f = fopen(count_path, "w");
    if (f) {
        fprintf(f, "%lld\n", (long long)atomic_load(&calls));
        fclose(f);
    }
}

static void setup(void)
{
    const char *spec = getenv("REPRO_FAULT");
    if (spec && *spec) {
        char *end;
        fail_at = strtoll(spec, &end, 10);
        fail_after = *end == '+';
        if (fail_after)
            snprintf(fail_kind, sizeof fail_kind, "%s", end + 1);
    }
    trace = getenv("REPRO_FAULT_TRACE") && strcmp(getenv("REPRO_FAULT_TRACE"), "1") == 0;
    count_path = getenv("REPRO_FAULT_COUNT");
    if (count_path && *count_path)
        atexit(write_count);
}

/* Counts one call of `kind`; 1 when it must fail. */
static int fault(const char *kind)
{
    pthread_once(&once, setup);
    long long n = atomic_fetch_add(&calls, 1) + 1;
    int fail = fail_at > 0 && (fail_after ? n >= fail_at && (!fail_kind[0] || strcmp(kind, fail_kind) == 0)
                                          : n == fail_at);
    if (trace)
        fprintf(stderr, "fault: %lld %s%s\n", n, kind, fail ? " FAILS" : "");
    return fail;
}

ssize_t repro_io_write(int fd, const void *buf, size_t n)
{
    if (fault("write")) {
        errno = ENOSPC;
        return -1;
    }
    return write(fd, buf, n);
}

ssize_t repro_io_pwrite(int fd, const void *buf, size_t n, off_t offset)
{
    if (fault("pwrite")) {
        errno = ENOSPC;
        return -1;
    }
    return pwrite(fd, buf, n, offset);
}

int repro_io_fsync(int fd)
{
    if (fault("fsync")) {
        errno = EIO;
        return -1;
    }
    return fsync(fd);
}

int repro_io_rename(const char *from, const char *to)
{
    if (fault("rename")) {
        errno = EIO;
        return -1;
    }
    return rename(from, to);
}

void *repro_io_malloc(size_t n)
{
    if (fault("malloc")) {
        errno = ENOMEM;
        return NULL;
    }
    return malloc(n);
}

void *repro_io_calloc(size_t n, size_t size)
{
    if (fault("calloc")) {
        errno = ENOMEM;
        return NULL;
    }
    return calloc(n, size);
}

void *repro_io_realloc(void *p, size_t n)
{
    if (fault("realloc")) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, n);
}

char *repro_io_strdup(const char *s)
{
    if (fault("strdup")) {
        errno = ENOMEM;
        return NULL;
    }
    return strdup(s);
}
#else
typedef int repro_no_fault_injection; /* an empty translation unit is not ISO C */
#endif
