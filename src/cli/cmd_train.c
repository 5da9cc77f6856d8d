/* `repro train CONFIG [--set KEY=VALUE]... [--out DIR] [--force] [--quiet] [--json]
 *              [--stop-after N] [--procs N] [--trace-step N|M-N --trace-dir DIR]`
 * `repro train --resume RUN_DIR [--force] [--set KEY=VALUE]...` (only keys that
 *  never change a bit: src/train/resume_policy.c) */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/resume_settings.h"
#include "cli/run_config.h"
#include "repro/config.h"
#include "repro/record.h"
#include "repro/train.h"
#include "train/comm_local.h"
#include "train/test_hooks.h"

/* Set by SIGINT, SIGTERM or SIGHUP; the trainer checkpoints and stops at
 * the end of the step in progress. The one global of the CLI: a signal
 * handler needs it. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: repro train CONFIG [options]\n"
            "       repro train --resume RUN_DIR [--set KEY=VALUE]... [--force] [--quiet | --json]\n"
            "\n"
            "Trains the model CONFIG describes and writes a run directory holding\n"
            "run.json, metrics.jsonl, ledger.jsonl and model.safetensors.\n"
            "\n"
            "options:\n"
            "  --set KEY=VALUE  override a config key (repeatable): --set optim.lr=1e-4,\n"
            "                   --set threads=2, --set model.trunk.2.p=0.5\n"
            "  --out DIR        the run directory (default: runs/<config name>-<UTC time>)\n"
            "  --force          overwrite DIR even when it holds a complete run; with --resume,\n"
            "                   resume even if the config or data changed since the run started\n"
            "  --resume RUN_DIR continue a stopped run from its newest valid checkpoint; the\n"
            "                   finished run is bit for bit the one that never stopped. With\n"
            "                   --set it may change what never changes a bit: threads, device\n"
            "                   (mode exact), eval_batch_size, accum_steps, loader.*,\n"
            "                   checkpoint.*; run.json's \"resumes\" records each resume\n"
            "                   and what it changed\n"
            "  --rehash         read every data file in full to hash it, ignoring the hash cache\n"
            "                   (REPRO_CACHE_DIR, else $XDG_CACHE_HOME/repro or ~/.cache/repro)\n"
            "  --stop-after N   checkpoint and stop after optimiser step N (the run is marked\n"
            "                   interrupted and can be resumed); 0 saves the initial weights\n"
            "                   (ckpt-00000000.safetensors) before the first step\n"
            "  --procs N        data parallel over N processes forked on this host (one GPU each\n"
            "                   with device: cuda); needs world.shards, and gives the bits of one\n"
            "                   process. Over hosts: mpirun -n N repro train ... (docs/parallel.md)\n"
            "  --trace-step N   with --trace-dir: record every tensor step N computes (forward,\n"
            "                   backward, gradients, loss) as per-operation fingerprints and raw\n"
            "                   values (trace.jsonl, trace.bin), then stop after step N; M-N\n"
            "                   traces steps M to N (what `repro diff --trace` runs)\n"
            "  --trace-dir DIR  where the trace goes\n"
            "  --quiet          print nothing but errors\n"
            "  --json           print one JSON object per epoch and one at the end\n"
            "  --help           show this help\n"
            "\n"
            "environment:\n"
            "  REPRO_ISA=auto|scalar|avx2|avx512|neon  force an instruction-set path (all give the same bits)\n"
            "  REPRO_CACHE_DIR=DIR  where data file hashes are remembered (default $XDG_CACHE_HOME/repro\n"
            "                   or ~/.cache/repro)\n"
            "  REPRO_TEST_PERTURB=step=S,tensor=NAME,index=I  tests only: add one ulp to element I of\n"
            "                   NAME's gradient at step S (recorded in run.json as test_perturb)\n"
            "  REPRO_TEST_HASH_LOG=FILE  tests only: append the path of each data file read in full\n"
            "                   to hash it (not found in the hash cache)\n"
            "\n"
            "Ctrl-C (SIGINT), SIGTERM or SIGHUP checkpoints at the end of the current step\n"
            "and stops; the run is marked interrupted and --resume continues it.\n"
            "\n"
            "exit status: 0 trained (or stopped by --stop-after); 1 training failed (the run\n"
            "             is marked failed); 2 the run could not start (usage, config, data,\n"
            "             existing run); 130 interrupted\n");
}

typedef struct train_args {
    const char *config;
    const char *out;
    const char *resume;
    long long stop_after;
    int stop_at_start; /* --stop-after 0 */
    int procs; /* --procs N: data parallel over N forked processes (0: one) */
    const char *trace_dir;
    long long trace_first, trace_last;
    int force;
    int rehash;
    progress_mode mode;
    const char **overrides;
    int n_overrides;
} train_args;

