/* The modelled Linux kernel, as the command line and the tests drive it.
 *
 * A kernel owns a machine (emu/), a set of guest processes and threads, N modelled CPUs and
 * their scheduler. kernel_run() executes the guest until its first process ends, deadlocks,
 * or exceeds its instruction budget; the same configuration and seed always give the same
 * run. */
#ifndef RSEQEMU_KERNEL_MODEL_KERNEL_H
#define RSEQEMU_KERNEL_MODEL_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "arch/arch.h"

struct kernel;
struct elf_image;

/* Observable behaviour of a kernel generation (spec 0.1 and 2.9). */
enum kernel_profile {
    KERNEL_6_18, /* Linux 6.3..6.18: extensible struct rseq, AT_RSEQ_*; the default */
    KERNEL_6_1,  /* Linux 6.1: no node_id/mm_cid, rseq_len must be 32 */
};

#define KERNEL_CPUS_MAX 64

/* cpu_opv's syscall number unless the run says otherwise (spec 5.1): no Linux kernel gives
 * 1000 to anything, so a guest built for it gets ENOSYS on Linux and can fall back. */
#define KERNEL_CPU_OPV_NR_DEFAULT 1000

/* What the kernel does about rseq misuse that Linux only catches with CONFIG_DEBUG_RSEQ: a
 * system call inside a critical section, and a write to a field the kernel owns. */
enum kernel_rseq_debug {
    RSEQ_DEBUG_KILL,   /* report both; SIGSEGV for the syscall, as DEBUG_RSEQ does */
    RSEQ_DEBUG_REPORT, /* report both, change nothing */
    RSEQ_DEBUG_OFF,    /* a production kernel: neither is looked for */
};

/* Who makes the scheduling decisions (README "Policies"). */
enum kernel_policy {
    POLICY_RANDOM,      /* seeded slices, preemptions, migrations, biased toward sections */
    POLICY_ROUND_ROBIN, /* fixed slices and time slices, nothing injected */
    POLICY_SCRIPT,      /* a schedule file's events (cfg.script), round-robin or nothing between */
    POLICY_PCT,         /* thread priorities lowered at random steps (probabilistic concurrency
                           testing): the highest-priority runnable thread runs */
};

/* --policy pct: the bug depth d it aims at (d-1 priority change points) and k, the number of
 * steps they are drawn from (README "Policies"). */
#define KERNEL_PCT_DEPTH_MAX     16
#define KERNEL_PCT_DEPTH_DEFAULT 3
#define KERNEL_PCT_STEPS_DEFAULT 100

/* The words the command line and schedule files use for profiles ("6.18", "6.1"), debug modes
 * ("kill", "report", "off") and policies ("random", "round-robin", "script", "pct"):
 * NULL-terminated, in enum order. kernel_word_parse() gives a word's index in such a list, or -1.
 */
extern const char *const kernel_profile_names[];
extern const char *const kernel_rseq_debug_names[];
extern const char *const kernel_policy_names[];
int kernel_word_parse(const char *const *names, const char *word);
/* A cpu_opv number as the command line and schedule files write it: a decimal number up to
 * INT32_MAX, or "off" (0, no cpu_opv). -1 for anything else. */
int kernel_cpu_opv_nr_parse(const char *word);

struct sched_event;
struct trace;

/* An injection placed by instruction: ACTION the n-th time any thread is about to run the
 * instruction at WHERE. Written "ACTION@WHERE[#N]" (kernel_inject_parse). */
enum kernel_inject_action {
    INJECT_ACT_PREEMPT, /* switched out and back in (another thread may run meanwhile) */
    INJECT_ACT_MIGRATE, /* switched out and moved to CPU arg (-1: another allowed CPU) */
    INJECT_ACT_SIGNAL,  /* signal arg sent to the thread by the kernel (si_code SI_KERNEL) */
    INJECT_ACT_TICK,    /* an interrupt that schedules nothing: no rseq event */
    INJECT_ACT_NOTIFY,  /* notify-resume without an rseq event (e.g. task work) */
    INJECT_ACT_COUNT
};
#define KERNEL_INJECTS_MAX 16
struct kernel_inject {
    enum kernel_inject_action action;
    int arg;
    char where[128]; /* symbol[+offset] or an address */
    uint32_t nth;    /* from 1 */
};
/* 0, or -1 with a message in err. */
int kernel_inject_parse(const char *spec, struct kernel_inject *out, char *err, size_t errlen);

