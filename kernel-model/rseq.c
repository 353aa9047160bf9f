/* Restartable sequences, after kernel/rseq.c: function names follow the kernel's so the two
 * can be read side by side. Spec sections 1 (registration) and 2 (events and the fixup). */
#include "rseq.h"

#include <string.h>

#include "emu/aspace.h"
#include "emu/loader.h"
#include "event.h"
#include "report.h"
#include "signal.h"
#include "syscall.h"
#include "task.h"

#define RSEQ_FLAG_UNREGISTER  1
#define RSEQ_ORIG_SIZE        32
#define RSEQ_FEATURE_SIZE_K63 28 /* offsetof(struct rseq, end) in 6.3..6.18 */
#define RSEQ_ALIGN            32

struct rseq_cs {
    uint32_t version;
    uint32_t flags;
    uint64_t start_ip;
    uint64_t post_commit_offset;
    uint64_t abort_ip;
};

static struct aspace *as_of(struct task *t) { return task_as(t); }

static void rseq_set_notify_resume(struct task *t)
{
    if (t->rseq.area) {
        t->rseq.notify_resume = true;
        t->rtu_pending = true;
    }
}

void rseq_notify_resume(struct kernel *k, struct task *t)
{
    (void)k;
    rseq_set_notify_resume(t);
}

void rseq_preempt(struct kernel *k, struct task *t)
{
    (void)k;
    t->rseq.event_mask |= RSEQ_EVENT_PREEMPT;
    rseq_set_notify_resume(t);
}

void rseq_migrate(struct kernel *k, struct task *t)
{
    (void)k;
    t->rseq.event_mask |= RSEQ_EVENT_MIGRATE;
    rseq_set_notify_resume(t);
}

void rseq_fork(struct kernel *k, struct task *child, const struct task *parent, bool same_vm)
{
    (void)k;
    if (same_vm) {
        memset(&child->rseq, 0, sizeof(child->rseq));
        return;
    }
    child->rseq = parent->rseq;
    if (child->rseq.area) {
        child->rseq.event_mask |= RSEQ_EVENT_MIGRATE;
        rseq_set_notify_resume(child);
    }
}

/* Why a fixup failed, for the report; Linux only warns for the signature. */
struct rseq_failure {
    guest_addr_t where; /* the address whose content was wrong or unreadable */
    const char *what;
    uint64_t value;
};

static int rseq_fail(struct rseq_failure *f, guest_addr_t where, const char *what, uint64_t value,
                     int err)
{
    f->where = where;
    f->what = what;
    f->value = value;
    return err;
}

static int rseq_get_rseq_cs(struct kernel *k, struct task *t, struct rseq_cs *cs,
                            guest_addr_t *cs_addr, struct rseq_failure *f)
{
    uint64_t ptr;
    guest_addr_t field = t->rseq.area + RSEQ_OFF_RSEQ_CS;
    if (aspace_read(as_of(t), field, &ptr, sizeof(ptr)) != 0)
        return rseq_fail(f, field, "rseq->rseq_cs unreadable", 0, -LX_EFAULT);
    *cs_addr = ptr;
    if (ptr == 0) {
        memset(cs, 0, sizeof(*cs));
        return 0;
    }
    guest_addr_t task_size = k->arch->task_size;
    if (ptr >= task_size)
        return rseq_fail(f, field, "rseq_cs pointer beyond user space", ptr, -LX_EINVAL);
    uint8_t raw[32];
    if (aspace_read(as_of(t), ptr, raw, sizeof(raw)) != 0)
        return rseq_fail(f, ptr, "descriptor unreadable", ptr, -LX_EFAULT);
    memcpy(&cs->version, raw + 0, 4);
    memcpy(&cs->flags, raw + 4, 4);
    memcpy(&cs->start_ip, raw + 8, 8);
    memcpy(&cs->post_commit_offset, raw + 16, 8);
    memcpy(&cs->abort_ip, raw + 24, 8);
    if (cs->start_ip >= task_size)
        return rseq_fail(f, ptr + 8, "start_ip beyond user space", cs->start_ip, -LX_EINVAL);
    if (cs->start_ip + cs->post_commit_offset >= task_size)
        return rseq_fail(f, ptr + 16, "start_ip + post_commit_offset beyond user space",
                         cs->post_commit_offset, -LX_EINVAL);
    if (cs->abort_ip >= task_size)
        return rseq_fail(f, ptr + 24, "abort_ip beyond user space", cs->abort_ip, -LX_EINVAL);
    if (cs->version > 0)
        return rseq_fail(f, ptr, "version is not 0", cs->version, -LX_EINVAL);
    if (cs->start_ip + cs->post_commit_offset < cs->start_ip)
        return rseq_fail(f, ptr + 16, "start_ip + post_commit_offset wraps around",
                         cs->post_commit_offset, -LX_EINVAL);
    /* Unsigned: true when abort_ip is inside [start_ip, start_ip + post_commit_offset). */
    if (cs->abort_ip - cs->start_ip < cs->post_commit_offset)
        return rseq_fail(f, ptr + 24, "abort_ip inside the critical section", cs->abort_ip,
                         -LX_EINVAL);
    uint32_t sig;
    if (aspace_read(as_of(t), cs->abort_ip - 4, &sig, sizeof(sig)) != 0)
        return rseq_fail(f, cs->abort_ip - 4, "signature before abort_ip unreadable",
                         cs->abort_ip - 4, -LX_EFAULT);
    if (sig != t->rseq.sig)
        return rseq_fail(f, cs->abort_ip - 4, "signature before abort_ip does not match", sig,
                         -LX_EINVAL);
    return 0;
}

