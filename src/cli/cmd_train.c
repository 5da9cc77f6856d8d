/* `repro train CONFIG [--set KEY=VALUE]... [--out DIR] [--force] [--quiet] [--json]` */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/progress.h"
#include "repro/config.h"
#include "repro/train.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: repro train CONFIG [options]\n"
            "\n"
            "Trains the model CONFIG describes and writes a run directory holding\n"
            "run.json, metrics.jsonl, ledger.jsonl and model.safetensors.\n"
            "\n"
            "options:\n"
            "  --set KEY=VALUE  override a config key (repeatable): --set optim.lr=1e-4,\n"
            "                   --set threads=2, --set model.trunk.2.p=0.5\n"
            "  --out DIR        the run directory (default: runs/<config name>-<UTC time>)\n"
            "  --force          overwrite DIR even when it holds a complete run\n"
            "  --quiet          print nothing but errors\n"
            "  --json           print one JSON object per epoch and one at the end\n"
            "  --help           show this help\n"
            "\n"
            "environment:\n"
            "  REPRO_ISA=auto|scalar|avx2|avx512  force an instruction-set path (all give the same bits)\n"
            "\n"
            "exit status: 0 trained; 1 training failed (the run is marked failed);\n"
            "             2 the run could not start (usage, config, data, existing run)\n");
}

typedef struct train_args {
    const char *config;
    const char *out;
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
        } else if (!strcmp(arg, "--set") || !strcmp(arg, "--out")) {
            if (!has_value) {
                fprintf(stderr, "repro train: %s needs a value\n", arg);
                return 2;
            }
            if (!strcmp(arg, "--out"))
                a->out = argv[++i];
            else
                a->overrides[a->n_overrides++] = argv[++i];
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
    if (!a->config) {
        fprintf(stderr, "repro train: missing CONFIG (see 'repro train --help')\n");
        return 2;
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
    repro_status st = repro_config_load(a.config, a.overrides, a.n_overrides, cfg, &err);
    if (st != REPRO_OK) {
        fprintf(stderr, "repro train: %s\n", err.message);
        free(cfg);
        free(a.overrides);
        return 2;
    }
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
    };
    repro_train_result res;
    st = repro_train(cfg, &opts, &res, &err);
    progress_end_line(&ps);
    if (st != REPRO_OK) {
        fprintf(stderr, "repro train: %s\n", err.message);
        if (res.run_dir[0])
            fprintf(stderr, "repro train: run marked failed in %s\n", res.run_dir);
        rc = res.run_dir[0] ? 1 : 2;
    } else {
        progress_summary(&ps, &res);
        rc = 0;
    }
    free(cfg);
    free(a.overrides);
    return rc;
}
