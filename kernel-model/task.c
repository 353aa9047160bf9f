/* Task, process and mm tables; the end of threads and processes. */
#include "task.h"

#include <string.h>

#include "emu/arena.h"
#include "emu/aspace.h"
#include "event.h"
#include "futex.h"
#include "mm_cid.h"
#include "policy.h"
#include "report.h"
#include "rseq.h"
#include "sched.h"
#include "signal.h"

/* Linux gives pid 1 special signal rules; guests start well above it. */
#define FIRST_TID 100

struct task *task_alloc(struct kernel *k)
{
    for (int i = 0; i < TASK_MAX; i++) {
        struct task *t = &k->st->tasks[i];
        if (t->state != TASK_FREE)
            continue;
        memset(t, 0, sizeof(*t));
        arena_hwm_raise(&k->st->tasks_hwm, (size_t)i + 1);
        if (k->st->next_tid < FIRST_TID)
            k->st->next_tid = FIRST_TID;
        t->tid = k->st->next_tid++;
        t->state = TASK_RUNNABLE;
        t->mm_cid = -1;
        policy_task_start(k, t);
        return t;
    }
    return NULL;
}

struct process *process_alloc(struct kernel *k)
{
    for (int i = 0; i < PROC_MAX; i++) {
        struct process *p = &k->st->procs[i];
        if (p->state != PROC_FREE)
            continue;
        memset(p, 0, sizeof(*p));
        arena_hwm_raise(&k->st->procs_hwm, (size_t)i + 1);
        p->state = PROC_ALIVE;
        return p;
    }
    return NULL;
}

struct mm *mm_alloc(struct kernel *k)
{
    for (int i = 0; i < MM_MAX; i++) {
        struct mm *mm = &k->st->mms[i];
        if (mm->in_use)
            continue;
        memset(mm, 0, sizeof(*mm));
        arena_hwm_raise(&k->st->mms_hwm, (size_t)i + 1);
        mm->in_use = true;
        mm_cid_init(mm);
        return mm;
    }
    return NULL;
}

struct task *task_by_tid(struct kernel *k, int tid)
{
    for (uint32_t i = 0; i < k->st->tasks_hwm; i++) {
        struct task *t = &k->st->tasks[i];
        if (t->state != TASK_FREE && t->state != TASK_DEAD && t->tid == tid)
            return t;
    }
    return NULL;
}

struct process *process_by_pid(struct kernel *k, int pid)
{
    for (int i = 0; i < PROC_MAX; i++) {
        struct process *p = &k->st->procs[i];
        if (p->state != PROC_FREE && p->pid == pid)
            return p;
    }
    return NULL;
}

int task_index(const struct kernel *k, const struct task *t) { return (int)(t - k->st->tasks); }

void mm_put(struct kernel *k, struct mm *mm)
{
    (void)k;
    if (--mm->users > 0)
        return;
    aspace_destroy(mm->as);
    mm->as = NULL;
    mm->in_use = false;
}

/* The process has no threads left: it becomes a zombie for its parent, or ends the run. */
static void process_end(struct kernel *k, struct process *p)
{
    p->state = PROC_ZOMBIE;
    if (p == k->init) {
        k->done = true;
        int st = p->exit_code;
        if ((st & 0x7f) == 0) {
            k->result.outcome = KERNEL_EXITED;
            k->result.status = (st >> 8) & 0xff;
        } else {
            k->result.outcome = KERNEL_SIGNALED;
            k->result.status = st & 0x7f;
        }
        return;
    }
    signal_child_exited(k, p);
}

void task_exit(struct kernel *k, struct task *t, int exit_code)
{
    struct process *p = t->proc;
    struct mm *mm = p->mm;
    if (t->state == TASK_DEAD || t->state == TASK_FREE)
        return;
    if (t->wait.kind == WAIT_FUTEX)
        futex_unqueue(k, t);
    t->wait.kind = WAIT_NONE;
    t->wait.timer_gen++;

    /* mm_release(): the joiner's futex word, only while others share the memory. */
    if (t->clear_child_tid && mm && mm->users > 1) {
        uint32_t zero = 0;
        if (aspace_write(task_as(t), t->clear_child_tid, &zero, sizeof(zero)) == 0)
            futex_wake_addr(k, t, t->clear_child_tid, 1);
    }
    sched_remove(k, t);
    rseq_exit(k, t);
    policy_task_exit(k, t);
    if (mm) {
        cpu_ctx_detach(mm->as, &t->ctx);
        mm_cid_release(k, t);
    }
    event_emit(k, EV_EXIT, t, (uint64_t)exit_code, 0, 0);
    t->state = TASK_DEAD;
    p->nr_threads--;
    if (!p->group_exiting)
        p->exit_code = (exit_code & 0xff) << 8;
    if (p->nr_threads == 0)
        p->mm = NULL;
    if (mm)
        mm_put(k, mm);
    if (p->nr_threads == 0) {
        process_end(k, p);
        return;
    }
    if (t != p->leader)
        t->state = TASK_FREE; /* the leader's slot stays until the process is reaped */
}

void process_exit_group(struct kernel *k, struct process *p, int wait_status)
{
    if (p->group_exiting)
        return;
    p->group_exiting = true;
    p->exit_code = wait_status;
    for (int i = 0; i < TASK_MAX && p->nr_threads > 0; i++) {
        struct task *t = &k->st->tasks[i];
        if (t->proc == p && t->state != TASK_FREE && t->state != TASK_DEAD)
            task_exit(k, t, 0);
    }
}
