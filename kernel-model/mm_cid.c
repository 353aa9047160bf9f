/* mm_cid with the rules of the 6.19 rework (spec 3.2), which satisfy the contract of every
 * version since 6.3 (spec 3.1): ids are below the number of possible CPUs, unique among the
 * threads of a process that hold one, and compact.
 *
 * While a process has no more threads than ids it may use (max_cids), each thread owns its id
 * from its first schedule-in to its exit, sleeping or not. With more threads than that, ids
 * belong to CPUs and a thread takes the id of the CPU it runs on. Switching between the modes
 * keeps the ids of running threads, so no two running threads ever share one. */
#include "mm_cid.h"

#include "report.h"
#include "sched.h"

static int popcount(uint64_t v) { return __builtin_popcountll(v); }

static int min_int(int a, int b) { return a < b ? a : b; }

/* opt = min(CPUs the process may use, its threads); max_cids = opt + opt/4, at most nr_cpus. */
static int cid_opt(const struct mm *mm) { return min_int(popcount(mm->cpus_allowed), mm->users); }

static int max_cids(const struct kernel *k, const struct mm *mm)
{
    int opt = cid_opt(mm);
    int max = min_int(opt + opt / 4, k->cfg.ncpus);
    return max > 0 ? max : 1;
}

/* Lowest free id below `below`, else below the number of CPUs; -1 if none. */
static int cid_alloc(const struct kernel *k, struct mm *mm, int below)
{
    for (int pass = 0; pass < 2; pass++) {
        int limit = pass ? k->cfg.ncpus : below;
        for (int i = 0; i < limit; i++) {
            if (!(mm->cid_used & (1ULL << i))) {
                mm->cid_used |= 1ULL << i;
                return i;
            }
        }
    }
    return -1;
}

static void cid_free(struct mm *mm, int cid)
{
    if (cid >= 0)
        mm->cid_used &= ~(1ULL << cid);
}

void mm_cid_init(struct mm *mm)
{
    mm->cid_used = 0;
    mm->cid_per_cpu = false;
    for (int i = 0; i < KERNEL_CPUS_MAX; i++)
        mm->cpu_cid[i] = -1;
}

/* The task running on cpu if it belongs to mm. */
static struct task *running_in(struct kernel *k, const struct mm *mm, int cpu)
{
    struct task *c = k->st->cpus[cpu].curr;
    return c && c->proc->mm == mm ? c : NULL;
}

/* Threads that are not running hold nothing across a change of mode. */
static void drop_idle_ids(struct kernel *k, const struct mm *mm)
{
    for (int i = 0; i < TASK_MAX; i++) {
        struct task *t = &k->st->tasks[i];
        if (t->state != TASK_FREE && t->state != TASK_RUNNING && t->proc && t->proc->mm == mm)
            t->mm_cid = -1;
    }
}

static void to_per_cpu(struct kernel *k, struct mm *mm)
{
    uint64_t keep = 0;
    for (int i = 0; i < k->cfg.ncpus; i++) {
        struct task *r = running_in(k, mm, i);
        mm->cpu_cid[i] = r ? r->mm_cid : -1;
        if (mm->cpu_cid[i] >= 0)
            keep |= 1ULL << mm->cpu_cid[i];
    }
    mm->cid_used = keep;
    mm->cid_per_cpu = true;
    drop_idle_ids(k, mm);
}

static void to_per_task(struct kernel *k, struct mm *mm)
{
    uint64_t keep = 0;
    drop_idle_ids(k, mm);
    for (int i = 0; i < k->cfg.ncpus; i++) {
        struct task *r = running_in(k, mm, i);
        if (r && mm->cpu_cid[i] >= 0) {
            r->mm_cid = mm->cpu_cid[i];
            keep |= 1ULL << r->mm_cid;
        }
        mm->cpu_cid[i] = -1;
    }
    mm->cid_used = keep;
    mm->cid_per_cpu = false;
}

/* The mode follows the number of threads, with the rework's hysteresis. */
static void cid_mode(struct kernel *k, struct mm *mm)
{
    int opt = cid_opt(mm);
    int back = min_int(opt - opt / 4, k->cfg.ncpus / 2);
    if (!mm->cid_per_cpu && mm->users > max_cids(k, mm))
        to_per_cpu(k, mm);
    else if (mm->cid_per_cpu && mm->users < back)
        to_per_task(k, mm);
}

/* The contract (spec 3.1), checked at every schedule-in: a broken model says so at once. */
static void cid_check(struct kernel *k, const struct task *t, int cpu)
{
    const struct mm *mm = t->proc->mm;
    bool bad = t->mm_cid < 0 || t->mm_cid >= k->cfg.ncpus;
    for (int i = 0; i < k->cfg.ncpus && !bad; i++) {
        const struct task *r = i == cpu ? NULL : running_in(k, mm, i);
        bad = r && r->mm_cid == t->mm_cid;
    }
    if (bad && !k->done) {
        report_fatal(k, "internal error: mm_cid %d of tid %d on CPU %d breaks its contract",
                     t->mm_cid, t->tid, cpu);
        k->done = true;
        k->result.outcome = KERNEL_ERROR;
    }
}

void mm_cid_switch_in(struct kernel *k, struct task *t, int cpu)
{
    struct mm *mm = t->proc->mm;
    mm->cpus_allowed |= t->affinity & sched_possible_mask(k);
    cid_mode(k, mm);
    int max = max_cids(k, mm);
    if (mm->cid_per_cpu) {
        if (mm->cpu_cid[cpu] < 0)
            mm->cpu_cid[cpu] = cid_alloc(k, mm, max);
        t->mm_cid = mm->cpu_cid[cpu];
    } else if (t->mm_cid < 0 || t->mm_cid >= max) {
        /* No id yet, or one above what the process may now use: the lowest free one. */
        cid_free(mm, t->mm_cid);
        t->mm_cid = cid_alloc(k, mm, max);
    }
    cid_check(k, t, cpu);
}

void mm_cid_release(struct kernel *k, struct task *t)
{
    (void)k;
    struct mm *mm = t->proc->mm;
    if (mm && !mm->cid_per_cpu)
        cid_free(mm, t->mm_cid);
    t->mm_cid = -1;
}

void mm_cid_affinity(struct kernel *k, struct task *t, uint64_t mask)
{
    (void)k;
    t->proc->mm->cpus_allowed |= mask;
}
