/* Modelled CPUs on one host thread.
 *
 * Each CPU has a run queue, a current thread and a clock that advances with the instructions
 * it retires. The host loop is a discrete-event simulation: it always runs the busy CPU whose
 * clock is lowest, for a slice, so the CPUs progress together and interleave at instruction
 * granularity chosen by the policy. Timers fire in virtual time. Nothing here reads host time or
 * depends on host state: the same decisions give the same run. */
#include "sched.h"

#include <string.h>

#include "emu/arena.h"
#include "emu/aspace.h"
#include "emu/cpu.h"
#include "emu/emu.h"
#include "event.h"
#include "futex.h"
#include "hotplug.h"
#include "inject.h"
#include "mm_cid.h"
#include "observe.h"
#include "pct.h"
#include "policy.h"
#include "report.h"
#include "rseq.h"
#include "signal.h"
#include "syscall.h"
#include "task.h"

_Static_assert((int)VERB_PREEMPT == (int)INJECT_PREEMPT &&
                   (int)VERB_MIGRATE == (int)INJECT_MIGRATE &&
                   (int)VERB_SIGNAL == (int)INJECT_SIGNAL && (int)VERB_TICK == (int)INJECT_TICK &&
                   (int)VERB_NOTIFY == (int)INJECT_NOTIFY &&
                   (int)VERB_INTERRUPT == (int)INJECT_SIGNAL_PENDING,
               "an injection is recorded as the schedule verb of the same number");

static uint64_t bit(int cpu) { return 1ULL << cpu; }

void sched_init(struct kernel *k)
{
    for (int i = 0; i < k->cfg.ncpus; i++) {
        k->st->cpus[i].id = i;
        k->st->cpus[i].online = !(k->cfg.offline & bit(i));
    }
    rng_init(&k->st->sched_rng, k->cfg.seed, RNG_STREAM_SCHED);
    if (policy_params(k)->pct)
        pct_init(k);
}

uint64_t sched_decide(struct kernel *k, enum sched_decision d, uint64_t bound)
{
    uint64_t v = rng_below(&k->st->sched_rng, bound);
    event_emit(k, EV_DECIDE, NULL, (uint64_t)d, bound, v);
    return v;
}

uint64_t sched_possible_mask(const struct kernel *k)
{
    return k->cfg.ncpus >= 64 ? ~0ULL : bit(k->cfg.ncpus) - 1;
}

uint64_t sched_online_mask(const struct kernel *k)
{
    uint64_t m = 0;
    for (int i = 0; i < k->cfg.ncpus; i++)
        if (k->st->cpus[i].online)
            m |= bit(i);
    return m;
}

uint64_t sched_now(const struct kernel *k, const struct task *t)
{
    return k->st->cpus[t->cpu].clock_ns;
}

uint64_t sched_global_now(const struct kernel *k) { return k->st->event_ns; }

static bool cpu_idle(const struct kcpu *c) { return !c->curr && c->rq_len == 0; }
static bool cpu_busy(const struct kcpu *c) { return c->online && !cpu_idle(c); }

/* ---- run queues ---- */

static void rq_append(struct kcpu *c, struct task *t)
{
    t->rq_next = NULL;
    t->rq_prev = c->rq_tail;
    if (c->rq_tail)
        c->rq_tail->rq_next = t;
    else
        c->rq_head = t;
    c->rq_tail = t;
    c->rq_len++;
}

static void rq_prepend(struct kcpu *c, struct task *t)
{
    t->rq_prev = NULL;
    t->rq_next = c->rq_head;
    if (c->rq_head)
        c->rq_head->rq_prev = t;
    else
        c->rq_tail = t;
    c->rq_head = t;
    c->rq_len++;
}

static void rq_remove(struct kcpu *c, struct task *t)
{
    if (t->rq_prev)
        t->rq_prev->rq_next = t->rq_next;
    else
        c->rq_head = t->rq_next;
    if (t->rq_next)
        t->rq_next->rq_prev = t->rq_prev;
    else
        c->rq_tail = t->rq_prev;
    t->rq_next = t->rq_prev = NULL;
    c->rq_len--;
}

/* min + a draw below span, or min alone when the policy fixes it (span 0). */
static uint64_t policy_value(struct kernel *k, enum sched_decision d, uint64_t min, uint64_t span)
{
    return min + (span ? sched_decide(k, d, span) : 0);
}

static uint64_t new_quantum(struct kernel *k)
{
    const struct policy_params *p = policy_params(k);
    return p->quantum_min ? policy_value(k, DECIDE_QUANTUM, p->quantum_min, p->quantum_span)
                          : UINT64_MAX;
}

uint32_t sched_cs_countdown(struct kernel *k)
{
    /* pct counts every entry into a watched section as a step (pct.c). */
    if (policy_params(k)->pct)
        return k->cfg.cs_inject_span ? 1 : 0;
    uint32_t span = policy_params(k)->cs_inject ? k->cfg.cs_inject_span : 0;
    return span ? 1 + (uint32_t)sched_decide(k, DECIDE_CS_SKIP, span) : 0;
}

/* A signal waits for c's thread: it is taken at the next critical section, when the policy
 * injects there, or by its deadline, whichever comes first. */
static void keep_signal_deadline(struct kcpu *c, const struct policy_params *p)
{
    if (p->cs_inject)
        c->cs_countdown = 1;
    if (c->signal_deadline < c->inject_at) {
        c->inject_at = c->signal_deadline;
        c->inject_kind = INJECT_SIGNAL_PENDING;
        c->inject_from_watch = false;
    }
}

