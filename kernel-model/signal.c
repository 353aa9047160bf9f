/* Signal generation and delivery (kernel/signal.c, arch/x86/kernel/signal.c,
 * arch/arm64/kernel/signal.c), spec section 6. */
#include "signal.h"

#include <stdlib.h>
#include <string.h>

#include "arch/le.h"
#include "emu/aspace.h"
#include "event.h"
#include "futex.h"
#include "report.h"
#include "rseq.h"
#include "sched.h"
#include "syscall.h"
#include "task.h"

#define UNBLOCKABLE (LX_SIGBIT(LX_SIGKILL) | LX_SIGBIT(LX_SIGSTOP))
/* Synchronous signals are dequeued first (kernel/signal.c SYNCHRONOUS_MASK). */
#define SYNCHRONOUS                                                                                \
    (LX_SIGBIT(LX_SIGSEGV) | LX_SIGBIT(LX_SIGBUS) | LX_SIGBIT(LX_SIGILL) | LX_SIGBIT(LX_SIGTRAP) | \
     LX_SIGBIT(LX_SIGFPE) | LX_SIGBIT(LX_SIGSYS))
#define DEFAULT_IGNORE                                                                             \
    (LX_SIGBIT(LX_SIGCHLD) | LX_SIGBIT(LX_SIGURG) | LX_SIGBIT(LX_SIGWINCH) | LX_SIGBIT(LX_SIGCONT))
/* Job control is not modelled: stop signals are ignored. */
#define DEFAULT_STOP                                                                               \
    (LX_SIGBIT(LX_SIGSTOP) | LX_SIGBIT(LX_SIGTSTP) | LX_SIGBIT(LX_SIGTTIN) | LX_SIGBIT(LX_SIGTTOU))
#define DEFAULT_CORE                                                                               \
    (LX_SIGBIT(LX_SIGQUIT) | LX_SIGBIT(LX_SIGILL) | LX_SIGBIT(LX_SIGTRAP) |                        \
     LX_SIGBIT(LX_SIGABRT) | LX_SIGBIT(LX_SIGBUS) | LX_SIGBIT(LX_SIGFPE) | LX_SIGBIT(LX_SIGSEGV) | \
     LX_SIGBIT(LX_SIGXCPU) | LX_SIGBIT(LX_SIGXFSZ) | LX_SIGBIT(LX_SIGSYS))

static const char *const signal_names[LX_NSIG + 1] = {
    [LX_SIGHUP] = "SIGHUP",       [LX_SIGINT] = "SIGINT",       [LX_SIGQUIT] = "SIGQUIT",
    [LX_SIGILL] = "SIGILL",       [LX_SIGTRAP] = "SIGTRAP",     [LX_SIGABRT] = "SIGABRT",
    [LX_SIGBUS] = "SIGBUS",       [LX_SIGFPE] = "SIGFPE",       [LX_SIGKILL] = "SIGKILL",
    [LX_SIGUSR1] = "SIGUSR1",     [LX_SIGSEGV] = "SIGSEGV",     [LX_SIGUSR2] = "SIGUSR2",
    [LX_SIGPIPE] = "SIGPIPE",     [LX_SIGALRM] = "SIGALRM",     [LX_SIGTERM] = "SIGTERM",
    [LX_SIGSTKFLT] = "SIGSTKFLT", [LX_SIGCHLD] = "SIGCHLD",     [LX_SIGCONT] = "SIGCONT",
    [LX_SIGSTOP] = "SIGSTOP",     [LX_SIGTSTP] = "SIGTSTP",     [LX_SIGTTIN] = "SIGTTIN",
    [LX_SIGTTOU] = "SIGTTOU",     [LX_SIGURG] = "SIGURG",       [LX_SIGXCPU] = "SIGXCPU",
    [LX_SIGXFSZ] = "SIGXFSZ",     [LX_SIGVTALRM] = "SIGVTALRM", [LX_SIGPROF] = "SIGPROF",
    [LX_SIGWINCH] = "SIGWINCH",   [LX_SIGIO] = "SIGIO",         [LX_SIGPWR] = "SIGPWR",
    [LX_SIGSYS] = "SIGSYS",
};

const char *signal_name(int sig)
{
    static char rt[32];
    if (sig > 0 && sig <= LX_NSIG && signal_names[sig])
        return signal_names[sig];
    snprintf(rt, sizeof(rt), "SIGRT%d", sig - LX_SIGRTMIN);
    return rt;
}

