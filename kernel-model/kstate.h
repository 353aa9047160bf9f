/* Inside the kernel model: its objects and the one structure that holds them.
 *
 * Every mutable object of the model lives in struct kstate, which is allocated once from the
 * machine's arena. Pointers between these objects stay valid when the arena is restored in
 * place, so a snapshot of the model is a copy of this structure (plus guest memory and the
 * engine's registers). Nothing here points to the C heap. */
#ifndef RSEQEMU_KERNEL_MODEL_KSTATE_H
#define RSEQEMU_KERNEL_MODEL_KSTATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "crash.h"
#include "arch/arch.h"
#include "emu/cpu.h"
#include "emu/hash.h"
#include "kernel.h"
#include "rng.h"

#define TASK_MAX      1024
#define PROC_MAX      128
#define MM_MAX        64
#define FD_MAX        256
#define TIMER_MAX     4096
#define FUTEX_BUCKETS 256

struct aspace;
struct task;

/* A pending signal, compact; signal.c lays it out as a Linux siginfo at delivery. */
enum ksiginfo_kind { KSI_KILL, KSI_FAULT, KSI_CHLD, KSI_KERNEL };
struct ksiginfo {
    int32_t signo;
    int32_t code;
    int32_t kind; /* enum ksiginfo_kind */
    int32_t status;
    uint64_t a;         /* KSI_KILL/KSI_CHLD: pid | uid << 32; KSI_FAULT: address */
    uint64_t arch_code; /* KSI_FAULT: the arch's fault syndrome for the signal frame */
};

struct ksigaction {
    uint64_t handler, flags, restorer, mask;
};

/* What a blocked task waits for. */
enum wait_kind {
    WAIT_NONE,
    WAIT_FUTEX,
    WAIT_SLEEP,
    WAIT_SIGSUSPEND,
    WAIT_SIGTIMEDWAIT,
    WAIT_CHILD,
    WAIT_PAUSE,
};

struct futex_key {
    uint64_t object; /* the memory object (shared) or the address space (private) */
    uint64_t offset;
};

struct task_wait {
    enum wait_kind kind;
    /* Result when an unblocked signal interrupts the wait: -LX_ERESTARTSYS,
     * -LX_ERESTARTNOHAND, -LX_ERESTART_RESTARTBLOCK or -LX_EINTR. */
    long interrupted_ret;
    long timeout_ret; /* result when the deadline passes */
    bool has_deadline;
    uint64_t deadline_ns;
    uint32_t timer_gen; /* bumped when the wait ends: older timer entries are stale */
    /* WAIT_FUTEX */
    struct futex_key key;
    guest_addr_t futex_addr;
    uint32_t bitset;
    struct task *fnext, *fprev;
    /* WAIT_SIGTIMEDWAIT */
    uint64_t sigset;
    guest_addr_t info_addr;
    /* WAIT_CHILD */
    int64_t child_pid;
    int options;
    guest_addr_t status_addr, rusage_addr, infop_addr;
    bool waitid;
};

/* What restart_syscall(2) continues after an interrupted sleep (the kernel's restart_block). */
enum restart_kind { RESTART_NONE, RESTART_NANOSLEEP, RESTART_FUTEX_WAIT };
struct task_restart {
    enum restart_kind kind;
    uint64_t deadline_ns;
    guest_addr_t addr; /* futex word, or where nanosleep reports the time left */
    uint32_t val, bitset;
};

enum task_state {
    TASK_FREE = 0,
    TASK_RUNNABLE, /* on a run queue */
    TASK_RUNNING,  /* current on its CPU */
    TASK_BLOCKED,
    TASK_DEAD,
};

/* rseq registration and event state of one thread (spec 1.3). */
struct task_rseq {
    guest_addr_t area; /* 0: not registered */
    uint32_t len;
    uint32_t sig;
    uint32_t event_mask; /* RSEQ_EVENT_* */
    uint32_t last_event; /* the latest event's kind, for the aborts-by-cause figures */
    bool notify_resume;
    /* What the kernel last wrote to cpu_id_start, cpu_id, node_id and mm_cid (the debug
     * check compares the area with it at kernel entries). */
    uint32_t written[4];
    bool written_valid;
    bool shared; /* another thread of the process registered an overlapping area */
};

struct process;
struct mm;

