/* Threads and processes: clone, clone3, fork, exit, wait (spec 7.5). */
#include <string.h>

#include "emu/aspace.h"
#include "emu/cpu.h"
#include "event.h"
#include "report.h"
#include "rseq.h"
#include "sched.h"
#include "signal.h"
#include "syscall.h"
#include "task.h"

#define CLONE_UNSUPPORTED                                                                          \
    (LX_CLONE_PIDFD | LX_CLONE_PTRACE | LX_CLONE_NEWNS | LX_CLONE_NEWCGROUP | 0x04000000ULL |      \
     0x08000000ULL | 0x10000000ULL | 0x20000000ULL | 0x40000000ULL | LX_CLONE_UNTRACED)

struct clone_req {
    uint64_t flags;
    int exit_signal;
    guest_addr_t stack;
    guest_addr_t parent_tid, child_tid, tls;
};

/* A new address space holding a copy of the parent's (fork). */
static struct mm *mm_copy(struct kernel *k, const struct mm *from)
{
    struct mm *mm = mm_alloc(k);
    if (!mm)
        return NULL;
    const char *err;
    mm->as = aspace_create(k->emu, &err);
    if (!mm->as || aspace_copy_from(mm->as, from->as) != 0) {
        if (mm->as)
            aspace_destroy(mm->as);
        mm->in_use = false;
        return NULL;
    }
    mm->brk_start = from->brk_start;
    mm->brk = from->brk;
    mm->stack_low = from->stack_low;
    mm->image = from->image;
    mm->membarrier_state = from->membarrier_state;
    return mm;
}

static struct process *process_fork(struct kernel *k, struct task *parent, struct task *child,
                                    const struct clone_req *r)
{
    struct process *pp = parent->proc;
    struct process *p = process_alloc(k);
    if (!p)
        return NULL;
    struct mm *mm = pp->mm;
    if (!(r->flags & LX_CLONE_VM)) {
        mm = mm_copy(k, pp->mm);
        if (!mm) {
            p->state = PROC_FREE;
            return NULL;
        }
    }
    p->pid = child->tid;
    p->parent = pp;
    p->mm = mm;
    p->leader = child;
    p->exit_signal = r->exit_signal;
    memcpy(p->act, pp->act, sizeof(p->act));
    memcpy(p->rlimit_cur, pp->rlimit_cur, sizeof(p->rlimit_cur));
    memcpy(p->rlimit_max, pp->rlimit_max, sizeof(p->rlimit_max));
    memcpy(p->fds, pp->fds, sizeof(p->fds));
    p->umask = pp->umask;
    return p;
}

static long do_clone(struct kernel *k, struct task *parent, const struct clone_req *r)
{
    uint64_t flags = r->flags;
    if ((flags & LX_CLONE_THREAD) && !(flags & LX_CLONE_SIGHAND))
        return -LX_EINVAL;
    if ((flags & LX_CLONE_SIGHAND) && !(flags & LX_CLONE_VM))
        return -LX_EINVAL;
    if (flags & CLONE_UNSUPPORTED) {
        report_diag(k, "clone flags 0x%llx are not supported",
                    (unsigned long long)(flags & CLONE_UNSUPPORTED));
        return -LX_EINVAL;
    }
    struct task *child = task_alloc(k);
    if (!child)
        return -LX_EAGAIN;
    struct process *p = parent->proc;
    if (flags & LX_CLONE_THREAD) {
        child->proc = p;
        p->nr_threads++;
        p->mm->users++;
    } else {
        p = process_fork(k, parent, child, r);
        if (!p) {
            child->state = TASK_FREE;
            return -LX_ENOMEM;
        }
        child->proc = p;
        p->nr_threads = 1;
        p->mm->users++;
        if (!(flags & LX_CLONE_VM))
            p->mm->users = 1;
    }
    cpu_ctx_sync(task_as(parent), &parent->ctx);
    child->ctx.regs = parent->ctx.regs;
    child->ctx.fp_in_engine = false;
    if (r->stack)
        task_set_reg(k, child, REG_SP, r->stack);
    if (flags & LX_CLONE_SETTLS)
        task_set_reg(k, child, REG_TLS, r->tls);
    syscall_set_return(k, child, 0);
    child->blocked = parent->blocked;
    child->affinity = parent->affinity;
    child->altstack = parent->altstack;
    if ((flags & (LX_CLONE_VM | LX_CLONE_VFORK)) == LX_CLONE_VM)
        child->altstack = (struct lx_stack){.ss_flags = LX_SS_DISABLE};
    child->robust_list = 0;
    rseq_fork(k, child, parent, flags & LX_CLONE_VM);
    if (flags & LX_CLONE_CHILD_CLEARTID)
        child->clear_child_tid = r->child_tid;
    uint32_t tid = (uint32_t)child->tid;
    if (flags & LX_CLONE_PARENT_SETTID)
        aspace_write(task_as(parent), r->parent_tid, &tid, sizeof(tid));
    if (flags & LX_CLONE_CHILD_SETTID)
        aspace_write(task_as(child), r->child_tid, &tid, sizeof(tid));
    child->rtu_pending = true;
    event_emit(k, EV_CLONE, parent, flags, (uint64_t)child->tid, 0);
    sched_start(k, child, parent);
    return child->tid;
}

