/* Restartable sequences (kernel/rseq.c): registration, the events that make a critical section
 * restart, and the notify-resume fixup that moves the IP to abort_ip. Spec sections 1 and 2. */
#ifndef RSEQEMU_KERNEL_MODEL_RSEQ_H
#define RSEQEMU_KERNEL_MODEL_RSEQ_H

#include "kstate.h"

#define RSEQ_EVENT_PREEMPT 1u
#define RSEQ_EVENT_SIGNAL  2u
#define RSEQ_EVENT_MIGRATE 4u
/* Not a Linux bit: an IPI (membarrier, cpu_opv) sets PREEMPT; this tells the figures apart. */
#define RSEQ_EVENT_IPI 8u

/* struct rseq field offsets (spec 1.1). */
#define RSEQ_OFF_CPU_ID_START 0
#define RSEQ_OFF_CPU_ID       4
#define RSEQ_OFF_RSEQ_CS      8
#define RSEQ_OFF_FLAGS        16
#define RSEQ_OFF_NODE_ID      20
#define RSEQ_OFF_MM_CID       24

/* notify-resume without an event (TIF_NOTIFY_RESUME set by other kernel work). */
void rseq_notify_resume(struct kernel *k, struct task *t);
/* An IPI (membarrier's rseq fence, cpu_opv, a schedule's ipi) interrupted the thread, which
 * runs on its CPU: the IPI event, and rseq_preempt(current). */
void rseq_ipi(struct kernel *k, struct task *t);
/* The thread was switched out / moved to another CPU (rseq_preempt, rseq_migrate). */
void rseq_preempt(struct kernel *k, struct task *t);
void rseq_migrate(struct kernel *k, struct task *t);
/* Before a signal frame is built (rseq_signal_deliver); a failure queues SIGSEGV. */
void rseq_signal_deliver(struct kernel *k, struct task *t, int sig);
/* __rseq_handle_notify_resume(): fixup then CPU-field update, SIGSEGV on failure. */
void rseq_handle_notify_resume(struct kernel *k, struct task *t, int sig);
/* execve drops the registration (spec 1.7). */
void rseq_exec(struct kernel *k, struct task *t);
/* The thread is exiting: --rseq-watch stops watching its area. */
void rseq_exit(struct kernel *k, struct task *t);
/* The registration a new thread or process starts with (spec 1.7). */
void rseq_fork(struct kernel *k, struct task *child, const struct task *parent, bool same_vm);

/* DEBUG_RSEQ checks (spec 2.7), as --rseq-debug asks. At a syscall: whether it was made
 * inside a critical section (or with an invalid descriptor); reported, and true when the
 * thread must get SIGSEGV at the syscall's exit. */
bool rseq_debug_syscall(struct kernel *k, struct task *t, const char *name);
/* At a kernel entry: the fields the kernel owns still hold what it last wrote. */
void rseq_debug_fields(struct kernel *k, struct task *t);

#endif
