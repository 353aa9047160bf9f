/* System call entry: the table (syscalls.def), argument decoding, results and restarts. */
#ifndef RSEQEMU_KERNEL_MODEL_SYSCALL_H
#define RSEQEMU_KERNEL_MODEL_SYSCALL_H

#include "kstate.h"

struct sys_args {
    uint64_t nr;
    uint64_t a[6];
};

/* Handlers return a value for the guest (>= 0 or -LX_Exxx, or a -LX_ERESTART* code that the
 * return-to-user path resolves), or one of these, which never reach the guest. */
#define SYS_BLOCKED  (-0x10000L) /* the thread blocked; whoever wakes it sets the result */
#define SYS_NORETURN (-0x10001L) /* the registers already hold the outcome (exit, sigreturn) */

typedef long (*sys_handler_fn)(struct kernel *k, struct task *t, const struct sys_args *a);

enum sys_status { SYS_SUPPORTED, SYS_PARTIAL, SYS_UNSUPPORTED };

struct syscall_row {
    const char *name;
    int nr[ARCH_COUNT]; /* -1: not on this architecture */
    sys_handler_fn fn;
    enum sys_status status;
    const char *args; /* how a trace shows the arguments (syscalls.def); NULL: raw */
};

#define SYSCALL(name, x86_64, aarch64, fn, status, args)                                           \
    long fn(struct kernel *k, struct task *t, const struct sys_args *a);
#include "syscalls.def"
#undef SYSCALL

/* NULL for a number no Linux call has on the guest's architecture. */
const struct syscall_row *syscall_lookup(const struct arch_desc *arch, uint64_t nr);
/* The row a number dispatches to in this run: syscall_lookup(), except for the number the run
 * gives cpu_opv (kernel_config.cpu_opv_nr), which comes first. */
const struct syscall_row *syscall_row_of(const struct kernel *k, uint64_t nr);
/* The row with this name, whatever the architecture; NULL if none. */
const struct syscall_row *syscall_by_name(const char *name);
int syscall_nr(const struct kernel *k, const char *name);

/* Handles the syscall the thread just trapped with. */
void syscall_dispatch(struct kernel *k, struct task *t);
/* Completes a syscall: the result register and what the return instruction leaves behind. */
void syscall_set_return(struct kernel *k, struct task *t, long ret);

/* Copies between guest memory and the model, as copy_{from,to}_user: 0 or -LX_EFAULT. */
int copy_from_user(struct kernel *k, struct task *t, void *dst, guest_addr_t src, size_t len);
int copy_to_user(struct kernel *k, struct task *t, guest_addr_t dst, const void *src, size_t len);

#endif
