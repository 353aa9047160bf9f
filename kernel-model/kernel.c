/* Building the machine and its first process; the run; the figures it prints. */
#include "kernel.h"

#include <stdlib.h>
#include <string.h>

#include "emu/arena.h"
#include "emu/aspace.h"
#include "emu/disasm.h"
#include "emu/emu.h"
#include "emu/loader.h"
#include "exec.h"
#include "inject.h"
#include "kstate.h"
#include "mm.h"
#include "policy.h"
#include "report.h"
#include "sched.h"
#include "syscall.h"
#include "task.h"
#include "trace_rec.h"
#include "vfs.h"

/* Address space reserved for the model's state; untouched pages cost nothing. */
#define ARENA_RESERVE (1ULL << 30)
#define STACK_RLIMIT  (8ULL << 20)

const char *const kernel_profile_names[] = {[KERNEL_6_18] = "6.18", [KERNEL_6_1] = "6.1", NULL};
const char *const kernel_rseq_debug_names[] = {
    [RSEQ_DEBUG_KILL] = "kill", [RSEQ_DEBUG_REPORT] = "report", [RSEQ_DEBUG_OFF] = "off", NULL};
const char *const kernel_policy_names[] = {[POLICY_RANDOM] = "random",
                                           [POLICY_ROUND_ROBIN] = "round-robin",
                                           [POLICY_SCRIPT] = "script",
                                           [POLICY_PCT] = "pct",
                                           NULL};

int kernel_word_parse(const char *const *names, const char *word)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(word, names[i]))
            return i;
    return -1;
}

int kernel_cpu_opv_nr_parse(const char *word)
{
    if (!strcmp(word, "off"))
        return 0;
    long long v = 0;
    for (const char *p = word; *p; p++) {
        if (*p < '0' || *p > '9' || (v = v * 10 + (*p - '0')) > INT32_MAX)
            return -1;
    }
    return *word ? (int)v : -1;
}

void kernel_config_defaults(struct kernel_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->ncpus = 4;
    cfg->nodes = 1;
    cfg->seed = 1;
    cfg->cs_inject_span = 16;
    cfg->profile = KERNEL_6_18;
    cfg->cpu_opv_nr = KERNEL_CPU_OPV_NR_DEFAULT;
    cfg->pct_depth = KERNEL_PCT_DEPTH_DEFAULT;
    cfg->pct_steps = KERNEL_PCT_STEPS_DEFAULT;
    cfg->stdin_fd = 0;
    cfg->stdout_fd = 1;
    cfg->stderr_fd = 2;
}

struct kernel *kernel_create(const struct kernel_config *cfg, char *err, size_t errlen)
{
    if (cfg->ncpus < 1 || cfg->ncpus > KERNEL_CPUS_MAX) {
        snprintf(err, errlen, "--cpus must be between 1 and %d", KERNEL_CPUS_MAX);
        return NULL;
    }
    if ((cfg->offline & 1) || (cfg->ncpus < 64 && (cfg->offline >> cfg->ncpus))) {
        snprintf(err, errlen, "--offline: CPU 0 stays online and every CPU is below %d",
                 cfg->ncpus);
        return NULL;
    }
    if (cfg->nodes < 1 || cfg->nodes > cfg->ncpus) {
        snprintf(err, errlen, "--nodes must be between 1 and the number of CPUs (%d)", cfg->ncpus);
        return NULL;
    }
    if (cfg->policy == POLICY_PCT &&
        (cfg->pct_depth < 1 || cfg->pct_depth > KERNEL_PCT_DEPTH_MAX || cfg->pct_steps < 1)) {
        snprintf(err, errlen, "--pct-depth must be between 1 and %d, --pct-steps at least 1",
                 KERNEL_PCT_DEPTH_MAX);
        return NULL;
    }
    struct kernel *k = calloc(1, sizeof(*k));
    if (!k) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    k->cfg = *cfg;
    k->arch = cfg->arch;
    k->diag = cfg->diag ? cfg->diag : stderr;
    k->arena = arena_create(ARENA_RESERVE);
    if (!k->arena) {
        snprintf(err, errlen, "cannot reserve the state arena");
        free(k);
        return NULL;
    }
    k->st = arena_alloc(k->arena, sizeof(struct kstate), 64);
    arena_bound(k->arena, k->st->tasks, sizeof(struct task), TASK_MAX, &k->st->tasks_hwm);
    arena_bound(k->arena, k->st->procs, sizeof(struct process), PROC_MAX, &k->st->procs_hwm);
    arena_bound(k->arena, k->st->mms, sizeof(struct mm), MM_MAX, &k->st->mms_hwm);
    arena_bound(k->arena, k->st->timers, sizeof(struct timer), TIMER_MAX, &k->st->timers_hwm);
    if (k->cfg.script_cap < cfg->nscript)
        k->cfg.script_cap = cfg->nscript;
    k->st->script_done = arena_alloc(k->arena, k->cfg.script_cap / 8 + 1, 1);
    struct emu_config ecfg = {.arch = cfg->arch,
                              .fast_stores =
                                  cfg->no_fast_stores ? EMU_FAST_STORES_OFF : EMU_FAST_STORES_AUTO,
                              .verify_icount = cfg->verify_icount,
                              .store_watch = cfg->rseq_watch,
                              .max_mem = cfg->max_mem};
    const char *why = NULL;
    k->emu = emu_create(&ecfg, k->arena, &why);
    if (!k->emu) {
        snprintf(err, errlen, "cannot create the machine: %s", why);
        kernel_destroy(k);
        return NULL;
    }
    k->disasm = disasm_create(cfg->arch);
    sched_init(k);
    rng_init(&k->st->getrandom_rng, cfg->seed, RNG_STREAM_GETRANDOM);
    return k;
}

