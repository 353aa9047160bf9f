/* rseqemu run: execute a static program on the deterministic machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "emu/loader.h"
#include "exit_codes.h"
#include "kernel-model/kernel.h"
#include "options.h"

extern char **environ;

struct run_opts {
    uint64_t cpus, nodes, seed, max_insns, cs_inject_span;
    bool digest, quiet, stats, inherit_env, no_fast_stores, verify_icount, rseq_watch;
    const char *kernel, *rseq_debug;
    struct opt_list env, inject_at;
};

static int exit_for_result(const struct kernel_result *r)
{
    switch (r->outcome) {
    case KERNEL_EXITED:
        return r->status;
    case KERNEL_SIGNALED:
        return 128 + r->status;
    case KERNEL_DEADLOCK:
        return EXIT_DEADLOCK;
    case KERNEL_RUNAWAY:
        return EXIT_RUNAWAY;
    default:
        return EXIT_INTERNAL;
    }
}

int cmd_run(int argc, char **argv)
{
    struct run_opts o = {.cpus = 4,
                         .nodes = 1,
                         .seed = 1,
                         .cs_inject_span = 16,
                         .kernel = "6.18",
                         .rseq_debug = "kill"};
    const struct opt opts[] = {
        {"cpus", OPT_U64, &o.cpus, "N", "modelled CPUs (1..64, default 4)"},
        {"seed", OPT_U64, &o.seed, "S", "seed of every scheduling choice (default 1)"},
        {"max-insns", OPT_U64, &o.max_insns, "N", "stop a runaway guest after N instructions"},
        {"nodes", OPT_U64, &o.nodes, "N", "NUMA nodes the CPUs are spread over (default 1)"},
        {"kernel", OPT_STRING, &o.kernel, "6.1|6.18", "kernel behaviour to model (default 6.18)"},
        {"cs-inject-span", OPT_U64, &o.cs_inject_span, "N",
         "inject in one of the next 1..N critical-section entries (default 16, 0: off)"},
        {"inject-at", OPT_LIST, &o.inject_at, "ACTION@WHERE[#N]",
         "preempt|migrate[=CPU]|signal=SIG|tick|notify where a thread is about to run WHERE"},
        {"rseq-debug", OPT_STRING, &o.rseq_debug, "kill|report|off",
         "syscalls in critical sections, writes to kernel fields (default kill)"},
        {"rseq-watch", OPT_FLAG, &o.rseq_watch, NULL,
         "name the instruction that writes a kernel-owned rseq field (slow)"},
        {"env", OPT_LIST, &o.env, "NAME=VALUE", "add to the guest's (empty) environment"},
        {"inherit-env", OPT_FLAG, &o.inherit_env, NULL, "give the guest rseqemu's environment"},
        {"digest", OPT_FLAG, &o.digest, NULL, "print a hash of the run's events on stderr"},
        {"stats", OPT_FLAG, &o.stats, NULL, "print `stat <name> <value>` lines on stderr"},
        {"quiet", OPT_FLAG, &o.quiet, NULL, "only report why a run failed"},
        {"no-fast-stores", OPT_FLAG, &o.no_fast_stores, NULL,
         "keep the engine's slow store path (for comparison)"},
        {"verify-icount", OPT_FLAG, &o.verify_icount, NULL,
         "cross-check instruction counts per instruction (slow)"},
    };
    const size_t nopts = sizeof(opts) / sizeof(opts[0]);
    const char *synopsis = "usage: rseqemu run [options] [--] PROG [ARGS...]";
    bool help;
    int first = opt_parse("run", opts, nopts, argc, argv, &help);
    if (help) {
        opt_print_help(synopsis, opts, nopts);
        return 0;
    }
    if (first < 0)
        return EXIT_USAGE;
    if (first >= argc) {
        fprintf(stderr, "rseqemu run: no program given\n%s\n", synopsis);
        return EXIT_USAGE;
    }
    struct kernel_config cfg;
    kernel_config_defaults(&cfg);
    if (o.cpus < 1 || o.cpus > KERNEL_CPUS_MAX) {
        fprintf(stderr, "rseqemu run: --cpus must be between 1 and %d\n", KERNEL_CPUS_MAX);
        return EXIT_USAGE;
    }
    if (!strcmp(o.kernel, "6.1")) {
        cfg.profile = KERNEL_6_1;
    } else if (!strcmp(o.kernel, "6.18")) {
        cfg.profile = KERNEL_6_18;
    } else {
        fprintf(stderr, "rseqemu run: --kernel must be 6.1 or 6.18, not '%s'\n", o.kernel);
        return EXIT_USAGE;
    }
    static const char *const debug_modes[] = {
        [RSEQ_DEBUG_KILL] = "kill", [RSEQ_DEBUG_REPORT] = "report", [RSEQ_DEBUG_OFF] = "off"};
    int debug = -1;
    for (int i = 0; i < 3; i++)
        if (!strcmp(o.rseq_debug, debug_modes[i]))
            debug = i;
    if (debug < 0) {
        fprintf(stderr, "rseqemu run: --rseq-debug must be kill, report or off, not '%s'\n",
                o.rseq_debug);
        return EXIT_USAGE;
    }
    cfg.rseq_debug = (enum kernel_rseq_debug)debug;
    if (o.nodes < 1 || o.nodes > o.cpus) {
        fprintf(stderr, "rseqemu run: --nodes must be between 1 and --cpus (%llu)\n",
                (unsigned long long)o.cpus);
        return EXIT_USAGE;
    }
    if (o.cs_inject_span > UINT32_MAX) {
        fprintf(stderr, "rseqemu run: --cs-inject-span is too large\n");
        return EXIT_USAGE;
    }
    if (o.inject_at.count > KERNEL_INJECTS_MAX) {
        fprintf(stderr, "rseqemu run: at most %d --inject-at options\n", KERNEL_INJECTS_MAX);
        return EXIT_USAGE;
    }
    for (int i = 0; i < o.inject_at.count; i++) {
        char why[256];
        if (kernel_inject_parse(o.inject_at.items[i], &cfg.injects[i], why, sizeof(why)) != 0) {
            fprintf(stderr, "rseqemu run: --inject-at %s\n", why);
            return EXIT_USAGE;
        }
    }
    cfg.ninjects = o.inject_at.count;
    for (int i = 0; i < o.env.count; i++) {
        if (!strchr(o.env.items[i], '=')) {
            fprintf(stderr, "rseqemu run: --env needs NAME=VALUE, not '%s'\n", o.env.items[i]);
            return EXIT_USAGE;
        }
    }
    const char *prog = argv[first];
    char err[512];
    enum elf_open_error kind;
    struct elf_image *img = elf_image_open(prog, &kind, err, sizeof(err));
    if (!img) {
        fprintf(stderr, "rseqemu: %s: %s\n", prog, err);
        return kind == ELF_OPEN_CANNOT_READ   ? EXIT_NO_INPUT
               : kind == ELF_OPEN_UNSUPPORTED ? EXIT_UNSUPPORTED
                                              : EXIT_BAD_INPUT;
    }
    cfg.arch = elf_image_arch(img);
    cfg.ncpus = (int)o.cpus;
    cfg.nodes = (int)o.nodes;
    cfg.cs_inject_span = (uint32_t)o.cs_inject_span;
    cfg.rseq_watch = o.rseq_watch;
    cfg.seed = o.seed;
    cfg.max_insns = o.max_insns;
    cfg.quiet = o.quiet;
    cfg.no_fast_stores = o.no_fast_stores;
    cfg.verify_icount = o.verify_icount;
    cfg.envp = o.inherit_env ? (const char *const *)environ : o.env.items;
    struct kernel *k = kernel_create(&cfg, err, sizeof(err));
    if (!k) {
        fprintf(stderr, "rseqemu: %s\n", err);
        elf_image_close(img);
        return EXIT_INTERNAL;
    }
    int spawned = kernel_spawn(k, img, (const char *const *)&argv[first], err, sizeof(err));
    if (spawned != 0) {
        fprintf(stderr, "rseqemu: %s: %s\n", prog, err);
        kernel_destroy(k);
        elf_image_close(img);
        return spawned == -2 ? EXIT_USAGE : EXIT_BAD_INPUT;
    }
    struct kernel_result res;
    kernel_run(k, &res);
    fflush(stdout);
    if (o.stats)
        kernel_print_stats(k, stderr);
    if (o.digest)
        fprintf(stderr, "digest: %016llx\n", (unsigned long long)res.digest);
    int code = exit_for_result(&res);
    if (res.outcome != KERNEL_EXITED && !(o.quiet && res.outcome == KERNEL_SIGNALED))
        fprintf(stderr, "rseqemu: run with --seed %llu --cpus %llu ended after %llu instructions\n",
                (unsigned long long)o.seed, (unsigned long long)o.cpus,
                (unsigned long long)res.insns);
    kernel_destroy(k);
    elf_image_close(img);
    return code;
}
