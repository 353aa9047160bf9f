/* The modelled CPUs: run queues, virtual time, timers, and the host loop that interleaves the
 * CPUs on one host thread.
 *
 * Every choice the scheduler makes goes through sched_decide(), the single decision point that
 * a schedule can record and replay. */
#ifndef RSEQEMU_KERNEL_MODEL_SCHED_H
#define RSEQEMU_KERNEL_MODEL_SCHED_H

#include "kstate.h"

/* One retired instruction is one nanosecond of a CPU's virtual time. */
#define NS_PER_INSN 1ULL

enum sched_decision {
    DECIDE_SLICE,   /* instructions before the host loop looks at another CPU */
    DECIDE_QUANTUM, /* a thread's time slice */
    DECIDE_INJECT,  /* instructions until the policy preempts or migrates a thread */
    DECIDE_INJECT_KIND,
    DECIDE_CPU,          /* a CPU among candidates */
    DECIDE_CS_SKIP,      /* critical-section blocks to let run before injecting in one */
    DECIDE_CS_POINT,     /* the instruction of such a block where the injection lands */
    DECIDE_SIGNAL_DELAY, /* instructions a running thread runs before taking a signal */
    DECIDE_PCT_CHANGE,   /* pct: the step of a priority change point */
    DECIDE_PCT_PRIORITY, /* pct: a new thread's place among the start priorities */
    DECIDE_COUNT
};

void sched_init(struct kernel *k);
uint64_t sched_decide(struct kernel *k, enum sched_decision d, uint64_t bound);

/* The virtual time seen by t: its CPU's clock. */
uint64_t sched_now(const struct kernel *k, const struct task *t);
/* The latest virtual time of any CPU, for things that happen outside a thread. */
uint64_t sched_global_now(const struct kernel *k);

/* A new thread (clone, the first process) becomes runnable on a CPU chosen for it. */
void sched_start(struct kernel *k, struct task *t, const struct task *parent);
/* The running thread t blocks; its CPU picks another. */
void sched_block(struct kernel *k, struct task *t);
/* A blocked thread becomes runnable; ret is its syscall's result (written to its registers
 * unless it is SYSCALL_KEEP_RET). */
void sched_wake(struct kernel *k, struct task *t, long ret);
/* sched_yield(2): t goes behind the other runnable threads of its CPU. */
void sched_yield(struct kernel *k, struct task *t);
/* t may now run only on `mask`; a running or queued thread outside it is moved at once. */
void sched_set_affinity(struct kernel *k, struct task *t, uint64_t mask);
/* t leaves the scheduler for good. */
void sched_remove(struct kernel *k, struct task *t);
uint64_t sched_online_mask(const struct kernel *k);
/* Every CPU the machine has (sysfs "possible" and "present"), online or not. */
uint64_t sched_possible_mask(const struct kernel *k);
/* Moves t, running or queued, to CPU `to` (its CPU picks another thread if it is online). */
void sched_move(struct kernel *k, struct task *t, int to);
/* Idle online CPUs take threads waiting in other queues. */
void sched_balance(struct kernel *k);
/* The NUMA node of a CPU: --nodes spread evenly over the CPUs, in blocks. */
int sched_cpu_node(const struct kernel *k, int cpu);

/* Timers on virtual time. Arming replaces the task's earlier wait deadline. */
void timer_arm_task(struct kernel *k, struct task *t, uint64_t when_ns);
void timer_arm_itimer(struct kernel *k, struct process *p);

/* A new countdown of critical-section blocks before the policy injects in one (0: off). */
uint32_t sched_cs_countdown(struct kernel *k);
/* A signal became pending for t, running on another CPU: it takes it when the interrupt
 * that brings it lands, at a critical section or within a short delay. False when t must take
 * it at its next return to user mode instead. */
bool sched_defer_signal(struct kernel *k, struct task *t);

/* Runs the machine until the first process ends, a deadlock, or the instruction budget. */
/* False when it stopped at kernel_pause_at()'s iteration; true when the run has ended. */
bool sched_run(struct kernel *k);
/* The script (cfg.script) was replaced: each thread's next event and each CPU's injection are
 * found again. */
void sched_script_changed(struct kernel *k);

#endif