void kernel_destroy(struct kernel *k)
{
    if (!k)
        return;
    if (crash_kernel() == k)
        crash_set_kernel(NULL);
    if (k->emu)
        emu_snapshot_drop(k->emu);
    if (k->st) {
        for (int i = 0; i < MM_MAX; i++)
            if (k->st->mms[i].in_use && k->st->mms[i].as)
                aspace_destroy(k->st->mms[i].as);
    }
    disasm_destroy(k->disasm);
    emu_destroy(k->emu);
    arena_destroy(k->arena);
    free(k);
}

static void process_defaults(struct process *p)
{
    for (int i = 0; i < LX_RLIM_NLIMITS; i++) {
        p->rlimit_cur[i] = LX_RLIM_INFINITY;
        p->rlimit_max[i] = LX_RLIM_INFINITY;
    }
    p->rlimit_cur[LX_RLIMIT_STACK] = STACK_RLIMIT;
    p->rlimit_cur[LX_RLIMIT_NOFILE] = 1024;
    p->rlimit_max[LX_RLIMIT_NOFILE] = 4096;
    p->umask = 022;
    p->exit_signal = LX_SIGCHLD;
}

int kernel_spawn(struct kernel *k, const struct elf_image *img, const char *const *argv, char *err,
                 size_t errlen)
{
    crash_set_kernel(k);
    struct mm *mm = mm_alloc(k);
    struct process *p = process_alloc(k);
    struct task *t = task_alloc(k);
    const char *why = "tables full";
    if (!mm || !p || !t || !(mm->as = aspace_create(k->emu, &why))) {
        snprintf(err, errlen, "cannot create the first process: %s", why);
        return -1;
    }
    static const char *const no_env[] = {NULL};
    struct exec_args ea;
    exec_args_defaults(k, &ea);
    ea.argv = argv;
    ea.envp = k->cfg.envp ? k->cfg.envp : no_env;
    ea.execfn = elf_image_name(img);
    ea.stack_size = STACK_RLIMIT;
    struct rng at_random;
    rng_init(&at_random, k->cfg.seed, RNG_STREAM_AT_RANDOM);
    rng_fill(&at_random, ea.random, sizeof(ea.random));
    k->image = img;
    if (inject_resolve(k, err, errlen) != 0)
        return -2;
    struct exec_layout lay;
    if (exec_load(k, mm, img, &ea, &lay, err, errlen) != 0)
        return -1;
    mm->users = 1;
    process_defaults(p);
    p->pid = t->tid;
    p->mm = mm;
    p->leader = t;
    p->nr_threads = 1;
    vfs_init_stdio(k, p);
    t->proc = p;
    t->affinity = sched_possible_mask(k);
    t->altstack.ss_flags = LX_SS_DISABLE;
    cpu_ctx_init(&t->ctx, k->arch, lay.entry, lay.sp);
    k->init = p;
    if (k->cfg.trace)
        trace_run_begin(k);
    sched_start(k, t, NULL);
    return 0;
}

void kernel_run(struct kernel *k, struct kernel_result *res)
{
    crash_set_kernel(k);
    if (!sched_run(k)) {
        *res = (struct kernel_result){
            .outcome = KERNEL_PAUSED, .insns = k->st->total_insns, .digest = k->st->digest.h};
        return;
    }
    policy_script_finish(k);
    if (k->cfg.trace)
        trace_run_end(k);
    *res = k->result;
}

