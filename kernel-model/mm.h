/* Process memory on top of the machine's address spaces: brk and mmap placement. */
#ifndef RSEQEMU_KERNEL_MODEL_MM_H
#define RSEQEMU_KERNEL_MODEL_MM_H

#include "kstate.h"

/* Where a new mapping of len bytes goes: top-down below the mmap base, like Linux without
 * address randomization. 0 when the space is full. */
guest_addr_t mm_place(struct kernel *k, struct mm *mm, uint64_t len);

#endif