/* --trace-step N or M-N (1-based steps, M <= N). Returns 0, or 2 after
 * saying what is wrong. */
static int parse_step_range(const char *v, long long *first, long long *last)
{
    char *end;
    errno = 0;
    *first = strtoll(v, &end, 10);
    *last = *first;
    if (!errno && *end == '-' && end > v)
        *last = strtoll(end + 1, &end, 10);
    if (errno || *end || end == v || *first < 1 || *last < *first) {
        fprintf(stderr, "repro train: --trace-step expects a step N or a range M-N (1 <= M <= N), got '%s'\n", v);
        return 2;
    }
    return 0;
}

/* Returns 0 on success, 2 on a usage error (already reported), 1 for --help. */
static int parse_args(int argc, char **argv, train_args *a)
{
    a->overrides = calloc((size_t)argc, sizeof *a->overrides);
    if (!a->overrides) {
        fprintf(stderr, "repro train: out of memory\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(arg, "--set") || !strcmp(arg, "--out") || !strcmp(arg, "--resume") ||
                   !strcmp(arg, "--stop-after") || !strcmp(arg, "--trace-step") || !strcmp(arg, "--trace-dir") ||
                   !strcmp(arg, "--procs")) {
            if (!has_value) {
                fprintf(stderr, "repro train: %s needs a value\n", arg);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(arg, "--out"))
                a->out = v;
            else if (!strcmp(arg, "--resume"))
                a->resume = v;
            else if (!strcmp(arg, "--trace-dir"))
                a->trace_dir = v;
            else if (!strcmp(arg, "--trace-step")) {
                if (parse_step_range(v, &a->trace_first, &a->trace_last))
                    return 2;
            }
            else if (!strcmp(arg, "--procs")) {
                char *end;
                errno = 0;
                long n = strtol(v, &end, 10);
                if (errno || *end || n < 1 || n > 64) {
                    fprintf(stderr, "repro train: --procs expects a number of processes in 1..64, got '%s'\n", v);
                    return 2;
                }
                a->procs = (int)n;
            } else if (!strcmp(arg, "--stop-after")) {
                char *end;
                errno = 0;
                a->stop_after = strtoll(v, &end, 10);
                if (errno || *end || end == v || a->stop_after < 0) {
                    fprintf(stderr, "repro train: --stop-after expects a step >= 0, got '%s'\n", v);
                    return 2;
                }
                a->stop_at_start = a->stop_after == 0;
            } else
                a->overrides[a->n_overrides++] = v;
        } else if (!strncmp(arg, "--set=", 6)) {
            a->overrides[a->n_overrides++] = arg + 6;
        } else if (!strncmp(arg, "--out=", 6)) {
            a->out = arg + 6;
        } else if (!strcmp(arg, "--force")) {
            a->force = 1;
        } else if (!strcmp(arg, "--rehash")) {
            a->rehash = 1;
        } else if (!strcmp(arg, "--quiet") || !strcmp(arg, "-q")) {
            a->mode = PROGRESS_QUIET;
        } else if (!strcmp(arg, "--json")) {
            a->mode = PROGRESS_JSON;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            fprintf(stderr, "repro train: unknown option '%s' (see 'repro train --help')\n", arg);
            return 2;
        } else if (!a->config) {
            a->config = arg;
        } else {
            fprintf(stderr, "repro train: unexpected argument '%s' (one CONFIG only)\n", arg);
            return 2;
        }
    }
    if (a->resume && (a->config || a->out)) {
        fprintf(stderr, "repro train: --resume takes the run's own config and directory; CONFIG and --out "
                        "cannot be combined with it\n");
        return 2;
    }
    if (!a->trace_dir != !a->trace_last) {
        fprintf(stderr, "repro train: --trace-step and --trace-dir go together\n");
        return 2;
    }
    if (!a->config && !a->resume) {
        fprintf(stderr, "repro train: missing CONFIG (see 'repro train --help')\n");
        return 2;
    }
    return 0;
}

