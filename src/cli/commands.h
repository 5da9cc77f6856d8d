/* The `repro` subcommands. Each takes argc/argv with argv[0] = the
 * subcommand's name and returns the process exit status. */
#ifndef REPRO_CLI_COMMANDS_H
#define REPRO_CLI_COMMANDS_H

int repro_cmd_train(int argc, char **argv);
int repro_cmd_diff(int argc, char **argv);
int repro_cmd_env(int argc, char **argv);
int repro_cmd_gen_data(int argc, char **argv);
int repro_cmd_verify(int argc, char **argv);
int repro_cmd_replay(int argc, char **argv);
int repro_cmd_report(int argc, char **argv);
int repro_cmd_plot(int argc, char **argv);
int repro_cmd_export(int argc, char **argv);
int repro_cmd_sample(int argc, char **argv);

#endif
