/* Deliberately wrong: a per-CPU list whose cpu_opv push compares the wrong word. Each of four
 * threads pushes 500 items on the list of the CPU it runs on (examples/percpu_list.h) with an
 * rseq section that compares the head with the one the new node's next was set to and stores
 * the node; after an abort, and every 8th push regardless so that the slow path runs often, the
 * push ends with cpu_opv on the list of the CPU read at the start, from wherever the thread runs
 * by then. The vector reads the head in user space, sets node->next to it, then asks the kernel
 * to compare and store the node as the head, atomically on the list's CPU. But it compares
 * node->next with the head it read, the thread's own copy, which nobody else changes, instead of
 * the list's head: the comparison always holds.
 *
 * Preempt a thread on any instruction of push_slow() after its load of the list's head, up to
 * and including the cpu_opv system call: another thread runs on the same CPU meanwhile and
 * pushes its own nodes on that list; when the first resumes, its vector passes the comparison
 * and stores its node, whose next is the old head, over the new one, and the nodes pushed in
 * between are lost. A migration there does the same when the thread the migration put on the
 * list's CPU pushes before the call.
 *
 * With -DTWIN (opv_wrong_compare_ok) the vector compares the list's head, so a push that
 * another came before fails the comparison (cpu_opv returns 1) and is tried again.
 *
 * At the end the lists are drained, and every item must be found once. Without cpu_opv (Linux
 * answers ENOSYS) a push only retries its section, and both print the same: `items = 2000 of
 * 2000`, or how many were lost (exit 1). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>

#include "boundary.h"
#include "percpu_list.h"

#define WORKERS    4
#define ITEMS      500 /* pushed by each worker */
#define SLOW_EVERY 8   /* every 8th push takes the slow path on purpose */

static struct percpu_list lists[CPUS_MAX];
static struct node nodes[WORKERS * ITEMS];
static unsigned char found[WORKERS * ITEMS];
static int have_cpu_opv;

/* Pushes node on lists[cpu] with cpu_opv, from any CPU: the vector compares the head with the
 * one node->next was set to and, if they are equal, stores node as the head, both on CPU cpu. */
static __attribute__((noinline)) void push_slow(int cpu, struct node *node)
{
    for (;;) {
        struct node *head = RSEQ_GUEST_READ(lists[cpu].head);
        node->next = head;
        struct cpu_op ops[2] = {
#ifdef TWIN
            cpu_op_compare(CPU_COMPARE_EQ_OP, &lists[cpu].head, &head, sizeof(head)),
#else
            cpu_op_compare(CPU_COMPARE_EQ_OP, &node->next, &head, sizeof(head)), /* the bug */
#endif
            cpu_op_memcpy(CPU_MEMCPY_OP, &lists[cpu].head, &node, sizeof(node)),
        };
        int ret = cpu_opv(ops, 2, cpu, 0);
        if (ret == 0)
            return;
        if (ret != 1) /* 1: the head changed since it was read */
            FAIL("cpu_opv push on CPU %d: %d\n", cpu, ret);
    }
}

static void push(struct rseq_area *area, struct node *node, int k)
{
    int cpu = rseq_cpu(area);
    if (!have_cpu_opv || k % SLOW_EVERY != 0) {
        for (;;) {
            struct node *head = RSEQ_GUEST_READ(lists[cpu].head);
            node->next = head;
            int ret = rseq_guest_cmpeqv_storev(area, (intptr_t *)&lists[cpu].head, (intptr_t)head,
                                               (intptr_t)node, cpu);
            if (ret == 0)
                return;
            if (ret == 1 && have_cpu_opv)
                break; /* aborted: finish on the list chosen, through cpu_opv */
            if (ret == 1)
                cpu = rseq_cpu(area);
            /* 2: the head moved since it was read; read it again */
        }
    }
    push_slow(cpu, node);
}

static void *worker(void *arg)
{
    long t = (long)(intptr_t)arg;
    struct rseq_area *area = rseq_area_or_fail();
    start_together();
    for (int k = 0; k < ITEMS; k++) {
        struct node *n = &nodes[t * ITEMS + k];
        n->id = t * ITEMS + k;
        push(area, n, k);
    }
    return NULL;
}

int main(void)
{
    rseq_area_or_fail();
    have_cpu_opv = cpu_opv_available();
    run_threads(WORKERS, worker);
    /* Alone now: the lists are walked without rseq. */
    int once = 0;
    for (int c = 0; c < CPUS_MAX; c++)
        for (struct node *n = lists[c].head; n; n = n->next) {
            if (n->id < 0 || n->id >= WORKERS * ITEMS || found[n->id])
                FAIL("list of CPU %d is corrupt at item %ld\n", c, n->id);
            found[n->id] = 1;
            once++;
        }
    if (once != WORKERS * ITEMS)
        FAIL("lost %d of %d items\n", WORKERS * ITEMS - once, WORKERS * ITEMS);
    printf("items = %d of %d\n", once, WORKERS * ITEMS);
    return 0;
}