void kernel_print_stats(const struct kernel *k, FILE *out)
{
    static const struct {
        const char *name;
        size_t offset;
    } figures[] = {
#define FIGURE(f) {#f, offsetof(struct kstats, f)}
        FIGURE(slices),
        FIGURE(syscalls),
        FIGURE(context_switches),
        FIGURE(preemptions),
        FIGURE(migrations),
        FIGURE(signals_delivered),
        FIGURE(futex_waits),
        FIGURE(rseq_fixups),
        FIGURE(rseq_aborts),
        FIGURE(rseq_aborts_preempt),
        FIGURE(rseq_aborts_migrate),
        FIGURE(rseq_aborts_signal),
        FIGURE(rseq_aborts_ipi),
        FIGURE(membarrier_ipis),
        FIGURE(cpu_opv_calls),
        FIGURE(cpu_opv_ipis),
        FIGURE(rseq_cs_known),
        FIGURE(cs_injections),
        FIGURE(rseq_syscalls_in_cs),
        FIGURE(rseq_field_writes),
        FIGURE(rseq_failures),
#undef FIGURE
    };
    fprintf(out, "stat insns %llu\n", (unsigned long long)k->st->total_insns);
    fprintf(out, "stat events %llu\n", (unsigned long long)k->st->events);
    for (size_t i = 0; i < sizeof(figures) / sizeof(figures[0]); i++) {
        uint64_t v;
        memcpy(&v, (const char *)&k->st->stats + figures[i].offset, sizeof(v));
        fprintf(out, "stat %s %llu\n", figures[i].name, (unsigned long long)v);
    }
    fprintf(out, "stat fast_stores %d\n", emu_fast_stores_active(k->emu) ? 1 : 0);
    if (k->cfg.policy == POLICY_PCT)
        fprintf(out, "stat pct_steps %llu\n", (unsigned long long)k->st->stats.pct_steps);
}

void kernel_pause_at(struct kernel *k, uint64_t iteration) { k->pause_at = iteration; }
uint64_t kernel_iteration(const struct kernel *k) { return k->st->iterations; }

void kernel_set_observer(struct kernel *k, const struct kernel_observer *obs)
{
    if (obs)
        k->obs = *obs;
    k->observing = obs != NULL;
}

void kernel_snapshot_take(struct kernel *k)
{
    fflush(k->diag);
    k->snap_done = k->done;
    k->snap_result = k->result;
    emu_snapshot_take(k->emu);
}

void kernel_snapshot_restore(struct kernel *k)
{
    fflush(k->diag);
    emu_snapshot_restore(k->emu);
    k->done = k->snap_done;
    k->result = k->snap_result;
}

void kernel_snapshot_stats(const struct kernel *k, struct emu_snapshot_stats *out)
{
    emu_snapshot_stats(k->emu, out);
}

void kernel_set_max_insns(struct kernel *k, uint64_t max_insns) { k->cfg.max_insns = max_insns; }

void kernel_findings(const struct kernel *k, struct kernel_findings *out)
{
    out->rseq_failures = k->st->stats.rseq_failures;
    out->syscalls_in_cs = k->st->stats.rseq_syscalls_in_cs;
    out->field_writes = k->st->stats.rseq_field_writes;
}

void kernel_set_script(struct kernel *k, const struct sched_event *events, size_t n)
{
    if (n > k->cfg.script_cap)
        n = k->cfg.script_cap;
    k->cfg.script = events;
    k->cfg.nscript = n;
    memset(k->st->script_done, 0, k->cfg.script_cap / 8 + 1);
    sched_script_changed(k);
}

size_t kernel_threads(const struct kernel *k, struct kernel_thread_info *out, size_t cap)
{
    size_t n = 0;
    for (uint32_t i = 0; i < k->st->tasks_hwm && n < cap; i++) {
        const struct task *t = &k->st->tasks[i];
        if (t->state == TASK_FREE || t->state == TASK_DEAD)
            continue;
        uint64_t handled = 0;
        for (int sig = 1; sig < LX_NSIG && sig <= 64; sig++) {
            uint64_t h = t->proc->act[sig].handler;
            if (h != LX_SIG_DFL && h != LX_SIG_IGN && !(t->blocked & (1ULL << (sig - 1))))
                handled |= 1ULL << (sig - 1);
        }
        out[n++] = (struct kernel_thread_info){
            .tid = t->tid,
            .state = t->state == TASK_RUNNING    ? KTHREAD_RUNNING
                     : t->state == TASK_RUNNABLE ? KTHREAD_RUNNABLE
                                                 : KTHREAD_BLOCKED,
            .cpu = t->cpu,
            .insns = t->insns,
            .affinity = t->affinity,
            .handled = handled,
        };
    }
    return n;
}

uint64_t kernel_online_cpus(const struct kernel *k) { return sched_online_mask(k); }

uint64_t kernel_thread_ip(struct kernel *k, int tid)
{
    const struct task *t = task_by_tid(k, tid);
    return t ? task_reg(k, t, REG_IP) : 0;
}

int kernel_syscall_nr(const struct kernel *k, const char *name) { return syscall_nr(k, name); }

bool kernel_location(struct kernel *k, int tid, uint64_t addr, char *buf, size_t len)
{
    const struct task *t = task_by_tid(k, tid);
    if (t)
        report_location(k, t, addr, buf, len);
    return t != NULL;
}