/* The policy's next preemption or migration of c's thread t, at a random instruction count
 * or in one of the next critical sections it runs, or the script's next event; a deferred
 * signal keeps its deadline. */
static void arm_injection(struct kernel *k, struct kcpu *c, struct task *t)
{
    const struct policy_params *p = policy_params(k);
    c->inject_kind = INJECT_PREEMPT;
    c->inject_arg = -1;
    c->inject_from_watch = false;
    if (p->script) {
        c->inject_at = policy_script_next(k, t);
    } else if (p->inject_span) {
        c->inject_at = t->insns + 1 + sched_decide(k, DECIDE_INJECT, p->inject_span);
        uint64_t others = t->affinity & sched_online_mask(k) & ~bit(c->id);
        if (others && sched_decide(k, DECIDE_INJECT_KIND, 4) == 0)
            c->inject_kind = INJECT_MIGRATE;
    } else {
        c->inject_at = UINT64_MAX;
    }
    c->cs_countdown = sched_cs_countdown(k);
    if (c->signal_deferred)
        keep_signal_deadline(c, p);
}

bool sched_defer_signal(struct kernel *k, struct task *t)
{
    struct kcpu *c = &k->st->cpus[t->cpu];
    if (t->state != TASK_RUNNING || c->curr != t || t == k->st->serving || t->in_syscall)
        return false;
    const struct policy_params *p = policy_params(k);
    if (!c->signal_deferred) {
        c->signal_deferred = true;
        /* Without a delay the signal waits for a kernel entry (or the script's interrupt). */
        c->signal_deadline =
            p->signal_delay_min ? t->insns + policy_value(k, DECIDE_SIGNAL_DELAY,
                                                          p->signal_delay_min, p->signal_delay_span)
                                : UINT64_MAX;
    }
    keep_signal_deadline(c, p);
    return true;
}

/* Puts t on c's queue; an idle CPU's clock catches up with the time the work arrives. */
static void enqueue(struct kernel *k, struct kcpu *c, struct task *t)
{
    uint64_t now = sched_global_now(k);
    if (cpu_idle(c) && c->clock_ns < now)
        c->clock_ns = now;
    if (t->cpu != c->id) {
        k->st->stats.migrations++;
        event_emit(k, EV_MIGRATE, t, (uint64_t)t->cpu, (uint64_t)c->id, 0);
        t->cpu = c->id;
        rseq_migrate(k, t);
    }
    t->state = TASK_RUNNABLE;
    rq_append(c, t);
}

static void move_task(struct kernel *k, struct task *t, int to);

/* The thread a schedule's pick event names: from c's queue, or pulled over from another CPU
 * (preempted there if it runs), as load balancing may; else the run ends. */
static struct task *script_pick(struct kernel *k, struct kcpu *c)
{
    const struct sched_event *e = &k->cfg.script[c->pick_event];
    c->pick_pending = false;
    for (struct task *t = c->rq_head; t; t = t->rq_next)
        if (t->tid == e->arg)
            return t;
    struct task *u = task_by_tid(k, e->arg);
    if (u && (u->state == TASK_RUNNABLE || u->state == TASK_RUNNING) &&
        (u->affinity & bit(c->id)) && u->cpu != c->id) {
        if (k->st->cpus[u->cpu].curr == u) {
            k->st->stats.preemptions++;
            event_emit(k, EV_PREEMPT, u, 1, (uint64_t)c->id, 0);
        }
        move_task(k, u, c->id);
        return u;
    }
    char why[80];
    snprintf(why, sizeof(why), "thread %d is not runnable on CPU %d here", e->arg, c->id);
    policy_script_refuse(k, e, why);
    return c->rq_head;
}

/* next is switched in on c: it is nobody's leaver any more. */
static void forget_leaver(struct kernel *k, const struct task *next)
{
    for (int i = 0; i < k->cfg.ncpus; i++)
        if (k->st->cpus[i].leaver_valid && k->st->cpus[i].leaver_tid == next->tid)
            k->st->cpus[i].leaver_valid = false;
}

/* c's next thread: the first of its queue unless a pick event names another or pct prefers
 * another; or idle. A thread taken out of queue order is recorded as a pick event, positioned
 * where the thread that left c did so, for a replay to take the same one. pct chooses only
 * when that thread has not been switched in since (its later events would come first in the
 * file): otherwise c takes the first, and the next policy point gives way (policy_point). */
static void pick_next(struct kernel *k, struct kcpu *c)
{
    struct task *next = c->rq_head;
    if (next && c->pick_pending) {
        const struct sched_event *e = &k->cfg.script[c->pick_event];
        next = script_pick(k, c);
        if (next != c->rq_head)
            policy_record_at(k, e->tid, e->at, VERB_PICK, next->tid);
    } else if (next && c->leaver_valid && policy_params(k)->pct) {
        next = pct_highest(c);
        if (next != c->rq_head)
            policy_record_at(k, c->leaver_tid, c->leaver_at, VERB_PICK, next->tid);
    }
    c->curr = next;
    if (!next)
        return;
    if (policy_params(k)->pct)
        forget_leaver(k, next);
    rq_remove(c, next);
    next->state = TASK_RUNNING;
    mm_cid_switch_in(k, next, c->id);
    next->quantum_left = new_quantum(k);
    c->signal_deferred = false; /* what the previous thread waited for is on its way */
    arm_injection(k, c, next);
    k->st->stats.context_switches++;
    event_emit(k, EV_SWITCH, next, (uint64_t)c->id, 0, 0);
}

