/* Deliberately wrong: a per-CPU counter whose cpu_opv slow path targets the wrong CPU. Each of
 * four threads adds 1 to the slot of the CPU it runs on 1000 times with an rseq section
 * (pcpu_add, boundary.h); after an abort, and every 16th time regardless so that the slow path
 * runs often, the increment is a cpu_opv ADD on the slot of the CPU read at the start, X, as in
 * examples/opv_counter.c. But the vector is sent to the CPU the thread runs on when it makes the
 * call (sched_getcpu()), not to X. cpu_opv is atomic with respect to what runs on the CPU it
 * targets, and only there does it abort the section it interrupts; after a migration that CPU is
 * not X, and the add lands on X's slot with nothing stopped there.
 *
 * Migrate a thread on any instruction of pcpu_add's section, or, on the forced slow path,
 * between rseq_cpu()'s read of cpu_id_start and sched_getcpu()'s read of cpu_id in add_slow():
 * the thread reaches the cpu_opv call on the new CPU, and the vector runs there, on X's slot,
 * while the thread the migration put on X is incrementing that slot in its own sections. If the
 * vector runs between such a section's load and its store, the store writes over the add and the
 * increment is lost. The race needs X's thread to be inside its section at the instant of the
 * call. A preemption or a signal there is harmless: the thread comes back to X, and the target is
 * right.
 *
 * With -DTWIN (opv_wrong_cpu_ok) the vector targets X: it runs as an IPI on X, which aborts the
 * section running there, so that the section's retry loads the slot again after the add.
 *
 * Without cpu_opv (Linux answers ENOSYS) both only retry their section on the CPU they run on,
 * and print the same. Prints `total = 4000 of 4000`, or how many increments were lost (exit 1). */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>

#include "boundary.h"

#define WORKERS    4
#define OPS        1000 /* per worker */
#define SLOW_EVERY 16   /* every 16th increment takes the slow path on purpose */

static struct pcpu_count slot[CPUS_MAX];
static int have_cpu_opv;

/* Adds 1 to the slot of CPU x with cpu_opv, from whatever CPU the thread runs on. */
static __attribute__((noinline)) void add_slow(int x)
{
    struct cpu_op add = cpu_op_add(CPU_ADD_OP, &slot[x].count, 1, sizeof(intptr_t));
#ifdef TWIN
    int target = x;
#else
    int target = sched_getcpu(); /* the bug: the CPU the thread runs on, not X */
#endif
    int ret = cpu_opv(&add, 1, target, 0);
    if (ret != 0)
        FAIL("cpu_opv ADD on CPU %d: %d\n", target, ret);
}

static void increment(struct rseq_area *area, int i)
{
    int cpu = rseq_cpu(area);
    if (!have_cpu_opv || i % SLOW_EVERY != 0) {
        for (;;) {
            if (pcpu_add(area, &slot[cpu].count, cpu) == 0)
                return;
            if (have_cpu_opv)
                break; /* finish on the slot chosen, through cpu_opv */
            cpu = rseq_cpu(area);
        }
    }
    add_slow(cpu);
}

static void *worker(void *arg)
{
    (void)arg;
    struct rseq_area *area = rseq_area_or_fail();
    start_together();
    for (int i = 0; i < OPS; i++)
        increment(area, i);
    return NULL;
}

int main(void)
{
    rseq_area_or_fail();
    have_cpu_opv = cpu_opv_available();
    run_threads(WORKERS, worker);
    intptr_t total = pcpu_total(slot);
    if (total != WORKERS * OPS)
        FAIL("lost %ld of %d increments\n", (long)(WORKERS * OPS - total), WORKERS * OPS);
    printf("total = %ld of %d\n", (long)total, WORKERS * OPS);
    return 0;
}
