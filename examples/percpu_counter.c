/* A per-CPU counter on rseq, done right: each thread adds to the slot of the CPU it runs on
 * inside a critical section (guest/include/rseq_guest.h), using the area glibc registered for
 * it, and retries when the kernel aborts the section. No atomic instruction anywhere, and no
 * increment is lost however the threads are preempted, migrated or signalled; run it with
 * --stats to see how often the emulator aborted a section. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "rseq_guest.h"

#define THREADS    4
#define ITERATIONS 50000
#define CPUS_MAX   64

/* One cache line per CPU, as real per-CPU data would be laid out. */
static struct {
    intptr_t count;
    char pad[64 - sizeof(intptr_t)];
} slot[CPUS_MAX];

static void *worker(void *arg)
{
    (void)arg;
    struct rseq_area *area = rseq_guest_glibc_area();
    for (int i = 0; i < ITERATIONS; i++) {
        for (;;) {
            int cpu = (int)RSEQ_GUEST_READ(area->cpu_id_start);
            if (rseq_guest_addv(area, &slot[cpu].count, 1, cpu) == 0)
                break;
        }
    }
    return NULL;
}

int main(void)
{
    if (!rseq_guest_glibc_area()) {
        printf("glibc did not register rseq\n");
        return 1;
    }
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
