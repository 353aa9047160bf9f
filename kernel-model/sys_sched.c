/* Scheduling syscalls: yield, affinity, getcpu, and the policy queries glibc makes. */
#include "sched.h"
#include "syscall.h"
#include "task.h"

/* Bytes of a kernel CPU mask for KERNEL_CPUS_MAX CPUs (spec 7.7: 8 up to 64 CPUs). */
#define CPUMASK_BYTES 8

long sys_sched_yield(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)a;
    sched_yield(k, t);
    return 0;
}

static struct task *target_of(struct kernel *k, struct task *t, uint64_t pid)
{
    if (pid == 0)
        return t;
    struct task *target = task_by_tid(k, (int)pid);
    return target;
}

long sys_sched_getaffinity(struct kernel *k, struct task *t, const struct sys_args *a)
{
    uint64_t len = a->a[1];
    if (len * 8 < (uint64_t)k->cfg.ncpus || (len & 7))
        return -LX_EINVAL;
    struct task *target = target_of(k, t, a->a[0]);
    if (!target)
        return -LX_ESRCH;
    uint64_t mask = target->affinity & sched_online_mask(k);
    uint64_t n = len < CPUMASK_BYTES ? len : CPUMASK_BYTES;
    if (copy_to_user(k, t, a->a[2], &mask, n) != 0)
        return -LX_EFAULT;
    return (long)n;
}

long sys_sched_setaffinity(struct kernel *k, struct task *t, const struct sys_args *a)
{
    uint64_t len = a->a[1];
    uint64_t mask = 0;
    /* Bytes beyond the kernel's mask are ignored; a short buffer leaves CPUs clear. */
    if (copy_from_user(k, t, &mask, a->a[2], len < CPUMASK_BYTES ? len : CPUMASK_BYTES) != 0)
        return -LX_EFAULT;
    struct task *target = target_of(k, t, a->a[0]);
    if (!target)
        return -LX_ESRCH;
    mask &= sched_possible_mask(k);
    if (!(mask & sched_online_mask(k)))
        return -LX_EINVAL;
    sched_set_affinity(k, target, mask);
    return 0;
}

long sys_getcpu(struct kernel *k, struct task *t, const struct sys_args *a)
{
    uint32_t cpu = (uint32_t)t->cpu, node = (uint32_t)sched_cpu_node(k, t->cpu);
    if (a->a[0] && copy_to_user(k, t, a->a[0], &cpu, 4) != 0)
        return -LX_EFAULT;
    if (a->a[1] && copy_to_user(k, t, a->a[1], &node, 4) != 0)
        return -LX_EFAULT;
    return 0;
}

long sys_sched_getscheduler(struct kernel *k, struct task *t, const struct sys_args *a)
{
    return target_of(k, t, a->a[0]) ? 0 /* SCHED_OTHER */ : -LX_ESRCH;
}

long sys_sched_setscheduler(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)k, (void)t;
    /* Only SCHED_OTHER/BATCH/IDLE are allowed to an unprivileged process; all behave alike. */
    int policy = (int)a->a[1];
    return policy == 0 || policy == 3 || policy == 5 ? 0 : -LX_EPERM;
}

long sys_sched_getparam(struct kernel *k, struct task *t, const struct sys_args *a)
{
    int32_t prio = 0;
    if (!target_of(k, t, a->a[0]))
        return -LX_ESRCH;
    return copy_to_user(k, t, a->a[1], &prio, 4);
}

long sys_sched_setparam(struct kernel *k, struct task *t, const struct sys_args *a)
{
    return target_of(k, t, a->a[0]) ? 0 : -LX_ESRCH;
}

long sys_sched_get_priority_max(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)k, (void)t;
    int policy = (int)a->a[0];
    return policy == 1 || policy == 2                  ? 99
           : policy == 0 || policy == 3 || policy == 5 ? 0
                                                       : -LX_EINVAL;
}

long sys_sched_get_priority_min(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)k, (void)t;
    int policy = (int)a->a[0];
    return policy == 1 || policy == 2                  ? 1
           : policy == 0 || policy == 3 || policy == 5 ? 0
                                                       : -LX_EINVAL;
}
