/* Values for a system call's arguments that matter to a kernel, chosen by one byte: small and
 * negative numbers, addresses of mapped, read-only, code and unmapped memory of the guest
 * machine, aligned and not, ranges that cross the end of a mapping, the top of user space and
 * past it, lengths, flags, rseq signatures and CPU numbers. */
#ifndef RSEQEMU_FUZZ_GUEST_ARGS_H
#define RSEQEMU_FUZZ_GUEST_ARGS_H

#include <stdint.h>

#include "arch/arch.h"

/* The high nibble of sel chooses the kind of value, the low one which. */
uint64_t guest_arg(const struct arch_desc *a, uint8_t sel);

#endif