/* t leaves c: what runs next there may be the script's to say, or pct's to record. */
static void note_leave(struct kernel *k, struct kcpu *c, struct task *t)
{
    if (policy_params(k)->pct) {
        c->leaver_valid = true;
        c->leaver_tid = t->tid;
        c->leaver_at = t->insns;
    }
    if (!policy_params(k)->script)
        return;
    const struct sched_event *e = policy_script_leave(k, t);
    if (e) {
        c->pick_pending = true;
        c->pick_event = (uint32_t)(e - k->cfg.script);
    }
}

/* Takes c's current thread off the CPU (preempted, blocked or leaving). */
static void switch_out(struct kernel *k, struct kcpu *c)
{
    struct task *prev = c->curr;
    note_leave(k, c, prev);
    c->curr = NULL;
    rseq_preempt(k, prev);
    if (c->signal_deferred) {
        prev->rtu_pending = true; /* it takes the signal when it next runs */
        c->signal_deferred = false;
    }
}

/* Idle CPUs take waiting threads from the longest queues (Linux's idle balancing), in CPU
 * order so that the result depends on nothing but the state. */
static void balance(struct kernel *k)
{
    for (int i = 0; i < k->cfg.ncpus; i++) {
        struct kcpu *idle = &k->st->cpus[i];
        if (!idle->online || !cpu_idle(idle))
            continue;
        struct kcpu *src = NULL;
        struct task *victim = NULL;
        for (int j = 0; j < k->cfg.ncpus; j++) {
            struct kcpu *c = &k->st->cpus[j];
            if (j == i || !c->online || (src && c->rq_len <= src->rq_len))
                continue;
            for (struct task *t = c->rq_head; t; t = t->rq_next) {
                if (t->affinity & bit(i)) {
                    src = c;
                    victim = t;
                    break;
                }
            }
        }
        if (!victim)
            continue;
        rq_remove(src, victim);
        if (idle->clock_ns < src->clock_ns)
            idle->clock_ns = src->clock_ns;
        enqueue(k, idle, victim);
    }
}

/* Where a waking or new thread goes: its previous CPU if idle, else the next idle allowed CPU
 * after it, else its previous CPU, else the allowed CPU with the shortest queue. No choice is
 * left to chance, so a schedule file need not say where threads wake. */
static struct kcpu *select_cpu(struct kernel *k, struct task *t)
{
    uint64_t allowed = t->affinity & sched_online_mask(k);
    if (!allowed) /* every CPU it may use went offline while it slept */
        return &k->st->cpus[hotplug_fallback_cpu(k, t, t->cpu)];
    struct kcpu *prev = &k->st->cpus[t->cpu];
    if ((allowed & bit(t->cpu)) && cpu_idle(prev))
        return prev;
    for (int i = 1; i < k->cfg.ncpus; i++) {
        int cpu = (t->cpu + i) % k->cfg.ncpus;
        if ((allowed & bit(cpu)) && cpu_idle(&k->st->cpus[cpu]))
            return &k->st->cpus[cpu];
    }
    if (allowed & bit(t->cpu))
        return prev;
    struct kcpu *best = NULL;
    for (int i = 0; i < k->cfg.ncpus; i++)
        if ((allowed & bit(i)) && (!best || k->st->cpus[i].rq_len < best->rq_len))
            best = &k->st->cpus[i];
    return best;
}

void sched_start(struct kernel *k, struct task *t, const struct task *parent)
{
    t->cpu = parent ? parent->cpu : 0;
    struct kcpu *c = select_cpu(k, t);
    enqueue(k, c, t);
}

void sched_block(struct kernel *k, struct task *t)
{
    struct kcpu *c = &k->st->cpus[t->cpu];
    event_emit(k, EV_BLOCK, t, (uint64_t)t->wait.kind, 0, 0);
    if (c->curr == t)
        switch_out(k, c);
    else if (t->state == TASK_RUNNABLE)
        rq_remove(c, t);
    t->state = TASK_BLOCKED;
    balance(k);
}

void sched_wake(struct kernel *k, struct task *t, long ret)
{
    if (t->state != TASK_BLOCKED)
        return;
    t->wait.kind = WAIT_NONE;
    t->wait.has_deadline = false;
    t->wait.timer_gen++;
    syscall_set_return(k, t, ret);
    t->rtu_pending = true;
    event_emit(k, EV_WAKE, t, (uint64_t)ret, 0, 0);
    enqueue(k, select_cpu(k, t), t);
    balance(k);
}

/* c's current thread goes behind the others in c's queue and c picks again. */
static void requeue_current(struct kernel *k, struct kcpu *c)
{
    struct task *t = c->curr;
    switch_out(k, c);
    t->state = TASK_RUNNABLE;
    rq_append(c, t);
    pick_next(k, c);
}

void sched_yield(struct kernel *k, struct task *t)
{
    struct kcpu *c = &k->st->cpus[t->cpu];
    if (policy_params(k)->pct)
        pct_yield(k, t); /* else it would be chosen again at once: spin-and-yield loops */
    if (c->curr != t || c->rq_len == 0)
        return; /* nothing else to run: Linux returns to the same thread, no switch */
    requeue_current(k, c);
}

