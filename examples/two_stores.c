/* Deliberately wrong: a critical section that commits with two stores. Each of four threads
 * records 1000 values in per-CPU statistics, a sum and a count in the slot of the CPU it runs
 * on, with one section that checks the CPU, adds the value to the sum and 1 to the count. Both
 * stores are inside the section, which looks safe; but only a section's last store can commit,
 * since an abort after the first leaves it done and the retry does it again.
 *
 * Abort a thread (preempt, migrate or signal it) on the instructions between the two stores:
 * add_sample's update of the count, after the sum's store (on x86-64 the one add to memory of
 * the count, on aarch64 its load, add and store). The kernel moves it to the abort handler with
 * the value already in the sum; the thread retries, on whatever CPU it is on then, and adds the
 * value once more. At the end the sums exceed the values recorded while the counts agree.
 *
 * With -DTWIN (two_stores_ok) the count and the sum share one 64-bit word, the count in its high
 * half, and the section commits both with a single add: aborted anywhere, it has done nothing.
 *
 * Prints `count = 4000 of 4000, sum = 33872 of 33872`, or the sum that came out wrong (exit 1). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>

#include "boundary.h"

#define WORKERS 4
#define OPS     1000 /* values recorded by each worker */

/* The i-th value each worker records: 1 to 16, 8.5 on average. */
static intptr_t value(int i) { return 1 + i % 16; }

#ifdef TWIN
/* count << 32 | sum: both fit, as no CPU takes more than 4000 values of at most 16. */
static struct {
    uint64_t packed;
    char pad[64 - sizeof(uint64_t)];
} slot[CPUS_MAX];
#else
static struct {
    intptr_t sum, count;
    char pad[64 - 2 * sizeof(intptr_t)];
} slot[CPUS_MAX];
#endif

#if defined(__x86_64__)
#ifdef TWIN
/* packed += 1 << 32 | v on CPU cpu: 0 when done, 1 when the section aborted or runs elsewhere. */
static __attribute__((noinline)) int add_sample(struct rseq_area *area, int cpu, intptr_t v)
{
    uint64_t delta = (UINT64_C(1) << 32) + (uint64_t)v;
    // clang-format off
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f)
                              "leaq 3b(%%rip), %%rax\n\t"
                              "movq %%rax, 8(%[area])\n\t"
                              "1:\n\t"
                              "cmpl %[cpu], 4(%[area])\n\t"
                              "jnz 4f\n\t"
                              "addq %[delta], %[packed]\n\t"
                              "2:\n\t"
                              ".pushsection __rseq_failure, \"ax\"\n\t"
                              RSEQ_GUEST_SIG_ASM
                              "4:\n\t"
                              "jmp %l[aborted]\n\t"
                              ".popsection\n\t"
                              :
                              : [area] "r"(area), [cpu] "r"(cpu), [delta] "r"(delta),
                                [packed] "m"(slot[cpu].packed)
                              : "memory", "cc", "rax"
                              : aborted);
    // clang-format on
    return 0;
aborted:
    return 1;
}
#else
/* sum += v, count += 1 on CPU cpu: 0 when done, 1 when the section aborted or runs elsewhere. */
static __attribute__((noinline)) int add_sample(struct rseq_area *area, int cpu, intptr_t v)
{
    // clang-format off
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f)
                              "leaq 3b(%%rip), %%rax\n\t"
                              "movq %%rax, 8(%[area])\n\t"
                              "1:\n\t"
                              "cmpl %[cpu], 4(%[area])\n\t"
                              "jnz 4f\n\t"
                              "addq %[v], %[sum]\n\t"
                              "addq $1, %[count]\n\t" /* the bug: a second store */
                              "2:\n\t"
                              ".pushsection __rseq_failure, \"ax\"\n\t"
                              RSEQ_GUEST_SIG_ASM
                              "4:\n\t"
                              "jmp %l[aborted]\n\t"
                              ".popsection\n\t"
                              :
                              : [area] "r"(area), [cpu] "r"(cpu), [v] "r"(v),
                                [sum] "m"(slot[cpu].sum), [count] "m"(slot[cpu].count)
                              : "memory", "cc", "rax"
                              : aborted);
    // clang-format on
    return 0;