/* REPRO_TEST_PERTURB="step=S,tensor=NAME,index=I" (tests only): read here,
 * never by the library. Returns 0, or 2 after saying what is wrong. */
static int parse_test_perturb(const char *spec, repro_test_perturb *p)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    int have_step = 0, have_tensor = 0, have_index = 0;
    for (char *save = NULL, *part = strtok_r(buf, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(part, '=');
        char *end = NULL;
        if (eq)
            *eq = '\0';
        const char *v = eq ? eq + 1 : "";
        errno = 0;
        if (eq && !strcmp(part, "step")) {
            p->step = strtoll(v, &end, 10);
            have_step = !errno && *v && !*end && p->step >= 1;
        } else if (eq && !strcmp(part, "index")) {
            p->index = strtoll(v, &end, 10);
            have_index = !errno && *v && !*end && p->index >= 0;
        } else if (eq && !strcmp(part, "tensor") && *v && strlen(v) < sizeof p->tensor) {
            snprintf(p->tensor, sizeof p->tensor, "%s", v);
            have_tensor = 1;
        } else {
            have_step = 0; /* an unknown part spoils the whole */
            break;
        }
    }
    if (!have_step || !have_tensor || !have_index) {
        fprintf(stderr, "repro train: REPRO_TEST_PERTURB: expected \"step=S,tensor=NAME,index=I\" (S >= 1, "
                        "I >= 0), got '%s'\n", spec);
        return 2;
    }
    return 0;
}

static void print_warning(void *ctx, const char *message)
{
    (void)ctx;
    fprintf(stderr, "repro train: warning: %s\n", message);
}

