/* repro diff --trace: see diff_trace.h.
 *
 * Which steps to trace: the ledger names the first line where the runs
 * differ (step N: its loss, or a fingerprint taken after its update). The
 * first difference lies in steps M+1..N, where M is the last step whose
 * params_sha256 still matched (0 when none did), so those steps are traced
 * (the last DIFF_TRACE_MAX_STEPS of them at most). With ledger.hash_every: 1
 * that is step N alone. Each run is re-run as `repro train --resume` would
 * load it (cli/run_config.c), in a child process of this same binary, with
 * its own test perturbation (run.json "test_perturb") and ISA path. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "cli/diff_trace.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/run_config.h"
#include "repro/record.h"

static double num(const cJSON *o, const char *key)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static const char *str(const cJSON *o, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* The child: REPRO_TEST_PERTURB as the run had it (or unset), REPRO_ISA as
 * the run used, then `repro train ...`. Never returns. */
static void exec_child(const run_config *rc, char **argv)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(rc->record, "test_perturb");
    if (cJSON_IsObject(p)) {
        char spec[256];
        snprintf(spec, sizeof spec, "step=%.0f,tensor=%s,index=%.0f", num(p, "step"), str(p, "tensor"),
                 num(p, "index"));
        setenv("REPRO_TEST_PERTURB", spec, 1);
    } else {
        unsetenv("REPRO_TEST_PERTURB");
    }
    const char *isa = str(cJSON_GetObjectItemCaseSensitive(rc->record, "execution"), "isa");
    if (isa)
        setenv("REPRO_ISA", isa, 1);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "repro diff: cannot run /proc/self/exe: %s\n", strerror(errno));
    _exit(127);
}

/* Re-runs run_dir's configuration into out/ tracing steps first..last into
 * out/trace. Returns 0, or 2 after saying why. */
