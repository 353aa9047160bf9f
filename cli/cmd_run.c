/* rseqemu run: execute a static program on the deterministic machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "exit_codes.h"
#include "kernel-model/kernel.h"
#include "kernel-model/schedule.h"
#include "machine_opts.h"
#include "options.h"
#include "run_exec.h"

#define UNSET UINT64_MAX /* an option not given */

struct run_opts {
    struct machine_opts m;
    uint64_t max_insns, cs_inject_span, pct_depth, pct_steps;
    bool digest, quiet, stats, no_fast_stores, verify_icount, rseq_watch;
    const char *policy, *schedule, *record;
    struct opt_list inject_at;
};

static int usage_error(const char *fmt, const char *arg)
{
    fputs("rseqemu run: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return EXIT_USAGE;
}

/* The options that shape the run, as a command line that repeats it. */
static void describe(char *buf, size_t len, const struct run_opts *o)
{
    int n = snprintf(buf, len, "--seed %llu --cpus %llu", (unsigned long long)o->m.seed,
                     (unsigned long long)o->m.cpus);
    if (strcmp(o->policy, "random"))
        n += snprintf(buf + n, len - (size_t)n, " --policy %s", o->policy);
    if (!strcmp(o->policy, "pct"))
        n += snprintf(buf + n, len - (size_t)n, " --pct-depth %llu --pct-steps %llu",
                      (unsigned long long)o->pct_depth, (unsigned long long)o->pct_steps);
    if (o->schedule)
        n += snprintf(buf + n, len - (size_t)n, " --schedule %s", o->schedule);
    if (strcmp(o->m.kernel, "6.18"))
        n += snprintf(buf + n, len - (size_t)n, " --kernel %s", o->m.kernel);
    if (o->m.offline)
        n += snprintf(buf + n, len - (size_t)n, " --offline %s", o->m.offline);
    if (o->m.nodes != 1)
        n += snprintf(buf + n, len - (size_t)n, " --nodes %llu", (unsigned long long)o->m.nodes);
    if (o->cs_inject_span != 16)
        n += snprintf(buf + n, len - (size_t)n, " --cs-inject-span %llu",
                      (unsigned long long)o->cs_inject_span);
    if (strcmp(o->m.rseq_debug, "kill"))
        n += snprintf(buf + n, len - (size_t)n, " --rseq-debug %s", o->m.rseq_debug);
    if (o->m.cpu_opv_nr)
        n += snprintf(buf + n, len - (size_t)n, " --cpu-opv-nr %s", o->m.cpu_opv_nr);
    for (int i = 0; i < o->inject_at.count && n > 0 && (size_t)n < len; i++)
        n += snprintf(buf + n, len - (size_t)n, " --inject-at '%s'", o->inject_at.items[i]);
}

int cmd_run(int argc, char **argv)
{
    struct run_opts o = {.m = MACHINE_OPTS_DEFAULTS(4),
                         .cs_inject_span = 16,
                         .pct_depth = UNSET,
                         .pct_steps = UNSET,
                         .policy = "random"};
    struct run_exec r = {0};
    const struct opt opts[] = {
        {"cpus", OPT_U64, &o.m.cpus, "N", "modelled CPUs (1..64, default 4)"},
        {"offline", OPT_STRING, &o.m.offline, "LIST",
         "CPUs possible but offline from the start, e.g. 1,3 or 2-5 (never CPU 0)"},
        {"seed", OPT_U64, &o.m.seed, "S", "seed of every scheduling choice (default 1)"},
        {"max-insns", OPT_U64, &o.max_insns, "N", "stop a runaway guest after N instructions"},
        MAX_MEM_OPT(o.m.max_mem),
        {"policy", OPT_STRING, &o.policy, "random|round-robin|script|pct",
         "who makes the scheduling decisions (default random)"},
        {"pct-depth", OPT_U64, &o.pct_depth, "D",
         "pct: the bug depth aimed at, D-1 priority change points (1..16, default 3)"},
        {"pct-steps", OPT_U64, &o.pct_steps, "K",
         "pct: steps the change points are drawn from (default 100; see stat pct_steps)"},
        {"schedule", OPT_STRING, &o.schedule, "FILE", "the events for --policy script"},
        {"record", OPT_STRING, &o.record, "FILE", "write the run's schedule to FILE, for replay"},
        {"nodes", OPT_U64, &o.m.nodes, "N", "NUMA nodes the CPUs are spread over (default 1)"},
        {"kernel", OPT_STRING, &o.m.kernel, "6.1|6.18", "kernel behaviour to model (default 6.18)"},
        {"cs-inject-span", OPT_U64, &o.cs_inject_span, "N",
         "inject in one of the next 1..N critical-section entries (default 16, 0: off)"},
        {"inject-at", OPT_LIST, &o.inject_at, "ACTION@WHERE[#N]",
         "preempt|migrate[=CPU]|signal=SIG|tick|notify where a thread is about to run WHERE"},
        {"rseq-debug", OPT_STRING, &o.m.rseq_debug, "kill|report|off",
         "syscalls in critical sections, writes to kernel fields (default kill)"},
        {"rseq-watch", OPT_FLAG, &o.rseq_watch, NULL,
         "name the instruction that writes a kernel-owned rseq field (slow)"},
        {"cpu-opv-nr", OPT_STRING, &o.m.cpu_opv_nr, "N|off",
         "the syscall number of cpu_opv (default 1000; off or 0: ENOSYS)"},
        {"env", OPT_LIST, &o.m.env, "NAME=VALUE", "add to the guest's (empty) environment"},
        {"inherit-env", OPT_FLAG, &o.m.inherit_env, NULL, "give the guest rseqemu's environment"},
        RUN_EXEC_TRACE_OPTS(r),
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
    r.prog = argv[first];
    r.argv = &argv[first];
    r.record = o.record;
    r.digest = o.digest;
    r.stats = o.stats;
    r.quiet = o.quiet;
    struct kernel_config *cfg = &r.cfg;
    kernel_config_defaults(cfg);
    int bad = machine_opts_apply("run", &o.m, cfg);
    if (bad)
        return bad;
    int policy = kernel_word_parse(kernel_policy_names, o.policy);
    if (policy < 0)
        return usage_error("--policy must be random, round-robin, script or pct, not '%s'",
                           o.policy);
    cfg->policy = (enum kernel_policy)policy;
    if ((cfg->policy == POLICY_SCRIPT) != (o.schedule != NULL))
        return usage_error("%s", "--policy script and --schedule FILE go together");
    if (cfg->policy != POLICY_PCT && (o.pct_depth != UNSET || o.pct_steps != UNSET))
        return usage_error("%s", "--pct-depth and --pct-steps go with --policy pct");
    if (o.pct_depth == UNSET)
        o.pct_depth = KERNEL_PCT_DEPTH_DEFAULT;
    if (o.pct_steps == UNSET)
        o.pct_steps = KERNEL_PCT_STEPS_DEFAULT;
    if (o.pct_depth < 1 || o.pct_depth > KERNEL_PCT_DEPTH_MAX) {
        fprintf(stderr, "rseqemu run: --pct-depth must be between 1 and %d\n",
                KERNEL_PCT_DEPTH_MAX);
        return EXIT_USAGE;
    }
    if (o.pct_steps < 1)
        return usage_error("%s", "--pct-steps must be at least 1");
    cfg->pct_depth = (uint32_t)o.pct_depth;
    cfg->pct_steps = o.pct_steps;
    if (cfg->policy == POLICY_SCRIPT && o.inject_at.count)
        return usage_error("%s", "--inject-at does not mix with --policy script: put the event "
                                 "in the schedule");
    if (o.cs_inject_span > UINT32_MAX)
        return usage_error("%s", "--cs-inject-span is too large");
    if (o.inject_at.count > KERNEL_INJECTS_MAX) {
        fprintf(stderr, "rseqemu run: at most %d --inject-at options\n", KERNEL_INJECTS_MAX);
        return EXIT_USAGE;
    }
    for (int i = 0; i < o.inject_at.count; i++) {
        char why[256];
        if (kernel_inject_parse(o.inject_at.items[i], &cfg->injects[i], why, sizeof(why)) != 0)
            return usage_error("--inject-at %s", why);
    }
    cfg->ninjects = o.inject_at.count;
    struct schedule *sched = NULL;
    if (o.schedule) {
        char err[600];
        bool unreadable;
        sched = schedule_load(o.schedule, &unreadable, err, sizeof(err));
        if (!sched) {
            fprintf(stderr, "rseqemu: %s\n", err);
            return unreadable ? EXIT_NO_INPUT : EXIT_BAD_INPUT;
        }
        for (size_t i = 0; i < sched->nevents; i++) {
            if (sched->events[i].verb == VERB_MIGRATE && sched->events[i].arg >= (int)o.m.cpus) {
                fprintf(stderr, "rseqemu: %s: line %u: migrate %d: there are %llu CPUs\n",
                        o.schedule, sched->events[i].line, sched->events[i].arg,
                        (unsigned long long)o.m.cpus);
                schedule_free(sched);
                return EXIT_BAD_INPUT;
            }
        }
        cfg->script = sched->events;
        cfg->nscript = sched->nevents;
        cfg->script_fill = sched->fill;
    }
    cfg->cs_inject_span = (uint32_t)o.cs_inject_span;
    cfg->rseq_watch = o.rseq_watch;
    cfg->max_insns = o.max_insns;
    cfg->quiet = o.quiet;
    cfg->no_fast_stores = o.no_fast_stores;
    cfg->verify_icount = o.verify_icount;
    describe(r.cmd, sizeof(r.cmd), &o);
    int code = run_exec(&r);
    schedule_free(sched);
    return code;
}
