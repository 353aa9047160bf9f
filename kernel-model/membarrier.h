/* membarrier(2) (spec 4): what its rseq fence costs the caller. */
#ifndef RSEQEMU_KERNEL_MODEL_MEMBARRIER_H
#define RSEQEMU_KERNEL_MODEL_MEMBARRIER_H

/* The virtual nanoseconds a caller of the rseq fence waits for the IPIs it sends to other CPUs
 * (spec 4.2 steps 3 and 4: it sends them "and waits"), sent together and waited for together.
 * On the reference machine (2-vCPU VM, Linux 6.18) the fence takes 16-22 us when it interrupts
 * a thread running on another CPU and 1.6-2.1 us when it sends no IPI, while a dec/jnz loop
 * runs two instructions a nanosecond: the round trip lasts what 32,000 instructions take
 * there, and virtual time counts instructions. Free fences let a thread fencing in a loop abort,
 * on every turn of its CPU, any section longer than the CPUs' interleaving slices: 6.12's
 * param_test_mm_cid -T r (fences to every CPU) with a delay loop inside its section never
 * ended, where natively it takes a few milliseconds. */
#define MEMBARRIER_IPI_WAIT_NS 32000ULL

#endif
