/* CPU hotplug, after Linux: an offline CPU runs nothing and is offered to nobody (select_cpu,
 * balance, migrations, affinity and membarrier all look at kcpu.online); threads on a CPU
 * going offline are pushed to their fallback CPU (balance_push, select_fallback_rq); a CPU
 * coming online is simply idle and takes waiting threads at once. CPU 0, the boot CPU, never
 * goes offline, so one CPU always stays. */
#include "hotplug.h"

#include <stdio.h>

#include "event.h"
#include "mm_cid.h"
#include "policy.h"
#include "sched.h"

static uint64_t bit(int cpu) { return 1ULL << cpu; }

/* The lowest CPU in mask, or -1. */
static int lowest(uint64_t mask) { return mask ? __builtin_ctzll(mask) : -1; }

int hotplug_fallback_cpu(struct kernel *k, struct task *t, int from)
{
    uint64_t online = sched_online_mask(k);
    uint64_t node = 0;
    for (int i = 0; i < k->cfg.ncpus; i++)
        if (sched_cpu_node(k, i) == sched_cpu_node(k, from))
            node |= bit(i);
    int cpu = lowest(t->affinity & online & node);
    if (cpu < 0)
        cpu = lowest(t->affinity & online);
    if (cpu < 0) {
        /* Linux logs "process N (comm) no longer affine to cpuF"; the task keeps running. */
        t->affinity = sched_possible_mask(k);
        mm_cid_affinity(k, t, t->affinity);
        cpu = lowest(online);
    }
    return cpu;
}

/* Why `verb cpu` cannot happen now, or NULL. */
static const char *refusal(const struct kernel *k, enum sched_verb verb, int cpu, char *buf,
                           size_t len)
{
    uint64_t online = sched_online_mask(k);
    if (cpu >= k->cfg.ncpus)
        snprintf(buf, len, "there is no CPU %d (%d CPUs)", cpu, k->cfg.ncpus);
    else if (verb == VERB_ONLINE && (online & bit(cpu)))
        snprintf(buf, len, "CPU %d is already online", cpu);
    else if (verb == VERB_ONLINE)
        return NULL;
    else if (!(online & bit(cpu)))
        snprintf(buf, len, "CPU %d is already offline", cpu);
    else if (online == bit(cpu))
        snprintf(buf, len, "CPU %d is the last online CPU", cpu);
    else if (cpu == 0)
        snprintf(buf, len, "CPU 0 cannot be taken offline (the boot CPU)");
    else
        return NULL;
    return buf;
}

static void cpu_down(struct kernel *k, int cpu)
{
    struct kcpu *c = &k->st->cpus[cpu];
    c->online = false;
    /* The running thread first, as the stopper preempts it; then the queue, in its order. */
    if (c->curr)
        sched_move(k, c->curr, hotplug_fallback_cpu(k, c->curr, cpu));
    while (c->rq_head)
        sched_move(k, c->rq_head, hotplug_fallback_cpu(k, c->rq_head, cpu));
    sched_balance(k);
}

static void cpu_up(struct kernel *k, int cpu)
{
    k->st->cpus[cpu].online = true;
    sched_balance(k);
}

void hotplug_script_event(struct kernel *k, struct task *t, const struct sched_event *e)
{
    enum sched_verb verb = (enum sched_verb)e->verb;
    char why[96];
    if (refusal(k, verb, e->arg, why, sizeof(why))) {
        policy_script_refuse(k, e, why);
        return;
    }
    policy_record(k, t, verb, e->arg);
    event_emit(k, EV_HOTPLUG, t, (uint64_t)e->arg, verb == VERB_ONLINE, 0);
    if (verb == VERB_ONLINE)
        cpu_up(k, e->arg);
    else
        cpu_down(k, e->arg);
}
