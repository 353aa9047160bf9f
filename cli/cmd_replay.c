/* rseqemu replay: run a schedule file again, with script semantics: the program, its
 * arguments, environment and options come from the file's header, every scheduling decision
 * from its events. */
#include <stdio.h>

#include "commands.h"
#include "exit_codes.h"
#include "kernel-model/kernel.h"
#include "kernel-model/schedule.h"
#include "machine_opts.h"
#include "options.h"
#include "run_exec.h"

int cmd_replay(int argc, char **argv)
{
    struct {
        bool digest, stats, quiet;
        uint64_t max_insns;
        const char *record, *max_mem;
    } o = {0};
    struct run_exec r = {0};
    const struct opt opts[] = {
        {"digest", OPT_FLAG, &o.digest, NULL, "print a hash of the run's events on stderr"},
        {"stats", OPT_FLAG, &o.stats, NULL, "print `stat <name> <value>` lines on stderr"},
        {"quiet", OPT_FLAG, &o.quiet, NULL, "only report why a run failed"},
        {"max-insns", OPT_U64, &o.max_insns, "N",
         "stop after N instructions (default: the file's max-insns)"},
        {"record", OPT_STRING, &o.record, "FILE", "write the replay's own schedule to FILE"},
        {"max-mem", OPT_STRING, &o.max_mem, "SIZE",
         "cap on the guest's memory (default: the file's max-mem, else half the host's)"},
        RUN_EXEC_TRACE_OPTS(r),
    };
    const size_t nopts = sizeof(opts) / sizeof(opts[0]);
    const char *synopsis = "usage: rseqemu replay [options] FILE";
    bool help;
    int first = opt_parse("replay", opts, nopts, argc, argv, &help);
    if (help) {
        opt_print_help(synopsis, opts, nopts);
        return 0;
    }
    if (first < 0)
        return EXIT_USAGE;
    if (first != argc - 1) {
        fprintf(stderr, "rseqemu replay: expected one schedule file\n%s\n", synopsis);
        return EXIT_USAGE;
    }
    const char *file = argv[first];
    char err[600];
    bool unreadable;
    struct schedule *s = schedule_load(file, &unreadable, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "rseqemu: %s\n", err);
        return unreadable ? EXIT_NO_INPUT : EXIT_BAD_INPUT;
    }
    if (!s->program) {
        fprintf(stderr, "rseqemu: %s: no 'program' line: replay needs the program\n", file);
        schedule_free(s);
        return EXIT_BAD_INPUT;
    }
    char *default_argv[] = {s->program, NULL};
    r.prog = s->program;
    r.argv = s->argv ? s->argv : default_argv;
    r.record = o.record;
    r.replaying = file;
    r.check_hash = s->has_hash;
    r.expected_hash = s->program_hash;
    r.expected_arch = s->arch[0] ? s->arch : NULL;
    r.digest = o.digest;
    r.stats = o.stats;
    r.quiet = o.quiet;
    struct kernel_config *cfg = &r.cfg;
    kernel_config_defaults(cfg);
    cfg->profile = s->kernel;
    cfg->rseq_debug = s->rseq_debug;
    cfg->cpu_opv_nr = s->cpu_opv_nr;
    cfg->policy = POLICY_SCRIPT;
    cfg->script = s->events;
    cfg->nscript = s->nevents;
    cfg->script_fill = s->fill;
    cfg->ncpus = s->cpus;
    cfg->offline = s->offline;
    cfg->nodes = s->nodes;
    cfg->seed = s->seed;
    cfg->max_insns = o.max_insns ? o.max_insns : s->max_insns;
    cfg->max_mem = s->max_mem ? s->max_mem : max_mem_default();
    if (o.max_mem && max_mem_parse(o.max_mem, &cfg->max_mem) != 0) {
        fprintf(stderr,
                "rseqemu replay: --max-mem must be a size such as 256M, 4G or off, not "
                "'%s'\n",
                o.max_mem);
        schedule_free(s);
        return EXIT_USAGE;
    }
    cfg->cs_inject_span = s->cs_inject_span;
    cfg->quiet = o.quiet;
    cfg->envp = (const char *const *)s->envp;
    /* The options of the run it replays are information; pct's say how it was found. */
    if (s->policy == POLICY_PCT)
        snprintf(r.cmd, sizeof(r.cmd),
                 "rseqemu replay %s (recorded with --policy pct --pct-depth %u --pct-steps %llu "
                 "--seed %llu)",
                 file, s->pct_depth, (unsigned long long)s->pct_steps, (unsigned long long)s->seed);
    else
        snprintf(r.cmd, sizeof(r.cmd), "rseqemu replay %s", file);
    int code = run_exec(&r);
    schedule_free(s);
    return code;
}