long sys_clone(struct kernel *k, struct task *t, const struct sys_args *a)
{
    struct clone_req r = {
        .flags = a->a[0] & ~LX_CSIGNAL,
        .exit_signal = (int)(a->a[0] & LX_CSIGNAL),
        .stack = a->a[1],
        .parent_tid = a->a[2],
        .child_tid = a->a[k->arch->clone_ctid_arg],
        .tls = a->a[k->arch->clone_tls_arg],
    };
    if ((r.flags & LX_CLONE_THREAD) && r.exit_signal)
        r.exit_signal = 0;
    return do_clone(k, t, &r);
}

long sys_fork(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)a;
    struct clone_req r = {.exit_signal = LX_SIGCHLD};
    return do_clone(k, t, &r);
}

long sys_vfork(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)a;
    /* The parent is not suspended: without execve the child shares the parent's stack only
     * until it exits, which vfork users do at once. */
    struct clone_req r = {.flags = LX_CLONE_VM, .exit_signal = LX_SIGCHLD};
    return do_clone(k, t, &r);
}

#define CLONE_ARGS_SIZE_VER0  64
#define CLONE_ARGS_SIZE_KNOWN 88

long sys_clone3(struct kernel *k, struct task *t, const struct sys_args *a)
{
    uint64_t size = a->a[1];
    if (size < CLONE_ARGS_SIZE_VER0)
        return -LX_EINVAL;
    if (size > LX_PAGE_SIZE)
        return -LX_E2BIG;
    uint8_t buf[LX_PAGE_SIZE];
    if (copy_from_user(k, t, buf, a->a[0], size) != 0)
        return -LX_EFAULT;
    for (uint64_t i = CLONE_ARGS_SIZE_KNOWN; i < size; i++)
        if (buf[i])
            return -LX_E2BIG;
    uint64_t f[11] = {0};
    memcpy(f, buf, size < sizeof(f) ? size : sizeof(f));
    /* flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
     * set_tid_size, cgroup */
    if ((f[4] & ~LX_CSIGNAL) || f[4] > LX_NSIG) /* copy_clone_args_from_user(): valid_signal() */
        return -LX_EINVAL;
    if ((f[0] & (LX_CLONE_THREAD | LX_CLONE_PARENT)) && f[4])
        return -LX_EINVAL;
    if ((f[5] == 0 && f[6] != 0) || (f[5] != 0 && f[6] == 0))
        return -LX_EINVAL;
    if (f[8] || f[9])
        return -LX_EINVAL; /* set_tid needs CAP_SYS_ADMIN in a pid namespace */
    struct clone_req r = {
        .flags = f[0],
        .exit_signal = (int)f[4],
        .stack = f[5] ? f[5] + f[6] : 0,
        .child_tid = f[2],
        .parent_tid = f[3],
        .tls = f[7],
    };
    return do_clone(k, t, &r);
}

long sys_set_tid_address(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)k;
    t->clear_child_tid = a->a[0];
    return t->tid;
}

long sys_set_robust_list(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)k;
    if (a->a[1] != 24)
        return -LX_EINVAL;
    t->robust_list = a->a[0];
    return 0;
}

long sys_get_robust_list(struct kernel *k, struct task *t, const struct sys_args *a)
{
    struct task *target = a->a[0] ? task_by_tid(k, (int)a->a[0]) : t;
    if (!target)
        return -LX_ESRCH;
    uint64_t head = target->robust_list, len = 24;
    if (copy_to_user(k, t, a->a[1], &head, 8) != 0 || copy_to_user(k, t, a->a[2], &len, 8) != 0)
        return -LX_EFAULT;
    return 0;
}

