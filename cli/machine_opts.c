#include "machine_opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exit_codes.h"
#include "kernel-model/cpulist.h"

extern char **environ;

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "rseqemu %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return EXIT_USAGE;
}

int machine_opts_apply(const char *cmd, const struct machine_opts *o, struct kernel_config *cfg)
{
    if (o->cpus < 1 || o->cpus > KERNEL_CPUS_MAX) {
        char range[32];
        snprintf(range, sizeof(range), "%d", KERNEL_CPUS_MAX);
        return usage_error(cmd, "--cpus must be between 1 and %s", range);
    }
    if (o->offline) {
        char why[96];
        if (cpulist_parse(o->offline, (int)o->cpus, &cfg->offline, why, sizeof(why)) != 0)
            return usage_error(cmd, "--offline: %s", why);
        if (cfg->offline & 1)
            return usage_error(cmd, "--offline %s: CPU 0 cannot be taken offline", o->offline);
    }
    int profile = kernel_word_parse(kernel_profile_names, o->kernel);
    int debug = kernel_word_parse(kernel_rseq_debug_names, o->rseq_debug);
    if (profile < 0)
        return usage_error(cmd, "--kernel must be 6.1 or 6.18, not '%s'", o->kernel);
    if (debug < 0)
        return usage_error(cmd, "--rseq-debug must be kill, report or off, not '%s'",
                           o->rseq_debug);
    if (o->cpu_opv_nr && (cfg->cpu_opv_nr = kernel_cpu_opv_nr_parse(o->cpu_opv_nr)) < 0)
        return usage_error(cmd, "--cpu-opv-nr must be a number (0 to 2147483647) or off, not '%s'",
                           o->cpu_opv_nr);
    if (o->nodes < 1 || o->nodes > o->cpus) {
        char cpus[32];
        snprintf(cpus, sizeof(cpus), "%llu", (unsigned long long)o->cpus);
        return usage_error(cmd, "--nodes must be between 1 and --cpus (%s)", cpus);
    }
    for (int i = 0; i < o->env.count; i++)
        if (!strchr(o->env.items[i], '='))
            return usage_error(cmd, "--env needs NAME=VALUE, not '%s'", o->env.items[i]);
    cfg->profile = (enum kernel_profile)profile;
    cfg->rseq_debug = (enum kernel_rseq_debug)debug;
    cfg->ncpus = (int)o->cpus;
    cfg->nodes = (int)o->nodes;
    cfg->seed = o->seed;
    cfg->envp = o->inherit_env ? (const char *const *)environ : o->env.items;
    cfg->max_mem = max_mem_default();
    if (o->max_mem && max_mem_parse(o->max_mem, &cfg->max_mem) != 0)
        return usage_error(cmd, "--max-mem must be a size such as 256M, 4G or off, not '%s'",
                           o->max_mem);
    return 0;
}

int max_mem_parse(const char *text, uint64_t *bytes)
{
    if (!strcmp(text, "off")) {
        *bytes = 0;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || errno || text[0] == '-')
        return -1;
    static const char units[] = "KMGT";
    unsigned shift = 0;
    if (*end) {
        const char *u = strchr(units, *end);
        if (!u || end[1])
            return -1;
        shift = 10 * (unsigned)(u - units + 1);
    }
    if (v == 0 || v > (UINT64_MAX >> shift))
        return -1;
    *bytes = (uint64_t)v << shift;
    return 0;
}

uint64_t max_mem_default(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || size <= 0)
        return 0;
    return ((uint64_t)pages * (uint64_t)size / 2) & ~((1ULL << 20) - 1);
}
