/* A per-CPU counter whose rseq fast path has a cpu_opv slow path (the RFC's use case 2, per-CPU
 * statistics counters). Each increment adds to the slot of the CPU the thread runs on inside an
 * rseq critical section; when that section has aborted twice in a row, and every 32nd time
 * regardless so that the slow path runs often, the increment is a cpu_opv ADD on the slot of the
 * CPU the thread read, wherever it runs by then. cpu_opv runs the add as an IPI on that CPU, so
 * it cannot land inside a critical section running there: that section aborts and retries. A
 * plain atomic add from another CPU would not have that effect (examples/opv_wrong.c).
 *
 * The total is exact whatever the schedule. Without cpu_opv (Linux answers ENOSYS) the slow path
 * is another try of the section, as in examples/percpu_counter.c. Run it with --stats to see
 * rseq_aborts, cpu_opv_calls and cpu_opv_ipis. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "opv_common.h"

#define THREADS    4
#define ITERATIONS 25000
#define SLOW_EVERY 32 /* every 32nd increment takes the slow path on purpose */

static struct {
    intptr_t count;
    char pad[64 - sizeof(intptr_t)];
} slot[CPUS_MAX];

static int have_cpu_opv;

static void increment(struct rseq_area *area, int i)
{
    int aborts = i % SLOW_EVERY == 0 ? 2 : 0;
    int cpu = rseq_cpu(area);
    while (aborts < 2 || !have_cpu_opv) {
        if (rseq_guest_addv(area, &slot[cpu].count, 1, cpu) == 0)
            return;
        if (++aborts < 2 || !have_cpu_opv)
            cpu = rseq_cpu(area);
    }
    /* After the second abort the thread may well run elsewhere (a migration is one cause of
     * aborts): the add still goes to the slot it meant, as an IPI on that slot's CPU. */
    struct cpu_op add = cpu_op_add(CPU_ADD_OP, &slot[cpu].count, 1, sizeof(intptr_t));
    int ret = cpu_opv(&add, 1, cpu, 0);
    if (ret != 0)
        FAIL("cpu_opv ADD on CPU %d: %d\n", cpu, ret);
}

static void *worker(void *arg)
{
    (void)arg;
    struct rseq_area *area = rseq_area_or_fail();
    for (int i = 0; i < ITERATIONS; i++)
        increment(area, i);
    return NULL;
}

int main(void)
{
    rseq_area_or_fail();
    have_cpu_opv = cpu_opv_available();
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    intptr_t total = 0;
    for (int c = 0; c < CPUS_MAX; c++)
        total += slot[c].count;
    printf("total = %ld of %d\n", (long)total, THREADS * ITERATIONS);
    return total == THREADS * ITERATIONS ? 0 : 1;
}