int signal_parse(const char *s)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (*s && !*end)
        return n >= 1 && n <= LX_NSIG ? (int)n : -1;
    if (!strncmp(s, "SIG", 3))
        s += 3;
    for (int sig = 1; sig <= LX_NSIG; sig++)
        if (!strcmp(signal_name(sig) + 3, s))
            return sig;
    return -1;
}

static bool sig_ignored_by_handler(const struct process *p, int sig)
{
    uint64_t h = p->act[sig - 1].handler;
    return h == LX_SIG_IGN ||
           (h == LX_SIG_DFL && (LX_SIGBIT(sig) & (DEFAULT_IGNORE | DEFAULT_STOP)));
}

bool signal_pending_for(const struct kernel *k, const struct task *t)
{
    (void)k;
    return ((t->pending | t->proc->pending) & ~t->blocked) != 0;
}

/* A blocked wait ends early: the syscall returns its interrupted result, or, for
 * sigtimedwait on a signal of its set, that signal. */
static void interrupt_wait(struct kernel *k, struct task *t, int sig)
{
    if (t->state != TASK_BLOCKED)
        return;
    if (t->wait.kind == WAIT_SIGTIMEDWAIT && !(t->wait.sigset & LX_SIGBIT(sig)) &&
        (t->blocked & LX_SIGBIT(sig)))
        return;
    if (t->wait.kind == WAIT_FUTEX)
        futex_unqueue(k, t);
    long ret = t->wait.interrupted_ret;
    if (t->wait.kind == WAIT_SIGTIMEDWAIT && (t->wait.sigset & LX_SIGBIT(sig)))
        ret = signal_take_waited(k, t);
    sched_wake(k, t, ret);
}

/* Makes a newly pending signal noticed by t. */
static void signal_wake(struct kernel *k, struct task *t, int sig)
{
    bool waited = t->state == TASK_BLOCKED && t->wait.kind == WAIT_SIGTIMEDWAIT &&
                  (t->wait.sigset & LX_SIGBIT(sig));
    if ((t->blocked & LX_SIGBIT(sig)) && !waited)
        return;
    /* Another CPU's running thread is interrupted when the IPI arrives, not at once. */
    if (sched_defer_signal(k, t))
        return;
    t->rtu_pending = true;
    interrupt_wait(k, t, sig);
}

void signal_send_thread(struct kernel *k, struct task *t, const struct ksiginfo *info)
{
    int sig = info->signo;
    struct process *p = t->proc;
    if (p->group_exiting || t->state == TASK_DEAD || t->state == TASK_FREE)
        return;
    event_emit(k, EV_SIGNAL_SEND, t, (uint64_t)sig, (uint64_t)info->code, 1);
    if (sig == LX_SIGKILL) {
        process_exit_group(k, p, LX_SIGKILL);
        return;
    }
    if (sig_ignored_by_handler(p, sig) && !(t->blocked & LX_SIGBIT(sig)))
        return;
    if (t->pending & LX_SIGBIT(sig))
        return; /* one instance at a time, real-time signals included */
    t->pending |= LX_SIGBIT(sig);
    t->pending_info[sig - 1] = *info;
    signal_wake(k, t, sig);
}

static bool wants_signal(const struct task *t, int sig)
{
    if (t->state == TASK_FREE || t->state == TASK_DEAD)
        return false;
    if (t->state == TASK_BLOCKED && t->wait.kind == WAIT_SIGTIMEDWAIT &&
        (t->wait.sigset & LX_SIGBIT(sig)))
        return true;
    return !(t->blocked & LX_SIGBIT(sig));
}

void signal_send_process(struct kernel *k, struct process *p, const struct ksiginfo *info)
{
    int sig = info->signo;
    if (p->state != PROC_ALIVE || p->group_exiting)
        return;
    event_emit(k, EV_SIGNAL_SEND, NULL, (uint64_t)sig, (uint64_t)info->code, (uint64_t)p->pid);
    if (sig == LX_SIGKILL) {
        process_exit_group(k, p, LX_SIGKILL);
        return;
    }
    if (sig_ignored_by_handler(p, sig) && p->leader && !(p->leader->blocked & LX_SIGBIT(sig)))
        return;
    if (p->pending & LX_SIGBIT(sig))
        return;
    p->pending |= LX_SIGBIT(sig);
    p->pending_info[sig - 1] = *info;
    /* The main thread if it takes the signal, else the oldest thread that does. */
    struct task *target = NULL;
    if (p->leader && wants_signal(p->leader, sig)) {
        target = p->leader;
    } else {
        for (int i = 0; i < TASK_MAX; i++) {
            struct task *t = &k->st->tasks[i];
            if (t->proc == p && wants_signal(t, sig) && (!target || t->tid < target->tid))
                target = t;
        }
    }
    if (target)
        signal_wake(k, target, sig);
}

