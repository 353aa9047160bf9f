/* PCT's priorities. Start priorities are d, d+1, ...; change point i (in the order drawn, as in
 * the paper) gives d-i, so two lowered threads may end in either order; a yield gives 0, then
 * -1, and so on. No two threads ever share a priority, so "the highest" is always one thread.
 * Every draw goes through sched_decide(). */
#include "pct.h"

#include "sched.h"

void pct_init(struct kernel *k)
{
    for (uint32_t i = 0; i + 1 < k->cfg.pct_depth; i++)
        k->st->pct.change_at[i] = 1 + sched_decide(k, DECIDE_PCT_CHANGE, k->cfg.pct_steps);
}

void pct_task_start(struct kernel *k, struct task *t)
{
    /* A uniformly drawn place among the start priorities given so far (those of threads that
     * ended too): however many threads come, their order is a uniformly drawn permutation, as
     * if all had been known at the start. The threads at or above the place move up by one. */
    struct pct_state *p = &k->st->pct;
    int64_t place = (int64_t)k->cfg.pct_depth +
                    (int64_t)sched_decide(k, DECIDE_PCT_PRIORITY, (uint64_t)p->threads + 1);
    for (int i = 0; i < TASK_MAX; i++) {
        struct task *o = &k->st->tasks[i];
        if (o != t && o->state != TASK_FREE && o->pct_prio >= place)
            o->pct_prio++;
    }
    p->threads++;
    t->pct_prio = place;
}

bool pct_step(struct kernel *k, struct task *t)
{
    uint64_t step = ++k->st->stats.pct_steps;
    bool changed = false;
    for (uint32_t i = 1; i < k->cfg.pct_depth; i++) {
        if (k->st->pct.change_at[i - 1] == step) {
            t->pct_prio = (int64_t)k->cfg.pct_depth - (int64_t)i;
            changed = true;
        }
    }
    return changed;
}

void pct_yield(struct kernel *k, struct task *t) { t->pct_prio = k->st->pct.floor--; }

struct task *pct_highest(const struct kcpu *c)
{
    struct task *best = c->rq_head;
    for (struct task *t = c->rq_head; t; t = t->rq_next)
        if (t->pct_prio > best->pct_prio)
            best = t;
    return best;
}
