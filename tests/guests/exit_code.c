/* Exits with the status given as its first argument (default 42). With a second argument
 * "thread", a second thread calls exit() while main is blocked in pthread_join. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int status = 42;

static void *exiter(void *arg)
{
    (void)arg;
    exit(status);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        status = atoi(argv[1]);
    printf("exiting with %d\n", status);
    fflush(stdout);
    if (argc > 2 && !strcmp(argv[2], "thread")) {
        pthread_t t;
        pthread_create(&t, NULL, exiter, NULL);
        pthread_join(t, NULL);
        return 1; /* unreachable */
    }
    return status;
}