long sys_exit(struct kernel *k, struct task *t, const struct sys_args *a)
{
    task_exit(k, t, (int)(a->a[0] & 0xff));
    return SYS_NORETURN;
}

long sys_exit_group(struct kernel *k, struct task *t, const struct sys_args *a)
{
    process_exit_group(k, t->proc, (int)((a->a[0] & 0xff) << 8));
    return SYS_NORETURN;
}

/* ---- wait ---- */

static bool child_matches(const struct process *c, const struct process *parent, int64_t pid)
{
    return c->parent == parent && c->state != PROC_FREE && (pid <= 0 || c->pid == pid);
}

static void reap(struct kernel *k, struct process *c)
{
    if (c->leader && c->leader->state == TASK_DEAD)
        c->leader->state = TASK_FREE;
    c->state = PROC_FREE;
    (void)k;
}

/* One pass over the children: the pid reaped (0 when none is ready), or -LX_ECHILD. */
static long wait_once(struct kernel *k, struct task *t, int64_t pid, int options, bool waitid,
                      guest_addr_t status_addr, guest_addr_t infop)
{
    bool any = false;
    for (int i = 0; i < PROC_MAX; i++) {
        struct process *c = &k->st->procs[i];
        if (!child_matches(c, t->proc, pid))
            continue;
        any = true;
        if (c->state != PROC_ZOMBIE)
            continue;
        int st = c->exit_code;
        if (!waitid && status_addr && copy_to_user(k, t, status_addr, &st, 4) != 0)
            return -LX_EFAULT;
        if (waitid && infop) {
            struct ksiginfo info = {.signo = LX_SIGCHLD,
                                    .kind = KSI_CHLD,
                                    .a = (uint64_t)(uint32_t)c->pid | (uint64_t)1000 << 32};
            info.code =
                (st & 0x7f) == 0 ? LX_CLD_EXITED : (st & 0x80 ? LX_CLD_DUMPED : LX_CLD_KILLED);
            info.status = (st & 0x7f) == 0 ? (st >> 8) & 0xff : st & 0x7f;
            uint8_t bytes[LX_SIGINFO_SIZE];
            signal_siginfo_bytes(&info, bytes);
            if (copy_to_user(k, t, infop, bytes, sizeof(bytes)) != 0)
                return -LX_EFAULT;
        }
        long ret = c->pid;
        if (!(waitid && (options & 0x01000000))) /* WNOWAIT keeps the zombie */
            reap(k, c);
        return ret;
    }
    return any ? 0 : -LX_ECHILD;
}

static long do_wait(struct kernel *k, struct task *t, int64_t pid, int options, bool waitid,
                    guest_addr_t status_addr, guest_addr_t infop)
{
    long ret = wait_once(k, t, pid, options, waitid, status_addr, infop);
    if (ret != 0)
        return waitid && ret > 0 ? 0 : ret;
    if (options & LX_WNOHANG) {
        if (waitid && infop) {
            uint8_t zero[LX_SIGINFO_SIZE] = {0};
            if (copy_to_user(k, t, infop, zero, sizeof(zero)) != 0)
                return -LX_EFAULT;
        }
        return 0;
    }
    t->wait.kind = WAIT_CHILD;
    t->wait.interrupted_ret = -LX_ERESTARTSYS;
    sched_block(k, t);
    return SYS_BLOCKED;
}

long sys_wait4(struct kernel *k, struct task *t, const struct sys_args *a)
{
    int options = (int)a->a[2];
    if (options & ~(LX_WNOHANG | LX_WUNTRACED | 8 /* WCONTINUED */ | LX_WALL | LX_WCLONE |
                    0x20000000 /* __WNOTHREAD */))
        return -LX_EINVAL;
    if (a->a[3]) {
        uint8_t ru[144] = {0};
        if (copy_to_user(k, t, a->a[3], ru, sizeof(ru)) != 0)
            return -LX_EFAULT;
    }
    return do_wait(k, t, (int64_t)(int32_t)a->a[0], options, false, a->a[1], 0);
}

long sys_waitid(struct kernel *k, struct task *t, const struct sys_args *a)
{
    int idtype = (int)a->a[0];
    int options = (int)a->a[3];
    if (!(options & (LX_WEXITED | LX_WUNTRACED | 8)))
        return -LX_EINVAL;
    int64_t pid;
    if (idtype == LX_P_ALL)
        pid = -1;
    else if (idtype == LX_P_PID)
        pid = (int64_t)(int32_t)a->a[1];
    else
        return -LX_EINVAL;
    return do_wait(k, t, pid, options, true, 0, a->a[2]);
}
