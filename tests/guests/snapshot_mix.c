/* A run with something of everything a snapshot must bring back: threads that start and end,
 * mappings made, written and removed (some made before any snapshot point), madvise, a fork
 * whose child ends, signals sent and pending, rseq registered by glibc, and memory reused by
 * malloc. Deterministic output: the sums it computes. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUNDS  6
#define THREADS 3

static volatile sig_atomic_t signals_seen;
static uint8_t *early; /* mapped before the first snapshot point, removed near the end */

static void on_usr1(int sig)
{
    (void)sig;
    signals_seen++;
}

static uint64_t churn(unsigned seed, size_t pages)
{
    uint8_t *p =
        mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 0;
    uint64_t sum = 0;
    for (size_t i = 0; i < pages * 4096; i += 64) {
        p[i] = (uint8_t)(seed + i);
        sum += p[i];
    }
    madvise(p, 4096, MADV_DONTNEED);
    sum += p[0];
    munmap(p + 4096, 4096); /* a hole in the middle */
    munmap(p, pages * 4096);
    return sum;
}

static void *worker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    uint64_t sum = 0;
    for (int i = 0; i < 40; i++) {
        sum += churn(id * 31 + (unsigned)i, 3 + (size_t)(i % 4));
        char *m = malloc(100 + (size_t)i * 10);
        memset(m, (int)id, 100);
        sum += (uint8_t)m[7];
        free(m);
        early[id * 4096 + (size_t)i] += (uint8_t)i;
        if (i % 8 == 0)
            sched_yield();
    }
    return (void *)(uintptr_t)sum;
}

int main(void)
{
    signal(SIGUSR1, on_usr1);
    early = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint64_t total = 0;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_t th[THREADS];
        for (int i = 0; i < THREADS; i++)
            pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + r));
        pthread_kill(th[r % THREADS], SIGUSR1);
        raise(SIGUSR1);
        for (int i = 0; i < THREADS; i++) {
            void *ret;
            pthread_join(th[i], &ret);
            total += (uintptr_t)ret;
        }
        if (r % 2 == 1) {
            pid_t pid = fork();
            if (pid == 0) {
                early[0] = 99; /* the child's copy only */
                _exit((int)(churn(7, 2) & 0x3f));
            }
            int status = 0;
            waitpid(pid, &status, 0);
            total += (uint64_t)WEXITSTATUS(status);
        }
    }
    uint64_t e = 0;
    for (int i = 0; i < 16 * 4096; i++)
        e += early[i];
    munmap(early, 16 * 4096);
    printf("total %llu early %llu signals %d\n", (unsigned long long)total, (unsigned long long)e,
           (int)signals_seen);
    return 0;
}
