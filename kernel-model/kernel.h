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
    /* --max-mem: the guest's memory use is capped at this many bytes (0: no cap); past it the
     * process is killed as by the OOM killer, and a mapping larger than it gets ENOMEM. */
    uint64_t max_mem;
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
     * gaps between them (enum sched_fill). script_cap: the most events kernel_set_script()
     * may give later (0: nscript). */
    const struct sched_event *script;
    size_t nscript, script_cap;
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
    /* RSEQEMU_CRASH_TEST (README, tests): fail on purpose when event number crash_test_event
     * happens, to check rseqemu's own failure report: "abort", "segv", or "engine" (an
     * assertion inside the engine library). NULL: never. */
    const char *crash_test;
    uint64_t crash_test_event;
};

void kernel_config_defaults(struct kernel_config *cfg);

enum kernel_outcome {
    KERNEL_EXITED,       /* the first process exited: status is its exit code */
    KERNEL_SIGNALED,     /* the first process was killed: status is the signal */
    KERNEL_DEADLOCK,     /* every thread blocked and no timer pending */
    KERNEL_RUNAWAY,      /* the instruction budget ran out */
    KERNEL_ERROR,        /* the machine failed; message says how */
    KERNEL_BAD_SCHEDULE, /* an event of the schedule cannot happen; message says which */
    KERNEL_PAUSED,       /* kernel_pause_at()'s point: kernel_run() goes on from here */
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

/* ---- driving a run from outside (explore/): pauses, snapshots, observation ---- */

/* kernel_run() returns KERNEL_PAUSED after this many iterations of the host loop in all
 * (kernel_iteration()), once; 0: never. Between iterations the machine is at rest: a snapshot
 * can be taken there. */
void kernel_pause_at(struct kernel *k, uint64_t iteration);
uint64_t kernel_iteration(const struct kernel *k);

/* The whole machine, taken at a pause (or before the first run) and restored any number of
 * times: the run from a restore is the run from the snapshot, bit for bit. Output the guest
 * wrote to host files is not the machine's: whoever gave those files keeps them. */
void kernel_snapshot_take(struct kernel *k);
void kernel_snapshot_restore(struct kernel *k);
struct emu_snapshot_stats;
void kernel_snapshot_stats(const struct kernel *k, struct emu_snapshot_stats *out);

/* Replaces the script (POLICY_SCRIPT) from the current point on: at most cfg.script_cap
 * events, each after its thread's current position; events sorted as schedule.h sorts them.
 * The array must outlive the run. */
void kernel_set_script(struct kernel *k, const struct sched_event *events, size_t n);
void kernel_set_max_insns(struct kernel *k, uint64_t max_insns);

/* What an observer sees (kernel_set_observer). Positions are a thread's instruction counts,
 * as in schedules. Observing never changes the run. */
struct kernel_observer {
    void *ctx;
    /* tid starts running at its position pos in host-loop iteration `iteration`
     * (kernel_iteration(); kernel_pause_at(iteration - 1) stops just before it). */
    void (*slice)(void *ctx, int tid, uint64_t pos, uint64_t iteration);
    /* tid is about to run the first instruction of the known critical section [start, end)
     * at its position pos. Only under POLICY_SCRIPT. */
    void (*cs_entry)(void *ctx, int tid, uint64_t pos, uint64_t start, uint64_t end);
    /* tid entered the kernel with system call nr; pos is just past the syscall instruction. */
    void (*syscall)(void *ctx, int tid, uint64_t pos, uint64_t nr);
    /* Called with step_tid's IP before each of its instructions at positions in
     * [step_from, step_to). */
    void (*step)(void *ctx, int tid, uint64_t pos, uint64_t ip);
    int step_tid;
    uint64_t step_from, step_to;
};
/* NULL: observe nothing. The observer is copied. */
void kernel_set_observer(struct kernel *k, const struct kernel_observer *obs);

/* The rseq misuse the run found so far (the reports it printed). */
struct kernel_findings {
    uint64_t rseq_failures;  /* SIGSEGV from the return-to-user fixup */
    uint64_t syscalls_in_cs; /* system calls inside a critical section */
    uint64_t field_writes;   /* writes to a kernel-owned rseq field */
};
void kernel_findings(const struct kernel *k, struct kernel_findings *out);

/* A live thread, for choosing what to inject. */
enum kernel_thread_state { KTHREAD_RUNNING, KTHREAD_RUNNABLE, KTHREAD_BLOCKED };
struct kernel_thread_info {
    int tid;
    enum kernel_thread_state state;
    int cpu; /* current or last */
    uint64_t insns;
    uint64_t affinity;
    uint64_t handled; /* signals (bit sig-1) with a handler and not blocked */
};
/* The live threads of every process in table order (at most cap); returns how many. */
size_t kernel_threads(const struct kernel *k, struct kernel_thread_info *out, size_t cap);
uint64_t kernel_online_cpus(const struct kernel *k);
/* A live thread's instruction pointer now; 0 if none has that id. */
uint64_t kernel_thread_ip(struct kernel *k, int tid);
/* "0x401136 <main+0x16>: mov dword ptr [rax], 1" for addr in live thread tid's address space;
 * false if there is no such thread. */
bool kernel_location(struct kernel *k, int tid, uint64_t addr, char *buf, size_t len);
/* The system call number of `name` on this run's architecture (cpu_opv: the run's number);
 * -1 if none. */
int kernel_syscall_nr(const struct kernel *k, const char *name);

/* `stat <name> <value>` lines for --stats. */
void kernel_print_stats(const struct kernel *k, FILE *out);

#endif
