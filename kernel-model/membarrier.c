/* membarrier(2) and its rseq fence (spec 4). In a sequentially consistent machine the barrier
 * itself is free; what remains observable is the errno contract, the RSEQ command's IPI, which
 * restarts the critical section running on each targeted CPU, and the time its caller waits
 * for the IPIs (membarrier.h). */
#include "membarrier.h"

#include "rseq.h"
#include "sched.h"
#include "syscall.h"
#include "task.h"

enum {
    MEMBARRIER_CMD_QUERY = 0,
    MEMBARRIER_CMD_GLOBAL = 1,
    MEMBARRIER_CMD_GLOBAL_EXPEDITED = 2,
    MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED = 4,
    MEMBARRIER_CMD_PRIVATE_EXPEDITED = 8,
    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED = 16,
    MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE = 32,
    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE = 64,
    MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ = 128,
    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ = 256,
    MEMBARRIER_CMD_GET_REGISTRATIONS = 512,
    MEMBARRIER_CMD_FLAG_CPU = 1,
};

/* Per-mm state bits (kernel/sched/membarrier.c MEMBARRIER_STATE_*). */
enum {
    STATE_GLOBAL_EXPEDITED = 1 << 0,
    STATE_PRIVATE_EXPEDITED_READY = 1 << 1,
    STATE_PRIVATE_EXPEDITED = 1 << 2,
    STATE_SYNC_CORE_READY = 1 << 3,
    STATE_SYNC_CORE = 1 << 4,
    STATE_RSEQ_READY = 1 << 5,
    STATE_RSEQ = 1 << 6,
};

/* The IPI handler on one CPU: rseq_preempt() for the thread it interrupts. */
static void ipi_rseq(struct kernel *k, struct kcpu *c)
{
    k->st->stats.membarrier_ipis++;
    rseq_ipi(k, c->curr);
}

/* The caller's vCPU spends the IPIs' round trip in the kernel, while the others run on. */
static void wait_for_ipis(struct kernel *k, struct task *t)
{
    k->st->cpus[t->cpu].clock_ns += MEMBARRIER_IPI_WAIT_NS;
}

static long membarrier_rseq(struct kernel *k, struct task *t, int cpu_id)
{
    struct mm *mm = t->proc->mm;
    if (!(mm->membarrier_state & STATE_RSEQ_READY))
        return -LX_EPERM;
    if (mm->users == 1 || __builtin_popcountll(sched_online_mask(k)) == 1)
        return 0;
    if (cpu_id >= 0) {
        if (cpu_id >= k->cfg.ncpus || !k->st->cpus[cpu_id].online)
            return 0;
        struct kcpu *c = &k->st->cpus[cpu_id];
        if (c->curr && c->curr->proc->mm == mm) {
            ipi_rseq(k, c);
            /* On the caller's own CPU the handler runs locally: nothing to wait for. */
            if (cpu_id != t->cpu)
                wait_for_ipis(k, t);
        }
        return 0;
    }
    bool sent = false;
    for (int i = 0; i < k->cfg.ncpus; i++) {
        struct kcpu *c = &k->st->cpus[i];
        if (i != t->cpu && c->online && c->curr && c->curr->proc->mm == mm) {
            ipi_rseq(k, c);
            sent = true;
        }
    }
    if (sent) /* sent together, waited for together */
        wait_for_ipis(k, t);
    return 0;
}

long sys_membarrier(struct kernel *k, struct task *t, const struct sys_args *a)
{
    int cmd = (int)a->a[0];
    unsigned flags = (unsigned)a->a[1];
    int cpu_id = (int)a->a[2];
    if (cmd == MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) {
        if (flags & ~(unsigned)MEMBARRIER_CMD_FLAG_CPU)
            return -LX_EINVAL;
    } else if (flags) {
        return -LX_EINVAL;
    }
    if (!(flags & MEMBARRIER_CMD_FLAG_CPU))
        cpu_id = -1;
    bool k61 = k->cfg.profile == KERNEL_6_1;
    struct mm *mm = t->proc->mm;
    switch (cmd) {
    case MEMBARRIER_CMD_QUERY:
        return k61 ? 0x1ff : 0x3ff;
    case MEMBARRIER_CMD_GLOBAL:
    case MEMBARRIER_CMD_GLOBAL_EXPEDITED:
        return 0;
    case MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED:
        mm->membarrier_state |= STATE_GLOBAL_EXPEDITED;
        return 0;
    case MEMBARRIER_CMD_PRIVATE_EXPEDITED:
        return mm->membarrier_state & STATE_PRIVATE_EXPEDITED_READY ? 0 : -LX_EPERM;
    case MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED:
        mm->membarrier_state |= STATE_PRIVATE_EXPEDITED | STATE_PRIVATE_EXPEDITED_READY;
        return 0;
    case MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE:
        return mm->membarrier_state & STATE_SYNC_CORE_READY ? 0 : -LX_EPERM;
    case MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE:
        mm->membarrier_state |= STATE_SYNC_CORE | STATE_SYNC_CORE_READY;
        return 0;
    case MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ:
        return membarrier_rseq(k, t, cpu_id);
    case MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ:
        /* Registering RSEQ marks the mm private-expedited but does not make plain
         * PRIVATE_EXPEDITED usable (spec 4.2 step 1). */
        mm->membarrier_state |= STATE_PRIVATE_EXPEDITED | STATE_RSEQ | STATE_RSEQ_READY;
        return 0;
    case MEMBARRIER_CMD_GET_REGISTRATIONS: {
        if (k61)
            return -LX_EINVAL;
        long r = 0;
        uint32_t s = mm->membarrier_state;
        if (s & STATE_GLOBAL_EXPEDITED)
            r |= MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED;
        if (s & STATE_PRIVATE_EXPEDITED)
            r |= MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED;
        if (s & STATE_SYNC_CORE)
            r |= MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE;
        if (s & STATE_RSEQ)
            r |= MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ;
        return r;
    }
    default:
        return -LX_EINVAL;
    }
}
