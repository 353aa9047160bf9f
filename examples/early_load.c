/* Deliberately wrong: a per-CPU counter that reads its slot before the critical section. Each
 * of four threads adds 1 to the slot of the CPU it runs on 1000 times: it reads the CPU and the
 * slot's value in C, then calls store_on_cpu(), a section that checks the CPU and stores the
 * value plus one. The CPU check makes the store land on the right CPU's slot, but the value it
 * stores was loaded outside the section, where nothing protects it.
 *
 * Preempt a thread on any instruction after worker's load of the slot and before start_ip, the
 * section's CPU check (the instructions that compute value + 1, call store_on_cpu and arm the
 * section: IP is outside [start_ip, post_commit_ip), so nothing aborts): another thread runs on
 * the same CPU meanwhile and adds to the same slot; the first then resumes, finds itself on the
 * CPU it read, and stores its stale value plus one over those increments. A migration there is
 * harmless (the CPU check fails and the increment starts over); so is a preemption once the
 * section has started, which aborts it.
 *
 * With -DTWIN (early_load_ok) the load is inside the section (pcpu_add, boundary.h): a
 * preemption anywhere before the store aborts the section, and the retry loads again.
 *
 * Prints `total = 4000 of 4000`, or how many increments were lost (exit 1). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>

#include "boundary.h"

#define WORKERS 4
#define OPS     1000 /* per worker */

static struct pcpu_count slot[CPUS_MAX];

#ifndef TWIN
#if defined(__x86_64__)
/* *v = newv on CPU cpu: 0 when stored, 1 when the section aborted or runs elsewhere. */
static __attribute__((noinline)) int store_on_cpu(struct rseq_area *area, intptr_t *v,
                                                  intptr_t newv, int cpu)
{
    // clang-format off
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f)
                              "leaq 3b(%%rip), %%rax\n\t"
                              "movq %%rax, 8(%[area])\n\t"
                              "1:\n\t"
                              "cmpl %[cpu], 4(%[area])\n\t"
                              "jnz 4f\n\t"
                              "movq %[newv], %[v]\n\t"
                              "2:\n\t"
                              ".pushsection __rseq_failure, \"ax\"\n\t"
                              RSEQ_GUEST_SIG_ASM
                              "4:\n\t"
                              "jmp %l[aborted]\n\t"
                              ".popsection\n\t"
                              :
                              : [area] "r"(area), [cpu] "r"(cpu), [v] "m"(*v), [newv] "r"(newv)
                              : "memory", "cc", "rax"
                              : aborted);
    // clang-format on
    return 0;
aborted:
    return 1;
}
#elif defined(__aarch64__)
static __attribute__((noinline)) int store_on_cpu(struct rseq_area *area, intptr_t *v,
                                                  intptr_t newv, int cpu)
{
    // clang-format off
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f)
                              RSEQ_GUEST_ARM(3b)
                              "1:\n\t"
                              "ldr w16, [%[area], #4]\n\t"
                              "cmp w16, %w[cpu]\n\t"
                              "bne 4f\n\t"
                              "str %[newv], %[v]\n\t"
                              "2:\n\t"
                              "b 5f\n\t"
                              RSEQ_GUEST_SIG_ASM
                              "4:\n\t"
                              "b %l[aborted]\n\t"
                              "5:\n\t"
                              :
                              : [area] "r"(area), [cpu] "r"(cpu), [v] "Q"(*v), [newv] "r"(newv)
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
    for (int i = 0; i < OPS; i++) {
        for (;;) {
            int cpu = rseq_cpu(area);
#ifdef TWIN
            if (pcpu_add(area, &slot[cpu].count, cpu) == 0)
                break;
#else
            /* The bug: the value is read before the section that stores it. */
            intptr_t v = RSEQ_GUEST_READ(slot[cpu].count);
            if (store_on_cpu(area, &slot[cpu].count, v + 1, cpu) == 0)
                break;
#endif
        }
    }
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
