/* repro export RUN --format torch -o FILE.safetensors [--code FILE.py] [--quiet]:
 * the run's weights under the names of a PyTorch nn.Sequential
 * (src/record/export_torch.c), and that module's code on stdout.
 * Exit status: 0 written, 2 error (usage, unreadable run, no equivalent). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "repro/export.h"

static const char usage_text[] =
    "usage: repro export RUN --format torch -o FILE.safetensors [--code FILE.py] [--quiet]\n"
    "Writes RUN's model.safetensors again with the keys and shapes of a PyTorch\n"
    "nn.Sequential computing the same function (layers in order, then the head's),\n"
    "and prints the Python code of that module. repro's layouts are PyTorch's\n"
    "(linear [out][in], conv [out][in/groups][kh][kw], NCHW), so only names change.\n"
    "A model with several heads, a branching graph or batch_norm has no\n"
    "nn.Sequential equivalent: that is an error naming the head, node or layer.\n"
    "  --format torch   the only format today\n"
    "  -o, --out FILE   the safetensors file to write (metadata repro_names maps\n"
    "                   each key back to repro's name)\n"
    "  --code FILE      also write the module's code to FILE\n"
    "  --quiet          do not print the code\n"
    "Details: docs/python.md#pytorch\n";

static int usage_error(const char *msg)
{
    fprintf(stderr, "repro export: %s\n%s", msg, usage_text);
    return 2;
}

static int write_code(const char *path, const char *code)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(code, f) < 0 || fclose(f) != 0) {
        if (f)
            fclose(f);
        fprintf(stderr, "repro export: cannot write '%s'\n", path);
        return 2;
    }
    return 0;
}

int repro_cmd_export(int argc, char **argv)
{
    const char *run = NULL, *format = NULL, *out = NULL, *code_path = NULL;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (!strcmp(a, "--format") || !strcmp(a, "-o") || !strcmp(a, "--out") || !strcmp(a, "--code")) {
            if (i + 1 >= argc) {
                char msg[96];
                snprintf(msg, sizeof msg, "%s needs a value", a);
                return usage_error(msg);
            }
            const char **slot = !strcmp(a, "--format") ? &format : !strcmp(a, "--code") ? &code_path : &out;
            *slot = argv[++i];
        } else if (a[0] == '-') {
            char msg[256];
            snprintf(msg, sizeof msg, "unknown option '%s'", a);
            return usage_error(msg);
        } else if (!run) {
            run = a;
        } else {
            return usage_error("give one run directory");
        }
    }
    if (!run)
        return usage_error("missing the run directory");
    if (!format)
        return usage_error("missing --format (torch)");
    if (strcmp(format, "torch") != 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "unknown --format '%s' (torch)", format);
        return usage_error(msg);
    }
    if (!out)
        return usage_error("missing -o FILE.safetensors");
    repro_error err = {0};
    char *code = NULL;
    if (repro_export_torch(run, out, &code, &err) != REPRO_OK) {
        fprintf(stderr, "repro export: %s\n", err.message);
        return 2;
    }
    int rc = code_path ? write_code(code_path, code) : 0;
    if (!quiet)
        fputs(code, stdout);
    free(code);
    return rc;
}
