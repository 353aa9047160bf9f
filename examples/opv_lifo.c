/* A per-CPU LIFO list whose pop falls back on cpu_opv (the RFC's use case 3, and the reason its
 * operations have expect_fault fields). Threads push items on the list of the CPU they run on and
 * pop from it, all with rseq (examples/percpu_list.h); a pop whose section aborted, and every
 * 8th pop regardless, goes through cpu_opv instead, on the list of the CPU the thread read,
 * which after a migration is another CPU's.
 *
 * Each item lives in a page of its own that its consumer unmaps, as an allocator that returns
 * memory to the system would: so the node a cpu_opv pop read as the head may be gone by the time
 * the kernel pins its next field, and the call then fails with EAGAIN, which the pop retries. At
 * the end the lists are drained, and every item must have been popped exactly once.
 *
 * Without cpu_opv (Linux answers ENOSYS) a pop only retries its section. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

#include "percpu_list.h"

#define THREADS  4
#define ITEMS    200 /* pushed by each thread */
#define SLOW_POP 8   /* every 8th pop takes the slow path on purpose */
#define PAGE     4096

static struct percpu_list lists[CPUS_MAX];
static unsigned char popped[THREADS * ITEMS];
static int have_cpu_opv;

static struct node *node_new(long id)
{
    struct node *n = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (n == MAP_FAILED)
        FAIL("mmap failed\n");
    n->id = id;
    return n;
}

/* Takes the item and frees its node. Counting is the checker's business, not the list's, so it
 * uses an atomic: a list that handed out an item twice must not hide it by a lost update. */
static void consume(struct node *n)
{
    if (n->id < 0 || n->id >= THREADS * ITEMS)
        FAIL("popped a node with id %ld\n", n->id);
    if (__atomic_add_fetch(&popped[n->id], 1, __ATOMIC_RELAXED) != 1)
        FAIL("item %ld popped twice\n", n->id);
    if (munmap(n, PAGE))
        FAIL("munmap failed\n");
}

static struct node *pop(struct rseq_area *area, int k)
{
    int cpu = rseq_cpu(area);
    int slow = have_cpu_opv && k % SLOW_POP == 0;
    while (!slow) {
        struct node *n;
        if (list_pop_rseq(area, lists, cpu, &n) == 0)
            return n;
        /* Aborted (preempted, or migrated): with cpu_opv the pop ends on the list it chose,
         * wherever the thread runs now; without, it starts over where it runs. */
        if (have_cpu_opv)
            slow = 1;
        else
            cpu = rseq_cpu(area);
    }
    return list_pop_opv(lists, cpu);
}

static void *worker(void *arg)
{
    long t = (long)(intptr_t)arg;
    struct rseq_area *area = rseq_area_or_fail();
    for (int k = 0; k < ITEMS; k++) {
        list_push(area, lists, node_new(t * ITEMS + k));
        struct node *n = pop(area, k);
        if (n)
            consume(n);
    }
    return NULL;
}

int main(void)
{
    rseq_area_or_fail();
    have_cpu_opv = cpu_opv_available();
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    /* Alone now: what is left is taken without rseq. */
    for (int c = 0; c < CPUS_MAX; c++)
        while (lists[c].head) {
            struct node *n = lists[c].head;
            lists[c].head = n->next;
            consume(n);
        }
    int once = 0;
    for (int i = 0; i < THREADS * ITEMS; i++)
        once += popped[i] == 1;
    printf("%d items pushed, %d popped exactly once\n", THREADS * ITEMS, once);
    return once == THREADS * ITEMS ? 0 : 1;
}
