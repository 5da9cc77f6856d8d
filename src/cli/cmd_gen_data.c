/* `repro gen-data dual_task [--out-dir DIR] [--n-train N] [--n-test N] [--seed S]` */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/gen_dual_task.h"
#include "repro/data.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: repro gen-data dual_task [options]\n"
            "\n"
            "Writes the synthetic dual-task data set (15 features, a regression target\n"
            "and a 3-class label; formula in docs/data.md) as two CSV files, byte for\n"
            "byte the same on every machine for the same seed.\n"
            "\n"
            "options:\n"
            "  --out-dir DIR   where to write dual_task_train.csv and dual_task_test.csv (default: data)\n"
            "  --n-train N     training samples (default 20000)\n"
            "  --n-test N      test samples (default 5000)\n"
            "  --seed S        the training file's seed; the test file uses S + 1 (default 1)\n"
            "  --help          show this help\n");
}

static int parse_count(const char *opt, const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < 1) {
        fprintf(stderr, "repro gen-data: %s expects a positive integer, got '%s'\n", opt, s);
        return 0;
    }
    *out = v;
    return 1;
}

int repro_cmd_gen_data(int argc, char **argv)
{
    const char *dir = "data", *what = NULL;
    long long n_train = 20000, n_test = 5000, seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        int needs_value = !strcmp(a, "--out-dir") || !strcmp(a, "--n-train") || !strcmp(a, "--n-test") ||
                          !strcmp(a, "--seed");
        if (needs_value && i + 1 >= argc) {
            fprintf(stderr, "repro gen-data: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--out-dir"))
            dir = argv[++i];
        else if (!strcmp(a, "--n-train")) {
            if (!parse_count(a, argv[++i], &n_train))
                return 2;
        } else if (!strcmp(a, "--n-test")) {
            if (!parse_count(a, argv[++i], &n_test))
                return 2;
        } else if (!strcmp(a, "--seed")) {
            if (!parse_count(a, argv[++i], &seed))
                return 2;
        } else if (a[0] == '-') {
            fprintf(stderr, "repro gen-data: unknown option '%s' (see 'repro gen-data --help')\n", a);
            return 2;
        } else if (!what) {
            what = a;
        } else {
            fprintf(stderr, "repro gen-data: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!what || strcmp(what, "dual_task") != 0) {
        fprintf(stderr, "repro gen-data: %s%s%s (the data sets are: dual_task)\n",
                what ? "unknown data set '" : "missing the data set name", what ? what : "", what ? "'" : "");
        return 2;
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "repro gen-data: cannot create '%s': %s\n", dir, strerror(errno));
        return 2;
    }
    char train_path[4096], test_path[4096];
    snprintf(train_path, sizeof train_path, "%s/dual_task_train.csv", dir);
    snprintf(test_path, sizeof test_path, "%s/dual_task_test.csv", dir);
    repro_error err;
    if (repro_dual_task_generate(train_path, (uint64_t)seed, n_train, &err) != REPRO_OK ||
        repro_dual_task_generate(test_path, (uint64_t)seed + 1, n_test, &err) != REPRO_OK) {
        fprintf(stderr, "repro gen-data: %s\n", err.message);
        return 2;
    }
    printf("wrote %s (%lld samples) and %s (%lld samples)\n", train_path, n_train, test_path, n_test);
    return 0;
}
