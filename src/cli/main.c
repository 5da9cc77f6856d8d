/* `repro`: dispatches to a subcommand (src/cli/cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

static void usage(FILE *f)
{
    fputs("usage: repro COMMAND [ARGS]\n"
          "commands:\n"
          "  diff RUN_A RUN_B   compare two run directories step by step\n"
          "  env                show what a run record captures about this machine\n"
          "Run `repro COMMAND --help` for a command's options.\n",
          f);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {{"diff", repro_cmd_diff}, {"env", repro_cmd_env}};
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "repro: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