static int rerun(const char *run_dir, const char *out, long long first, long long last)
{
    run_config rc;
    repro_config *cfg = malloc(sizeof *cfg);
    int status = cfg ? run_config_load(run_dir, 0, "repro diff: cannot re-run",
                                       "; a re-run would not repeat the run", &rc, cfg)
                     : 2;
    free(cfg);
    if (status) {
        run_config_free(&rc);
        return 2;
    }
    char steps[64], trace[4200];
    snprintf(steps, sizeof steps, "%lld-%lld", first, last);
    snprintf(trace, sizeof trace, "%s/trace", out);
    int n = 0;
    char **argv = calloc((size_t)(2 * rc.n_overrides + 16), sizeof *argv);
    if (!argv) {
        run_config_free(&rc);
        fprintf(stderr, "repro diff: out of memory\n");
        return 2;
    }
    argv[n++] = "repro";
    argv[n++] = "train";
    argv[n++] = (char *)rc.config_path;
    for (int i = 0; i < rc.n_overrides; i++) {
        argv[n++] = "--set";
        argv[n++] = (char *)rc.overrides[i];
    }
    char *tail[] = {"--out", (char *)out, "--force", "--quiet", "--trace-step", steps, "--trace-dir", trace};
    for (size_t i = 0; i < sizeof tail / sizeof *tail; i++)
        argv[n++] = tail[i];
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        exec_child(&rc, argv);
    int wstatus = 0;
    int ok = pid > 0 && waitpid(pid, &wstatus, 0) == pid && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
    if (!ok)
        fprintf(stderr, "repro diff: re-running '%s' to step %lld failed (%s)\n", run_dir, last,
                pid < 0 ? strerror(errno) : "see its message above");
    free(argv);
    run_config_free(&rc);
    return ok ? 0 : 2;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Runs both re-runs under dir and compares their traces into *comparison. */
static int trace_both(const char *dir_a, const char *dir_b, const char *dir, long long first, long long last,
                      cJSON **comparison)
{
    char out_a[4200], out_b[4200];
    snprintf(out_a, sizeof out_a, "%s/a", dir);
    snprintf(out_b, sizeof out_b, "%s/b", dir);
    if (rerun(dir_a, out_a, first, last) || rerun(dir_b, out_b, first, last))
        return 2;
    char trace_a[4300], trace_b[4300];
    snprintf(trace_a, sizeof trace_a, "%s/trace", out_a);
    snprintf(trace_b, sizeof trace_b, "%s/trace", out_b);
    repro_error err;
    if (repro_trace_compare(trace_a, trace_b, comparison, &err) != REPRO_OK) {
        fprintf(stderr, "repro diff: %s\n", err.message);
        return 2;
    }
    return 0;
}

int diff_trace_run(cJSON *report, const char *keep_dir)
{
    cJSON *trace = cJSON_AddObjectToObject(report, "trace");
    const cJSON *ledger = cJSON_GetObjectItemCaseSensitive(report, "ledger");
    const cJSON *first = cJSON_GetObjectItemCaseSensitive(ledger, "first_divergence");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(report, "identical"))) {
        cJSON_AddStringToObject(trace, "status", "identical");
        return 0;
    }
    if (!cJSON_IsObject(first)) {
        cJSON_AddStringToObject(trace, "status", "no_step");
        return 0;
    }
    long long last = (long long)num(cJSON_GetObjectItemCaseSensitive(first, "a"), "step");
    const cJSON *match = cJSON_GetObjectItemCaseSensitive(ledger, "last_hash_match_step");
    long long matched = cJSON_IsNumber(match) ? (long long)match->valuedouble : 0;
    long long from = matched + 1;
    int capped = last - from + 1 > DIFF_TRACE_MAX_STEPS;
    if (capped)
        from = last - DIFF_TRACE_MAX_STEPS + 1;

    char tmp[4096];
    const char *dir = keep_dir;
    if (!dir) {
        const char *base = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/repro-trace-XXXXXX", base && base[0] ? base : "/tmp");
        if (!mkdtemp(tmp)) {
            fprintf(stderr, "repro diff: cannot create a temporary folder '%s': %s\n", tmp, strerror(errno));
            return 2;
        }
        dir = tmp;
    } else if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "repro diff: cannot create '%s': %s\n", dir, strerror(errno));
        return 2;
    }
    cJSON *comparison = NULL;
    int rc = trace_both(str(report, "a"), str(report, "b"), dir, from, last, &comparison);
    if (!keep_dir)
        nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (rc)
        return rc;
    cJSON_AddStringToObject(trace, "status", "traced");
    cJSON_AddNumberToObject(trace, "first_step", (double)from);
    cJSON_AddNumberToObject(trace, "last_step", (double)last);
    if (matched > 0)
        cJSON_AddNumberToObject(trace, "last_params_match", (double)matched);
    else
        cJSON_AddNullToObject(trace, "last_params_match");
    cJSON_AddBoolToObject(trace, "capped", capped);
    if (keep_dir) {
        cJSON_AddStringToObject(trace, "dir", keep_dir);
    } else { /* removed already */
        cJSON_DeleteItemFromObjectCaseSensitive(comparison, "a");
        cJSON_DeleteItemFromObjectCaseSensitive(comparison, "b");
    }
    cJSON_AddItemToObject(trace, "comparison", comparison);
    return 0;
}

/* "step 5" or "steps 3-5" */
static void print_steps(const cJSON *trace)
{
    double a = num(trace, "first_step"), b = num(trace, "last_step");
    if (a == b)
        printf("step %.0f", a);
    else
        printf("steps %.0f-%.0f", a, b);
}

static void print_place(const char *who, const cJSON *p)
{
    printf("  %s: step %.0f, op %s, tensor %s (trace line %.0f)\n", who, num(p, "step"), str(p, "op"),
           str(p, "tensor"), num(p, "line"));
}

