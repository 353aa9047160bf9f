/* Threads, processes and their address spaces: allocation, lookup and the end of life. */
#ifndef RSEQEMU_KERNEL_MODEL_TASK_H
#define RSEQEMU_KERNEL_MODEL_TASK_H

#include "kstate.h"

/* NULL when the table is full (the caller returns EAGAIN, as for RLIMIT_NPROC). */
struct task *task_alloc(struct kernel *k);
struct process *process_alloc(struct kernel *k);
struct mm *mm_alloc(struct kernel *k);

struct task *task_by_tid(struct kernel *k, int tid);
struct process *process_by_pid(struct kernel *k, int pid);
int task_index(const struct kernel *k, const struct task *t);

static inline struct aspace *task_as(const struct task *t) { return t->proc->mm->as; }

static inline uint64_t task_reg(const struct kernel *k, const struct task *t, enum reg_role r)
{
    return arch_reg(k->arch, &t->ctx.regs, r);
}

static inline void task_set_reg(const struct kernel *k, struct task *t, enum reg_role r, uint64_t v)
{
    arch_set_reg(k->arch, &t->ctx.regs, r, v);
}

/* The calling thread ends (exit(2), or one thread of a group exit). */
void task_exit(struct kernel *k, struct task *t, int exit_code);
/* Every thread of p ends; wait_status is what the parent's wait will see. */
void process_exit_group(struct kernel *k, struct process *p, int wait_status);
/* Drops an mm user; the address space goes with the last one. */
void mm_put(struct kernel *k, struct mm *mm);

#endif
