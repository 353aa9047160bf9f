/* Restartable sequences, after kernel/rseq.c: function names follow the kernel's so the two
 * can be read side by side. Spec sections 1 (registration) and 2 (events and the fixup). */
#include "rseq.h"

#include <stdio.h>
#include <string.h>

#include "emu/aspace.h"
#include "emu/loader.h"
#include "event.h"
#include "inject.h"
#include "report.h"
#include "sched.h"
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
    t->rseq.last_event = RSEQ_EVENT_PREEMPT;
    rseq_set_notify_resume(t);
}

void rseq_ipi(struct kernel *k, struct task *t)
{
    event_emit(k, EV_PREEMPT, t, 3, (uint64_t)t->cpu, 0);
    rseq_preempt(k, t);
    t->rseq.last_event = RSEQ_EVENT_IPI;
}

void rseq_migrate(struct kernel *k, struct task *t)
{
    (void)k;
    t->rseq.event_mask |= RSEQ_EVENT_MIGRATE;
    t->rseq.last_event = RSEQ_EVENT_MIGRATE;
    rseq_set_notify_resume(t);
}

void rseq_exec(struct kernel *k, struct task *t)
{
    (void)k;
    memset(&t->rseq, 0, sizeof(t->rseq));
}

/* o is another live thread of t's process, registered at t's area. */
static bool shares_area(const struct task *o, const struct task *t)
{
    return o != t && o->state != TASK_FREE && o->state != TASK_DEAD &&
           o->rseq.area == t->rseq.area && o->proc->mm == t->proc->mm;
}

/* --rseq-watch: the engines note which instruction last stored to each word of a registered
 * area (the model's own updates are not guest stores), for rseq_debug_fields to name. An area
 * two threads share stays watched while either is registered. */
static void rseq_watch_area(struct kernel *k, struct task *t, bool on)
{
    if (!k->cfg.rseq_watch || !t->rseq.area || !t->proc->mm)
        return;
    struct aspace *as = task_as(t);
    if (on) {
        if (aspace_store_watch_add(as, t->rseq.area, RSEQ_ORIG_SIZE) == -LX_ENOMEM)
            report_diag(k, "rseq watch: too many registered areas; tid %d's is not watched",
                        t->tid);
        return;
    }
    for (int i = 0; i < TASK_MAX; i++)
        if (shares_area(&k->st->tasks[i], t))
            return;
    aspace_store_watch_remove(as, t->rseq.area);
}

void rseq_exit(struct kernel *k, struct task *t) { rseq_watch_area(k, t, false); }

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

/* A valid descriptor the thread armed: its section is watched for injections from now on
 * (sections a program does not declare are found this way). */
static void rseq_note_cs(struct kernel *k, struct task *t, guest_addr_t cs_addr,
                         const struct rseq_cs *cs)
{
    struct mm *mm = t->proc->mm;
    if (!cs_addr)
        return;
    for (size_t i = 0; i < sizeof(mm->cs_seen) / sizeof(mm->cs_seen[0]); i++)
        if (mm->cs_seen[i] == cs_addr)
            return;
    mm->cs_seen[mm->cs_seen_next++ % (sizeof(mm->cs_seen) / sizeof(mm->cs_seen[0]))] = cs_addr;
    if (cs->post_commit_offset)
        inject_watch_cs(k, mm, cs->start_ip, cs->start_ip + cs->post_commit_offset);
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
    int ret = rseq_get_rseq_cs(k, t, &cs, &cs_addr, f);
    if (ret)
        return ret;
    rseq_note_cs(k, t, cs_addr, &cs);
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
    /* By the latest event: the mask may hold older ones (spec 2.1). */
    switch (t->rseq.last_event) {
    case RSEQ_EVENT_SIGNAL:
        k->st->stats.rseq_aborts_signal++;
        break;
    case RSEQ_EVENT_MIGRATE:
        k->st->stats.rseq_aborts_migrate++;
        break;
    case RSEQ_EVENT_IPI:
        k->st->stats.rseq_aborts_ipi++;
        break;
    default:
        k->st->stats.rseq_aborts_preempt++;
        break;
    }
    event_emit(k, EV_RSEQ_ABORT, t, ip, cs.abort_ip, cs_addr);
    return 0;
}

static const int kernel_fields[4] = {RSEQ_OFF_CPU_ID_START, RSEQ_OFF_CPU_ID, RSEQ_OFF_NODE_ID,
                                     RSEQ_OFF_MM_CID};
static const char *const kernel_field_names[4] = {"cpu_id_start", "cpu_id", "node_id", "mm_cid"};

