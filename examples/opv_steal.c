/* Work stealing between per-CPU lists (the RFC's justification 1 and use case 5). One thread
 * pushes every work item on the list of the CPU it runs on; four workers pop items from the list
 * of their own CPU with rseq and process them, and a worker whose list is empty steals: it pops a
 * few items from another CPU's list with cpu_opv targeting that CPU, and pushes them on its own
 * list with rseq (examples/percpu_list.h).
 *
 * rseq alone cannot do the steal: a critical section only ever works on the data of the CPU it
 * runs on. cpu_opv runs the pop as an IPI on the victim's CPU, so it cannot land inside the
 * victim's own pop or push there, which aborts instead. Every item must be processed exactly once.
 *
 * Without cpu_opv (Linux answers ENOSYS) a thief moves to the victim's CPU with
 * sched_setaffinity(), pops there with rseq and moves back: correct, but it changes the thread's
 * affinity and races with CPU hotplug, which is what cpu_opv was proposed to avoid. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>

#include "percpu_list.h"

#define WORKERS 4
#define ITEMS   2000
#define BATCH   4 /* items a steal moves at most */

static struct percpu_list lists[CPUS_MAX];
static struct node items[ITEMS];
static unsigned char processed[ITEMS];
static long processed_total;
static int have_cpu_opv;

/* Some work per item, so that lists fill up faster than their CPU's workers empty them. */
static void process(struct node *n)
{
    if (n->id < 0 || n->id >= ITEMS)
        FAIL("popped a node with id %ld\n", n->id);
    volatile uint64_t h = (uint64_t)n->id;
    for (int i = 0; i < 40; i++)
        h = h * 6364136223846793005ULL + 1442695040888963407ULL;
    /* The checker's counts, not the algorithm's: atomics, so that a duplicate cannot hide. */
    if (__atomic_add_fetch(&processed[n->id], 1, __ATOMIC_RELAXED) != 1)
        FAIL("item %ld processed twice\n", n->id);
    __atomic_add_fetch(&processed_total, 1, __ATOMIC_RELEASE);
}

static struct node *pop_own(struct rseq_area *area)
{
    for (;;) {
        struct node *n;
        if (list_pop_rseq(area, lists, rseq_cpu(area), &n) == 0)
            return n;
    }
}

/* Without cpu_opv: go to the victim's CPU and pop there with rseq. NULL if it cannot go there. */
static struct node *pop_pinned(struct rseq_area *area, int victim)
{
    cpu_set_t saved;
    if (pin_to_cpu(victim, &saved))
        return NULL;
    struct node *n;
    while (list_pop_rseq(area, lists, victim, &n) != 0)
        ;
    unpin(&saved);
    return n;
}

/* Moves up to BATCH items from the first other CPU's list that has some to the thread's own
 * list; returns how many. */
static int steal(struct rseq_area *area)
{
    int self = rseq_cpu(area);
    for (int d = 1; d < CPUS_MAX; d++) {
        int victim = (self + d) % CPUS_MAX;
        if (!RSEQ_GUEST_READ(lists[victim].head))
            continue;
        int moved = 0;
        for (; moved < BATCH; moved++) {
            struct node *n = have_cpu_opv ? list_pop_opv(lists, victim) : pop_pinned(area, victim);
            if (!n)
                break;
            /* On the list of whatever CPU the thread is on by now. */
            list_push(area, lists, n);
        }
        if (moved)
            return moved;
    }
    return 0;
}

static void *producer(void *arg)
{
    (void)arg;
    struct rseq_area *area = rseq_area_or_fail();
    for (int i = 0; i < ITEMS; i++) {
        items[i].id = i;
        list_push(area, lists, &items[i]);
    }
    return NULL;
}

static void *worker(void *arg)
{
    (void)arg;
    struct rseq_area *area = rseq_area_or_fail();
    while (__atomic_load_n(&processed_total, __ATOMIC_ACQUIRE) < ITEMS) {
        struct node *n = pop_own(area);
        if (n)
            process(n);
        else if (!steal(area))
            sched_yield();
    }
    return NULL;
}

int main(void)
{
    rseq_area_or_fail();
    have_cpu_opv = cpu_opv_available();
    pthread_t p, w[WORKERS];
    pthread_create(&p, NULL, producer, NULL);
    for (int i = 0; i < WORKERS; i++)
        pthread_create(&w[i], NULL, worker, NULL);
    pthread_join(p, NULL);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(w[i], NULL);
    int once = 0;
    for (int i = 0; i < ITEMS; i++)
        once += processed[i] == 1;
    for (int c = 0; c < CPUS_MAX; c++)
        if (lists[c].head)
            FAIL("CPU %d's list still holds item %ld\n", c, lists[c].head->id);
    printf("%d items, %d processed exactly once\n", ITEMS, once);
    return once == ITEMS ? 0 : 1;
}
