/* cpu_opv (spec 5): what its trace record (EV_CPU_OPV) carries besides the target CPU (a) and
 * the result (c): the number of operations, where the vector ran, and the thread the IPI
 * interrupted, packed into b so that the event goes through event_emit() and the digest like
 * any other. */
#ifndef RSEQEMU_KERNEL_MODEL_CPU_OPV_H
#define RSEQEMU_KERNEL_MODEL_CPU_OPV_H

#include <stdint.h>

/* Where a vector ran (spec 5.4). */
enum cpu_opv_where {
    CPU_OPV_IPI,     /* an IPI on the target vCPU: its thread, if any, gets rseq_preempt() */
    CPU_OPV_LOCAL,   /* the target is the caller's own vCPU: interrupts off, nothing interrupted */
    CPU_OPV_OFFLINE, /* the target is offline: on the caller's vCPU, no rseq event */
};

/* b: bits 0-7 the operations, 8-15 enum cpu_opv_where, 32-63 the interrupted tid (0: none). */
static inline uint64_t cpu_opv_event_pack(int nops, enum cpu_opv_where where, int tid)
{
    return (uint64_t)(nops & 0xff) | (uint64_t)where << 8 | (uint64_t)(uint32_t)tid << 32;
}

static inline int cpu_opv_event_ops(uint64_t b) { return (int)(b & 0xff); }
static inline enum cpu_opv_where cpu_opv_event_where(uint64_t b)
{
    return (enum cpu_opv_where)(b >> 8 & 0xff);
}
static inline int cpu_opv_event_tid(uint64_t b) { return (int)(b >> 32); }

#endif
