/* Subcommands of the rseqemu command line. Each takes the arguments after its name. */
#ifndef RSEQEMU_CLI_COMMANDS_H
#define RSEQEMU_CLI_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_cs(int argc, char **argv);
int cmd_timeline(int argc, char **argv);

#endif
