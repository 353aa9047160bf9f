/* mm_cid (spec 3.1) by the vectors of spec 9.3 (45-48), with glibc's rseq area.
 *   rseq_mm_cid          45, 46, 48, then re-executes itself confined to CPUs {2, 3} for 47. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rseq_guest.h"

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof(set), &set);
}

/* (cpu, mm_cid) of the calling thread, read between two equal cpu_id_start reads so that
 * both belong to one stay on one CPU. */
static void observe(int *cpu, uint32_t *cid)
{
    struct rseq_area *a = rseq_guest_glibc_area();
    for (;;) {
        uint32_t c1 = RSEQ_GUEST_READ(a->cpu_id_start);
        uint32_t id = RSEQ_GUEST_READ(a->mm_cid);
        if (RSEQ_GUEST_READ(a->cpu_id_start) == c1) {
            *cpu = (int)c1;
            *cid = id;
            return;
        }
    }
}

/* 46: B runs on CPU 1 while A, on CPU 0, reads. */
static volatile int b_ready, b_done;
static volatile uint32_t b_cid;
static void *concurrent(void *arg)
{
    (void)arg;
    pin(1);
    int cpu;
    uint32_t cid;
    observe(&cpu, &cid);
    b_cid = cid;
    b_ready = 1;
    while (!b_done) /* keep running while A looks */
        ;
    return NULL;
}

/* 47: eight threads on CPUs {2, 3}; which ids each CPU's threads ran with. */
#define CONFINED_THREADS 8
static volatile uint32_t seen[64]; /* bit per id, per CPU */
static volatile uint32_t max_cid;
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;

static void *confined(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        int cpu;
        uint32_t cid;
        observe(&cpu, &cid);
        pthread_mutex_lock(&seen_lock);
        seen[cpu & 63] |= 1u << (cid & 31);
        if (cid > max_cid)
            max_cid = cid;
        pthread_mutex_unlock(&seen_lock);
        if (i % 64 == 0)
            sched_yield();
    }
    return NULL;
}

static int vector_47(void)
{
    pthread_t th[CONFINED_THREADS];
    for (int i = 0; i < CONFINED_THREADS; i++)
        pthread_create(&th[i], NULL, confined, NULL);
    for (int i = 0; i < CONFINED_THREADS; i++)
        pthread_join(th[i], NULL);
    printf("47 %d threads on CPUs {2,3}: every mm_cid < 2: %s; CPUs 2 and 3 never shared an "
           "id: %s\n",
           CONFINED_THREADS, max_cid < 2 ? "yes" : "no", (seen[2] & seen[3]) == 0 ? "yes" : "no");
    return 0;
}

int main(int argc, char **argv, char **envp)
{
    if (!rseq_guest_glibc_area()) {
        printf("glibc did not register rseq\n");
        return 2;
    }
    if (argc > 1 && !strcmp(argv[1], "confined"))
        return vector_47();

    /* 45: a single thread has id 0 on every CPU. */
    int all_zero = 1, n = 0;
    for (int cpu = 0; cpu < 4; cpu++) {
        pin(cpu);
        int c;
        uint32_t id;
        observe(&c, &id);
        all_zero &= id == 0 && c == cpu;
        n++;
    }
    printf("45 single thread: mm_cid 0 on each of %d CPUs: %s\n", n, all_zero ? "yes" : "no");

    /* 46: two threads running at once have different ids, both below 2. */
    pin(0);
    pthread_t b;
    pthread_create(&b, NULL, concurrent, NULL);
    while (!b_ready)
        sched_yield();
    int cpu;
    uint32_t a_cid;
    observe(&cpu, &a_cid);
    b_done = 1;
    pthread_join(b, NULL);
    printf("46 A on CPU %d and B on CPU 1: ids differ: %s, both in {0, 1}: %s\n", cpu,
           a_cid != b_cid ? "yes" : "no", a_cid < 2 && b_cid < 2 ? "yes" : "no");

    /* 48: another process's thread may hold the same id. */
    volatile uint32_t *shared =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    shared[0] = 99;
    pid_t child = fork();
    if (child == 0) {
        uint32_t id;
        observe(&cpu, &id);
        shared[0] = id;
        _exit(0);
    }
    waitpid(child, NULL, 0);
    uint32_t parent_cid;
    observe(&cpu, &parent_cid);
    printf("48 parent and forked child both hold id 0: %s\n",
           parent_cid == 0 && shared[0] == 0 ? "yes" : "no");
    fflush(stdout);

    /* 47, from its start: confined to {2, 3} before execve makes its memory map. */
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(2, &set);
    CPU_SET(3, &set);
    sched_setaffinity(0, sizeof(set), &set);
    char *args[] = {argv[0], "confined", NULL};
    execve("/proc/self/exe", args, envp);
    printf("execve failed\n");
    return 1;
}
