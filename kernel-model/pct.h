/* The pct policy: probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi and
 * Nagarakatte, ASPLOS 2010; README "Policies").
 *
 * Every thread has a distinct priority, and each CPU runs the highest-priority runnable thread
 * it has. Threads start at random priorities, all above d; d-1 change points, drawn uniformly
 * among steps 1..k, each lower the thread that executes that step below every start priority.
 * A bug that needs d ordering constraints among n threads shows with probability at least
 * 1/(n k^(d-1)) per run. This file keeps the priorities and counts the steps; sched.c asks it
 * which thread runs and records the choices that a replay cannot make by itself. */
#ifndef RSEQEMU_KERNEL_MODEL_PCT_H
#define RSEQEMU_KERNEL_MODEL_PCT_H

#include "kstate.h"

/* Draws the change points (sched_init). */
void pct_init(struct kernel *k);
/* A new thread's start priority (task_alloc). */
void pct_task_start(struct kernel *k, struct task *t);
/* t executes a step: a system call, or the first instruction of a critical section. True when
 * the step is a change point, which lowered t. */
bool pct_step(struct kernel *k, struct task *t);
/* t yields, or ran out its time slice: it goes below every other thread, so that the threads
 * it may be waiting for run. */
void pct_yield(struct kernel *k, struct task *t);
/* The highest-priority thread of c's queue; NULL if it is empty. */
struct task *pct_highest(const struct kcpu *c);

#endif