static int clear_rseq_cs(struct task *t, struct rseq_failure *f)
{
    uint64_t zero = 0;
    guest_addr_t field = t->rseq.area + RSEQ_OFF_RSEQ_CS;
    if (aspace_write(as_of(t), field, &zero, sizeof(zero)) != 0)
        return rseq_fail(f, field, "rseq->rseq_cs not writable", 0, -LX_EFAULT);
    return 0;
}

/* Returns 1 when the section must restart, 0 when not, or an error. The NO_RESTART flags are
 * deprecated since 6.0: any bit, in the descriptor or in the area, is an error. */
static int rseq_need_restart(struct task *t, uint32_t cs_flags, guest_addr_t cs_addr,
                             struct rseq_failure *f)
{
    if (cs_flags)
        return rseq_fail(f, cs_addr + 4, "rseq_cs->flags is not 0", cs_flags, -LX_EINVAL);
    uint32_t flags;
    guest_addr_t field = t->rseq.area + RSEQ_OFF_FLAGS;
    if (aspace_read(as_of(t), field, &flags, sizeof(flags)) != 0)
        return rseq_fail(f, field, "rseq->flags unreadable", 0, -LX_EFAULT);
    if (flags)
        return rseq_fail(f, field, "rseq->flags is not 0", flags, -LX_EINVAL);
    uint32_t event_mask = t->rseq.event_mask;
    t->rseq.event_mask = 0;
    return event_mask != 0;
}

static int rseq_ip_fixup(struct kernel *k, struct task *t, struct rseq_failure *f)
{
    guest_addr_t ip = task_reg(k, t, REG_IP);
    struct rseq_cs cs;
    guest_addr_t cs_addr;
    uint32_t events = t->rseq.event_mask;
    int ret = rseq_get_rseq_cs(k, t, &cs, &cs_addr, f);
    if (ret)
        return ret;
    /* Unsigned: true when ip >= start_ip and ip < start_ip + post_commit_offset. */
    if (ip - cs.start_ip >= cs.post_commit_offset)
        return clear_rseq_cs(t, f);
    ret = rseq_need_restart(t, cs.flags, cs_addr, f);
    if (ret <= 0)
        return ret;
    ret = clear_rseq_cs(t, f);
    if (ret)
        return ret;
    task_set_reg(k, t, REG_IP, cs.abort_ip);
    k->st->stats.rseq_aborts++;
    if (events & RSEQ_EVENT_SIGNAL)
        k->st->stats.rseq_aborts_signal++;
    else if (events & RSEQ_EVENT_MIGRATE)
        k->st->stats.rseq_aborts_migrate++;
    else
        k->st->stats.rseq_aborts_preempt++;
    event_emit(k, EV_RSEQ_ABORT, t, ip, cs.abort_ip, cs_addr);
    return 0;
}

static uint32_t rseq_node_id(const struct kernel *k, int cpu)
{
    (void)k, (void)cpu;
    return 0;
}

static int rseq_update_cpu_id(struct kernel *k, struct task *t, struct rseq_failure *f)
{
    uint32_t cpu = (uint32_t)t->cpu;
    uint32_t fields[4] = {cpu, cpu, rseq_node_id(k, t->cpu), 0};
    /* cpu_id_start and cpu_id; Linux 6.3 and later go on with node_id and mm_cid. */
    size_t n = k->cfg.profile == KERNEL_6_1 ? 2 : 4;
    static const int offs[4] = {RSEQ_OFF_CPU_ID_START, RSEQ_OFF_CPU_ID, RSEQ_OFF_NODE_ID,
                                RSEQ_OFF_MM_CID};
    for (size_t i = 0; i < n; i++) {
        guest_addr_t field = t->rseq.area + (guest_addr_t)offs[i];
        if (aspace_write(as_of(t), field, &fields[i], 4) != 0)
            return rseq_fail(f, field, "rseq area not writable", 0, -LX_EFAULT);
    }
    return 0;
}