int repro_cmd_train(int argc, char **argv)
{
    train_args a = {.mode = progress_default_mode()};
    int rc = parse_args(argc, argv, &a);
    if (rc) {
        free(a.overrides);
        return rc == 1 ? 0 : 2;
    }
    repro_config *cfg = malloc(sizeof *cfg);
    if (!cfg) {
        free(a.overrides);
        fprintf(stderr, "repro train: out of memory\n");
        return 2;
    }
    repro_error err;
    repro_error_clear(&err);
    run_config resumed = {0};
    char *changes = NULL;          /* the settings a resume changed, as JSON */
    const char *run_sha256 = NULL; /* then the run's own config hash */
    repro_status st = REPRO_OK;
    if (a.resume) {
        rc = run_config_load_rehash(a.resume, a.force, a.rehash, "repro train: cannot resume",
                                    "; use --force to resume anyway", &resumed, cfg);
        if (!rc && a.n_overrides)
            rc = resume_settings_apply(a.resume, &resumed, a.overrides, a.n_overrides, cfg, &changes,
                                       &run_sha256);
    } else if ((st = repro_config_load(a.config, a.overrides, a.n_overrides, cfg, &err)) != REPRO_OK) {
        fprintf(stderr, "repro train: %s\n", err.message);
        rc = 2;
    }
    repro_test_hooks hooks = {0};
    const char *perturb_spec = getenv("REPRO_TEST_PERTURB"), *jitter = getenv("REPRO_TEST_LOADER_JITTER_US");
    if (!rc && perturb_spec && perturb_spec[0])
        rc = parse_test_perturb(perturb_spec, &hooks.perturb);
    if (!rc && jitter && jitter[0])
        hooks.loader_jitter_us = atoi(jitter);
    const char *hash_log = getenv("REPRO_TEST_HASH_LOG");
    if (hash_log && hash_log[0])
        hooks.hash_log = hash_log;
    if (rc) {
        free(changes);
        run_config_free(&resumed);
        free(cfg);
        free(a.overrides);
        return rc;
    }
    /* --procs: fork the other ranks now, before any thread or GPU exists */
    struct repro_comm_local *local = NULL;
    if (a.procs > 1 && (st = repro_comm_local_spawn(a.procs, &local, &err)) != REPRO_OK) {
        fprintf(stderr, "repro train: --procs %d: %s\n", a.procs, err.message);
        run_config_free(&resumed);
        free(cfg);
        free(a.overrides);
        return 1;
    }
    char note[2048];
    if (a.resume && (!local || repro_comm_local_rank(local) == 0) &&
        repro_run_stale_note(a.resume, note, sizeof note))
        fprintf(stderr, "repro train: note: %s\n", note);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL); /* the terminal went away: stop as cleanly as on Ctrl-C */
    /* progress into a pipe whose reader left (`| head`): writes fail with
     * EPIPE and the display stops (progress.c); training goes on. A file
     * size limit (ulimit -f) is an I/O error like a full disk, not death. */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);
    progress_state ps;
    progress_init(&ps, a.mode, stdout);
    repro_train_options opts = {
        .out_dir = a.out,
        .force = a.force,
        .isa = getenv("REPRO_ISA"),
        .progress = progress_report,
        .progress_ctx = &ps,
        .overrides = a.resume ? resumed.overrides : a.overrides,
        .n_overrides = a.resume ? resumed.n_overrides : a.n_overrides,
        .resume_dir = a.resume,
        .resume_force = a.force,
        .rehash = a.rehash,
        .resume_config_sha256 = run_sha256,
        .resume_changes = changes,
        .stop_after = a.stop_after ? a.stop_after : a.trace_last,
        .interrupt = (volatile const int *)&interrupted,
        .trace_dir = a.trace_dir,
        .trace_first = a.trace_first,
        .trace_last = a.trace_last,
        .warn = print_warning,
        .no_graphs = getenv("REPRO_CUDA_GRAPHS") && strcmp(getenv("REPRO_CUDA_GRAPHS"), "0") == 0,
        .stop_at_start = a.stop_at_start,
        .local_world = local,
    };
    repro_train_result res;
    st = repro_train_hooked(cfg, &opts, &hooks, &res, &err);
    progress_end_line(&ps);
    if (st != REPRO_OK) {
        fprintf(stderr, "repro train: %s\n", err.message);
        if (res.run_dir[0] && res.record_error[0] && strcmp(res.record_error, err.message) != 0)
            fprintf(stderr, "repro train: and the run could not be marked failed in %s: %s\n", res.run_dir,
                    res.record_error);
        else if (res.run_dir[0] && !res.record_error[0])
            fprintf(stderr, "repro train: run marked failed in %s\n", res.run_dir);
        rc = res.run_dir[0] ? 1 : 2;
    } else if (res.interrupted) {
        if (a.mode != PROGRESS_QUIET && res.world_rank == 0)
            fprintf(stderr, "repro train: stopped after step %lld; continue with: repro train --resume %s\n",
                    (long long)res.steps, res.run_dir);
        rc = interrupted ? 130 : 0;
    } else {
        if (res.world_rank == 0) /* data parallel: one summary, from rank 0 */
            progress_summary(&ps, &res);
        rc = 0;
    }
    if (res.resume_notes[0])
        fprintf(stderr, "repro train: note: %s\n", res.resume_notes);
    free(changes);
    run_config_free(&resumed);
    free(cfg);
    free(a.overrides);
    return local ? repro_comm_local_finish(local, rc) : rc;
}
