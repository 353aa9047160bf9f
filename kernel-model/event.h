/* The event stream of a run: every scheduling decision, context switch, syscall and signal,
 * positioned by the thread's own instruction count. What happened (not the decisions, which a
 * replay takes from a file instead) feeds the run's digest, so two runs can be compared by
 * one number. */
#ifndef RSEQEMU_KERNEL_MODEL_EVENT_H
#define RSEQEMU_KERNEL_MODEL_EVENT_H

#include "kstate.h"

struct sys_args;

enum event_kind {
    EV_DECIDE = 1,
    EV_SWITCH,
    EV_PREEMPT,
    EV_MIGRATE,
    EV_SYSCALL,
    EV_SIGNAL_SEND,
    EV_SIGNAL_DELIVER,
    EV_SIGNAL_DEFAULT,
    EV_BLOCK,
    EV_WAKE,
    EV_CLONE,
    EV_EXIT,
    EV_FAULT,
    EV_RSEQ_REGISTER,
    EV_RSEQ_ABORT,
    EV_TIMER,
    EV_INJECT, /* an injection that is not a preemption: a = enum inject_kind */
    EV_EXEC,
    EV_CPU_OPV, /* a cpu_opv vector ran: a = target CPU, b and c as cpu_opv.h packs them */
    EV_HOTPLUG, /* a = the CPU, b = 1 online, 0 offline */
};

/* t may be NULL for events outside any thread. */
void event_emit(struct kernel *k, enum event_kind kind, const struct task *t, uint64_t a,
                uint64_t b, uint64_t c);
void event_syscall(struct kernel *k, const struct task *t, const struct sys_args *args, long ret);

#endif
