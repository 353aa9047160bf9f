/* Identity, system information, limits, randomness and thread-pointer control. The values are
 * fixed and documented, never the host's: the same program sees the same system everywhere. */
#include <string.h>

#include "ktime.h"
#include "sched.h"
#include "syscall.h"
#include "task.h"

#define GUEST_UID 1000
#define GUEST_GID 1000

long sys_getpid(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)k, (void)a;
    return t->proc->pid;
}

long sys_gettid(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)k, (void)a;
    return t->tid;
}

long sys_getppid(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)k, (void)a;
    return t->proc->parent ? t->proc->parent->pid : 1;
}

static long id_uid(void) { return GUEST_UID; }
static long id_gid(void) { return GUEST_GID; }

long sys_getuid(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)k, (void)t, (void)a;
    return id_uid();
}

long sys_geteuid(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)k, (void)t, (void)a;
    return id_uid();
}

long sys_getgid(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)k, (void)t, (void)a;
    return id_gid();
}

long sys_getegid(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)k, (void)t, (void)a;
    return id_gid();
}

static long write_ids(struct kernel *k, struct task *t, const struct sys_args *a, uint32_t id)
{
    for (int i = 0; i < 3; i++)
        if (copy_to_user(k, t, a->a[i], &id, 4) != 0)
            return -LX_EFAULT;
    return 0;
}

long sys_getresuid(struct kernel *k, struct task *t, const struct sys_args *a)
{
    return write_ids(k, t, a, GUEST_UID);
}

long sys_getresgid(struct kernel *k, struct task *t, const struct sys_args *a)
{
    return write_ids(k, t, a, GUEST_GID);
}

long sys_getgroups(struct kernel *k, struct task *t, const struct sys_args *a)
{
    if ((int)a->a[0] < 0)
        return -LX_EINVAL;
    if (a->a[0] == 0)
        return 1;
    uint32_t gid = GUEST_GID;
    return copy_to_user(k, t, a->a[1], &gid, 4) ? -LX_EFAULT : 1;
}

/* Every guest process is in the first process's group and session. */
static long session_id(const struct kernel *k) { return k->init ? k->init->pid : 1; }

long sys_getpgid(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)t;
    if (a->a[0] && !process_by_pid(k, (int)a->a[0]))
        return -LX_ESRCH;
    return session_id(k);
}

long sys_getpgrp(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)t, (void)a;
    return session_id(k);
}

long sys_getsid(struct kernel *k, struct task *t, const struct sys_args *a)
{
    return sys_getpgid(k, t, a);
}

long sys_setsid(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)a;
    return t->proc->pid == session_id(k) ? -LX_EPERM : t->proc->pid;
}

long sys_setpgid(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)k, (void)t, (void)a;
    return 0;
}

long sys_uname(struct kernel *k, struct task *t, const struct sys_args *a)
{
    char u[6][65];
    memset(u, 0, sizeof(u));
    strcpy(u[0], "Linux");
    strcpy(u[1], "rseqemu");
    strcpy(u[2], k->cfg.profile == KERNEL_6_1 ? "6.1.0-rseqemu" : "6.18.0-rseqemu");
    strcpy(u[3], "#1 SMP PREEMPT_DYNAMIC");
    strcpy(u[4], k->arch->name);
    strcpy(u[5], "(none)");
    return copy_to_user(k, t, a->a[0], u, sizeof(u));
}

long sys_getrandom(struct kernel *k, struct task *t, const struct sys_args *a)
{
    uint64_t flags = a->a[2];
    if (flags & ~(uint64_t)(LX_GRND_NONBLOCK | LX_GRND_RANDOM | LX_GRND_INSECURE))
        return -LX_EINVAL;
    if ((flags & LX_GRND_INSECURE) && (flags & LX_GRND_RANDOM))
        return -LX_EINVAL;
    uint64_t len = a->a[1] < 33554431 ? a->a[1] : 33554431;
    uint8_t chunk[256];
    for (uint64_t done = 0; done < len;) {
        uint64_t n = len - done < sizeof(chunk) ? len - done : sizeof(chunk);
        rng_fill(&k->st->getrandom_rng, chunk, n);
        if (copy_to_user(k, t, a->a[0] + done, chunk, n) != 0)
            return done ? (long)done : -LX_EFAULT;
        done += n;
    }
    return (long)len;
}