static void report_failure(struct kernel *k, struct task *t, const struct rseq_failure *f)
{
    char where[256];
    report_location(k, t, task_reg(k, t, REG_IP), where, sizeof(where));
    report_diag(k,
                "rseq: tid %d gets SIGSEGV: %s (at 0x%llx, value 0x%llx; rseq area 0x%llx); "
                "thread at %s",
                t->tid, f->what, (unsigned long long)f->where, (unsigned long long)f->value,
                (unsigned long long)t->rseq.area, where);
}

void rseq_handle_notify_resume(struct kernel *k, struct task *t, int sig)
{
    t->rseq.notify_resume = false;
    if (!t->rseq.area || t->state == TASK_DEAD)
        return;
    k->st->stats.rseq_fixups++;
    struct rseq_failure f = {0};
    if (rseq_ip_fixup(k, t, &f) == 0 && rseq_update_cpu_id(k, t, &f) == 0)
        return;
    report_failure(k, t, &f);
    signal_force_sigsegv(k, t, sig);
}

bool rseq_signal_deliver(struct kernel *k, struct task *t, int sig)
{
    t->rseq.event_mask |= RSEQ_EVENT_SIGNAL;
    uint64_t before = t->pending;
    rseq_handle_notify_resume(k, t, sig);
    return !((t->pending & ~before) & LX_SIGBIT(LX_SIGSEGV));
}

long sys_rseq(struct kernel *k, struct task *t, const struct sys_args *a)
{
    guest_addr_t area = a->a[0];
    uint32_t len = (uint32_t)a->a[1];
    int flags = (int)a->a[2];
    uint32_t sig = (uint32_t)a->a[3];
    bool k61 = k->cfg.profile == KERNEL_6_1;

    if (flags & RSEQ_FLAG_UNREGISTER) {
        if (flags & ~RSEQ_FLAG_UNREGISTER)
            return -LX_EINVAL;
        if (!t->rseq.area || area != t->rseq.area)
            return -LX_EINVAL;
        if (len != t->rseq.len)
            return -LX_EINVAL;
        if (sig != t->rseq.sig)
            return -LX_EPERM;
        /* rseq_reset_rseq_cpu_id(): the thread stays registered if this faults. */
        uint32_t vals[4] = {0, 0xffffffffu, 0, 0};
        static const int offs[4] = {RSEQ_OFF_CPU_ID_START, RSEQ_OFF_CPU_ID, RSEQ_OFF_NODE_ID,
                                    RSEQ_OFF_MM_CID};
        for (int i = 0; i < (k61 ? 2 : 4); i++)
            if (aspace_write(task_as(t), area + (guest_addr_t)offs[i], &vals[i], 4) != 0)
                return -LX_EFAULT;
        t->rseq.area = 0;
        t->rseq.sig = 0;
        t->rseq.len = 0;
        event_emit(k, EV_RSEQ_REGISTER, t, 0, 0, 0);
        return 0;
    }
    if (flags)
        return -LX_EINVAL;
    if (t->rseq.area) {
        /* Already registered: the same area again is EBUSY, anything else an error. */
        if (area != t->rseq.area || len != t->rseq.len)
            return -LX_EINVAL;
        if (sig != t->rseq.sig)
            return -LX_EPERM;
        return -LX_EBUSY;
    }
    if (k61) {
        if ((area & (RSEQ_ALIGN - 1)) || len != RSEQ_ORIG_SIZE)
            return -LX_EINVAL;
    } else {
        if (len < RSEQ_ORIG_SIZE)
            return -LX_EINVAL;
        if (len == RSEQ_ORIG_SIZE ? (area & (RSEQ_ALIGN - 1)) != 0
                                  : (area & (RSEQ_ALIGN - 1)) || len < RSEQ_FEATURE_SIZE_K63)
            return -LX_EINVAL;
    }
    if (area + len < area || area + len > k->arch->task_size)
        return -LX_EFAULT;
    /* A stale rseq_cs left by an earlier user of the area must not kill the thread on its
     * first return to user space (6.1.146 and 6.15). */
    uint64_t cs;
    if (aspace_read(task_as(t), area + RSEQ_OFF_RSEQ_CS, &cs, sizeof(cs)) != 0)
        return -LX_EFAULT;
    if (cs) {
        cs = 0;
        if (aspace_write(task_as(t), area + RSEQ_OFF_RSEQ_CS, &cs, sizeof(cs)) != 0)
            return -LX_EFAULT;
    }
    t->rseq.area = area;
    t->rseq.len = len;
    t->rseq.sig = sig;
    rseq_set_notify_resume(t);
    event_emit(k, EV_RSEQ_REGISTER, t, area, len, sig);
    return 0;
}