/* Moves t, running or queued, to CPU `to`. */
static void move_task(struct kernel *k, struct task *t, int to)
{
    struct kcpu *c = &k->st->cpus[t->cpu];
    if (c->curr == t) {
        switch_out(k, c);
        if (c->online) /* a CPU going offline runs nothing more */
            pick_next(k, c);
    } else if (t->state == TASK_RUNNABLE) {
        rq_remove(c, t);
    }
    struct kcpu *dst = &k->st->cpus[to];
    if (dst->clock_ns < c->clock_ns && cpu_idle(dst))
        dst->clock_ns = c->clock_ns;
    enqueue(k, dst, t);
}

void sched_move(struct kernel *k, struct task *t, int to) { move_task(k, t, to); }

void sched_balance(struct kernel *k) { balance(k); }

int sched_cpu_node(const struct kernel *k, int cpu) { return cpu * k->cfg.nodes / k->cfg.ncpus; }

void sched_set_affinity(struct kernel *k, struct task *t, uint64_t mask)
{
    t->affinity = mask;
    mm_cid_affinity(k, t, mask);
    if ((mask & bit(t->cpu)) || (t->state != TASK_RUNNING && t->state != TASK_RUNNABLE))
        return;
    /* The kernel migrates the thread before sched_setaffinity returns (spec 7.7). */
    uint64_t allowed = mask & sched_online_mask(k);
    int to = -1;
    for (int i = 0; i < k->cfg.ncpus && to < 0; i++)
        if ((allowed & bit(i)) && cpu_idle(&k->st->cpus[i]))
            to = i;
    for (int i = 0; i < k->cfg.ncpus && to < 0; i++)
        if (allowed & bit(i))
            to = i;
    if (to >= 0) {
        move_task(k, t, to);
        balance(k);
    }
}

void sched_remove(struct kernel *k, struct task *t)
{
    struct kcpu *c = &k->st->cpus[t->cpu];
    if (c->curr == t) {
        note_leave(k, c, t);
        c->curr = NULL;
        pick_next(k, c);
    } else if (t->state == TASK_RUNNABLE) {
        rq_remove(c, t);
    }
    balance(k);
}

/* ---- timers: a binary heap ordered by (time, arming order) ---- */

static bool timer_before(const struct timer *a, const struct timer *b)
{
    return a->when_ns != b->when_ns ? a->when_ns < b->when_ns : a->seq < b->seq;
}

static void timer_swap(struct timer *a, struct timer *b)
{
    struct timer tmp = *a;
    *a = *b;
    *b = tmp;
}

static bool timer_valid(const struct kernel *k, const struct timer *tm)
{
    if (tm->kind == TIMER_TASK_WAIT) {
        const struct task *t = &k->st->tasks[tm->index];
        return t->state == TASK_BLOCKED && t->wait.has_deadline && t->wait.timer_gen == tm->gen;
    }
    const struct process *p = &k->st->procs[tm->index];
    return p->state == PROC_ALIVE && p->itimer_deadline_ns && p->itimer_gen == tm->gen;
}

static void timer_pop(struct kernel *k)
{
    struct timer *h = k->st->timers;
    int n = --k->st->ntimers;
    h[0] = h[n];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && timer_before(&h[l], &h[m]))
            m = l;
        if (r < n && timer_before(&h[r], &h[m]))
            m = r;
        if (m == i)
            break;
        timer_swap(&h[i], &h[m]);
        i = m;
    }
}

/* Drops stale entries (waits that ended otherwise) from the top; the earliest live timer. */
static const struct timer *timer_peek(struct kernel *k)
{
    while (k->st->ntimers > 0 && !timer_valid(k, &k->st->timers[0]))
        timer_pop(k);
    return k->st->ntimers ? &k->st->timers[0] : NULL;
}

static void timer_compact(struct kernel *k)
{
    int n = 0;
    for (int i = 0; i < k->st->ntimers; i++)
        if (timer_valid(k, &k->st->timers[i]))
            k->st->timers[n++] = k->st->timers[i];
    k->st->ntimers = n;
    /* Re-heapify. */
    for (int i = n / 2 - 1; i >= 0; i--) {
        for (int j = i;;) {
            int l = 2 * j + 1, r = l + 1, m = j;
            if (l < n && timer_before(&k->st->timers[l], &k->st->timers[m]))
                m = l;
            if (r < n && timer_before(&k->st->timers[r], &k->st->timers[m]))
                m = r;
            if (m == j)
                break;
            timer_swap(&k->st->timers[j], &k->st->timers[m]);
            j = m;
        }
    }
}

