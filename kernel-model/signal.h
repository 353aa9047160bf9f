/* Signals: sending, the choice of the receiving thread, delivery on the way back to user mode
 * (with syscall restarts and the rseq fixup before the frame), and default actions. */
#ifndef RSEQEMU_KERNEL_MODEL_SIGNAL_H
#define RSEQEMU_KERNEL_MODEL_SIGNAL_H

#include "kstate.h"

/* Thread-directed (tkill, tgkill, faults). */
void signal_send_thread(struct kernel *k, struct task *t, const struct ksiginfo *info);
/* Process-directed (kill, itimers): queued on the process, a thread chosen to take it. */
void signal_send_process(struct kernel *k, struct process *p, const struct ksiginfo *info);
/* A synchronous fault in t: the signal is unblocked and, if ignored, reset to its default, so
 * that it cannot be lost (force_sig_info). arch_code: the fault syndrome for the frame. */
void signal_force(struct kernel *k, struct task *t, int sig, int code, guest_addr_t addr,
                  uint64_t arch_code);
/* force_sigsegv(): SI_KERNEL SIGSEGV, fatal if it happens while delivering SIGSEGV. */
void signal_force_sigsegv(struct kernel *k, struct task *t, int delivering);
/* SIGCHLD and waiters for a process that just ended. */
void signal_child_exited(struct kernel *k, struct process *child);

/* The return-to-user work of t: pending signals and rseq notify-resume, in Linux's order.
 * Returns false if t did not survive (killed, or its process ended). */
bool signal_return_to_user(struct kernel *k, struct task *t);

/* Whether t has a signal that would interrupt an interruptible sleep. */
bool signal_pending_for(const struct kernel *k, const struct task *t);

/* sigtimedwait: dequeues a signal of t's wait set; its number, or -LX_EAGAIN/-LX_EFAULT. */
long signal_take_waited(struct kernel *k, struct task *t);
/* The Linux siginfo layout of a pending signal. */
void signal_siginfo_bytes(const struct ksiginfo *info, uint8_t out[LX_SIGINFO_SIZE]);
/* stack_t as sigaltstack(2) and the frame's uc_stack report it for a thread at sp. */
struct lx_stack signal_altstack_report(const struct task *t, guest_addr_t sp);
const char *signal_name(int sig);
/* A signal by number or name ("10", "SIGUSR1", "USR1"); -1 if it is none. */
int signal_parse(const char *s);

#endif