static void print_difference(const cJSON *d)
{
    const char *kind = str(d, "kind");
    if (!strcmp(kind, "structure")) {
        puts("trace: the runs computed different tensors (their configs differ in shape):");
        print_place("A", cJSON_GetObjectItemCaseSensitive(d, "a_place"));
        print_place("B", cJSON_GetObjectItemCaseSensitive(d, "b_place"));
        return;
    }
    if (!strcmp(kind, "length")) {
        printf("trace: only %s's trace goes on, from step %.0f, tensor %s\n",
               !strcmp(str(d, "only_in"), "a") ? "A" : "B", num(d, "step"), str(d, "tensor"));
        return;
    }
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(d, "shape");
    char dims[64] = "";
    if (cJSON_GetArraySize(shape) == 2)
        snprintf(dims, sizeof dims, " [%.0f][%.0f]", cJSON_GetArrayItem(shape, 0)->valuedouble,
                 cJSON_GetArrayItem(shape, 1)->valuedouble);
    else
        snprintf(dims, sizeof dims, " [%.0f]", num(d, "n"));
    printf("trace: first difference at step %.0f, op %s, tensor %s%s (trace line %.0f)\n", num(d, "step"),
           str(d, "op"), str(d, "tensor"), dims, num(d, "line"));
    const cJSON *coords = cJSON_GetObjectItemCaseSensitive(d, "coords");
    printf("  element %.0f", num(d, "index"));
    if (cJSON_GetArraySize(coords) == 2)
        printf(" (row %.0f, col %.0f)", cJSON_GetArrayItem(coords, 0)->valuedouble,
               cJSON_GetArrayItem(coords, 1)->valuedouble);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(d, "a"), *b = cJSON_GetObjectItemCaseSensitive(d, "b");
    const cJSON *ulps = cJSON_GetObjectItemCaseSensitive(d, "ulps");
    printf(": A %s (%s) vs B %s (%s), ", str(a, "hex"), str(a, "dec"), str(b, "hex"), str(b, "dec"));
    if (cJSON_IsNumber(ulps))
        printf("%.0f ulp%s apart\n", ulps->valuedouble, ulps->valuedouble == 1 ? "" : "s");
    else
        puts("not comparable in ulps (NaN)");
    printf("  %.0f of %.0f elements differ", num(d, "elements_differing"), num(d, "n"));
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(d, "max_ulps");
    if (cJSON_IsNumber(max))
        printf(", at most %.0f ulp%s apart", max->valuedouble, max->valuedouble == 1 ? "" : "s");
    putchar('\n');
    if (!strcmp(str(d, "op"), "params"))
        puts("  the parameters already differed when the first traced step began: the runs parted earlier\n"
             "  (record a fingerprint every step with --set ledger.hash_every=1 to trace the right step)");
}

void diff_trace_print(const cJSON *trace)
{
    const char *status = str(trace, "status");
    if (!strcmp(status, "identical")) {
        puts("trace: the runs are identical; nothing to trace");
        return;
    }
    if (!strcmp(status, "no_step")) {
        puts("trace: the ledgers agree on every step both have; there is no divergent step to trace");
        return;
    }
    fputs("trace: re-ran both runs, tracing ", stdout);
    print_steps(trace);
    const cJSON *match = cJSON_GetObjectItemCaseSensitive(trace, "last_params_match");
    if (cJSON_IsNumber(match))
        printf(" (params_sha256 last matched after step %.0f%s)", match->valuedouble,
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(trace, "capped")) ? "; only the last steps" : "");
    putchar('\n');
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(trace, "comparison");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(c, "first_difference");
    if (cJSON_IsObject(d)) {
        print_difference(d);
        printf("trace: %.0f tensors before it were identical\n", num(c, "tensors_equal"));
    } else {
        printf("trace: the re-runs agree on all %.0f traced tensors: the difference does not reproduce "
               "on this machine (see the record differences above)\n", num(c, "tensors_equal"));
    }
}