static void timer_push(struct kernel *k, uint64_t when, int kind, int index, uint32_t gen)
{
    if (k->st->ntimers == TIMER_MAX)
        timer_compact(k);
    if (k->st->ntimers == TIMER_MAX) {
        report_fatal(k, "internal error: more than %d timers armed", TIMER_MAX);
        k->done = true;
        k->result.outcome = KERNEL_ERROR;
        return;
    }
    struct timer *h = k->st->timers;
    int i = k->st->ntimers++;
    arena_hwm_raise(&k->st->timers_hwm, (size_t)k->st->ntimers);
    h[i] = (struct timer){
        .when_ns = when, .seq = k->st->timer_seq++, .kind = kind, .index = index, .gen = gen};
    while (i > 0 && timer_before(&h[i], &h[(i - 1) / 2])) {
        timer_swap(&h[i], &h[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
}

void timer_arm_task(struct kernel *k, struct task *t, uint64_t when_ns)
{
    t->wait.has_deadline = true;
    t->wait.deadline_ns = when_ns;
    timer_push(k, when_ns, TIMER_TASK_WAIT, task_index(k, t), t->wait.timer_gen);
}

void timer_arm_itimer(struct kernel *k, struct process *p)
{
    p->itimer_gen++;
    if (p->itimer_deadline_ns)
        timer_push(k, p->itimer_deadline_ns, TIMER_ITIMER, (int)(p - k->st->procs), p->itimer_gen);
}

static void timer_fire(struct kernel *k, const struct timer *tm_top)
{
    struct timer tm = *tm_top;
    timer_pop(k);
    k->st->event_ns = tm.when_ns;
    event_emit(k, EV_TIMER, NULL, tm.when_ns, (uint64_t)tm.kind, (uint64_t)tm.index);
    if (tm.kind == TIMER_TASK_WAIT) {
        struct task *t = &k->st->tasks[tm.index];
        if (t->wait.kind == WAIT_FUTEX)
            futex_timeout(k, t);
        sched_wake(k, t, t->wait.timeout_ret);
        return;
    }
    struct process *p = &k->st->procs[tm.index];
    struct ksiginfo info = {.signo = LX_SIGALRM, .code = LX_SI_KERNEL, .kind = KSI_KERNEL};
    if (p->itimer_interval_ns)
        p->itimer_deadline_ns += p->itimer_interval_ns;
    else
        p->itimer_deadline_ns = 0;
    timer_arm_itimer(k, p);
    signal_send_process(k, p, &info);
}

/* ---- the host loop ---- */

static struct kcpu *lowest_busy_cpu(struct kernel *k, const struct kcpu *except)
{
    struct kcpu *best = NULL;
    for (int i = 0; i < k->cfg.ncpus; i++) {
        struct kcpu *c = &k->st->cpus[i];
        if (c != except && cpu_busy(c) && (!best || c->clock_ns < best->clock_ns))
            best = c;
    }
    return best;
}

static uint64_t run_budget(struct kernel *k, struct kcpu *c, struct task *t)
{
    uint64_t b = t->quantum_left;
    if (c->inject_at - t->insns < b) /* inject_at > t->insns here */
        b = c->inject_at - t->insns;
    const struct timer *tm = timer_peek(k);
    if (tm && tm->when_ns > c->clock_ns && (tm->when_ns - c->clock_ns) / NS_PER_INSN < b)
        b = (tm->when_ns - c->clock_ns) / NS_PER_INSN;
    const struct kcpu *other = lowest_busy_cpu(k, c);
    const struct policy_params *p = policy_params(k);
    if (other && p->slice_min) {
        uint64_t lead = other->clock_ns > c->clock_ns ? other->clock_ns - c->clock_ns : 0;
        bool interleaving = c->clock_ns < k->st->interleave_until_ns;
        uint64_t slice =
            lead / NS_PER_INSN +
            (interleaving ? 1 : policy_value(k, DECIDE_SLICE, p->slice_min, p->slice_span));
        if (slice < b)
            b = slice;
    }
    if (k->cfg.max_insns) {
        uint64_t left =
            k->cfg.max_insns > k->st->total_insns ? k->cfg.max_insns - k->st->total_insns : 0;
        if (left < b)
            b = left;
    }
    return b ? b : 1;
}

static void account(struct kernel *k, struct kcpu *c, struct task *t, uint64_t n)
{
    t->insns += n;
    t->proc->insns += n;
    c->clock_ns += n * NS_PER_INSN;
    k->st->total_insns += n;
    t->quantum_left = n < t->quantum_left ? t->quantum_left - n : 0;
}

/* A fault or exception in user mode becomes the signal Linux would send. */
static void handle_trap(struct kernel *k, struct task *t, const struct emu_exit *ex)
{
    guest_addr_t ip = task_reg(k, t, REG_IP);
    event_emit(k, EV_FAULT, t, (uint64_t)ex->kind, ex->fault_addr, (uint64_t)ex->trap_intno);
    if (ex->kind == EMU_EXIT_FAULT) {
        signal_force(k, t, LX_SIGSEGV, ex->fault_unmapped ? LX_SEGV_MAPERR : LX_SEGV_ACCERR,
                     ex->fault_addr, k->arch->fault_code(ex->fault_access, ex->fault_unmapped));
        return;
    }
    int sig = LX_SIGILL, code = LX_ILL_ILLOPN;
    if (ex->trap_intno == EMU_TRAP_HALT) {
        sig = LX_SIGSEGV;
        code = LX_SI_KERNEL;
    } else if (ex->trap_intno == EMU_TRAP_UNALIGNED) {
        sig = LX_SIGBUS;
        code = LX_BUS_ADRALN;
    } else if (ex->trap_intno != EMU_TRAP_INVALID_INSN &&
               !arch_trap_signal(k->arch, ex->trap_intno, &sig, &code)) {
        sig = LX_SIGILL;
        code = LX_ILL_ILLOPC;
    }
    guest_addr_t addr = ip;
    uint32_t insn;
    if (k->arch->trap_data_addr && aspace_read(task_as(t), ip, &insn, sizeof(insn)) == 0)
        k->arch->trap_data_addr(ex->trap_intno, insn, &t->ctx.regs, &addr);
    signal_force(k, t, sig, code, addr, 0);
}

/* The guest's memory use went past --max-mem: its process is killed as the OOM killer
 * kills, with SIGKILL (spec 7.9). Its memory is given back as it exits. */
static void oom_kill(struct kernel *k, struct task *t)
{
    struct process *p = t->proc;
    if (p->state != PROC_ALIVE || p->group_exiting)
        return;
    report_fatal(k,
                 "out of memory: the guest's memory use reached --max-mem %llu MiB; process %d "
                 "killed by SIGKILL, as the OOM killer would (tid %d at 0x%llx)",
                 (unsigned long long)(emu_mem_cap(k->emu) >> 20), p->pid, t->tid,
                 (unsigned long long)task_reg(k, t, REG_IP));
    struct ksiginfo info = {.signo = LX_SIGKILL, .code = LX_SI_KERNEL, .kind = KSI_KERNEL};
    signal_send_process(k, p, &info);
}

static void handle_exit(struct kernel *k, struct kcpu *c, struct task *t, const struct emu_exit *ex,
                        bool resumed, guest_addr_t counted_end)
{
    if (ex->kind != EMU_EXIT_BUDGET && ex->kind != EMU_EXIT_WATCH) {
        /* The thread entered the kernel: an injection placed ahead of it in straight-line
         * code no longer applies, and a deferred signal is taken on the way out. */
        if (c->inject_from_watch)
            arm_injection(k, c, t);
        if (c->signal_deferred) {
            c->signal_deferred = false;
            t->rtu_pending = true;
        }
    }
    switch (ex->kind) {
    case EMU_EXIT_SYSCALL:
        if (k->observing && k->obs.syscall)
            k->obs.syscall(k->obs.ctx, t->tid, t->insns, task_reg(k, t, REG_SYSNO));
        if (policy_params(k)->pct)
            pct_step(k, t); /* a change point lowers t on its way in; it gives way on return */
        syscall_dispatch(k, t);
        break;
    case EMU_EXIT_BUDGET:
        break;
    case EMU_EXIT_WATCH:
        inject_watch_hit(k, c, t, ex, resumed, counted_end);
        break;
    case EMU_EXIT_FAULT:
    case EMU_EXIT_TRAP:
        handle_trap(k, t, ex);
        break;
    case EMU_EXIT_ERROR:
        report_fatal(k, "%s (tid %d at 0x%llx)", ex->error, t->tid,
                     (unsigned long long)task_reg(k, t, REG_IP));
        k->done = true;
        k->result.outcome = KERNEL_ERROR;
        snprintf(k->result.message, sizeof(k->result.message), "%s", ex->error);
        break;
    }
    if (emu_mem_over(k->emu))
        oom_kill(k, t);
}

/* CPU `want`, if t may run there, else a random other CPU t may run on; -1 if none. */
static int migration_target(struct kernel *k, const struct kcpu *c, const struct task *t, int want)
{
    uint64_t others = t->affinity & sched_online_mask(k) & ~bit(c->id);
    if (want >= 0 && want < k->cfg.ncpus && (others & bit(want)))
        return want;
    int n = __builtin_popcountll(others);
    if (n == 0)
        return -1;
    uint64_t pick = sched_decide(k, DECIDE_CPU, (uint64_t)n);
    for (int i = 0; i < k->cfg.ncpus; i++)
        if ((others & bit(i)) && pick-- == 0)
            return i;
    return -1;
}

/* A preemption: the thread is switched out (another thread or a kernel thread runs) and
 * comes back through the return-to-user path. */
static void preempt(struct kernel *k, struct kcpu *c, struct task *t)
{
    policy_record(k, t, VERB_PREEMPT, 0);
    k->st->stats.preemptions++;
    event_emit(k, EV_PREEMPT, t, 0, 0, 0);
    requeue_current(k, c);
}

/* t goes to the front of c's queue, as the next to run there. */
static void enqueue_front(struct kernel *k, struct kcpu *c, struct task *t)
{
    enqueue(k, c, t);
    rq_remove(c, t);
    rq_prepend(c, t);
}

/* t, on c, and the thread on CPU `to` (if any) exchange CPUs: both are preempted and migrated,
 * each runs next on the other's CPU, the clocks meet, and the two interleave closely for a
 * while, so that what one does on the other's per-CPU data races with it. */
static void swap_cpus(struct kernel *k, struct kcpu *c, struct task *t, int to)
{
    struct kcpu *d = &k->st->cpus[to];
    struct task *u = d->curr;
    if (to == c->id || !d->online || !(t->affinity & bit(to)) || (u && !(u->affinity & bit(c->id))))
        return;
    policy_record(k, t, VERB_SWAP, to);
    event_emit(k, EV_PREEMPT, t, 1, (uint64_t)to, 0);
    uint64_t clock = c->clock_ns > d->clock_ns ? c->clock_ns : d->clock_ns;
    c->clock_ns = d->clock_ns = clock;
    switch_out(k, c);
    k->st->stats.preemptions++;
    if (u) {
        event_emit(k, EV_PREEMPT, u, 1, (uint64_t)c->id, 0);
        switch_out(k, d);
        k->st->stats.preemptions++;
    }
    enqueue_front(k, d, t);
    if (u)
        enqueue_front(k, c, u);
    pick_next(k, c);
    pick_next(k, d);
    k->st->interleave_until_ns = clock + SCHED_SWAP_INTERLEAVE_INSNS * NS_PER_INSN;
}

/* An injection into c's running thread t, at its current instruction. */
static void inject(struct kernel *k, struct kcpu *c, struct task *t)
{
    int kind = c->inject_kind, arg = c->inject_arg;
    switch (kind) {
    case INJECT_MIGRATE: {
        int to = migration_target(k, c, t, arg);
        if (to < 0)
            break;
        policy_record(k, t, VERB_MIGRATE, to);
        k->st->stats.preemptions++;
        event_emit(k, EV_PREEMPT, t, 1, (uint64_t)to, 0);
        move_task(k, t, to);
        balance(k);
        return;
    }
    case INJECT_SIGNAL: {
        struct ksiginfo info = {.signo = arg, .code = LX_SI_KERNEL, .kind = KSI_KERNEL};
        policy_record(k, t, VERB_SIGNAL, arg);
        event_emit(k, EV_INJECT, t, (uint64_t)kind, (uint64_t)arg, 0);
        signal_send_thread(k, t, &info);
        t->rtu_pending = true;
        arm_injection(k, c, t);
        return;
    }
    case INJECT_TICK:
    case INJECT_NOTIFY:
    case INJECT_SIGNAL_PENDING:
        policy_record(k, t, (enum sched_verb)kind, 0);
        event_emit(k, EV_INJECT, t, (uint64_t)kind, 0, 0);
        if (kind == INJECT_NOTIFY)
            rseq_notify_resume(k, t);
        if (kind == INJECT_SIGNAL_PENDING) {
            c->signal_deferred = false;
            t->rtu_pending = true;
        }
        arm_injection(k, c, t);
        return;
    case INJECT_STALL:
        /* The vCPU stops between two instructions: no switch, nothing for rseq; the other
         * vCPUs run on until their clocks pass this one's. */
        policy_record(k, t, VERB_STALL, arg);
        event_emit(k, EV_INJECT, t, (uint64_t)kind, (uint64_t)arg, 0);
        c->clock_ns += (uint64_t)arg * NS_PER_INSN;
        arm_injection(k, c, t);
        return;
    case INJECT_SWAP:
        swap_cpus(k, c, t, arg);
        return;
    case INJECT_PCT_STOP:
        /* t stands on the section's first instruction and keeps its CPU (policy_point gave
         * way first if it had to): the entry has been counted, running it must not count it
         * again. */
        t->watch_resume = task_reg(k, t, REG_IP);
        arm_injection(k, c, t);
        return;
    default:
        break;
    }
    preempt(k, c, t);
}

/* The thread's time slice is over: behind the others on its CPU, if there are others. Under
 * pct a thread that outranks the others for a whole slice most likely spins waiting for one of
 * them: it goes below them, as if it had yielded, so that the one it waits for runs. */
static void expire(struct kernel *k, struct kcpu *c, struct task *t)
{
    if (c->rq_len == 0) {
        t->quantum_left = new_quantum(k);
        return;
    }
    if (policy_params(k)->pct)
        pct_yield(k, t);
    policy_record(k, t, VERB_EXPIRE, 0);
    k->st->stats.preemptions++;
    event_emit(k, EV_PREEMPT, t, 2, 0, 0);
    requeue_current(k, c);
    balance(k);
}

/* The script's events at t's position, in the file's order, while t stays on c. */
static void script_events(struct kernel *k, struct kcpu *c, struct task *t)
{
    const struct sched_event *e;
    while (!k->done && c->curr == t && (e = policy_script_take(k, t))) {
        switch ((enum sched_verb)e->verb) {
        case VERB_SWITCH: /* the run stopped here; the host looks at the lowest clock next */
            break;
        case VERB_EXPIRE:
            expire(k, c, t);
            break;
        case VERB_PICK: /* taken when the thread leaves, never while it stays */
            policy_script_refuse(k, e, "the thread does not leave its CPU here");
            return;
        case VERB_IPI:
            policy_record(k, t, VERB_IPI, 0);
            rseq_ipi(k, t);
            t->rtu_pending = true;
            break;
        case VERB_OFFLINE:
        case VERB_ONLINE:
            hotplug_script_event(k, t, e);
            break;
        case VERB_MIGRATE:
            if (e->arg == c->id || !(t->affinity & sched_online_mask(k) & bit(e->arg))) {
                policy_script_refuse(k, e,
                                     e->arg == c->id ? "the thread already runs on that CPU"
                                     : !k->st->cpus[e->arg].online
                                         ? "that CPU is offline"
                                         : "the thread may not run on that CPU");
                return;
            }
            /* fall through */
        default:
            c->inject_kind = e->verb;
            c->inject_arg = e->arg;
            inject(k, c, t);
            break;
        }
    }
    if (!k->done && c->curr == t)
        arm_injection(k, c, t);
}

/* pct: a thread of c's queue outranks c's thread t, which must give way; not while t runs to
 * the first instruction of a section whose entry lowered it: it gives way there. */
static bool pct_outranked(struct kernel *k, const struct kcpu *c, const struct task *t)
{
    if (!policy_params(k)->pct || (c->inject_kind == INJECT_PCT_STOP && t->insns < c->inject_at))
        return false;
    const struct task *best = pct_highest(c);
    return best && best->pct_prio > t->pct_prio;
}

/* Before t runs on: pct giving way, the policy's injection or the script's events, or the end
 * of a time slice. Always here, never straight after a run, so that a replay acts at the same
 * moment as the run it replays, whatever split the runs differently. Giving way comes first: a
 * replay takes all the events at one position in one pass, so a preemption must not wait for
 * another pass behind an injection there (whose return-to-user work would then come before
 * the preemption in the run and after it in the replay). */
static void policy_point(struct kernel *k, struct kcpu *c, struct task *t, bool outranked)
{
    if (outranked) {
        preempt(k, c, t);
        return;
    }
    if (t->insns >= c->inject_at) {
        if (policy_params(k)->script && policy_script_next(k, t) <= t->insns)
            script_events(k, c, t);
        else
            inject(k, c, t);
        return;
    }
    if (t->quantum_left == 0)
        expire(k, c, t);
}

static void end_run(struct kernel *k, enum kernel_outcome outcome, const char *what)
{
    k->done = true;
    k->result.outcome = outcome;
    snprintf(k->result.message, sizeof(k->result.message), "%s", what);
}

/* The host turns from the CPU that ran last to c while the thread there is still on it: a
 * point a replay must stop that thread at too. */
static void note_switch(struct kernel *k, const struct kcpu *c)
{
    struct task *last = k->st->last_task;
    if (!last || k->st->last_cpu == c->id)
        return;
    k->st->last_task = NULL;
    if (k->st->cpus[k->st->last_cpu].curr == last && last->state == TASK_RUNNING)
        policy_record(k, last, VERB_SWITCH, 0);
}

bool sched_run(struct kernel *k)
{
    while (!k->done) {
        if (k->pause_at && k->st->iterations >= k->pause_at) {
            k->pause_at = 0;
            return false;
        }
        k->st->iterations++;
        struct kcpu *c = lowest_busy_cpu(k, NULL);
        const struct timer *tm = timer_peek(k);
        if (tm && (!c || tm->when_ns <= c->clock_ns)) {
            timer_fire(k, tm);
            continue;
        }
        if (!c) {
            report_fatal(k, "deadlock: every thread is blocked and no timer is pending");
            report_threads(k);
            end_run(k, KERNEL_DEADLOCK, "deadlock");
            break;
        }
        if (k->cfg.max_insns && k->st->total_insns >= k->cfg.max_insns) {
            report_fatal(k, "instruction budget of %llu exhausted (runaway guest?)",
                         (unsigned long long)k->cfg.max_insns);
            report_threads(k);
            end_run(k, KERNEL_RUNAWAY, "instruction budget exhausted");
            break;
        }
        k->st->cur_cpu = c->id;
        k->st->event_ns = c->clock_ns;
        note_switch(k, c);
        if (!c->curr) {
            pick_next(k, c);
            continue;
        }
        struct task *t = c->curr;
        k->st->serving = t;
        if (t->rtu_pending) {
            if (!signal_return_to_user(k, t) || c->curr != t) {
                k->st->serving = NULL;
                continue;
            }
        }
        bool outranked = pct_outranked(k, c, t);
        if (outranked || t->insns >= c->inject_at || t->quantum_left == 0) {
            policy_point(k, c, t, outranked);
            k->st->serving = NULL;
            continue;
        }
        k->st->serving = NULL;
        /* Every stop the scheduler asks for lands on an exact instruction: interleavings are not
         * limited to block boundaries, and every position can be named in a schedule. */
        struct emu_run_params p = {.budget_insns = run_budget(k, c, t),
                                   .exact = true,
                                   .time_ns = c->clock_ns,
                                   .ns_per_insn = NS_PER_INSN,
                                   .watch_countdown = c->cs_countdown,
                                   .watch_resume_addr = t->watch_resume,
                                   .watch_resume_points_end = t->watch_resume_points_end};
        struct emu_exit ex;
        k->st->stats.slices++;
        if (k->observing)
            observe_run(k, t, &p, &ex);
        else
            emu_run(task_as(t), &t->ctx, &p, &ex);
        /* Only the backend knows: the thread may have looped back to the block it resumed in
         * front of, which is then looked at whole. */
        bool resumed = ex.kind == EMU_EXIT_WATCH && ex.watch_resumed;
        guest_addr_t counted_end = resumed ? t->watch_resume_points_end : 0;
        t->watch_resume = 0;
        t->watch_resume_points_end = 0;
        c->cs_countdown = ex.watch_countdown;
        account(k, c, t, ex.insns);
        k->st->event_ns = c->clock_ns;
        k->st->serving = t;
        handle_exit(k, c, t, &ex, resumed, counted_end);
        k->st->serving = NULL;
        k->st->last_cpu = c->id;
        k->st->last_task = c->curr == t ? t : NULL;
    }
    k->result.insns = k->st->total_insns;
    k->result.digest = k->st->digest.h;
    return true;
}

void sched_script_changed(struct kernel *k)
{
    if (!policy_params(k)->script)
        return;
    for (uint32_t i = 0; i < k->st->tasks_hwm; i++) {
        struct task *t = &k->st->tasks[i];
        if (t->state != TASK_FREE && t->state != TASK_DEAD)
            policy_task_start(k, t);
    }
    for (int i = 0; i < k->cfg.ncpus; i++) {
        struct kcpu *c = &k->st->cpus[i];
        if (c->curr)
            arm_injection(k, c, c->curr);
    }
}
