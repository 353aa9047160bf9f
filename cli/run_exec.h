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
    bool trace;                        /* --trace: the readable event log on stderr */
    const char *trace_json, *perfetto; /* --trace-json FILE, --perfetto FILE, or NULL */
    char cmd[512];                     /* how to run it again, for the report of a failed run */
};

/* The options `run` and `replay` share, for their option tables (options.h). */
#define RUN_EXEC_TRACE_OPTS(r)                                                                     \
    {"trace", OPT_FLAG, &(r).trace, NULL,                                                          \
     "log switches, preemptions, aborts, signals and syscalls on stderr"},                         \
        {"trace-json", OPT_STRING, &(r).trace_json, "FILE", "the same log as JSON lines in FILE"}, \
    {                                                                                              \
        "perfetto", OPT_STRING, &(r).perfetto, "FILE",                                             \
            "Chrome trace-event JSON for Perfetto UI: a track per vCPU"                            \
    }

/* Runs it; returns the exit status (README, "Exit codes"). */
int run_exec(struct run_exec *r);

#endif