static long rlimit_op(struct kernel *k, struct task *t, struct process *p, uint64_t resource,
                      guest_addr_t new_addr, guest_addr_t old_addr)
{
    if (resource >= LX_RLIM_NLIMITS)
        return -LX_EINVAL;
    uint64_t nv[2];
    if (new_addr) {
        if (copy_from_user(k, t, nv, new_addr, sizeof(nv)) != 0)
            return -LX_EFAULT;
        if (nv[0] > nv[1])
            return -LX_EINVAL;
        if (nv[1] > p->rlimit_max[resource])
            return -LX_EPERM; /* raising a hard limit needs privilege */
    }
    if (old_addr) {
        uint64_t ov[2] = {p->rlimit_cur[resource], p->rlimit_max[resource]};
        if (copy_to_user(k, t, old_addr, ov, sizeof(ov)) != 0)
            return -LX_EFAULT;
    }
    if (new_addr) {
        p->rlimit_cur[resource] = nv[0];
        p->rlimit_max[resource] = nv[1];
    }
    return 0;
}

long sys_prlimit64(struct kernel *k, struct task *t, const struct sys_args *a)
{
    struct process *p = a->a[0] ? process_by_pid(k, (int)a->a[0]) : t->proc;
    if (!p)
        return -LX_ESRCH;
    return rlimit_op(k, t, p, a->a[1], a->a[2], a->a[3]);
}

long sys_getrlimit(struct kernel *k, struct task *t, const struct sys_args *a)
{
    return rlimit_op(k, t, t->proc, a->a[0], 0, a->a[1]);
}

long sys_setrlimit(struct kernel *k, struct task *t, const struct sys_args *a)
{
    return rlimit_op(k, t, t->proc, a->a[0], a->a[1], 0);
}

/* x86-64 only: the FS and GS bases. */
long sys_arch_prctl(struct kernel *k, struct task *t, const struct sys_args *a)
{
    uint64_t addr = a->a[1];
    switch (a->a[0]) {
    case LX_ARCH_SET_FS:
    case LX_ARCH_SET_GS:
        if (addr >= k->arch->task_size)
            return -LX_EPERM;
        task_set_reg(k, t, a->a[0] == LX_ARCH_SET_FS ? REG_TLS : REG_TLS2, addr);
        return 0;
    case LX_ARCH_GET_FS:
    case LX_ARCH_GET_GS: {
        uint64_t v = task_reg(k, t, a->a[0] == LX_ARCH_GET_FS ? REG_TLS : REG_TLS2);
        return copy_to_user(k, t, addr, &v, 8);
    }
    default:
        return -LX_EINVAL;
    }
}

#define PR_SET_PDEATHSIG 1
#define PR_GET_PDEATHSIG 2
#define PR_GET_DUMPABLE  3
#define PR_SET_DUMPABLE  4
#define PR_SET_NAME      15
#define PR_GET_NAME      16

long sys_prctl(struct kernel *k, struct task *t, const struct sys_args *a)
{
    switch (a->a[0]) {
    case PR_SET_NAME: {
        char name[16];
        long n = 0;
        for (; n < 15; n++) {
            if (copy_from_user(k, t, &name[n], a->a[1] + (uint64_t)n, 1) != 0)
                return -LX_EFAULT;
            if (!name[n])
                break;
        }
        name[n] = '\0';
        memcpy(t->comm, name, sizeof(name));
        return 0;
    }
    case PR_GET_NAME:
        return copy_to_user(k, t, a->a[1], t->comm, sizeof(t->comm));
    case PR_SET_PDEATHSIG:
    case PR_SET_DUMPABLE:
        return 0;
    case PR_GET_PDEATHSIG: {
        int32_t zero = 0;
        return copy_to_user(k, t, a->a[1], &zero, 4);
    }
    case PR_GET_DUMPABLE:
        return 1;
    default:
        return -LX_EINVAL;
    }
}

long sys_umask(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)k;
    long old = t->proc->umask;
    t->proc->umask = (uint32_t)a->a[0] & 0777;
    return old;
}

long sys_sysinfo(struct kernel *k, struct task *t, const struct sys_args *a)
{
    uint8_t info[112] = {0};
    int64_t uptime = (int64_t)(sched_now(k, t) / NSEC_PER_SEC);
    uint64_t totalram = 4ULL << 30, freeram = 3ULL << 30;
    uint16_t procs = 0;
    for (int i = 0; i < TASK_MAX; i++)
        procs += k->st->tasks[i].state != TASK_FREE && k->st->tasks[i].state != TASK_DEAD;
    uint32_t unit = 1;
    memcpy(info + 0, &uptime, 8);
    memcpy(info + 32, &totalram, 8);
    memcpy(info + 40, &freeram, 8);
    memcpy(info + 80, &procs, 2);
    memcpy(info + 104, &unit, 4);
    return copy_to_user(k, t, a->a[0], info, sizeof(info));
}
