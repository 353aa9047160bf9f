/* Driver of the benchmark guests: `PROG THREADS ITERATIONS` runs bench_kernel(ITERATIONS) in
 * THREADS pthreads and prints the kernel's value and the combined checksum, so that every
 * engine's output can be compared. The kernel itself lives in its own translation unit and
 * makes no calls, uses no TLS and no syscalls, so that bench/raw_unicorn can run it alone. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_kernel.h"

#define MAX_THREADS 64

static uint64_t iterations;
static uint64_t results[MAX_THREADS];

static void *worker(void *arg)
{
    uint64_t *out = arg;
    *out = bench_kernel(iterations);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s THREADS ITERATIONS\n", argv[0]);
        return 2;
    }
    char *end;
    unsigned long threads = strtoul(argv[1], &end, 0);
    if (*end || threads < 1 || threads > MAX_THREADS) {
        fprintf(stderr, "THREADS must be 1..%d\n", MAX_THREADS);
        return 2;
    }
    iterations = strtoull(argv[2], &end, 0);
    if (*end) {
        fprintf(stderr, "ITERATIONS must be a number\n");
        return 2;
    }
    pthread_t tids[MAX_THREADS];
    for (unsigned long i = 0; i < threads; i++)
        if (pthread_create(&tids[i], NULL, worker, &results[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    uint64_t checksum = 0;
    for (unsigned long i = 0; i < threads; i++) {
        pthread_join(tids[i], NULL);
        /* Every thread runs the same deterministic kernel. */
        if (results[i] != results[0]) {
            fprintf(stderr, "thread %lu computed %#" PRIx64 ", thread 0 %#" PRIx64 "\n", i,
                    results[i], results[0]);
            return 1;
        }
        checksum = checksum * 0x100000001b3u + results[i];
    }
    printf("kernel 0x%016" PRIx64 "\n", results[0]);
    printf("checksum 0x%016" PRIx64 "\n", checksum);
    return 0;
}