struct kernel_config {
    const struct arch_desc *arch;
    int ncpus;
    /* CPUs possible but offline from the start (--offline), bit per CPU; never CPU 0. */
    uint64_t offline;
    uint64_t seed;
    uint64_t max_insns; /* 0: unlimited */
    enum kernel_profile profile;
    int nodes; /* NUMA nodes the CPUs are spread over, 1 to ncpus */
    bool no_fast_stores;
    bool verify_icount;
    /* Injection inside critical sections: the policy interrupts a thread at a random
     * instruction of one of the next 1..cs_inject_span critical-section blocks it runs
     * (0: only at random instruction counts). */
    uint32_t cs_inject_span;
    struct kernel_inject injects[KERNEL_INJECTS_MAX];
    int ninjects;
    enum kernel_rseq_debug rseq_debug;
    /* The number cpu_opv answers to on either architecture (KERNEL_CPU_OPV_NR_DEFAULT unless
     * set); 0: cpu_opv is not provided, its calls get ENOSYS. */
    int cpu_opv_nr;
    enum kernel_policy policy;
    /* POLICY_SCRIPT: events sorted by thread and position (schedule.h), and what fills the
     * gaps between them (enum sched_fill). */
    const struct sched_event *script;
    size_t nscript;
    int script_fill;
    /* POLICY_PCT: d, 1 to KERNEL_PCT_DEPTH_MAX, and k, at least 1. */
    uint32_t pct_depth;
    uint64_t pct_steps;
    /* --record: each decision's effect as a schedule event line (the CLI writes the header). */
    FILE *record;
    /* --trace, --trace-json, --perfetto: where the run's events go (trace.h); NULL: nowhere. */
    struct trace *trace;
    /* Find the instruction that writes a kernel-owned rseq field (slows every store). */
    bool rseq_watch;
    const char *const *envp; /* the guest's environment (NULL: empty) */
    FILE *diag;              /* emulator diagnostics; NULL: stderr */
    bool quiet;              /* only fatal diagnostics */
    /* Guest standard streams: host file descriptors (tests capture output this way). */
    int stdin_fd, stdout_fd, stderr_fd;
};

void kernel_config_defaults(struct kernel_config *cfg);

enum kernel_outcome {
    KERNEL_EXITED,       /* the first process exited: status is its exit code */
    KERNEL_SIGNALED,     /* the first process was killed: status is the signal */
    KERNEL_DEADLOCK,     /* every thread blocked and no timer pending */
    KERNEL_RUNAWAY,      /* the instruction budget ran out */
    KERNEL_ERROR,        /* the machine failed; message says how */
    KERNEL_BAD_SCHEDULE, /* an event of the schedule cannot happen; message says which */
};

struct kernel_result {
    enum kernel_outcome outcome;
    int status;
    uint64_t insns;
    uint64_t digest;
    char message[512];
};

/* NULL with err set if the machine cannot be built. */
struct kernel *kernel_create(const struct kernel_config *cfg, char *err, size_t errlen);
void kernel_destroy(struct kernel *k);

/* Starts the first process: loads img with argv. 0, or -1 with err set (-2 when the
 * configuration does not fit the program: an injection names no symbol of it). */
int kernel_spawn(struct kernel *k, const struct elf_image *img, const char *const *argv, char *err,
                 size_t errlen);
void kernel_run(struct kernel *k, struct kernel_result *res);

/* `stat <name> <value>` lines for --stats. */
void kernel_print_stats(const struct kernel *k, FILE *out);

#endif
