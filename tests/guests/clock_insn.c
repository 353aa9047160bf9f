/* Reads the CPU's own clock (rdtsc / cntvct_el0), which must follow virtual time, not the
 * host's. */
#include <stdint.h>
#include <stdio.h>

static uint64_t read_clock(void)
{
#if defined(__x86_64__)
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
#elif defined(__aarch64__)
    uint64_t v;
    __asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
    return v;
#endif
}

int main(void)
{
    uint64_t a = read_clock();
    for (volatile int i = 0; i < 1000000; i++)
        ;
    uint64_t b = read_clock();
    printf("first %llu\nsecond %llu\ndelta %llu\n", (unsigned long long)a, (unsigned long long)b,
           (unsigned long long)(b - a));
    return 0;
}