/* The fields the kernel owns: cpu_id_start and cpu_id; Linux 6.3 and later also node_id and
 * mm_cid. */
static size_t kernel_field_count(const struct kernel *k)
{
    return k->cfg.profile == KERNEL_6_1 ? 2 : 4;
}

/* Other live threads of t's process registered at the same area: the kernel's writes for t
 * are what they see too (a bug reported at registration, not at every write). */
static void rseq_sync_sharers(struct kernel *k, const struct task *t, const uint32_t *vals)
{
    if (!t->rseq.shared)
        return;
    for (int i = 0; i < TASK_MAX; i++)
        if (shares_area(&k->st->tasks[i], t))
            memcpy(k->st->tasks[i].rseq.written, vals, sizeof(t->rseq.written));
}

static int rseq_update_cpu_id(struct kernel *k, struct task *t, struct rseq_failure *f)
{
    uint32_t cpu = (uint32_t)t->cpu;
    uint32_t fields[4] = {cpu, cpu, (uint32_t)sched_cpu_node(k, t->cpu),
                          t->mm_cid >= 0 ? (uint32_t)t->mm_cid : 0};
    /* The area is 32-byte aligned, so one page holds it: one lookup serves every field. */
    uint8_t *host = aspace_host(as_of(t), t->rseq.area, 32, LX_PROT_WRITE);
    for (size_t i = 0; i < kernel_field_count(k); i++) {
        guest_addr_t field = t->rseq.area + (guest_addr_t)kernel_fields[i];
        if (host)
            memcpy(host + kernel_fields[i], &fields[i], 4);
        else if (aspace_write(as_of(t), field, &fields[i], 4) != 0)
            return rseq_fail(f, field, "rseq area not writable", 0, -LX_EFAULT);
        t->rseq.written[i] = fields[i];
    }
    t->rseq.written_valid = true;
    rseq_sync_sharers(k, t, t->rseq.written);
    return 0;
}

static void report_failure(struct kernel *k, struct task *t, const struct rseq_failure *f)
{
    char where[256];
    k->st->stats.rseq_failures++;
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
    rseq_debug_fields(k, t);
    struct rseq_failure f = {0};
    if (rseq_ip_fixup(k, t, &f) == 0 && rseq_update_cpu_id(k, t, &f) == 0)
        return;
    report_failure(k, t, &f);
    signal_force_sigsegv(k, t, sig);
}

void rseq_signal_deliver(struct kernel *k, struct task *t, int sig)
{
    t->rseq.event_mask |= RSEQ_EVENT_SIGNAL;
    t->rseq.last_event = RSEQ_EVENT_SIGNAL;
    rseq_handle_notify_resume(k, t, sig);
}

/* Reports from the debug checks are capped: a loop that trips one says so a few times. */
#define DEBUG_REPORTS_MAX 8

static bool debug_report_allowed(struct kernel *k)
{
    uint64_t n = k->st->stats.rseq_syscalls_in_cs + k->st->stats.rseq_field_writes;
    if (n == DEBUG_REPORTS_MAX + 1)
        report_diag(k, "rseq debug: further reports suppressed (see --stats)");
    return n <= DEBUG_REPORTS_MAX;
}

bool rseq_debug_syscall(struct kernel *k, struct task *t, const char *name)
{
    if (k->cfg.rseq_debug == RSEQ_DEBUG_OFF || !t->rseq.area)
        return false;
    struct rseq_cs cs;
    guest_addr_t cs_addr;
    struct rseq_failure f = {0};
    guest_addr_t ip = task_reg(k, t, REG_IP);
    char where[256];
    if (rseq_get_rseq_cs(k, t, &cs, &cs_addr, &f) != 0) {
        k->st->stats.rseq_syscalls_in_cs++;
        if (debug_report_allowed(k)) {
            report_location(k, t, ip, where, sizeof(where));
            report_diag(k,
                        "rseq debug: tid %d made syscall %s with an invalid rseq_cs: %s (at "
                        "0x%llx, value 0x%llx); syscall at %s",
                        t->tid, name, f.what, (unsigned long long)f.where,
                        (unsigned long long)f.value, where);
        }
        return k->cfg.rseq_debug == RSEQ_DEBUG_KILL;
    }
    rseq_note_cs(k, t, cs_addr, &cs);
    if (!cs_addr || ip - cs.start_ip >= cs.post_commit_offset)
        return false;
    k->st->stats.rseq_syscalls_in_cs++;
    if (debug_report_allowed(k)) {
        report_location(k, t, ip, where, sizeof(where));
        char start[256];
        report_location(k, t, cs.start_ip, start, sizeof(start));
        report_diag(k,
                    "rseq debug: tid %d made syscall %s inside a critical section (descriptor "
                    "0x%llx: start %s, post-commit 0x%llx, abort 0x%llx); syscall returns to %s%s",
                    t->tid, name, (unsigned long long)cs_addr, start,
                    (unsigned long long)(cs.start_ip + cs.post_commit_offset),
                    (unsigned long long)cs.abort_ip, where,
                    k->cfg.rseq_debug == RSEQ_DEBUG_KILL ? "; SIGSEGV, as with CONFIG_DEBUG_RSEQ"
                                                         : "");
    }
    return k->cfg.rseq_debug == RSEQ_DEBUG_KILL;
}

