/* The policies' parameters, the script's events and the recording of a run's decisions. */
#include "policy.h"

#include <stdio.h>
#include <string.h>

#include "pct.h"
#include "report.h"

/* In instructions (= virtual nanoseconds). random: seeded, and biased toward critical
 * sections; round-robin: fixed slices and nothing injected; script: only the file's events,
 * or round-robin between them (fill round-robin); pct: priorities (pct.c). */
static const struct policy_params params[] = {
    [POLICY_RANDOM] = {.slice_min = 2000,
                       .slice_span = 18000,
                       .quantum_min = 300000,
                       .quantum_span = 2700000,
                       .inject_span = 2000000,
                       .cs_inject = true,
                       .signal_delay_min = 1,
                       .signal_delay_span = 20000},
    [POLICY_ROUND_ROBIN] = {.slice_min = 10000, .quantum_min = 1000000, .signal_delay_min = 10000},
    [POLICY_SCRIPT] = {.script = true},
    /* The CPUs interleave as under round-robin; the time slice only guards against a thread
     * that spins without a system call (expire() in sched.c). */
    [POLICY_PCT] = {.slice_min = 10000,
                    .quantum_min = 3000000,
                    .signal_delay_min = 10000,
                    .pct = true},
};
static const struct policy_params script_round_robin = {
    .slice_min = 10000, .quantum_min = 1000000, .signal_delay_min = 10000, .script = true};

const struct policy_params *policy_params(const struct kernel *k)
{
    if (k->cfg.policy == POLICY_SCRIPT && k->cfg.script_fill == FILL_ROUND_ROBIN)
        return &script_round_robin;
    return &params[k->cfg.policy];
}

void policy_task_start(struct kernel *k, struct task *t)
{
    if (policy_params(k)->pct)
        pct_task_start(k, t);
    /* The events are sorted by thread: find t's first. */
    size_t lo = 0, hi = k->cfg.nscript;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (k->cfg.script[mid].tid < t->tid)
            lo = mid + 1;
        else
            hi = mid;
    }
    t->script_next = (uint32_t)lo;
}

static const struct sched_event *next_event(const struct kernel *k, const struct task *t)
{
    if (!policy_params(k)->script || t->script_next >= k->cfg.nscript)
        return NULL;
    const struct sched_event *e = &k->cfg.script[t->script_next];
    return e->tid == t->tid ? e : NULL;
}

uint64_t policy_script_next(const struct kernel *k, const struct task *t)
{
    const struct sched_event *e = next_event(k, t);
    return e ? e->at : UINT64_MAX;
}

const struct sched_event *policy_script_take(struct kernel *k, struct task *t)
{
    const struct sched_event *e = next_event(k, t);
    if (!e || e->at > t->insns)
        return NULL;
    k->st->script_done[t->script_next / 8] |= (uint8_t)(1u << (t->script_next % 8));
    t->script_next++;
    return e;
}

/* A `switch` at t's position did its work when t stopped there. */
static void skip_switches(struct kernel *k, struct task *t)
{
    const struct sched_event *e;
    while ((e = next_event(k, t)) && e->verb == VERB_SWITCH && e->at == t->insns)
        policy_script_take(k, t);
}

const struct sched_event *policy_script_leave(struct kernel *k, struct task *t)
{
    /* A thread killed on its CPU may still have the switch it stopped at to take. */
    skip_switches(k, t);
    const struct sched_event *e = next_event(k, t);
    return e && e->verb == VERB_PICK && e->at == t->insns ? policy_script_take(k, t) : NULL;
}

void policy_task_exit(struct kernel *k, struct task *t) { skip_switches(k, t); }

/* Reports e and makes the run's outcome a refused schedule. */
static void refuse(struct kernel *k, const struct sched_event *e, const char *why)
{
    report_fatal(k, "schedule line %u: %d:%llu %s: %s", e->line, e->tid, (unsigned long long)e->at,
                 sched_verb_name(e->verb), why);
    k->done = true;
    k->result.outcome = KERNEL_BAD_SCHEDULE;
    snprintf(k->result.message, sizeof(k->result.message), "schedule line %u: %s", e->line, why);
}

void policy_script_refuse(struct kernel *k, const struct sched_event *e, const char *why)
{
    if (!k->done)
        refuse(k, e, why);
}

void policy_script_finish(struct kernel *k)
{
    if (k->cfg.policy != POLICY_SCRIPT || k->result.outcome == KERNEL_BAD_SCHEDULE)
        return;
    for (int i = 0; i < k->cfg.ncpus; i++) {
        if (k->st->cpus[i].pick_pending) {
            char why[80];
            snprintf(why, sizeof(why), "the run ended before CPU %d ran another thread", i);
            refuse(k, &k->cfg.script[k->st->cpus[i].pick_event], why);
            return;
        }
    }
    for (size_t i = 0; i < k->cfg.nscript; i++) {
        if (k->st->script_done[i / 8] & (1u << (i % 8)))
            continue;
        const struct sched_event *e = &k->cfg.script[i];
        const struct task *t = NULL;
        for (int j = 0; j < TASK_MAX && !t; j++)
            if (k->st->tasks[j].state != TASK_FREE && k->st->tasks[j].tid == e->tid)
                t = &k->st->tasks[j];
        char why[160];
        if (t)
            snprintf(why, sizeof(why), "thread %d stopped after %llu instructions, before this",
                     t->tid, (unsigned long long)t->insns);
        else if (e->tid < k->st->next_tid)
            snprintf(why, sizeof(why), "thread %d had ended before this", e->tid);
        else
            snprintf(why, sizeof(why), "no thread %d ran", e->tid);
        refuse(k, e, why); /* the run has ended: this only sets its outcome */
        return;
    }
}

void policy_record(struct kernel *k, const struct task *t, enum sched_verb verb, int arg)
{
    policy_record_at(k, t->tid, t->insns, verb, arg);
}

void policy_record_at(struct kernel *k, int tid, uint64_t at, enum sched_verb verb, int arg)
{
    if (k->cfg.record)
        schedule_write_event(k->cfg.record, tid, at, verb, arg);
}
