/* Pins itself to each online CPU in turn; sched_getcpu() must follow at once, because the
 * kernel migrates the thread before sched_setaffinity returns. The online CPUs are those of its
 * affinity mask, which need not be 0..n-1: with CPUs offline (rseqemu run --offline 1,3) they
 * have gaps. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t all;
    if (sched_getaffinity(0, sizeof(all), &all) != 0) {
        perror("sched_getaffinity");
        return 1;
    }
    printf("%ld online CPUs, %d in the affinity mask\n", n, CPU_COUNT(&all));
    int bad = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &all))
            continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        if (sched_setaffinity(0, sizeof(one), &one) != 0) {
            perror("sched_setaffinity");
            return 1;
        }
        int now = sched_getcpu();
        printf("pinned to CPU %d: sched_getcpu() = %d\n", cpu, now);
        bad += now != cpu;
    }
    sched_setaffinity(0, sizeof(all), &all);
    return bad ? 1 : 0;
}
