/* What the cpu_opv examples (opv_*.c) share: per-CPU data indexed by the CPU number glibc's rseq
 * area gives, and the choice between cpu_opv and its stand-in where cpu_opv is missing.
 *
 * cpu_opv was never merged into Linux, whose kernels answer ENOSYS (guest/include/cpu_opv.h). A
 * program that needs it must then do what programs did without it: retry its rseq section on
 * whatever CPU it runs on, and, to work on another CPU's data, move there with
 * sched_setaffinity() and back. Both are correct, so the examples print the same on Linux as under
 * rseqemu; what is lost is what the RFC's justification lists: forward progress when sections
 * keep aborting, and a way to reach a remote CPU that neither races with CPU hotplug nor changes
 * the caller's affinity behind its back. */
#ifndef RSEQEMU_EXAMPLES_OPV_COMMON_H
#define RSEQEMU_EXAMPLES_OPV_COMMON_H

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "cpu_opv.h"
#include "rseq_guest.h"

/* The per-CPU arrays have one slot per CPU number up to this. */
#define CPUS_MAX 64

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        printf(__VA_ARGS__);                                                                       \
        exit(1);                                                                                   \
    } while (0)

/* The query every cpu_opv kernel answers with its number of operation types. */
static inline int cpu_opv_available(void)
{
    return cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG) == NR_CPU_OPS;
}

static inline struct rseq_area *rseq_area_or_fail(void)
{
    struct rseq_area *area = rseq_guest_glibc_area();
    if (!area)
        FAIL("glibc did not register rseq\n");
    return area;
}

/* The CPU the thread runs on, as the kernel last wrote it into its rseq area: the number a
 * critical section then checks, so that the section aborts if the thread has moved since. */
static inline int rseq_cpu(struct rseq_area *area)
{
    int cpu = (int)RSEQ_GUEST_READ(area->cpu_id_start);
    if (cpu < 0 || cpu >= CPUS_MAX)
        FAIL("CPU %d: this example handles CPUs 0 to %d\n", cpu, CPUS_MAX - 1);
    return cpu;
}

/* Without cpu_opv: run on cpu alone until unpin(), saving the affinity to restore. 0, or -1
 * when cpu cannot be used (not in the mask, or offline). */
static inline int pin_to_cpu(int cpu, cpu_set_t *saved)
{
    cpu_set_t one;
    if (sched_getaffinity(0, sizeof(*saved), saved) || !CPU_ISSET(cpu, saved))
        return -1;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return sched_setaffinity(0, sizeof(one), &one) ? -1 : 0;
}

static inline void unpin(const cpu_set_t *saved)
{
    if (sched_setaffinity(0, sizeof(*saved), saved))
        FAIL("sched_setaffinity cannot restore the mask\n");
}

#endif
