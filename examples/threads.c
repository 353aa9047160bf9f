/* Eight threads share a counter under a mutex, allocate and free memory, and report their end
 * through a condition variable; main joins them all. The output does not depend on the
 * schedule, so every seed and CPU count must print the same. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS    8
#define ITERATIONS 2000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_done = PTHREAD_COND_INITIALIZER;
static long counter;
static int finished;
static long checksum[THREADS];

static void *worker(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < ITERATIONS; i++) {
        size_t size = 16 + (size_t)((i * 37 + id * 11) % 500);
        unsigned char *p = malloc(size);
        if (!p)
            abort();
        memset(p, (int)(id + i) & 0xff, size);
        checksum[id] += p[size - 1];
        free(p);
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
    }
    pthread_mutex_lock(&lock);
    finished++;
    pthread_cond_signal(&all_done);
    pthread_mutex_unlock(&lock);
    return (void *)(id * 100);
}

int main(void)
{
    pthread_t threads[THREADS];
    for (long i = 0; i < THREADS; i++)
        if (pthread_create(&threads[i], NULL, worker, (void *)i) != 0) {
            perror("pthread_create");
            return 1;
        }
    pthread_mutex_lock(&lock);
    while (finished < THREADS)
        pthread_cond_wait(&all_done, &lock);
    pthread_mutex_unlock(&lock);
    long joined = 0, sum = 0;
    for (long i = 0; i < THREADS; i++) {
        void *ret;
        if (pthread_join(threads[i], &ret) != 0) {
            perror("pthread_join");
            return 1;
        }
        joined += (long)ret;
        sum += checksum[i];
    }
    printf("counter = %ld (expected %d)\n", counter, THREADS * ITERATIONS);
    printf("joined %d threads, return values sum to %ld\n", THREADS, joined);
    printf("malloc checksum = %ld\n", sum);
    return counter == THREADS * ITERATIONS ? 0 : 1;
}
