/* Deliberately wrong: a per-CPU counter whose abort handler retries on the CPU it started on.
 * Each of four threads adds 1 to the slot of the CPU it runs on 1000 times, in add_on_cpu(): it
 * computes the slot's address from the CPU number read before, arms the section, compares cpu_id
 * with that number (returning to re-read it if they differ), then loads, adds and stores. The
 * abort handler retries in place: it re-arms the section and jumps back to the load, past the
 * CPU check, with the slot it computed at the start, as if an abort could only mean a
 * preemption, after which the thread is back on its CPU.
 *
 * Migrate a thread on any instruction of the section (add_on_cpu's CPU check, load, add or
 * store): the kernel aborts it, and on the new CPU the handler redoes the whole update on the old
 * CPU's slot, which the thread the migration put on the old CPU is incrementing meanwhile.
 * Nothing serializes the two: when one's store lands between the other's load and store, an
 * increment is lost. The race needs the two CPUs to interleave finely for the few instructions
 * of the stale retry. A preemption or a signal there is harmless: the thread comes back to its
 * CPU, and the retry's slot is the right one. The retry never spins on the CPU check, so a
 * moved thread makes its one stale update and goes on; the bug shows as a lost increment, never
 * as a hang.
 *
 * With -DTWIN (stale_retry_ok) the handler reads cpu_id_start again, recomputes the slot from it
 * and goes back through the CPU check.
 *
 * Prints `total = 4000 of 4000`, or how many increments were lost (exit 1). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>

#include "boundary.h"

#define WORKERS 4
#define OPS     1000 /* per worker */

static struct pcpu_count slot[CPUS_MAX];
_Static_assert(sizeof(struct pcpu_count) == 64, "the sections index slots by cpu << 6");

#if defined(__x86_64__)
#ifdef TWIN
/* Read the CPU again, point at its slot, re-arm and check. */
#define RETRY                                                                                      \
    "movl (%[area]), %%ecx\n\t"                                                                    \
    "movq %%rcx, %%rdx\n\t"                                                                        \
    "shlq $6, %%rdx\n\t"                                                                           \
    "addq %[slot], %%rdx\n\t"                                                                      \
    "jmp 6b\n\t"
#else
/* The bug: re-arm and redo the update on the same slot, past the CPU check. */
#define RETRY                                                                                      \
    "leaq 3b(%%rip), %%rax\n\t"                                                                    \
    "movq %%rax, 8(%[area])\n\t"                                                                   \
    "jmp 5b\n\t"
#endif

/* slot[cpu].count += 1: 0 when done, 1 when the thread does not run on CPU cpu. */
static __attribute__((noinline)) int add_on_cpu(struct rseq_area *area, struct pcpu_count *slot,
                                                int cpu)
{
    // clang-format off
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f)
                              "movl %[cpu], %%ecx\n\t"
                              "movq %%rcx, %%rdx\n\t"
                              "shlq $6, %%rdx\n\t"
                              "addq %[slot], %%rdx\n\t"
                              "6:\n\t"
                              "leaq 3b(%%rip), %%rax\n\t"
                              "movq %%rax, 8(%[area])\n\t"
                              "1:\n\t"
                              "cmpl %%ecx, 4(%[area])\n\t"
                              "jnz %l[moved]\n\t"
                              "5:\n\t"
                              "movq (%%rdx), %%rax\n\t"
                              "addq $1, %%rax\n\t"
                              "movq %%rax, (%%rdx)\n\t"
                              "2:\n\t"
                              ".pushsection __rseq_failure, \"ax\"\n\t"
                              RSEQ_GUEST_SIG_ASM
                              "4:\n\t"
                              RETRY
                              ".popsection\n\t"
                              :
                              : [area] "r"(area), [slot] "r"(slot), [cpu] "r"(cpu)
                              : "memory", "cc", "rax", "rcx", "rdx"
                              : moved);
    // clang-format on
    return 0;
moved:
    return 1;
}
#elif defined(__aarch64__)
#ifdef TWIN
#define RETRY                                                                                      \
    "ldr w13, [%[area]]\n\t"                                                                       \
    "add x14, %[slot], x13, lsl #6\n\t"                                                            \
    "b 6b\n\t"
#else
#define RETRY RSEQ_GUEST_ARM(3b) "b 5b\n\t"
#endif

static __attribute__((noinline)) int add_on_cpu(struct rseq_area *area, struct pcpu_count *slot,
                                                int cpu)
{
    // clang-format off
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f)
                              "mov w13, %w[cpu]\n\t"
                              "add x14, %[slot], x13, lsl #6\n\t"
                              "6:\n\t"
                              RSEQ_GUEST_ARM(3b)
                              "1:\n\t"
                              "ldr w16, [%[area], #4]\n\t"
                              "cmp w16, w13\n\t"
                              "bne %l[moved]\n\t"
                              "5:\n\t"
                              "ldr x16, [x14]\n\t"
                              "add x16, x16, #1\n\t"
                              "str x16, [x14]\n\t"
                              "2:\n\t"
                              "b 7f\n\t"
                              RSEQ_GUEST_SIG_ASM
                              "4:\n\t"
                              RETRY
                              "7:\n\t"
                              :
                              : [area] "r"(area), [slot] "r"(slot), [cpu] "r"(cpu)
                              : "memory", "cc", "x13", "x14", "x16", "x17"
                              : moved);
    // clang-format on
    return 0;
moved:
    return 1;
}
#endif

static void *worker(void *arg)
{
    (void)arg;
    struct rseq_area *area = rseq_area_or_fail();
    start_together();
    for (int i = 0; i < OPS; i++)
        while (add_on_cpu(area, slot, rseq_cpu(area)) != 0)
            ;
    return NULL;
}

int main(void)
{
    rseq_area_or_fail();
    run_threads(WORKERS, worker);
    intptr_t total = pcpu_total(slot);
    if (total != WORKERS * OPS)
        FAIL("lost %ld of %d increments\n", (long)(WORKERS * OPS - total), WORKERS * OPS);
    printf("total = %ld of %d\n", (long)total, WORKERS * OPS);
    return 0;
}
