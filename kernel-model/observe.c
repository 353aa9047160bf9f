/* The observed run: a run split where the observer wants to look, continued at once.
 *
 * A piece ends exactly where it is told to (runs are exact), and the next starts where it
 * stopped with the rest of the budget and the clock moved on, so nothing the guest or the
 * scheduler sees depends on the split. Section entries are found with the machine's watch on
 * critical sections (aspace_watch_*): a stop in front of each block that enters one, which the
 * next piece resumes past. Only a policy that watches no sections itself (the script policy)
 * is observed that way: its countdown stays 0. */
#include "observe.h"

#include "emu/aspace.h"
#include "emu/disasm.h"
#include "task.h"

#define BLOCK_INSNS_MAX 1024

/* Returns the countdown for the next piece: resuming in front of this block skips only its
 * first instruction, so a block that enters a section further in would stop again at once
 * unless it is let through (2: it counts, and the next entering block stops). */
static uint32_t note_entry(struct kernel *k, struct task *t, const struct emu_exit *ex,
                           uint64_t pos)
{
    struct aspace *as = task_as(t);
    bool skip_first = ex->watch_resumed && ex->insns == 0;
    guest_addr_t start, end, s2, e2;
    uint32_t next = aspace_watch_find(as, ex->watch_addr + 1, ex->watch_addr + ex->watch_size,
                                      ASPACE_WATCH_CS, &s2, &e2)
                        ? 2
                        : 1;
    if (!aspace_watch_find(as, ex->watch_addr + (skip_first ? 1 : 0),
                           ex->watch_addr + ex->watch_size, ASPACE_WATCH_CS, &start, &end))
        return next;
    if (start < ex->watch_addr)
        return next; /* a run that began inside the section: not an entry */
    size_t before = 0;
    if (start > ex->watch_addr) {
        guest_addr_t ips[BLOCK_INSNS_MAX];
        before = disasm_insn_addrs(k->disasm, as, ex->watch_addr, start - ex->watch_addr, ips,
                                   BLOCK_INSNS_MAX);
        if (!before)
            return next;
    }
    k->obs.cs_entry(k->obs.ctx, t->tid, pos + before, start, end);
    return next;
}

void observe_run(struct kernel *k, struct task *t, const struct emu_run_params *p,
                 struct emu_exit *ex)
{
    const struct kernel_observer *o = &k->obs;
    bool entries = o->cs_entry && p->watch_countdown == 0;
    bool stepping = o->step && t->tid == o->step_tid;
    if (o->slice)
        o->slice(o->ctx, t->tid, t->insns, k->st->iterations);
    struct emu_run_params q = *p;
    uint64_t done = 0, left = p->budget_insns;
    if (entries)
        q.watch_countdown = 1;
    for (;;) {
        uint64_t pos = t->insns + done;
        q.budget_insns = left;
        if (stepping && pos < o->step_to) {
            if (pos >= o->step_from) {
                o->step(o->ctx, t->tid, pos, task_reg(k, t, REG_IP));
                q.budget_insns = 1;
            } else if (o->step_from - pos < left) {
                q.budget_insns = o->step_from - pos;
            }
        }
        q.time_ns = p->time_ns + done * p->ns_per_insn;
        emu_run(task_as(t), &t->ctx, &q, ex);
        done += ex->insns;
        left -= ex->insns;
        q.watch_resume_addr = 0;
        q.watch_resume_points_end = 0;
        if (entries && ex->kind == EMU_EXIT_WATCH && ex->watch_cs) {
            q.watch_countdown = note_entry(k, t, ex, t->insns + done);
            q.watch_resume_addr = ex->watch_addr;
            q.watch_resume_points_end = ex->watch_addr + 1;
            if (left > 0)
                continue;
            ex->kind = EMU_EXIT_BUDGET;
        }
        if (entries)
            q.watch_countdown = ex->watch_countdown ? ex->watch_countdown : 1;
        if (ex->kind == EMU_EXIT_BUDGET && left > 0)
            continue;
        break;
    }
    ex->insns = done;
    if (entries)
        ex->watch_countdown = 0;
}