void rseq_debug_fields(struct kernel *k, struct task *t)
{
    if (k->cfg.rseq_debug == RSEQ_DEBUG_OFF || !t->rseq.area || !t->rseq.written_valid)
        return;
    uint8_t bytes[32];
    if (aspace_read(as_of(t), t->rseq.area, bytes, sizeof(bytes)) != 0)
        return; /* the next update reports the fault */
    for (size_t i = 0; i < kernel_field_count(k); i++) {
        guest_addr_t field = t->rseq.area + (guest_addr_t)kernel_fields[i];
        uint32_t now;
        memcpy(&now, bytes + kernel_fields[i], sizeof(now));
        /* Taken at every check, so that a note is never older than the last one. */
        guest_addr_t pc = 0;
        bool seen = k->cfg.rseq_watch && aspace_store_watch_take(as_of(t), field, &pc);
        if (now == t->rseq.written[i])
            continue;
        k->st->stats.rseq_field_writes++;
        if (debug_report_allowed(k)) {
            char where[256], writer[256 + 32];
            report_location(k, t, task_reg(k, t, REG_IP), where, sizeof(where));
            if (seen) {
                char loc[256];
                report_location(k, t, pc, loc, sizeof(loc));
                snprintf(writer, sizeof(writer), "; written by the instruction at %s", loc);
            } else {
                snprintf(writer, sizeof(writer), "%s",
                         k->cfg.rseq_watch ? "" : " (--rseq-watch names the instruction)");
            }
            report_diag(k,
                        "rseq debug: tid %d's rseq area field %s (0x%llx) holds %u (0x%x) but "
                        "the kernel wrote %u: user space must not write it; thread now at %s%s",
                        t->tid, kernel_field_names[i], (unsigned long long)field, now, now,
                        t->rseq.written[i], where, writer);
        }
        t->rseq.written[i] = now; /* one report per write */
    }
}

/* Two threads of a process registered at overlapping areas overwrite each other's fields:
 * both are marked, and the debug checks say so. */
static void rseq_find_sharers(struct kernel *k, struct task *t, guest_addr_t area, uint32_t len)
{
    for (int i = 0; i < TASK_MAX; i++) {
        struct task *o = &k->st->tasks[i];
        if (o == t || o->state == TASK_FREE || o->state == TASK_DEAD || !o->rseq.area ||
            o->proc->mm != t->proc->mm || o->rseq.area >= area + len ||
            area >= o->rseq.area + o->rseq.len)
            continue;
        if (!t->rseq.shared && k->cfg.rseq_debug != RSEQ_DEBUG_OFF)
            report_diag(k,
                        "rseq debug: tid %d registers the rseq area at 0x%llx, which tid %d has "
                        "registered at 0x%llx: the kernel's updates for one overwrite the other's",
                        t->tid, (unsigned long long)area, o->tid, (unsigned long long)o->rseq.area);
        t->rseq.shared = o->rseq.shared = true;
    }
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
        for (size_t i = 0; i < kernel_field_count(k); i++)
            if (aspace_write(task_as(t), area + (guest_addr_t)kernel_fields[i], &vals[i], 4) != 0)
                return -LX_EFAULT;
        rseq_sync_sharers(k, t, vals);
        rseq_watch_area(k, t, false);
        t->rseq.area = 0;
        t->rseq.sig = 0;
        t->rseq.len = 0;
        t->rseq.written_valid = false;
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
    t->rseq.shared = false;
    rseq_find_sharers(k, t, area, len);
    t->rseq.area = area;
    t->rseq.len = len;
    t->rseq.sig = sig;
    t->rseq.written_valid = false;
    rseq_watch_area(k, t, true);
    rseq_set_notify_resume(t);
    event_emit(k, EV_RSEQ_REGISTER, t, area, len, sig);
    return 0;
}
