/* Deadlocks on purpose: two threads each wait on a condition variable that nobody signals,
 * and main joins the first of them. Every thread is blocked forever, with no timer pending,
 * so rseqemu must stop with exit code 125 and name the blocked threads. */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static int signalled;

static void *waiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!signalled)
        pthread_cond_wait(&never, &lock);
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(void)
{
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, waiter, NULL) != 0) {
            perror("pthread_create");
            return 1;
        }
    printf("two waiters started; joining one\n");
    fflush(stdout);
    pthread_join(t[0], NULL);
    printf("unreachable\n");
    return 0;
}
