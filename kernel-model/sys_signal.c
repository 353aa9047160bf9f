/* Signal syscalls (spec 6.2). */
#include <string.h>

#include "arch/le.h"
#include "emu/aspace.h"
#include "emu/cpu.h"
#include "ktime.h"
#include "sched.h"
#include "signal.h"
#include "syscall.h"
#include "task.h"

#define UNBLOCKABLE (LX_SIGBIT(LX_SIGKILL) | LX_SIGBIT(LX_SIGSTOP))
#define SIGSET_SIZE 8

static bool valid_sig(uint64_t sig) { return sig >= 1 && sig <= LX_NSIG; }

long sys_rt_sigaction(struct kernel *k, struct task *t, const struct sys_args *a)
{
    uint64_t sig = a->a[0];
    if (a->a[3] != SIGSET_SIZE || !valid_sig(sig))
        return -LX_EINVAL;
    struct process *p = t->proc;
    struct ksigaction newact;
    if (a->a[1]) {
        uint64_t raw[4];
        if (copy_from_user(k, t, raw, a->a[1], sizeof(raw)) != 0)
            return -LX_EFAULT;
        if (sig == LX_SIGKILL || sig == LX_SIGSTOP)
            return -LX_EINVAL;
        newact = (struct ksigaction){
            .handler = raw[0], .flags = raw[1], .restorer = raw[2], .mask = raw[3] & ~UNBLOCKABLE};
    }
    if (a->a[2]) {
        const struct ksigaction *o = &p->act[sig - 1];
        uint64_t raw[4] = {o->handler, o->flags, o->restorer, o->mask};
        if (copy_to_user(k, t, a->a[2], raw, sizeof(raw)) != 0)
            return -LX_EFAULT;
    }
    if (a->a[1]) {
        p->act[sig - 1] = newact;
        /* An ignored signal is discarded from every queue of the process. */
        bool ignored = newact.handler == LX_SIG_IGN ||
                       (newact.handler == LX_SIG_DFL &&
                        (LX_SIGBIT(sig) & (LX_SIGBIT(LX_SIGCHLD) | LX_SIGBIT(LX_SIGURG) |
                                           LX_SIGBIT(LX_SIGWINCH) | LX_SIGBIT(LX_SIGCONT))));
        if (ignored) {
            p->pending &= ~LX_SIGBIT(sig);
            for (int i = 0; i < TASK_MAX; i++)
                if (k->st->tasks[i].proc == p)
                    k->st->tasks[i].pending &= ~LX_SIGBIT(sig);
        }
    }
    return 0;
}

long sys_rt_sigprocmask(struct kernel *k, struct task *t, const struct sys_args *a)
{
    if (a->a[3] != SIGSET_SIZE)
        return -LX_EINVAL;
    uint64_t old = t->blocked;
    if (a->a[1]) {
        uint64_t set;
        if (copy_from_user(k, t, &set, a->a[1], sizeof(set)) != 0)
            return -LX_EFAULT;
        switch (a->a[0]) {
        case LX_SIG_BLOCK:
            t->blocked |= set;
            break;
        case LX_SIG_UNBLOCK:
            t->blocked &= ~set;
            break;
        case LX_SIG_SETMASK:
            t->blocked = set;
            break;
        default:
            return -LX_EINVAL;
        }
        t->blocked &= ~UNBLOCKABLE;
    }
    if (a->a[2] && copy_to_user(k, t, a->a[2], &old, sizeof(old)) != 0)
        return -LX_EFAULT;
    return 0;
}

long sys_rt_sigpending(struct kernel *k, struct task *t, const struct sys_args *a)
{
    if (a->a[1] != SIGSET_SIZE)
        return -LX_EINVAL;
    uint64_t set = (t->pending | t->proc->pending) & t->blocked;
    return copy_to_user(k, t, a->a[0], &set, sizeof(set));
}

long sys_rt_sigreturn(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)a;
    struct sigframe_restored r;
    cpu_ctx_sync(task_as(t), &t->ctx);
    struct guest_mem mem = aspace_guest_mem(task_as(t));
    t->in_syscall = false; /* the restored registers are not a syscall to restart */
    if (k->arch->sigframe_restore(&t->ctx.regs, &mem, &r) != 0) {
        signal_force_sigsegv(k, t, 0);
        return SYS_NORETURN;
    }
    t->blocked = r.mask & ~UNBLOCKABLE;
    /* restore_altstack(): errors are ignored, as in Linux. */
    struct lx_stack ss = r.uc_stack;
    if (!(ss.ss_flags & LX_SS_DISABLE) && ss.ss_size >= k->arch->kernel_minsigstksz)
        t->altstack =
            (struct lx_stack){ss.ss_sp, ss.ss_flags & (int32_t)LX_SS_AUTODISARM, ss.ss_size};
    else if (ss.ss_flags & LX_SS_DISABLE)
        t->altstack = (struct lx_stack){.ss_flags = LX_SS_DISABLE};
    return SYS_NORETURN;
}

static int put_stack(struct kernel *k, struct task *t, guest_addr_t addr, const struct lx_stack *ss)
{
    uint8_t out[LX_STACK_SIZE];
    lx_stack_put(out, ss);
    return copy_to_user(k, t, addr, out, sizeof(out));
}

