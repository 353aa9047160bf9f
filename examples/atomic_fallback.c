/* Deliberately wrong: a per-CPU counter whose slow path is an atomic add on the slot of the CPU
 * read before. Each of four threads adds 1 to the slot of the CPU it runs on 1000 times: the
 * fast path is an rseq section (pcpu_add, boundary.h: check the CPU, load, add, store); when it
 * aborts, the increment falls back on __atomic_fetch_add on the same slot, which is atomic with
 * respect to other atomics wherever it runs. It is not atomic with respect to the section, which
 * only the kernel's aborts protect, and those come from the section's own CPU alone.
 *
 * Migrate a thread on any instruction of pcpu_add's section: the kernel aborts it, and from the
 * new CPU the fallback adds to the old CPU's slot, which the thread the migration put on the old
 * CPU is incrementing in its own sections meanwhile. If the atomic lands between that section's
 * load and its store, the store writes over it and the increment is lost (the sample copy of
 * examples/opv_wrong.c makes the same window wide; here it is the one add). The race needs the
 * two CPUs to interleave finely while the fallback runs. A preemption or a signal there is
 * harmless: the fallback then runs on the slot's own CPU, where no section can be half done.
 *
 * With -DTWIN (atomic_fallback_ok) an aborted increment is tried again as an rseq section on the
 * CPU the thread runs on then, as examples/percpu_counter.c does; cpu_opv, when the kernel has
 * it, is the way to finish it on the CPU read before (examples/opv_counter.c).
 *
 * Prints `total = 4000 of 4000`, or how many increments were lost (exit 1). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>

#include "boundary.h"

#define WORKERS 4
#define OPS     1000 /* per worker */

static struct pcpu_count slot[CPUS_MAX];

static void increment(struct rseq_area *area)
{
    int cpu = rseq_cpu(area);
#ifdef TWIN
    while (pcpu_add(area, &slot[cpu].count, cpu) != 0)
        cpu = rseq_cpu(area);
#else
    if (pcpu_add(area, &slot[cpu].count, cpu) != 0)
        __atomic_fetch_add(&slot[cpu].count, 1, __ATOMIC_RELAXED); /* the bug */
#endif
}

static void *worker(void *arg)
{
    (void)arg;
    struct rseq_area *area = rseq_area_or_fail();
    start_together();
    for (int i = 0; i < OPS; i++)
        increment(area);
    return NULL;
}

int main(void)
{
    rseq_area_or_fail();
    run_threads(WORKERS, worker);
    intptr_t total = pcpu_total(slot);
    if (total != WORKERS * OPS)
        FAIL("lost %ld of %d increments\n", (long)(WORKERS * OPS - total), WORKERS * OPS);
    printf("total = %ld of %d\n", (long)total, WORKERS * OPS);
    return 0;
}