struct task {
    enum task_state state;
    int tid;
    struct process *proc;
    struct cpu_ctx ctx;
    uint64_t insns;    /* retired by this thread: its own position in a schedule */
    int cpu;           /* current or last CPU */
    uint64_t affinity; /* allowed CPUs, bit per CPU */
    /* scheduling */
    struct task *rq_next, *rq_prev;
    uint64_t quantum_left;
    uint64_t start_ns;
    uint32_t script_next; /* its next event in cfg.script */
    int64_t pct_prio;     /* --policy pct: the higher runs first (pct.c) */
    /* signals */
    uint64_t blocked;
    uint64_t saved_blocked; /* sigsuspend / sigtimedwait: the mask to restore */
    bool restore_saved_blocked;
    uint64_t pending;
    struct ksiginfo pending_info[LX_NSIG];
    struct lx_stack altstack;
    /* thread life */
    guest_addr_t clear_child_tid;
    guest_addr_t robust_list;
    /* syscalls */
    uint64_t sysno; /* of the syscall in progress, for restarts */
    uint64_t orig_arg0;
    bool in_syscall;
    struct task_restart restart;
    struct task_wait wait;
    struct task_rseq rseq;
    int mm_cid;       /* concurrency id held, -1 none (spec 3) */
    bool rtu_pending; /* signals or notify-resume to look at before user code runs */
    /* The thread was stopped in front of watched code: running it next must not stop there
     * again. */
    guest_addr_t watch_resume;
    guest_addr_t watch_resume_points_end; /* its points below this were counted there */
    char comm[16];                        /* prctl(PR_SET_NAME) */
};

enum proc_state { PROC_FREE = 0, PROC_ALIVE, PROC_ZOMBIE };

enum fd_kind { FD_NONE = 0, FD_HOST, FD_VFILE, FD_NULL };
/* FD_VFILE: the line that starts at byte off describes the first record at or after key
 * (vfs_read()). */
struct vfs_cursor {
    uint64_t off, key;
};

struct fd_entry {
    enum fd_kind kind;
    int host_fd; /* FD_HOST */
    int vfile;   /* FD_VFILE: index in vfs.c's table */
    int flags;   /* open flags (access mode, O_CLOEXEC) */
    uint64_t offset;
    struct vfs_cursor cursor;
};

struct process {
    enum proc_state state;
    int pid;
    struct process *parent;
    struct mm *mm;
    int nr_threads;
    struct task *leader;
    struct ksigaction act[LX_NSIG];
    uint64_t pending; /* process-directed */
    struct ksiginfo pending_info[LX_NSIG];
    bool group_exiting;
    int exit_code;   /* wait status */
    int exit_signal; /* sent to the parent when the process ends */
    uint64_t insns;  /* retired by all threads, live and dead */
    /* ITIMER_REAL */
    uint64_t itimer_deadline_ns, itimer_interval_ns;
    uint32_t itimer_gen;
    uint64_t rlimit_cur[LX_RLIM_NLIMITS], rlimit_max[LX_RLIM_NLIMITS];
    struct fd_entry fds[FD_MAX];
    uint32_t umask;
};

struct mm {
    bool in_use;
    struct aspace *as;
    int users; /* threads using it */
    guest_addr_t brk_start, brk;
    guest_addr_t stack_low;
    const struct elf_image *image; /* for symbols in reports */
    guest_addr_t sigreturn_tramp;  /* aarch64: returns from handlers without SA_RESTORER */
    /* membarrier registrations (spec 4.3) */
    uint32_t membarrier_state;
    /* mm_cid (spec 3): ids taken, and in per-CPU mode the id each CPU owns (-1 none). */
    uint64_t cid_used;
    bool cid_per_cpu;
    int cpu_cid[KERNEL_CPUS_MAX];
    uint64_t cpus_allowed; /* union of the affinity masks its threads ever had */
    /* Critical-section descriptors recently found armed, not to read them again. */
    guest_addr_t cs_seen[16];
    unsigned cs_seen_next;
};

struct kcpu {
    int id;
    bool online;
    struct task *curr;
    struct task *rq_head, *rq_tail;
    int rq_len;
    uint64_t clock_ns;     /* this CPU's virtual time */
    uint64_t slice_end_ns; /* when the host loop next looks at another CPU */
    bool resched;          /* switch at the next chance (yield, wake-up preemption) */
    /* The next injection into curr: at curr's instruction count inject_at, do inject_kind
     * (enum inject_kind) with inject_arg. from_watch: placed inside watched code, only valid
     * while curr runs straight there. */
    uint64_t inject_at;
    int inject_kind;
    int inject_arg;
    bool inject_from_watch;
    uint32_t cs_countdown; /* critical-section blocks until the policy injects in one */
    /* A signal for curr waits to be taken at the next critical section or by the deadline
     * (the latency of the interrupt that brings it). */
    bool signal_deferred;
    uint64_t signal_deadline;
    /* A schedule's pick event (its index in cfg.script), taken when curr left: the thread c
     * runs next. */
    bool pick_pending;
    uint32_t pick_event;
    /* --policy pct: the thread that left last and its position, where a pick out of queue
     * order is recorded; forgotten once that thread is switched in again, anywhere. */
    bool leaver_valid;
    int leaver_tid;
    uint64_t leaver_at;
};

