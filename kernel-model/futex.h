/* Futex wait queues keyed like Linux's: (address space, address) for private memory,
 * (memory object, offset) for shared mappings. Waiters wake in FIFO order. */
#ifndef RSEQEMU_KERNEL_MODEL_FUTEX_H
#define RSEQEMU_KERNEL_MODEL_FUTEX_H

#include "kstate.h"

/* Wakes up to n waiters on addr (any bitset); the number woken. */
int futex_wake_addr(struct kernel *k, struct task *t, guest_addr_t addr, int n);
/* t stops waiting (signal, timeout, exit). */
void futex_unqueue(struct kernel *k, struct task *t);
/* t's deadline passed: it leaves the queue; the wake-up result is its wait's timeout_ret. */
void futex_timeout(struct kernel *k, struct task *t);
/* restart_syscall for an interrupted timed wait. */
long futex_restart(struct kernel *k, struct task *t);

#endif
