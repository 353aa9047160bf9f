/* rseqemu sweep: fuzz the boundaries of every critical section (explore/sweep.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "emu/loader.h"
#include "exit_codes.h"
#include "explore/sweep.h"
#include "kernel-model/kernel.h"
#include "machine_opts.h"
#include "options.h"
#include "program.h"

struct sweep_opts {
    struct machine_opts m;
    uint64_t max_insns, entries, window, max_schedules, stall_insns, jobs;
    bool quiet, no_progress, stats;
    const char *out, *json, *junit;
};

static int usage_error(const char *fmt, const char *arg)
{
    fputs("rseqemu sweep: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return EXIT_USAGE;
}

/* -j N and -jN are --jobs N: the one short option, as make and ninja spell it. */
static char **expand_jobs(int argc, char **argv)
{
    char **out = calloc((size_t)argc * 2 + 1, sizeof(char *));
    if (!out)
        return NULL;
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            for (; i < argc; i++)
                out[n++] = argv[i];
        else if (!strcmp(argv[i], "-j"))
            out[n++] = "--jobs";
        else if (!strncmp(argv[i], "-j", 2) && argv[i][2] >= '0' && argv[i][2] <= '9') {
            out[n++] = "--jobs";
            out[n++] = argv[i] + 2;
        } else
            out[n++] = argv[i];
        if (i >= argc)
            break;
    }
    out[n] = NULL;
    return out;
}

int cmd_sweep(int argc, char **argv)
{
    struct sweep_opts o = {.m = MACHINE_OPTS_DEFAULTS(2),
                           .entries = 3,
                           .window = 24,
                           .stall_insns = 50000,
                           .jobs = 1,
                           .out = "sweep-out"};
    const struct opt opts[] = {
        {"cpus", OPT_U64, &o.m.cpus, "N", "modelled CPUs (1..64, default 2)"},
        {"offline", OPT_STRING, &o.m.offline, "LIST", "CPUs offline from the start (never CPU 0)"},
        {"seed", OPT_U64, &o.m.seed, "S", "seed of the guest's randomness (default 1)"},
        {"nodes", OPT_U64, &o.m.nodes, "N", "NUMA nodes the CPUs are spread over (default 1)"},
        {"kernel", OPT_STRING, &o.m.kernel, "6.1|6.18", "kernel behaviour to model (default 6.18)"},
        {"rseq-debug", OPT_STRING, &o.m.rseq_debug, "kill|report|off",
         "syscalls in critical sections, writes to kernel fields (default kill)"},
        {"cpu-opv-nr", OPT_STRING, &o.m.cpu_opv_nr, "N|off",
         "the syscall number of cpu_opv (default 1000; off or 0: ENOSYS)"},
        {"env", OPT_LIST, &o.m.env, "NAME=VALUE", "add to the guest's (empty) environment"},
        {"inherit-env", OPT_FLAG, &o.m.inherit_env, NULL, "give the guest rseqemu's environment"},
        {"entries", OPT_U64, &o.entries, "N",
         "dynamic entries swept per section and call site (default 3)"},
        {"window", OPT_U64, &o.window, "N",
         "instructions swept before a section's start or a call (default 24)"},
        {"stall-insns", OPT_U64, &o.stall_insns, "N",
         "how long a stalled vCPU stops, in instructions (default 50000)"},
        {"max-schedules", OPT_U64, &o.max_schedules, "N", "run at most about N schedules"},
        MAX_MEM_OPT(o.m.max_mem),
        {"max-insns", OPT_U64, &o.max_insns, "N",
         "a schedule's instruction budget (default twice the base run plus 1000000)"},
        {"jobs", OPT_U64, &o.jobs, "N", "worker processes (also -j N; default 1)"},
        {"out", OPT_STRING, &o.out, "DIR",
         "where the failures' schedule files go (default sweep-out)"},
        {"json", OPT_STRING, &o.json, "FILE", "the table and the failures as JSON"},
        {"junit", OPT_STRING, &o.junit, "FILE", "JUnit XML: a test case per section and event"},
        {"no-progress", OPT_FLAG, &o.no_progress, NULL, "no progress line, even on a terminal"},
        {"quiet", OPT_FLAG, &o.quiet, NULL, "no emulator notices from the runs"},
        {"stats", OPT_FLAG, &o.stats, NULL,
         "print `stat <name> <value>` lines on stderr: schedules per second, restore cost"},
    };
    const size_t nopts = sizeof(opts) / sizeof(opts[0]);
    const char *synopsis = "usage: rseqemu sweep [options] [--] PROG [ARGS...]";
    char **args = expand_jobs(argc, argv);
    if (!args)
        return EXIT_INTERNAL;
    int nargs = 0;
    while (args[nargs])
        nargs++;
    bool help;
    int first = opt_parse("sweep", opts, nopts, nargs, args, &help);
    int code = EXIT_USAGE;
    if (help) {
        opt_print_help(synopsis, opts, nopts);
        code = 0;
        goto out;
    }
    if (first < 0)
        goto out;
    if (first >= nargs) {
        fprintf(stderr, "rseqemu sweep: no program given\n%s\n", synopsis);
        goto out;
    }
    struct sweep_config sc = {0};
    struct kernel_config *cfg = &sc.kcfg;
    kernel_config_defaults(cfg);
    if ((code = machine_opts_apply("sweep", &o.m, cfg)) != 0)
        goto out;
    code = EXIT_USAGE;
    if (o.entries < 1 || o.entries > 1000) {
        code = usage_error("%s", "--entries must be between 1 and 1000");
        goto out;
    }
    if (o.window > 256) {
        code = usage_error("%s", "--window must be at most 256");
        goto out;
    }
    if (o.stall_insns < 1 || o.stall_insns > 1000000000) {
        code = usage_error("%s", "--stall-insns must be between 1 and 1000000000");
        goto out;
    }
    if (o.jobs < 1 || o.jobs > 64) {
        code = usage_error("%s", "--jobs must be between 1 and 64");
        goto out;
    }
    cfg->max_insns = 4000000000ULL; /* the base run's; a schedule's is set from it */
    cfg->quiet = o.quiet;
    int status;
    struct elf_image *img = program_open(args[first], &status);
    if (!img) {
        code = status;
        goto out;
    }
    sc.img = img;
    sc.prog = args[first];
    sc.argv = &args[first];
    sc.entries = (uint32_t)o.entries;
    sc.window = (uint32_t)o.window;
    sc.max_schedules = o.max_schedules;
    sc.stall_insns = o.stall_insns;
    sc.schedule_insns = o.max_insns;
    sc.jobs = (int)o.jobs;
    sc.out_dir = o.out;
    sc.json = o.json;
    sc.junit = o.junit;
    sc.progress = !o.no_progress && isatty(2);
    sc.stats = o.stats;
    sc.out = stdout;
    code = sweep_run(&sc);
    elf_image_close(img);
out:
    free(args);
    return code;
}
