/* Scheduling policies (README "Policies"). The scheduler asks the policy's parameters at each
 * decision; a schedule file's events (script) are handed out here, thread by thread, and a
 * recorded run's decisions are written here as the events that replay them. */
#ifndef RSEQEMU_KERNEL_MODEL_POLICY_H
#define RSEQEMU_KERNEL_MODEL_POLICY_H

#include "kstate.h"
#include "schedule.h"

/* A span of 0 makes the value fixed at its minimum; a minimum of 0 means "never". */
struct policy_params {
    uint64_t slice_min, slice_span;     /* instructions before the host looks at another CPU */
    uint64_t quantum_min, quantum_span; /* a thread's time slice */
    uint64_t inject_span;               /* a preemption or migration within this many */
    bool cs_inject;                     /* inject inside critical sections too */
    uint64_t signal_delay_min, signal_delay_span; /* a running thread takes a signal within */
    bool script;                                  /* events come from cfg.script */
    bool pct;                                     /* pct.c's priorities choose the threads */
};

const struct policy_params *policy_params(const struct kernel *k);

/* The thread's first event (task_alloc). */
void policy_task_start(struct kernel *k, struct task *t);
/* Where t's next event is (UINT64_MAX: none). */
uint64_t policy_script_next(const struct kernel *k, const struct task *t);
/* t's next event if it is due at t's position (and consumes it), else NULL. */
const struct sched_event *policy_script_take(struct kernel *k, struct task *t);
/* t leaves its CPU at its position: the pick event there, taken, or NULL. */
const struct sched_event *policy_script_leave(struct kernel *k, struct task *t);
/* t exits: a `switch` at its last position did its work when t stopped there. */
void policy_task_exit(struct kernel *k, struct task *t);
/* An event that cannot happen: reported with its line, and the run ends. */
void policy_script_refuse(struct kernel *k, const struct sched_event *e, const char *why);
/* After the run: events that never happened are refused. */
void policy_script_finish(struct kernel *k);

/* --record: t, at its position, does what verb says. */
void policy_record(struct kernel *k, const struct task *t, enum sched_verb verb, int arg);
/* --record: thread tid did what verb says at position at (a pick is known only after its
 * thread has left). */
void policy_record_at(struct kernel *k, int tid, uint64_t at, enum sched_verb verb, int arg);

#endif
