/* Never ends: spins on a variable that never changes, without a system call. rseqemu must
 * stop it with exit code 124 once --max-insns is exhausted. */
#include <stdio.h>

static volatile int stop;

int main(void)
{
    printf("spinning\n");
    fflush(stdout);
    unsigned long n = 0;
    while (!stop)
        n++;
    return (int)(n & 1);
}
