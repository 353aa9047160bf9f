/* The emulator's own exit codes, documented in README.md. A guest's exit status passes through
 * unchanged, and a guest killed by signal N exits with 128 + N, as a shell reports it. */
#ifndef RSEQEMU_CLI_EXIT_CODES_H
#define RSEQEMU_CLI_EXIT_CODES_H

enum {
    EXIT_USAGE = 64,       /* bad command line */
    EXIT_BAD_INPUT = 65,   /* a malformed program or schedule file */
    EXIT_NO_INPUT = 66,    /* the program or a file cannot be opened */
    EXIT_UNSUPPORTED = 69, /* a valid program rseqemu cannot run (dynamic, other machine) */
    EXIT_INTERNAL = 70,    /* the machine failed; the report says how */
    EXIT_RUNAWAY = 124,    /* --max-insns reached */
    EXIT_DEADLOCK = 125,   /* every guest thread blocked forever */
};

#endif
