/* `repro`: the command-line tool. Dispatches to a subcommand. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "build_info.h"
#include "cli/commands.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"train", repro_cmd_train, "train a model from a YAML config; writes a run directory"},
    {"verify", repro_cmd_verify, "train under varied settings and resumes; check every run has the same bits"},
    {"diff", repro_cmd_diff, "compare two run directories; name the first divergent step (--trace: tensor)"},
    {"replay", repro_cmd_replay, "retrain a run from its record; exit 0 only if every ledger bit matches"},
    {"report", repro_cmd_report, "one self-contained HTML page of runs: curves, records, differences"},
    {"plot", repro_cmd_plot, "one metric of one or more runs as an SVG line chart"},
    {"sample", repro_cmd_sample, "generate text from a trained character language model (data.format text)"},
    {"env", repro_cmd_env, "show what a run record captures about this machine"},
    {"gen-data", repro_cmd_gen_data, "write a synthetic data set (the dual-task CSV)"},
    {"export", repro_cmd_export, "write a run's weights as a PyTorch nn.Sequential's safetensors"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: repro COMMAND [ARGS...]\n"
            "\n"
            "Bit-for-bit reproducible neural-network training.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n"
            "Run 'repro COMMAND --help' for a command's options.\n"
            "Examples:\n"
            "  repro train examples/fashion_mlp.yaml\n"
            "  repro train examples/fashion_mlp.yaml --set threads=2 --set max_steps=300 --out runs/t2\n"
            "  repro diff runs/t1 runs/t2\n"
            "  repro replay runs/t1\n"
            "  repro report runs/t1 runs/t2 -o report.html\n"
            "  repro verify examples/fashion_mlp.yaml --vary threads=1,2 --resume-at 37 --max-steps 100\n");
}

int main(int argc, char **argv)
{
    /* Kernels allocate packing buffers of a few hundred KB per call; keep
     * them on the heap rather than fresh mmaps, whose pages the kernel
     * would fault in and zero on every call. Speed only, never bits. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 128 << 20);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("repro %s (%s)\n", REPRO_VERSION_STRING, REPRO_GIT_COMMIT);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "repro: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
