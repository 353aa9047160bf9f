/* Running a guest program from a test: in-process, with its output captured and an
 * instruction budget (every emulator run in a test has one). */
#ifndef RSEQEMU_TESTS_GUEST_RUN_H
#define RSEQEMU_TESTS_GUEST_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kernel-model/kernel.h"

/* Where the build put guest programs: GUEST_DIR/<arch>/<name>. */
#ifndef GUEST_DIR
#error "tests must be built with -DGUEST_DIR=..."
#endif

#define GUEST_RUN_MAX_INSNS_DEFAULT 500000000ULL

struct guest_opts {
    int cpus;           /* 0: 4 */
    uint64_t seed;      /* 0: 1 */
    uint64_t max_insns; /* 0: GUEST_RUN_MAX_INSNS_DEFAULT */
    enum kernel_profile profile;
    const char *const *envp;
    bool verify_icount; /* cross-check block instruction counts per instruction */
    bool no_fast_stores;
    int nodes;                  /* 0: 1 */
    bool no_cs_inject;          /* no injections inside critical sections */
    const char *const *injects; /* NULL-terminated "ACTION@WHERE[#N]" (kernel_inject_parse) */
    enum kernel_rseq_debug rseq_debug;
    bool rseq_watch;
    int cpu_opv_nr;            /* 0: the default (KERNEL_CPU_OPV_NR_DEFAULT); -1: off */
    uint64_t offline;          /* CPUs offline from the start (--offline), bit per CPU */
    const char *schedule;      /* a schedule file's text: run with --policy script */
    FILE *record;              /* --record: the run's events are written there */
    enum kernel_policy policy; /* 0: random */
    uint32_t pct_depth;        /* 0: the default */
    uint64_t pct_steps;        /* 0: the default */
};

struct guest_result {
    enum kernel_outcome outcome;
    int status;
    uint64_t insns;
    uint64_t digest;
    char out[1 << 16]; /* guest stdout, NUL-terminated */
    char err[1 << 16]; /* guest stderr and emulator diagnostics */
    char stats[4096];  /* `stat <name> <value>` lines (kernel_print_stats) */
};

/* A figure of the run's stats; the test fails if it is absent. */
uint64_t guest_stat(const struct guest_result *r, const char *name);

/* "x86_64" or "aarch64". */
extern const char *const guest_arches[2];

/* Path of a built guest program, in a static buffer. */
const char *guest_path(const char *arch, const char *name);

/* The whole file at path, malloc'd (the caller frees it); NULL if it cannot be read. */
uint8_t *file_read_whole(const char *path, size_t *size);

/* Runs GUEST_DIR/arch/name with argv[1..] = args (NULL-terminated, may be NULL).
 * Returns 0, or -1 when the program could not even be loaded (r->err says why). */
int guest_run(const char *arch, const char *name, const char *const *args,
              const struct guest_opts *opts, struct guest_result *r);

#endif
