/* `repro train CONFIG [--set KEY=VALUE]... [--out DIR] [--force] [--quiet] [--json]`
 * `repro train --resume RUN_DIR [--force]` */
#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/progress.h"
#include "repro/config.h"
#include "repro/record.h"
#include "repro/train.h"

/* Set by SIGINT/SIGTERM; the trainer checkpoints and stops at the end of the
 * step in progress. The one global of the CLI: a signal handler needs it. */
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
            "       repro train --resume RUN_DIR [--force] [--quiet | --json]\n"
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
            "                   finished run is bit for bit the one that never stopped\n"
            "  --stop-after N   checkpoint and stop after optimiser step N (the run is marked\n"
            "                   interrupted and can be resumed)\n"
            "  --quiet          print nothing but errors\n"
            "  --json           print one JSON object per epoch and one at the end\n"
            "  --help           show this help\n"
            "\n"
            "environment:\n"
            "  REPRO_ISA=auto|scalar|avx2|avx512  force an instruction-set path (all give the same bits)\n"
            "\n"
            "Ctrl-C (SIGINT) or SIGTERM checkpoints at the end of the current step and\n"
            "stops; the run is marked interrupted and --resume continues it.\n"
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
    int force;
    progress_mode mode;
    const char **overrides;
    int n_overrides;
} train_args;

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
                   !strcmp(arg, "--stop-after")) {
            if (!has_value) {
                fprintf(stderr, "repro train: %s needs a value\n", arg);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(arg, "--out"))
                a->out = v;
            else if (!strcmp(arg, "--resume"))
                a->resume = v;
            else if (!strcmp(arg, "--stop-after")) {
                char *end;
                errno = 0;
                a->stop_after = strtoll(v, &end, 10);
                if (errno || *end || a->stop_after < 1) {
                    fprintf(stderr, "repro train: --stop-after expects a step >= 1, got '%s'\n", v);
                    return 2;
                }
            } else
                a->overrides[a->n_overrides++] = v;
        } else if (!strncmp(arg, "--set=", 6)) {
            a->overrides[a->n_overrides++] = arg + 6;
        } else if (!strncmp(arg, "--out=", 6)) {
            a->out = arg + 6;
        } else if (!strcmp(arg, "--force")) {
            a->force = 1;
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
    if (a->resume && (a->config || a->n_overrides || a->out)) {
        fprintf(stderr, "repro train: --resume takes the run's own config; CONFIG, --set and --out "
                        "cannot be combined with it\n");
        return 2;
    }
    if (!a->config && !a->resume) {
        fprintf(stderr, "repro train: missing CONFIG (see 'repro train --help')\n");
        return 2;
    }
    return 0;
}

/* --resume: the config is the run's own (its path and overrides from
 * run.json); it and the data files must hash as they did when the run
 * started, unless --force. Fills cfg and the overrides list. */
static int load_resume_config(train_args *a, repro_config *cfg, cJSON **record_out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/run.json", a->resume);
    cJSON *record;
    repro_error err;
    if (repro_json_read_file(path, &record, &err) != REPRO_OK) {
        fprintf(stderr, "repro train: cannot resume '%s': %s\n", a->resume, err.message);
        return 2;
    }
    *record_out = record;
    const char *config_path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(record, "config_path"));
    const char *want = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(record, "config_sha256"));
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(record, "overrides");
    if (!config_path || !want || !cJSON_IsArray(ov)) {
        fprintf(stderr, "repro train: cannot resume '%s': run.json lacks config_path, config_sha256 or overrides\n",
                a->resume);
        return 2;
    }
    const char **more = realloc(a->overrides, (size_t)(cJSON_GetArraySize(ov) + 1) * sizeof *more);
    if (!more) {
        fprintf(stderr, "repro train: out of memory\n");
        return 2;
    }
    a->overrides = more;
    const cJSON *item;
    cJSON_ArrayForEach(item, ov)
    {
        if (cJSON_IsString(item))
            a->overrides[a->n_overrides++] = item->valuestring;
    }
    if (repro_config_load(config_path, a->overrides, a->n_overrides, cfg, &err) != REPRO_OK) {
        fprintf(stderr, "repro train: cannot resume '%s': %s\n", a->resume, err.message);
        return 2;
    }
    char *text = repro_config_to_json(cfg);
    char have[65];
    repro_sha256_hex(text ? text : "", text ? strlen(text) : 0, have);
    free(text);
    if (strcmp(have, want) != 0 && !a->force) {
        fprintf(stderr, "repro train: cannot resume '%s': the config changed since the run started "
                        "(config_sha256 %s, now %s); use --force to resume anyway\n", a->resume, want, have);
        return 2;
    }
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(record, "data"), "files");
    cJSON_ArrayForEach(item, files)
    {
        const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "path"));
        const char *sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "sha256"));
        char now[65];
        if (!file || !sha)
            continue;
        if (repro_sha256_file(file, now, &err) != REPRO_OK) {
            fprintf(stderr, "repro train: cannot resume '%s': %s\n", a->resume, err.message);
            return 2;
        }
        if (strcmp(now, sha) != 0 && !a->force) {
            fprintf(stderr, "repro train: cannot resume '%s': data file '%s' changed since the run started "
                            "(sha256 %s, now %s); use --force to resume anyway\n", a->resume, file, sha, now);
            return 2;
        }
    }
    return 0;
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
    cJSON *record = NULL;
    repro_status st = REPRO_OK;
    if (a.resume) {
        rc = load_resume_config(&a, cfg, &record);
    } else if ((st = repro_config_load(a.config, a.overrides, a.n_overrides, cfg, &err)) != REPRO_OK) {
        fprintf(stderr, "repro train: %s\n", err.message);
        rc = 2;
    }
    if (rc) {
        cJSON_Delete(record);
        free(cfg);
        free(a.overrides);
        return rc;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    progress_state ps;
    progress_init(&ps, a.mode, stdout);
    repro_train_options opts = {
        .out_dir = a.out,
        .force = a.force,
        .isa = getenv("REPRO_ISA"),
        .progress = progress_report,
        .progress_ctx = &ps,
        .overrides = a.overrides,
        .n_overrides = a.n_overrides,
        .resume_dir = a.resume,
        .resume_force = a.force,
        .stop_after = a.stop_after,
        .interrupt = (volatile const int *)&interrupted,
    };
    repro_train_result res;
    st = repro_train(cfg, &opts, &res, &err);
    progress_end_line(&ps);
    if (st != REPRO_OK) {
        fprintf(stderr, "repro train: %s\n", err.message);
        if (res.run_dir[0])
            fprintf(stderr, "repro train: run marked failed in %s\n", res.run_dir);
        rc = res.run_dir[0] ? 1 : 2;
    } else if (res.interrupted) {
        if (a.mode != PROGRESS_QUIET)
            fprintf(stderr, "repro train: stopped after step %lld; continue with: repro train --resume %s\n",
                    (long long)res.steps, res.run_dir);
        rc = interrupted ? 130 : 0;
    } else {
        progress_summary(&ps, &res);
        rc = 0;
    }
    if (res.resume_notes[0])
        fprintf(stderr, "repro train: note: %s\n", res.resume_notes);
    cJSON_Delete(record);
    free(cfg);
    free(a.overrides);
    return rc;
}
