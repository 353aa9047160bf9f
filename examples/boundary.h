/* What the boundary examples share (lost_commit.c, early_load.c, no_cpu_check.c, stale_retry.c,
 * two_stores.c, atomic_fallback.c, opv_wrong_cpu.c, opv_wrong_compare.c, flip_nofence.c). Each is
 * a small per-CPU structure with one bug at the edge of its critical sections, where a single
 * preemption, migration, signal or stall at the right instruction loses an update; built with
 * -DTWIN, the same source is its correct twin (NAME_ok), which no schedule breaks.
 *
 * The workers start together behind a barrier, so that for most of the run every critical
 * section has other threads running beside it, ready to run on its CPU or race with it from
 * another; and a whole run takes only a few hundred thousand instructions, so that the rest of
 * it can be run again from any point, many times over, to judge one event placed there. */
#ifndef RSEQEMU_EXAMPLES_BOUNDARY_H
#define RSEQEMU_EXAMPLES_BOUNDARY_H

#include <pthread.h>
#include <stdint.h>

#include "opv_common.h"

/* One cache line per CPU, as real per-CPU data would be laid out. */
struct pcpu_count {
    intptr_t count;
    char pad[64 - sizeof(intptr_t)];
};

static pthread_barrier_t start_line;

/* Runs fn(0) .. fn(n - 1) in n threads, each of which calls start_together() before its work,
 * and waits for them all. */
static inline void run_threads(int n, void *(*fn)(void *))
{
    pthread_t t[16];
    if (n > 16 || pthread_barrier_init(&start_line, NULL, (unsigned)n))
        FAIL("cannot start %d threads\n", n);
    for (long i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, fn, (void *)i))
            FAIL("pthread_create failed\n");
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start_line);
}

static inline void start_together(void) { pthread_barrier_wait(&start_line); }

/* *v += 1 on CPU cpu, done right: 0 when done, 1 when the section aborted or runs elsewhere.
 * Unlike rseq_guest_addv(), the update is a load, an add and a store on both architectures, as
 * compiled C code would have it, so that a store from another CPU can land between them: on
 * x86-64 one add to memory would be a single instruction, which the emulator's CPUs (turning
 * between instructions) cannot split. The examples whose bug lies outside the section use it. */
#if defined(__x86_64__)
static __attribute__((noinline, unused)) int pcpu_add(struct rseq_area *area, intptr_t *v, int cpu)
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
static __attribute__((noinline, unused)) int pcpu_add(struct rseq_area *area, intptr_t *v, int cpu)
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

/* The sum of count over every CPU's slot. */
static inline intptr_t pcpu_total(const struct pcpu_count *slot)
{
    intptr_t total = 0;
    for (int c = 0; c < CPUS_MAX; c++)
        total += slot[c].count;
    return total;
}

#endif