enum timer_kind { TIMER_TASK_WAIT, TIMER_ITIMER };
struct timer {
    uint64_t when_ns;
    uint64_t seq; /* ties broken in arming order */
    int kind;
    int index; /* task or process slot */
    uint32_t gen;
};

struct kstats {
    uint64_t syscalls;
    uint64_t context_switches;
    uint64_t preemptions;
    uint64_t migrations;
    uint64_t signals_delivered;
    uint64_t slices;
    uint64_t futex_waits;
    uint64_t rseq_aborts;
    uint64_t rseq_aborts_preempt, rseq_aborts_signal, rseq_aborts_migrate, rseq_aborts_ipi;
    uint64_t rseq_fixups;
    uint64_t membarrier_ipis;
    uint64_t cpu_opv_calls;
    uint64_t cpu_opv_ipis;        /* vectors run as an IPI on another vCPU */
    uint64_t rseq_cs_known;       /* critical sections the injection policy watches */
    uint64_t cs_injections;       /* injections placed inside a critical section */
    uint64_t rseq_syscalls_in_cs; /* debug check */
    uint64_t rseq_field_writes;   /* debug check */
    uint64_t rseq_failures;       /* SIGSEGV from the return-to-user fixup (a bad descriptor) */
    uint64_t pct_steps;           /* --policy pct: steps so far (pct.c) */
};

/* --policy pct (pct.c). */
struct pct_state {
    uint64_t change_at[KERNEL_PCT_DEPTH_MAX - 1]; /* change point i+1: a step number */
    uint32_t threads;                             /* given a start priority so far */
    int64_t floor;                                /* the next priority a yield gives */
};

/* The tables are sized for the worst case and a run uses their first few slots: a slot at or
 * above its table's *_hwm has never been written (arena_bound), so snapshots skip it. */
struct kstate {
    uint32_t tasks_hwm, procs_hwm, mms_hwm, timers_hwm;
    struct task tasks[TASK_MAX];
    struct process procs[PROC_MAX];
    struct mm mms[MM_MAX];
    struct kcpu cpus[KERNEL_CPUS_MAX];
    struct timer timers[TIMER_MAX];
    int ntimers;
    uint64_t timer_seq;
    struct task *futex_buckets[FUTEX_BUCKETS];
    struct rng sched_rng, getrandom_rng;
    struct pct_state pct;
    int next_tid;
    uint8_t *script_done; /* a bit per event of cfg.script: it happened */
    /* The CPU that ran guest code last and its thread, if that thread is still on it. */
    int last_cpu;
    struct task *last_task;
    int cur_cpu;            /* the CPU whose thread the model is serving */
    uint64_t event_ns;      /* virtual time of what the model is doing now */
    uint64_t time_floor_ns; /* clocks never read lower than this: they never go back */
    uint64_t total_insns;
    uint64_t iterations; /* of the host loop: where kernel_pause_at() stops */
    /* A swap event's two CPUs run one instruction at a time (the lowest clock first) while the
     * lowest clock is below this. */
    uint64_t interleave_until_ns;
    struct hash64 digest;
    uint64_t events;
    struct kstats stats;
    uint64_t enosys_reported[8]; /* bitmap of syscall numbers already reported */
    bool unsupported_reported;
    /* Injections by instruction (kernel_config.injects): where, and how often reached. */
    guest_addr_t inject_addr[KERNEL_INJECTS_MAX];
    uint32_t inject_hits[KERNEL_INJECTS_MAX];
    /* The thread whose exit the model is handling (a syscall, a fault, an injection); NULL
     * for timers. Signals to any other running thread come by interrupt, later. */
    struct task *serving;
};

struct disasm;
struct elf_image;

struct kernel {
    struct kernel_config cfg;
    const struct arch_desc *arch;
    struct arena *arena;
    struct emu *emu;
    struct disasm *disasm;
    FILE *diag;
    struct kstate *st;
    const struct elf_image *image;
    struct process *init; /* the first process: its end ends the run */
    bool done;
    struct kernel_result result;
    /* Outside the arena: what drives the run (kernel_pause_at, kernel_set_observer). */
    uint64_t pause_at; /* 0: never */
    struct kernel_observer obs;
    bool observing;
    bool snap_done; /* k->done and k->result at the snapshot */
    struct kernel_result snap_result;
    /* The last events, for rseqemu's own failure report (crash.h); diagnostics only. */
    struct crash_ring recent;
};

#endif
