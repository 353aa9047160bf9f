/* Concurrency ids (spec 3): small per-process numbers that threads running at the same time
 * never share, written to the rseq area's mm_cid. */
#ifndef RSEQEMU_KERNEL_MODEL_MM_CID_H
#define RSEQEMU_KERNEL_MODEL_MM_CID_H

#include "kstate.h"

void mm_cid_init(struct mm *mm);
/* t is scheduled in on cpu: the id it runs with there (t->mm_cid). */
void mm_cid_switch_in(struct kernel *k, struct task *t, int cpu);
/* t leaves its mm (exit, execve): the id it held is free again. */
void mm_cid_release(struct kernel *k, struct task *t);
/* t may now run on mask: the mm's CPUs grow (they never shrink). */
void mm_cid_affinity(struct kernel *k, struct task *t, uint64_t mask);

#endif