aborted:
    return 1;
}
#endif
#elif defined(__aarch64__)
#ifdef TWIN
static __attribute__((noinline)) int add_sample(struct rseq_area *area, int cpu, intptr_t v)
{
    uint64_t delta = (UINT64_C(1) << 32) + (uint64_t)v;
    // clang-format off
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f)
                              RSEQ_GUEST_ARM(3b)
                              "1:\n\t"
                              "ldr w16, [%[area], #4]\n\t"
                              "cmp w16, %w[cpu]\n\t"
                              "bne 4f\n\t"
                              "ldr x16, %[packed]\n\t"
                              "add x16, x16, %[delta]\n\t"
                              "str x16, %[packed]\n\t"
                              "2:\n\t"
                              "b 5f\n\t"
                              RSEQ_GUEST_SIG_ASM
                              "4:\n\t"
                              "b %l[aborted]\n\t"
                              "5:\n\t"
                              :
                              : [area] "r"(area), [cpu] "r"(cpu), [delta] "r"(delta),
                                [packed] "Q"(slot[cpu].packed)
                              : "memory", "cc", "x16", "x17"
                              : aborted);
    // clang-format on
    return 0;
aborted:
    return 1;
}
#else
static __attribute__((noinline)) int add_sample(struct rseq_area *area, int cpu, intptr_t v)
{
    // clang-format off
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f)
                              RSEQ_GUEST_ARM(3b)
                              "1:\n\t"
                              "ldr w16, [%[area], #4]\n\t"
                              "cmp w16, %w[cpu]\n\t"
                              "bne 4f\n\t"
                              "ldr x16, %[sum]\n\t"
                              "add x16, x16, %[v]\n\t"
                              "str x16, %[sum]\n\t"
                              "ldr x16, %[count]\n\t" /* the bug: a second store */
                              "add x16, x16, #1\n\t"
                              "str x16, %[count]\n\t"
                              "2:\n\t"
                              "b 5f\n\t"
                              RSEQ_GUEST_SIG_ASM
                              "4:\n\t"
                              "b %l[aborted]\n\t"
                              "5:\n\t"
                              :
                              : [area] "r"(area), [cpu] "r"(cpu), [v] "r"(v),
                                [sum] "Q"(slot[cpu].sum), [count] "Q"(slot[cpu].count)
                              : "memory", "cc", "x16", "x17"
                              : aborted);
    // clang-format on
    return 0;
aborted:
    return 1;
}
#endif
#endif

static void *worker(void *arg)
{
    (void)arg;
    struct rseq_area *area = rseq_area_or_fail();
    start_together();
    for (int i = 0; i < OPS; i++)
        while (add_sample(area, rseq_cpu(area), value(i)) != 0)
            ;
    return NULL;
}

int main(void)
{
    rseq_area_or_fail();
    run_threads(WORKERS, worker);
    long sum = 0, count = 0, want = 0;
    for (int c = 0; c < CPUS_MAX; c++) {
#ifdef TWIN
        sum += (long)(slot[c].packed & 0xffffffff);
        count += (long)(slot[c].packed >> 32);
#else
        sum += slot[c].sum;
        count += slot[c].count;
#endif
    }
    for (int i = 0; i < OPS; i++)
        want += WORKERS * value(i);
    if (sum != want || count != WORKERS * OPS)
        FAIL("sum = %ld of %ld with count = %ld of %d: an aborted section added values twice\n",
             sum, want, count, WORKERS * OPS);
    printf("count = %ld of %d, sum = %ld of %ld\n", count, WORKERS * OPS, sum, want);
    return 0;
}
