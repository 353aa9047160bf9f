/* Deliberately wrong: a double-buffered per-CPU counter whose collector flips the buffers
 * without waiting for the readers. Three reader threads count 1000 events each in the slot of
 * the CPU they run on, in one of two arrays: a section checks the CPU, loads the epoch, the
 * number of flips so far, adds 1 to the slot of array epoch & 1 and stores it (count_event). A
 * collector thread, after every 100 events or so, flips: it increments the epoch, then reads the
 * old array, which it takes to hold exactly the events of the epoch that just ended, and clears
 * it for the epoch after next (the scheme of LTTng-UST's and of snapshotting counters). Each
 * reader also notes the epoch every event went into, and the run checks that each epoch's
 * collected count is what its readers counted in it.
 *
 * The bug: nothing makes the readers' sections that loaded the old epoch finish before the
 * collector reads. Stall a reader on any instruction of count_event after its load of the epoch,
 * up to and including the store that commits (with no rseq event, as when a vCPU stops or an
 * interrupt takes long), while the collector runs on another CPU: the collector flips, collects
 * and clears the old array, then the reader commits into it, and its event is missing from the
 * epoch it was counted in (and turns up in a later one). A preemption there is harmless: it
 * aborts the section, whose retry loads the new epoch.
 *
 * With -DTWIN (flip_nofence_ok) the process registers for membarrier's rseq fence, and the
 * collector calls membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) after the flip: it aborts the
 * section running on every CPU, so that no section that loaded the old epoch can commit
 * afterwards, and those that committed before are visible to the collector.
 *
 * Prints `total = 3000 of 3000`, or the first epoch that came out wrong (exit 1). */
#define _GNU_SOURCE
#include <linux/membarrier.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "boundary.h"

#define READERS    3
#define OPS        1000 /* events counted by each reader */
#define FLIP_EVERY 100  /* events, of all readers together, between flips */
#define FLIPS_MAX  (READERS * OPS / FLIP_EVERY)

static uint64_t epoch; /* flips so far: readers count into array epoch & 1 */
static struct {
    intptr_t count[2];
    char pad[64 - 2 * sizeof(intptr_t)];
} slot[CPUS_MAX];

static long collected[FLIPS_MAX + 1]; /* by epoch, what the collector found */
static long counted[READERS][FLIPS_MAX + 1];
static long progress[READERS]; /* events counted so far, for the collector's pace */
static int finished;           /* readers done */

#if defined(__x86_64__)
/* counts[epoch & 1] += 1 on CPU cpu: 0 when done, with the epoch in *seen; 1 when the section
 * aborted or runs elsewhere. */
static __attribute__((noinline)) int count_event(struct rseq_area *area, int cpu, uint64_t *seen)
{
    uint64_t e;
    // clang-format off
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f)
                              "leaq 3b(%%rip), %%rax\n\t"
                              "movq %%rax, 8(%[area])\n\t"
                              "1:\n\t"
                              "cmpl %[cpu], 4(%[area])\n\t"
                              "jnz 4f\n\t"
                              "movq %[epoch], %[e]\n\t"
                              "movq %[e], %%rdx\n\t"
                              "andl $1, %%edx\n\t"
                              "movq (%[counts], %%rdx, 8), %%rax\n\t"
                              "addq $1, %%rax\n\t"
                              "movq %%rax, (%[counts], %%rdx, 8)\n\t"
                              "2:\n\t"
                              ".pushsection __rseq_failure, \"ax\"\n\t"
                              RSEQ_GUEST_SIG_ASM
                              "4:\n\t"
                              "jmp %l[aborted]\n\t"
                              ".popsection\n\t"
                              : [e] "=&r"(e)
                              : [area] "r"(area), [cpu] "r"(cpu), [epoch] "m"(epoch),
                                [counts] "r"(slot[cpu].count)
                              : "memory", "cc", "rax", "rdx"
                              : aborted);
    // clang-format on
    *seen = e;
    return 0;
