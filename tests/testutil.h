/* A tiny test harness: CHECK-style macros that report file:line and count
 * failures; a test's main returns test_finish(). Exit code 77 means skipped. */
#ifndef REPRO_TESTUTIL_H
#define REPRO_TESTUTIL_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures_ = 0;
static int test_checks_ = 0;

#define CHECK(cond)                                                              \
    do {                                                                         \
        test_checks_++;                                                          \
        if (!(cond)) {                                                           \
            test_failures_++;                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                        \
    } while (0)

#define CHECK_MSG(cond, ...)                                                     \
    do {                                                                         \
        test_checks_++;                                                          \
        if (!(cond)) {                                                           \
            test_failures_++;                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
        }                                                                        \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                       \
    do {                                                                         \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                         \
        CHECK_MSG(a_ == b_, "%" PRIu64 " != %" PRIu64, a_, b_);                  \
    } while (0)

/* Bitwise equality of two float arrays; reports the first differing index. */
static inline int test_bits_equal(const float *a, const float *b, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t ua, ub;
        memcpy(&ua, &a[i], 4);
        memcpy(&ub, &b[i], 4);
        if (ua != ub) {
            fprintf(stderr, "%s: first difference at %zu: %a (0x%08x) vs %a (0x%08x)\n",
                    what, i, (double)a[i], ua, (double)b[i], ub);
            return 0;
        }
    }
    return 1;
}

#define CHECK_BITS(a, b, n, what) CHECK(test_bits_equal((a), (b), (n), (what)))

/* The same, except that any NaN matches any NaN: for a result computed two
 * different ways (a reference against an independent spelling of its
 * formula), where which NaN comes out depends on the compiler's operand
 * order (x86 returns the first operand's NaN) and is not promised. */
static inline int test_bits_equal_nan(const float *a, const float *b, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != a[i] && b[i] != b[i])
            continue;
        if (!test_bits_equal(&a[i], &b[i], 1, what)) {
            fprintf(stderr, "%s: (at %zu)\n", what, i);
            return 0;
        }
    }
    return 1;
}

/* A string contains a substring (for asserting error messages). */
#define CHECK_CONTAINS(hay, needle)                                              \
    CHECK_MSG(strstr((hay), (needle)) != NULL, "\"%s\" does not contain \"%s\"", (hay), (needle))

static inline int test_finish(const char *name)
{
    if (test_failures_) {
        fprintf(stderr, "%s: %d of %d checks failed\n", name, test_failures_, test_checks_);
        return 1;
    }
    printf("%s: all %d checks passed\n", name, test_checks_);
    return 0;
}

#define TEST_SKIP(...)                                                           \
    do {                                                                         \
        printf("SKIPPED: " __VA_ARGS__);                                         \
        printf("\n");                                                            \
        exit(77);                                                                \
    } while (0)

#endif
