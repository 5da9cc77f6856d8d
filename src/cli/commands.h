/* The `repro` subcommands. Each takes the arguments after `repro`, so
 * argv[0] is the subcommand's name, and returns the process exit status. */
#ifndef REPRO_CLI_COMMANDS_H
#define REPRO_CLI_COMMANDS_H

/* repro diff RUN_A RUN_B [--json] [--quiet]: 0 identical, 1 different, 2 error. */
int repro_cmd_diff(int argc, char **argv);

/* repro env [--json]: what a run record captures about this machine. */
int repro_cmd_env(int argc, char **argv);

#endif