aborted:
    return 1;
}
#elif defined(__aarch64__)
static __attribute__((noinline)) int count_event(struct rseq_area *area, int cpu, uint64_t *seen)
{
    uint64_t e;
    // clang-format off
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f)
                              RSEQ_GUEST_ARM(3b)
                              "1:\n\t"
                              "ldr w16, [%[area], #4]\n\t"
                              "cmp w16, %w[cpu]\n\t"
                              "bne 4f\n\t"
                              "ldr %[e], %[epoch]\n\t"
                              "and x15, %[e], #1\n\t"
                              "ldr x16, [%[counts], x15, lsl #3]\n\t"
                              "add x16, x16, #1\n\t"
                              "str x16, [%[counts], x15, lsl #3]\n\t"
                              "2:\n\t"
                              "b 5f\n\t"
                              RSEQ_GUEST_SIG_ASM
                              "4:\n\t"
                              "b %l[aborted]\n\t"
                              "5:\n\t"
                              : [e] "=&r"(e)
                              : [area] "r"(area), [cpu] "r"(cpu), [epoch] "Q"(epoch),
                                [counts] "r"(slot[cpu].count)
                              : "memory", "cc", "x15", "x16", "x17"
                              : aborted);
    // clang-format on
    *seen = e;
    return 0;
aborted:
    return 1;
}
#endif

static void reader(int r)
{
    struct rseq_area *area = rseq_area_or_fail();
    for (int i = 0; i < OPS; i++) {
        uint64_t e;
        while (count_event(area, rseq_cpu(area), &e) != 0)
            ;
        counted[r][e]++;
        __atomic_store_n(&progress[r], i + 1, __ATOMIC_RELAXED);
    }
    __atomic_add_fetch(&finished, 1, __ATOMIC_RELEASE);
}

static long events_so_far(void)
{
    long n = 0;
    for (int r = 0; r < READERS; r++)
        n += __atomic_load_n(&progress[r], __ATOMIC_RELAXED);
    return n;
}

/* Ends the epoch: what its array holds is its count, and the array starts empty for the epoch
 * after next. */
static void flip(void)
{
    uint64_t e = epoch; /* only the collector writes it */
    __atomic_store_n(&epoch, e + 1, __ATOMIC_SEQ_CST);
#ifdef TWIN
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0))
        FAIL("membarrier rseq fence failed\n");
#endif
    long sum = 0;
    for (int c = 0; c < CPUS_MAX; c++) {
        sum += slot[c].count[e & 1];
        slot[c].count[e & 1] = 0;
    }
    collected[e] = sum;
}

static void collector(void)
{
    for (long f = 1; f <= FLIPS_MAX; f++) {
        while (events_so_far() < f * FLIP_EVERY &&
               __atomic_load_n(&finished, __ATOMIC_ACQUIRE) < READERS)
            sched_yield();
        if (__atomic_load_n(&finished, __ATOMIC_ACQUIRE) == READERS)
            break;
        flip();
    }
}

static void *thread(void *arg)
{
    int id = (int)(intptr_t)arg;
    start_together();
    if (id == READERS)
        collector();
    else
        reader(id);
    return NULL;
}

int main(void)
{
    rseq_area_or_fail();
#ifdef TWIN
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0))
        FAIL("membarrier cannot register for the rseq fence\n");
#endif
    run_threads(READERS + 1, thread);
    /* Alone now: the current epoch is collected, and nothing may be left in the other array. */
    uint64_t last = epoch;
    long total = 0, stray = 0;
    for (int c = 0; c < CPUS_MAX; c++) {
        collected[last] += slot[c].count[last & 1];
        stray += slot[c].count[(last & 1) ^ 1];
    }
    for (uint64_t e = 0; e <= last; e++) {
        long want = 0;
        for (int r = 0; r < READERS; r++)
            want += counted[r][e];
        if (collected[e] != want)
            FAIL("epoch %ld collected %ld of its %ld events: a section committed into it after "
                 "the flip\n",
                 (long)e, collected[e], want);
        total += collected[e];
    }
    if (stray || total != READERS * OPS)
        FAIL("%ld events left after the last collection, %ld of %d collected\n", stray, total,
             READERS * OPS);
    printf("total = %ld of %d\n", total, READERS * OPS);
    return 0;
}