void signal_force(struct kernel *k, struct task *t, int sig, int code, guest_addr_t addr,
                  uint64_t arch_code)
{
    struct ksigaction *act = &t->proc->act[sig - 1];
    bool blocked = t->blocked & LX_SIGBIT(sig);
    if (blocked || act->handler == LX_SIG_IGN) {
        act->handler = LX_SIG_DFL;
        t->blocked &= ~LX_SIGBIT(sig);
    }
    struct ksiginfo info = {.signo = sig,
                            .code = code,
                            .kind = code == LX_SI_KERNEL ? KSI_KERNEL : KSI_FAULT,
                            .a = addr,
                            .arch_code = arch_code};
    /* A fault replaces a pending instance of the same signal: its address is the news. */
    t->pending &= ~LX_SIGBIT(sig);
    signal_send_thread(k, t, &info);
}

void signal_force_sigsegv(struct kernel *k, struct task *t, int delivering)
{
    /* force_sigsegv(): failing while delivering SIGSEGV itself makes SIGSEGV fatal. */
    if (delivering == LX_SIGSEGV)
        t->proc->act[LX_SIGSEGV - 1].handler = LX_SIG_DFL;
    signal_force(k, t, LX_SIGSEGV, LX_SI_KERNEL, 0, 0);
}

void signal_child_exited(struct kernel *k, struct process *child)
{
    struct process *parent = child->parent;
    if (!parent || parent->state != PROC_ALIVE)
        return;
    int st = child->exit_code;
    struct ksiginfo info = {.signo = child->exit_signal ? child->exit_signal : LX_SIGCHLD,
                            .kind = KSI_CHLD,
                            .a = (uint64_t)(uint32_t)child->pid | (uint64_t)1000 << 32};
    if ((st & 0x7f) == 0) {
        info.code = LX_CLD_EXITED;
        info.status = (st >> 8) & 0xff;
    } else {
        info.code = st & 0x80 ? LX_CLD_DUMPED : LX_CLD_KILLED;
        info.status = st & 0x7f;
    }
    /* do_notify_parent(): clone(2) takes any CSIGNAL byte, and one that is no signal (65..255)
     * is sent to nobody; the parent's wait still sees the child. */
    if (child->exit_signal >= 1 && child->exit_signal <= LX_NSIG)
        signal_send_process(k, parent, &info);
    /* Threads of the parent blocked in wait4/waitid look again. */
    for (int i = 0; i < TASK_MAX; i++) {
        struct task *t = &k->st->tasks[i];
        if (t->proc == parent && t->state == TASK_BLOCKED && t->wait.kind == WAIT_CHILD)
            sched_wake(k, t, -LX_ERESTARTNOINTR);
    }
}

/* ---- delivery ---- */

static int lowest_signal(uint64_t set)
{
    if (set & SYNCHRONOUS)
        set &= SYNCHRONOUS;
    return set ? __builtin_ctzll(set) + 1 : 0;
}

/* Takes the next deliverable signal off t's queues (its own first, then its process's). */
static int dequeue_signal(struct task *t, uint64_t allowed, struct ksiginfo *info)
{
    int sig = lowest_signal(t->pending & allowed);
    if (sig) {
        t->pending &= ~LX_SIGBIT(sig);
        *info = t->pending_info[sig - 1];
        return sig;
    }
    sig = lowest_signal(t->proc->pending & allowed);
    if (sig) {
        t->proc->pending &= ~LX_SIGBIT(sig);
        *info = t->proc->pending_info[sig - 1];
    }
    return sig;
}

long signal_take_waited(struct kernel *k, struct task *t)
{
    struct ksiginfo info;
    int sig = dequeue_signal(t, t->wait.sigset, &info);
    if (!sig)
        return -LX_EAGAIN;
    if (t->wait.info_addr) {
        uint8_t buf[LX_SIGINFO_SIZE];
        signal_siginfo_bytes(&info, buf);
        if (copy_to_user(k, t, t->wait.info_addr, buf, sizeof(buf)) != 0)
            return -LX_EFAULT;
    }
    return sig;
}

