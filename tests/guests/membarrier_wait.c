/* How long membarrier's rseq fence keeps its caller (spec 4.2 steps 3 and 4: the caller sends
 * the IPIs and waits for them). Thread B spins on CPU 1 outside any critical section; the main
 * thread, on CPU 0, times each fence on CLOCK_MONOTONIC and prints the nanoseconds:
 *   to CPU 1 (B runs there: one IPI), to CPU 0 (its own: the handler runs locally),
 *   to CPU 2 (idle: no IPI), to every CPU (B's: one IPI). */
#define _GNU_SOURCE
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile int running, stop;

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set))
        exit(2);
}

static void *spinner(void *arg)
{
    (void)arg;
    pin(1);
    running = 1;
    while (!stop)
        ;
    return NULL;
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void fence(const char *what, int flags, int cpu)
{
    long long t0 = now_ns();
    long rc = syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, flags, cpu);
    long long t1 = now_ns();
    printf("%s: %ld %lld\n", what, rc, t1 - t0);
}

int main(void)
{
    pin(0);
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0))
        return 2;
    pthread_t b;
    if (pthread_create(&b, NULL, spinner, NULL))
        return 2;
    while (!running)
        sched_yield();
    fence("cpu1", MEMBARRIER_CMD_FLAG_CPU, 1);
    fence("cpu0", MEMBARRIER_CMD_FLAG_CPU, 0);
    fence("cpu2", MEMBARRIER_CMD_FLAG_CPU, 2);
    fence("all", 0, 0);
    stop = 1;
    pthread_join(b, NULL);
    return 0;
}
