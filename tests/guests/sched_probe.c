/* Scheduler behaviour seen from a guest; the scenario is argv[1]. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rseq_guest.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    sched_setaffinity(0, sizeof(s), &s);
}

/* Two threads on one CPU hand it to each other with sched_yield. */
static char trace[64];
static volatile int pos;
static void *yielder(void *arg)
{
    char me = (char)(uintptr_t)arg;
    pin(0);
    for (int i = 0; i < 8; i++) {
        trace[__atomic_fetch_add(&pos, 1, __ATOMIC_SEQ_CST)] = me;
        sched_yield();
    }
    return NULL;
}

static int yield(void)
{
    pthread_t a, b;
    pin(0);
    pthread_create(&a, NULL, yielder, (void *)(uintptr_t)'A');
    pthread_create(&b, NULL, yielder, (void *)(uintptr_t)'B');
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("%s\n", trace);
    return 0;
}

static int sleep_accuracy(void)
{
    struct timespec req = {0, 50000000};
    uint64_t t0 = now_ns();
    nanosleep(&req, NULL);
    uint64_t dt = now_ns() - t0;
    printf("slept %s\n", dt >= 50000000 && dt < 50100000 ? "50ms" : "wrong");
    return 0;
}

/* Sleepers wake in the order of their deadlines, whatever order they started in. */
static char wake_order[8];
static volatile int woken;
static void *sleeper(void *arg)
{
    int ms = (int)(uintptr_t)arg;
    struct timespec req = {0, ms * 1000000L};
    nanosleep(&req, NULL);
    wake_order[__atomic_fetch_add(&woken, 1, __ATOMIC_SEQ_CST)] = (char)('0' + ms / 10);
    return NULL;
}

static int timers(void)
{
    int ms[4] = {30, 10, 40, 20};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, sleeper, (void *)(uintptr_t)ms[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    printf("woke in order %s\n", wake_order);
    return 0;
}

/* More CPU-bound threads than CPUs: time slicing lets all of them finish. */
static volatile uint64_t sink[8];
static void *spin(void *arg)
{
    int id = (int)(uintptr_t)arg;
    for (uint64_t i = 0; i < 3000000; i++)
        sink[id] += i;
    return NULL;
}

static int progress(void)
{
    pthread_t t[6];
    for (int i = 0; i < 6; i++)
        pthread_create(&t[i], NULL, spin, (void *)(uintptr_t)i);
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    printf("all 6 threads finished\n");
    return 0;
}

/* Without pinning, the policy migrates a busy thread from time to time; the CPU number the
 * rseq area shows (sched_getcpu) always agrees with the getcpu syscall. */
static int migrations(void)
{
    int seen[64] = {0}, distinct = 0, disagree = 0;
    for (int i = 0; i < 4000; i++) {
        for (volatile int j = 0; j < 2000; j++)
            ;
        unsigned int cpu;
        syscall(SYS_getcpu, &cpu, NULL, NULL);
        int fast = sched_getcpu();
        disagree += fast != (int)cpu;
        if (fast >= 0 && fast < 64 && !seen[fast]++)
            distinct++;
    }
    printf("ran on %s CPU, rseq cpu_id agrees with getcpu: %s\n",
           distinct > 1 ? "more than one" : "one", disagree ? "no" : "yes");
    return 0;
}

/* Three threads each note their letter three times, entering the kernel in between. */
static char order_trace[16];
static volatile int order_pos;
static void *noter(void *arg)
{
    for (int i = 0; i < 3; i++) {
        order_trace[__atomic_fetch_add(&order_pos, 1, __ATOMIC_SEQ_CST)] = (char)(uintptr_t)arg;
        syscall(SYS_getppid);
    }
    return NULL;
}

static int order(void)
{
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, noter, (void *)(uintptr_t)('A' + i));
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    printf("%s\n", order_trace);
    return 0;
}

/* One thread waits for a flag another sets after some work: spinning with sched_yield, or
 * spinning without entering the kernel at all. */
static volatile int flag;
static void *setter(void *arg)
{
    (void)arg;
    for (volatile int i = 0; i < 20000; i++)
        ;
    flag = 1;
    return NULL;
}

static int wait_for_flag(int yield)
{
    pthread_t t;
    pthread_create(&t, NULL, setter, NULL);
    while (!flag)
        if (yield)
            sched_yield();
    pthread_join(t, NULL);
    printf("the flag is set\n");
    return 0;
}

/* A loop whose body is a critical section the program declares (and never arms) and which
 * jumps straight back to its first instruction: every pass enters the section. */
static int section_loop(void)
{
    long n = 1000;
    __asm__ volatile(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f)
#if defined(__x86_64__)
                         "1:\n\t"
                         "dec %[n]\n\t"
                         "jnz 1b\n\t"
                         "2:\n\t"
                         "jmp 5f\n\t"
#else
                         "1:\n\t"
                         "subs %[n], %[n], #1\n\t"
                         "b.ne 1b\n\t"
                         "2:\n\t"
                         "b 5f\n\t"
#endif
                         "4:\n\t"
                         "5:\n\t"
                     : [n] "+r"(n)
                     :
                     : "cc", "memory");
    printf("1000 passes\n");
    return (int)n;
}

static int cpus(void)
{
    printf("%ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    return 0;
}

int main(int argc, char **argv)
{
    const char *s = argc > 1 ? argv[1] : "";
    if (!strcmp(s, "yield"))
        return yield();
    if (!strcmp(s, "sleep"))
        return sleep_accuracy();
    if (!strcmp(s, "timers"))
        return timers();
    if (!strcmp(s, "progress"))
        return progress();
    if (!strcmp(s, "migrations"))
        return migrations();
    if (!strcmp(s, "cpus"))
        return cpus();
    if (!strcmp(s, "order"))
        return order();
    if (!strcmp(s, "yieldwait"))
        return wait_for_flag(1);
    if (!strcmp(s, "spinwait"))
        return wait_for_flag(0);
    if (!strcmp(s, "sectionloop"))
        return section_loop();
    fprintf(stderr, "usage: sched_probe yield|sleep|timers|progress|migrations|cpus|order|"
                    "yieldwait|spinwait|sectionloop\n");
    return 2;
}