void signal_siginfo_bytes(const struct ksiginfo *info, uint8_t out[LX_SIGINFO_SIZE])
{
    memset(out, 0, LX_SIGINFO_SIZE);
    le_put32(out + 0, (uint32_t)info->signo);
    le_put32(out + 8, (uint32_t)info->code);
    switch (info->kind) {
    case KSI_KILL:
        le_put32(out + 16, (uint32_t)info->a);
        le_put32(out + 20, (uint32_t)(info->a >> 32));
        break;
    case KSI_CHLD:
        le_put32(out + 16, (uint32_t)info->a);
        le_put32(out + 20, (uint32_t)(info->a >> 32));
        le_put32(out + 24, (uint32_t)info->status);
        break;
    case KSI_FAULT:
        le_put64(out + 16, info->a);
        break;
    default:
        break;
    }
}

/* Syscall restart before delivery (spec 2.8, 6.3 step 1); act is NULL when no handler runs. */
static void restart_fixup(struct kernel *k, struct task *t, const struct ksigaction *act)
{
    if (!t->in_syscall)
        return;
    t->in_syscall = false;
    long ret = (long)task_reg(k, t, REG_RET);
    bool restart;
    switch (ret) {
    case -LX_ERESTARTNOHAND:
    case -LX_ERESTART_RESTARTBLOCK:
        restart = !act;
        break;
    case -LX_ERESTARTSYS:
        restart = !act || (act->flags & LX_SA_RESTART);
        break;
    case -LX_ERESTARTNOINTR:
        restart = true;
        break;
    default:
        return;
    }
    if (!restart) {
        syscall_set_return(k, t, -LX_EINTR);
        return;
    }
    uint64_t nr =
        ret == -LX_ERESTART_RESTARTBLOCK ? (uint64_t)syscall_nr(k, "restart_syscall") : t->sysno;
    task_set_reg(k, t, REG_ARG0, t->orig_arg0);
    task_set_reg(k, t, REG_SYSNO, nr);
    task_set_reg(k, t, REG_IP, task_reg(k, t, REG_IP) - k->arch->syscall_insn_len);
}

static bool on_altstack(const struct task *t, guest_addr_t sp)
{
    return t->altstack.ss_size && sp - t->altstack.ss_sp < t->altstack.ss_size;
}

struct lx_stack signal_altstack_report(const struct task *t, guest_addr_t sp)
{
    struct lx_stack s = t->altstack;
    if (!s.ss_size || (s.ss_flags & LX_SS_DISABLE))
        s.ss_flags = LX_SS_DISABLE | (s.ss_flags & (int32_t)LX_SS_AUTODISARM);
    else if (on_altstack(t, sp))
        s.ss_flags = LX_SS_ONSTACK | (s.ss_flags & (int32_t)LX_SS_AUTODISARM);
    else
        s.ss_flags &= (int32_t)LX_SS_AUTODISARM;
    return s;
}

/* Builds the handler's frame; false when it could not be written. */
static bool setup_frame(struct kernel *k, struct task *t, int sig, const struct ksigaction *act,
                        const struct ksiginfo *info)
{
    uint8_t bytes[LX_SIGINFO_SIZE];
    signal_siginfo_bytes(info, bytes);
    guest_addr_t sp = task_reg(k, t, REG_SP);
    bool alt_usable = t->altstack.ss_size && !(t->altstack.ss_flags & LX_SS_DISABLE);
    struct sigframe_req req = {
        .sig = sig,
        .sa_flags = act->flags,
        .handler = act->handler,
        .restorer = act->restorer,
        .trampoline = t->proc->mm->sigreturn_tramp,
        .saved_mask = t->restore_saved_blocked ? t->saved_blocked : t->blocked,
        .uc_stack = t->altstack, /* __save_altstack(): the configured settings */
        .use_altstack = (act->flags & LX_SA_ONSTACK) && alt_usable && !on_altstack(t, sp),
        .altstack_top = t->altstack.ss_sp + t->altstack.ss_size,
        .info = bytes,
        .fault_addr = info->kind == KSI_FAULT ? info->a : 0,
        .fault_code = info->kind == KSI_FAULT ? info->arch_code : 0,
    };
    cpu_ctx_sync(task_as(t), &t->ctx);
    struct guest_mem mem = aspace_guest_mem(task_as(t));
    if (k->arch->sigframe_setup(&req, &t->ctx.regs, &mem) != 0)
        return false;
    if (req.use_altstack && (t->altstack.ss_flags & (int32_t)LX_SS_AUTODISARM)) {
        t->altstack.ss_sp = 0;
        t->altstack.ss_size = 0;
        t->altstack.ss_flags = LX_SS_DISABLE;
    }
    return true;
}