long sys_sigaltstack(struct kernel *k, struct task *t, const struct sys_args *a)
{
    guest_addr_t sp = task_reg(k, t, REG_SP);
    struct lx_stack cur = signal_altstack_report(t, sp);
    if (a->a[0]) {
        uint8_t raw[LX_STACK_SIZE];
        if (copy_from_user(k, t, raw, a->a[0], sizeof(raw)) != 0)
            return -LX_EFAULT;
        struct lx_stack ss = lx_stack_get(raw);
        if (cur.ss_flags & LX_SS_ONSTACK)
            return -LX_EPERM;
        int mode = ss.ss_flags & ~(int32_t)LX_SS_AUTODISARM;
        if (mode != 0 && mode != LX_SS_ONSTACK && mode != LX_SS_DISABLE)
            return -LX_EINVAL;
        if (mode == LX_SS_DISABLE) {
            ss.ss_size = 0;
            ss.ss_sp = 0;
        } else if (ss.ss_size < k->arch->kernel_minsigstksz) {
            return -LX_ENOMEM;
        }
        if (a->a[1] && put_stack(k, t, a->a[1], &cur) != 0)
            return -LX_EFAULT;
        t->altstack = (struct lx_stack){
            ss.ss_sp,
            mode == LX_SS_DISABLE ? LX_SS_DISABLE : ss.ss_flags & (int32_t)LX_SS_AUTODISARM,
            ss.ss_size};
        return 0;
    }
    return a->a[1] ? put_stack(k, t, a->a[1], &cur) : 0;
}

static struct ksiginfo user_siginfo(const struct task *sender, int sig, int code)
{
    return (struct ksiginfo){.signo = sig,
                             .code = code,
                             .kind = KSI_KILL,
                             .a = (uint64_t)(uint32_t)sender->proc->pid | (uint64_t)1000 << 32};
}

long sys_kill(struct kernel *k, struct task *t, const struct sys_args *a)
{
    int64_t pid = (int64_t)(int32_t)a->a[0];
    uint64_t sig = a->a[1];
    if (sig > LX_NSIG)
        return -LX_EINVAL;
    struct ksiginfo info = user_siginfo(t, (int)sig, LX_SI_USER);
    if (pid > 0) {
        struct process *p = process_by_pid(k, (int)pid);
        if (!p || p->state != PROC_ALIVE)
            return -LX_ESRCH;
        if (sig)
            signal_send_process(k, p, &info);
        return 0;
    }
    /* 0 and -pgid: the caller's process group; -1: every process the caller may signal. Every
     * guest process shares one group here. */
    bool sent = false;
    for (int i = 0; i < PROC_MAX; i++) {
        struct process *p = &k->st->procs[i];
        if (p->state != PROC_ALIVE || (pid == -1 && p == t->proc))
            continue;
        sent = true;
        if (sig)
            signal_send_process(k, p, &info);
    }
    return sent ? 0 : -LX_ESRCH;
}

static long send_to_thread(struct kernel *k, struct task *t, int64_t tgid, int64_t tid,
                           uint64_t sig)
{
    if (tid <= 0 || sig > LX_NSIG)
        return -LX_EINVAL;
    struct task *target = task_by_tid(k, (int)tid);
    if (!target || (tgid > 0 && target->proc->pid != tgid))
        return -LX_ESRCH;
    if (sig) {
        struct ksiginfo info = user_siginfo(t, (int)sig, LX_SI_TKILL);
        signal_send_thread(k, target, &info);
    }
    return 0;
}

long sys_tgkill(struct kernel *k, struct task *t, const struct sys_args *a)
{
    int64_t tgid = (int64_t)(int32_t)a->a[0];
    if (tgid <= 0)
        return -LX_EINVAL;
    return send_to_thread(k, t, tgid, (int64_t)(int32_t)a->a[1], a->a[2]);
}

long sys_tkill(struct kernel *k, struct task *t, const struct sys_args *a)
{
    return send_to_thread(k, t, 0, (int64_t)(int32_t)a->a[0], a->a[1]);
}

long sys_rt_sigsuspend(struct kernel *k, struct task *t, const struct sys_args *a)
{
    if (a->a[1] != SIGSET_SIZE)
        return -LX_EINVAL;
    uint64_t set;
    if (copy_from_user(k, t, &set, a->a[0], sizeof(set)) != 0)
        return -LX_EFAULT;
    t->saved_blocked = t->blocked;
    t->restore_saved_blocked = true;
    t->blocked = set & ~UNBLOCKABLE;
    t->wait.kind = WAIT_SIGSUSPEND;
    t->wait.interrupted_ret = -LX_ERESTARTNOHAND;
    if (signal_pending_for(k, t))
        return -LX_ERESTARTNOHAND;
    sched_block(k, t);
    return SYS_BLOCKED;
}

long sys_rt_sigtimedwait(struct kernel *k, struct task *t, const struct sys_args *a)
{
    if (a->a[3] != SIGSET_SIZE)
        return -LX_EINVAL;
    uint64_t set;
    if (copy_from_user(k, t, &set, a->a[0], sizeof(set)) != 0)
        return -LX_EFAULT;
    set &= ~UNBLOCKABLE;
    uint64_t timeout = 0;
    if (a->a[2]) {
        int rc = ktime_read_timespec(k, t, a->a[2], &timeout);
        if (rc)
            return rc;
    }
    t->wait.sigset = set;
    t->wait.info_addr = a->a[1];
    if ((t->pending | t->proc->pending) & set)
        return signal_take_waited(k, t);
    if (a->a[2] && timeout == 0)
        return -LX_EAGAIN;
    t->wait.kind = WAIT_SIGTIMEDWAIT;
    t->wait.interrupted_ret = -LX_EINTR;
    t->wait.timeout_ret = -LX_EAGAIN;
    sched_block(k, t);
    if (a->a[2])
        timer_arm_task(k, t, sched_now(k, t) + timeout);
    return SYS_BLOCKED;
}
