/* Deliberately wrong: a per-CPU counter whose critical section ends one instruction too early.
 * Each of four threads adds 1 to the slot of the CPU it runs on 1000 times, in a section that
 * checks the CPU, loads the slot and adds 1 in a register, like any rseq increment; but its end
 * label, post_commit_ip, stands before the store that commits the sum instead of after it. The
 * store runs outside the section, so nothing aborts a thread stopped in front of it.
 *
 * Preempt a thread on that store, counter_add's instruction at post_commit_ip (`rseqemu cs`
 * names it as the section's commit address): the kernel sees its IP outside [start_ip,
 * post_commit_ip) and lets it resume there. Meanwhile another thread runs on the same CPU and
 * adds to the same slot; when the first comes back, its store writes the value it loaded before
 * plus one over all of that, and those increments are lost. A migration there does the same
 * from the new CPU, racing with the thread now on the old one. Inside the section (any
 * instruction up to the add) the same preemption aborts it and the increment is redone.
 *
 * With -DTWIN (lost_commit_ok) the store is the section's last instruction, and the section
 * ends after it: a thread stopped on the store aborts and starts over, and nothing is lost.
 *
 * Prints `total = 4000 of 4000`, or how many increments were lost (exit 1). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>

#include "boundary.h"

#define WORKERS 4
#define OPS     1000 /* per worker */

static struct pcpu_count slot[CPUS_MAX];

#ifdef TWIN
#define COMMIT(store) store "2:\n\t" /* the commit store is the section's last instruction */
#else
#define COMMIT(store) "2:\n\t" store /* the bug: post_commit_ip is the commit store */
#endif

#if defined(__x86_64__)
/* *v += 1 on CPU cpu: 0 when done, 1 when the section aborted or runs elsewhere. */
static __attribute__((noinline)) int counter_add(struct rseq_area *area, intptr_t *v, int cpu)
{
    // clang-format off
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f)
                              "leaq 3b(%%rip), %%rax\n\t"
                              "movq %%rax, 8(%[area])\n\t"
                              "1:\n\t"
                              "cmpl %[cpu], 4(%[area])\n\t"
                              "jnz 4f\n\t"
                              "movq %[v], %%rax\n\t"
                              "addq $1, %%rax\n\t"
                              COMMIT("movq %%rax, %[v]\n\t")
                              ".pushsection __rseq_failure, \"ax\"\n\t"
                              RSEQ_GUEST_SIG_ASM
                              "4:\n\t"
                              "jmp %l[aborted]\n\t"
                              ".popsection\n\t"
                              :
                              : [area] "r"(area), [cpu] "r"(cpu), [v] "m"(*v)
                              : "memory", "cc", "rax"
                              : aborted);
    // clang-format on
    return 0;
aborted:
    return 1;
}
#elif defined(__aarch64__)
static __attribute__((noinline)) int counter_add(struct rseq_area *area, intptr_t *v, int cpu)
{
    // clang-format off
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f)
                              RSEQ_GUEST_ARM(3b)
                              "1:\n\t"
                              "ldr w16, [%[area], #4]\n\t"
                              "cmp w16, %w[cpu]\n\t"
                              "bne 4f\n\t"
                              "ldr x16, %[v]\n\t"
                              "add x16, x16, #1\n\t"
                              COMMIT("str x16, %[v]\n\t")
                              "b 5f\n\t"
                              RSEQ_GUEST_SIG_ASM
                              "4:\n\t"
                              "b %l[aborted]\n\t"
                              "5:\n\t"
                              :
                              : [area] "r"(area), [cpu] "r"(cpu), [v] "Q"(*v)
                              : "memory", "cc", "x16", "x17"
                              : aborted);
    // clang-format on
    return 0;
aborted:
    return 1;
}
#endif

static void *worker(void *arg)
{
    (void)arg;
    struct rseq_area *area = rseq_area_or_fail();
    start_together();
    for (int i = 0; i < OPS; i++) {
        for (;;) {
            int cpu = rseq_cpu(area);
            if (counter_add(area, &slot[cpu].count, cpu) == 0)
                break;
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
