/* cpu_opv for guest programs: the RFC's per-CPU operation vector ("cpu_opv: Provide cpu_opv
 * system call (v9)", spec 5): struct cpu_op, its operations, flags and limits, and a wrapper
 * that makes the call with the syscall instruction, with or without libc.
 *
 * Linux never merged cpu_opv, so it has no number: rseqemu answers to 1000 on both
 * architectures unless told otherwise (`rseqemu run --cpu-opv-nr N`). No Linux kernel gives
 * 1000 to anything, so the same program gets ENOSYS on Linux and can fall back. A program built
 * for another number defines CPU_OPV_NR before including this header.
 *
 * Results are the call's: >= 0, or -errno (the wrapper does not touch errno). */
#ifndef RSEQEMU_GUEST_CPU_OPV_H
#define RSEQEMU_GUEST_CPU_OPV_H

#include <stdint.h>

#include "guest_syscall.h"

#ifndef CPU_OPV_NR
#define CPU_OPV_NR 1000
#endif

/* Operations per vector, bytes per compare or memcpy, bytes per add (1, 2, 4 or 8), and bytes
 * per vector: one page copied and three adds. */
#define CPU_OP_VEC_LEN_MAX             4
#define CPU_OP_DATA_LEN_MAX            4096
#define CPU_OP_ARITHMETIC_DATA_LEN_MAX 8
#define CPU_OP_VEC_DATA_LEN_MAX                                                                    \
    (CPU_OP_DATA_LEN_MAX + (CPU_OP_VEC_LEN_MAX - 1) * CPU_OP_ARITHMETIC_DATA_LEN_MAX)

/* Queries: with one of these, cpu_opv only returns a number. */
enum cpu_op_flags {
    CPU_OP_NR_FLAG = 1U << 0,          /* the number of operation types: NR_CPU_OPS */
    CPU_OP_VEC_LEN_MAX_FLAG = 1U << 1, /* the most operations per vector: CPU_OP_VEC_LEN_MAX */
};

enum cpu_op_type {
    CPU_COMPARE_EQ_OP, /* stop the vector (returning its index + 1) unless a and b are equal */
    CPU_COMPARE_NE_OP, /* stop the vector unless they differ */
    CPU_MEMCPY_OP,
    CPU_MEMCPY_RELEASE_OP, /* the last store with release ordering */
    CPU_ADD_OP,            /* *p += count, in len bytes */
    CPU_ADD_RELEASE_OP,
    NR_CPU_OPS,
};

/* The RFC's include/uapi/linux/cpu_opv.h: 32 bytes, the same on both architectures. A non-zero
 * expect_fault_* byte turns a fault on that pointer into EAGAIN instead of EFAULT. */
struct cpu_op {
    int32_t op; /* enum cpu_op_type */
    uint32_t len;
    union {
        struct {
            uint64_t a, b;
            uint8_t expect_fault_a, expect_fault_b;
        } compare_op;
        struct {
            uint64_t dst, src;
            uint8_t expect_fault_dst, expect_fault_src;
        } memcpy_op;
        struct {
            uint64_t p;
            int64_t count;
            uint8_t expect_fault_p;
        } arithmetic_op;
        char __padding[24];
    } u;
};
_Static_assert(sizeof(struct cpu_op) == 32, "struct cpu_op is 32 bytes");

/* The call under any number, for programs that choose it at run time. */
static inline int cpu_opv_nr(long nr, struct cpu_op *cpuopv, int cpuopcnt, int cpu, int flags)
{
    return (int)gsyscall4(nr, cpuopv, cpuopcnt, cpu, flags);
}

/* Runs cpuopv[0..cpuopcnt) atomically with respect to everything on CPU cpu, aborting the rseq
 * critical section it interrupts there: 0 when every operation ran, i + 1 when the comparison
 * at index i stopped the vector (what ran before it stays done), or -errno. */
static inline int cpu_opv(struct cpu_op *cpuopv, int cpuopcnt, int cpu, int flags)
{
    return cpu_opv_nr(CPU_OPV_NR, cpuopv, cpuopcnt, cpu, flags);
}

/* Operations, filled in. */
static inline struct cpu_op cpu_op_compare(enum cpu_op_type op, const void *a, const void *b,
                                           uint32_t len)
{
    struct cpu_op o = {.op = op, .len = len};
    o.u.compare_op.a = (uint64_t)(uintptr_t)a;
    o.u.compare_op.b = (uint64_t)(uintptr_t)b;
    return o;
}

static inline struct cpu_op cpu_op_memcpy(enum cpu_op_type op, void *dst, const void *src,
                                          uint32_t len)
{
    struct cpu_op o = {.op = op, .len = len};
    o.u.memcpy_op.dst = (uint64_t)(uintptr_t)dst;
    o.u.memcpy_op.src = (uint64_t)(uintptr_t)src;
    return o;
}

static inline struct cpu_op cpu_op_add(enum cpu_op_type op, void *p, int64_t count, uint32_t len)
{
    struct cpu_op o = {.op = op, .len = len};
    o.u.arithmetic_op.p = (uint64_t)(uintptr_t)p;
    o.u.arithmetic_op.count = count;
    return o;
}

#endif
