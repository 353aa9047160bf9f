/* Opening the guest program a command names, as every command does: the message on stderr and
 * the exit status for each way it can fail (README, "Exit codes"). */
#ifndef RSEQEMU_CLI_PROGRAM_H
#define RSEQEMU_CLI_PROGRAM_H

struct elf_image;

/* The program, or NULL after "rseqemu: PATH: why" on stderr with *status set: 66 when it cannot
 * be read, 65 when it is malformed, 69 when rseqemu does not run its kind. */
struct elf_image *program_open(const char *path, int *status);

#endif
