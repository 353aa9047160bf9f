/* Deliberately wrong: a per-CPU counter whose critical section never checks the CPU. Each of
 * four threads adds 1 to the slot of the CPU it runs on 1000 times: it reads cpu_id_start, then
 * enters add_on_cpu(), a section that loads that CPU's slot, adds 1 and stores it. The section
 * aborts if the thread is preempted, migrated or signalled inside it, but it never compares
 * cpu_id with the CPU number it was given, so it does not notice a move that came before it.
 *
 * Migrate a thread after rseq_cpu()'s load of cpu_id_start and before start_ip, add_on_cpu's
 * load of the slot (while it checks the number, calls add_on_cpu and arms the section): the
 * whole section then runs on the new CPU against the old CPU's slot, and the thread that took
 * the old CPU adds to that slot too. Nothing serializes the two: when one's store lands between
 * the other's load and store, an increment is lost. The race needs the two CPUs to interleave
 * finely while the moved thread makes its one stale update; a preemption there is harmless, as
 * the thread comes back to its CPU.
 *
 * With -DTWIN (no_cpu_check_ok) the section starts by comparing cpu_id with the CPU number and
 * aborts if they differ: a thread that moved first starts over on its new CPU's slot.
 *
 * Prints `total = 4000 of 4000`, or how many increments were lost (exit 1). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>

#include "boundary.h"

#define WORKERS 4
#define OPS     1000 /* per worker */

static struct pcpu_count slot[CPUS_MAX];

#if defined(__x86_64__)
#ifdef TWIN
#define CPU_CHECK "cmpl %[cpu], 4(%[area])\n\tjnz 4f\n\t"
#else
#define CPU_CHECK "" /* the bug: nothing compares cpu_id with cpu */
#endif

/* *v += 1 on CPU cpu: 0 when done, 1 when the section aborted (or, with the check, runs
 * elsewhere). */
static __attribute__((noinline)) int add_on_cpu(struct rseq_area *area, intptr_t *v, int cpu)
{
    // clang-format off
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f)
                              "leaq 3b(%%rip), %%rax\n\t"
                              "movq %%rax, 8(%[area])\n\t"
                              "1:\n\t"
                              CPU_CHECK
                              "movq %[v], %%rax\n\t"
                              "addq $1, %%rax\n\t"
                              "movq %%rax, %[v]\n\t"
                              "2:\n\t"
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
#ifdef TWIN
#define CPU_CHECK "ldr w16, [%[area], #4]\n\tcmp w16, %w[cpu]\n\tbne 4f\n\t"
#else
#define CPU_CHECK "" /* the bug: nothing compares cpu_id with cpu */
#endif

static __attribute__((noinline)) int add_on_cpu(struct rseq_area *area, intptr_t *v, int cpu)
{
    // clang-format off
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f)
                              RSEQ_GUEST_ARM(3b)
                              "1:\n\t"
                              CPU_CHECK
                              "ldr x16, %[v]\n\t"
                              "add x16, x16, #1\n\t"
                              "str x16, %[v]\n\t"
                              "2:\n\t"
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
            if (add_on_cpu(area, &slot[cpu].count, cpu) == 0)
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