/* Delivers one dequeued signal; false if the thread (or its process) is gone. */
static bool deliver(struct kernel *k, struct task *t, int sig, const struct ksiginfo *info,
                    bool *handled)
{
    struct process *p = t->proc;
    struct ksigaction *act = &p->act[sig - 1];
    if (act->handler == LX_SIG_IGN)
        return true;
    if (act->handler == LX_SIG_DFL) {
        if (LX_SIGBIT(sig) & (DEFAULT_IGNORE | DEFAULT_STOP))
            return true;
        bool core = LX_SIGBIT(sig) & DEFAULT_CORE;
        event_emit(k, EV_SIGNAL_DEFAULT, t, (uint64_t)sig, core, 0);
        if (info->kind == KSI_FAULT || (sig == LX_SIGSEGV && info->code == LX_SI_KERNEL)) {
            char where[256];
            report_location(k, t, task_reg(k, t, REG_IP), where, sizeof(where));
            if (info->kind == KSI_FAULT && (sig == LX_SIGSEGV || sig == LX_SIGBUS))
                report_diag(k, "tid %d killed by %s (address 0x%llx) at %s", t->tid,
                            signal_name(sig), (unsigned long long)info->a, where);
            else
                report_diag(k, "tid %d killed by %s at %s", t->tid, signal_name(sig), where);
        } else {
            report_diag(k, "pid %d killed by %s", p->pid, signal_name(sig));
        }
        process_exit_group(k, p, sig | (core ? 0x80 : 0));
        return false;
    }
    restart_fixup(k, t, act);
    /* The handler runs as it was when the signal was taken (get_signal() copies it): a failed
     * rseq fixup may reset SIGSEGV to its default, and queues a SIGSEGV that comes next, but
     * this frame is still built (spec 2.4). */
    struct ksigaction ka = *act;
    rseq_signal_deliver(k, t, sig);
    if (!setup_frame(k, t, sig, &ka, info)) {
        signal_force_sigsegv(k, t, sig);
        return true;
    }
    uint64_t mask = ka.mask;
    if (!(ka.flags & LX_SA_NODEFER))
        mask |= LX_SIGBIT(sig);
    t->blocked = (t->blocked | mask) & ~UNBLOCKABLE;
    t->restore_saved_blocked = false;
    if (ka.flags & LX_SA_RESETHAND)
        act->handler = LX_SIG_DFL;
    k->st->stats.signals_delivered++;
    event_emit(k, EV_SIGNAL_DELIVER, t, (uint64_t)sig, ka.handler, task_reg(k, t, REG_SP));
    *handled = true;
    return true;
}

bool signal_return_to_user(struct kernel *k, struct task *t)
{
    bool handled = false;
    /* exit_to_user_mode_loop(): repeat while there is work; every pass delivers what is
     * pending, then runs notify-resume, which may itself queue SIGSEGV. */
    for (int pass = 0; pass < 2 * LX_NSIG; pass++) {
        t->rtu_pending = false;
        struct ksiginfo info;
        int sig;
        /* One signal per pass, as arch_do_signal_or_restart() takes one. */
        if ((sig = dequeue_signal(t, ~t->blocked | UNBLOCKABLE, &info)) != 0) {
            if (!deliver(k, t, sig, &info, &handled))
                return false;
        }
        if (t->in_syscall)
            restart_fixup(k, t, NULL);
        if (t->restore_saved_blocked) {
            t->blocked = t->saved_blocked;
            t->restore_saved_blocked = false;
        }
        if (t->rseq.notify_resume)
            rseq_handle_notify_resume(k, t, 0);
        if (!t->rtu_pending && !signal_pending_for(k, t))
            break;
        if (t->proc->group_exiting)
            return false;
    }
    t->rtu_pending = false;
    return t->state == TASK_RUNNING || t->state == TASK_RUNNABLE;
}
