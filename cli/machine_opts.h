/* The options that shape the machine, which `run` and `sweep` share: checked and turned into
 * a kernel configuration in one place. */
#ifndef RSEQEMU_CLI_MACHINE_OPTS_H
#define RSEQEMU_CLI_MACHINE_OPTS_H

#include <stdint.h>

#include "kernel-model/kernel.h"
#include "options.h"

struct machine_opts {
    uint64_t cpus, nodes, seed;
    const char *kernel, *rseq_debug, *cpu_opv_nr, *offline, *max_mem;
    struct opt_list env;
    bool inherit_env;
};

/* The defaults of both commands but the CPU count. */
#define MACHINE_OPTS_DEFAULTS(ncpus)                                                               \
    {                                                                                              \
        .cpus = (ncpus), .nodes = 1, .seed = 1, .kernel = "6.18", .rseq_debug = "kill"             \
    }

/* Sets cfg's machine from o (cfg has the defaults), or prints "rseqemu CMD: why" and returns
 * EXIT_USAGE. */
int machine_opts_apply(const char *cmd, const struct machine_opts *o, struct kernel_config *cfg);

/* --max-mem SIZE: a number of bytes with an optional K, M, G or T (powers of 1024), or "off";
 * 0 and the bytes (0 for off) in *bytes, -1 if malformed. */
int max_mem_parse(const char *text, uint64_t *bytes);
/* The default cap: half of the host's memory, whole MiB (README). */
uint64_t max_mem_default(void);
#define MAX_MEM_OPT(field)                                                                         \
    {                                                                                              \
        "max-mem", OPT_STRING, &(field), "SIZE",                                                   \
            "cap on the guest's memory, e.g. 256M, 4G or off; past it the guest is killed as by "  \
            "the "                                                                                 \
            "OOM killer (default: half the host's memory)"                                         \
    }

#endif
