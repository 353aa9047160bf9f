/* A deliberate data race: four threads increment one counter without synchronization. How many
 * increments are lost depends on where the threads interleave, so different seeds print
 * different totals (and a real machine prints a different one every time). */
#include <pthread.h>
#include <stdio.h>

#define THREADS    4
#define ITERATIONS 200000

static volatile long counter;

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITERATIONS; i++)
        counter = counter + 1; /* load, add, store: not atomic */
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    printf("counter = %ld of %d\n", counter, THREADS * ITERATIONS);
    return 0;
}
