/* The dispatcher: decode, look up, run the handler, write the result. Semantics live in the
 * sys_*.c files, grouped by topic. */
#include "syscall.h"

#include <string.h>

#include "emu/aspace.h"
#include "event.h"
#include "report.h"
#include "rseq.h"
#include "signal.h"
#include "task.h"

static const struct syscall_row syscall_table[] = {
#define SYSCALL(name, x86_64, aarch64, fn, status, args)                                           \
    {#name, {x86_64, aarch64}, fn, status, args},
#include "syscalls.def"
#undef SYSCALL
};

#define SYSCALL_NR_MAX 1024
/* Number -> row, per architecture; built once, read-only afterwards. */
static int16_t syscall_index[ARCH_COUNT][SYSCALL_NR_MAX];
static bool syscall_index_built;

static void syscall_index_build(void)
{
    memset(syscall_index, 0xff, sizeof(syscall_index));
    for (size_t i = 0; i < sizeof(syscall_table) / sizeof(syscall_table[0]); i++)
        for (int a = 0; a < ARCH_COUNT; a++)
            if (syscall_table[i].nr[a] >= 0 && syscall_table[i].nr[a] < SYSCALL_NR_MAX)
                syscall_index[a][syscall_table[i].nr[a]] = (int16_t)i;
    syscall_index_built = true;
}

const struct syscall_row *syscall_lookup(const struct arch_desc *arch, uint64_t nr)
{
    if (!syscall_index_built)
        syscall_index_build();
    if (nr >= SYSCALL_NR_MAX || syscall_index[arch->syscall_column][nr] < 0)
        return NULL;
    return &syscall_table[syscall_index[arch->syscall_column][nr]];
}

const struct syscall_row *syscall_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof(syscall_table) / sizeof(syscall_table[0]); i++)
        if (strcmp(syscall_table[i].name, name) == 0)
            return &syscall_table[i];
    return NULL;
}

/* cpu_opv never got a Linux number (spec 5.1), so its row in syscalls.def has none and the
 * number is the run's (--cpu-opv-nr). It is matched before the table: the number may be one
 * that Linux gives another call, as the RFC's 335 is x86-64's uretprobe since 6.11, and the
 * run asked for cpu_opv there. */
const struct syscall_row *syscall_row_of(const struct kernel *k, uint64_t nr)
{
    if (k->cfg.cpu_opv_nr > 0 && nr == (uint64_t)k->cfg.cpu_opv_nr)
        return syscall_by_name("cpu_opv");
    return syscall_lookup(k->arch, nr);
}

int syscall_nr(const struct kernel *k, const char *name)
{
    const struct syscall_row *row = syscall_by_name(name);
    return row ? row->nr[k->arch->syscall_column] : -1;
}

long sys_ni(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)k, (void)t, (void)a;
    return -LX_ENOSYS;
}

/* Once per number: an unsupported call is worth one line, not one per call. */
static void report_unsupported(struct kernel *k, struct task *t, uint64_t nr,
                               const struct syscall_row *row)
{
    if (nr < 512) {
        uint64_t bit = 1ULL << (nr % 64);
        if (k->st->enosys_reported[nr / 64] & bit)
            return;
        k->st->enosys_reported[nr / 64] |= bit;
    }
    if (row)
        report_diag(k, "unsupported syscall %s (%llu) by tid %d returns ENOSYS", row->name,
                    (unsigned long long)nr, t->tid);
    else
        report_diag(k, "unknown syscall number %llu by tid %d returns ENOSYS",
                    (unsigned long long)nr, t->tid);
}

void syscall_set_return(struct kernel *k, struct task *t, long ret)
{
    task_set_reg(k, t, REG_RET, (uint64_t)ret);
    k->arch->syscall_exit(&t->ctx.regs);
}

void syscall_dispatch(struct kernel *k, struct task *t)
{
    struct sys_args a;
    a.nr = task_reg(k, t, REG_SYSNO);
    static const enum reg_role arg_roles[6] = {REG_ARG0, REG_ARG1, REG_ARG2,
                                               REG_ARG3, REG_ARG4, REG_ARG5};
    for (int i = 0; i < 6; i++)
        a.a[i] = task_reg(k, t, arg_roles[i]);
    t->sysno = a.nr;
    t->orig_arg0 = a.a[0];
    t->in_syscall = true;
    t->rtu_pending = true;
    k->st->stats.syscalls++;

    const struct syscall_row *row = syscall_row_of(k, a.nr);
    if (t->rseq.area)
        rseq_debug_fields(k, t);
    long ret;
    if (row && row->fn != sys_ni) {
        ret = row->fn(k, t, &a);
    } else {
        report_unsupported(k, t, a.nr, row);
        ret = -LX_ENOSYS;
    }
    event_syscall(k, t, &a, ret);
    /* DEBUG_RSEQ's check at the syscall's exit, with the registration it leaves; calls that do
     * not return to their caller (exit, execve, rt_sigreturn) are not looked at. */
    if (ret != SYS_NORETURN && t->rseq.area && t->state != TASK_DEAD &&
        rseq_debug_syscall(k, t, row ? row->name : "(unknown)"))
        signal_force_sigsegv(k, t, 0);
    if (ret == SYS_BLOCKED || ret == SYS_NORETURN)
        return;
    syscall_set_return(k, t, ret);
}

int copy_from_user(struct kernel *k, struct task *t, void *dst, guest_addr_t src, size_t len)
{
    (void)k;
    return aspace_read(task_as(t), src, dst, len);
}

int copy_to_user(struct kernel *k, struct task *t, guest_addr_t dst, const void *src, size_t len)
{
    (void)k;
    return aspace_write(task_as(t), dst, src, len);
}
