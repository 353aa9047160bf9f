/* What `run` and `replay` share: one run of a program on the machine, from a filled-in
 * kernel configuration, with the report, the figures and the recording around it. */
#ifndef RSEQEMU_CLI_RUN_EXEC_H
#define RSEQEMU_CLI_RUN_EXEC_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel-model/kernel.h"

struct run_exec {
    struct kernel_config cfg; /* everything but arch, which comes from the program */
    const char *prog;
    char *const *argv;     /* the guest's, argv[0] first */
    const char *record;    /* --record FILE, or NULL */
    const char *replaying; /* the schedule file being replayed, for messages */
    bool check_hash;       /* the program must hash to expected_hash */
    uint64_t expected_hash;
    const char *expected_arch; /* the schedule's arch line, or NULL */
    bool digest, stats, quiet;
    char cmd[512]; /* how to run it again, for the report of a failed run */
};

/* Runs it; returns the exit status (README, "Exit codes"). */
int run_exec(struct run_exec *r);

#endif
