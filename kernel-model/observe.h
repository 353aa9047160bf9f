/* Watching a run without changing it (kernel_set_observer): critical-section entries, system
 * calls and single instructions of one thread, seen from inside the scheduler's run. */
#ifndef RSEQEMU_KERNEL_MODEL_OBSERVE_H
#define RSEQEMU_KERNEL_MODEL_OBSERVE_H

#include "emu/cpu.h"
#include "kstate.h"

/* Runs t as emu_run() would with p, in pieces where the observer looks: the pieces add up to
 * the same run (the same instructions, the same exit), so the schedule is the one an
 * unobserved run makes. */
void observe_run(struct kernel *k, struct task *t, const struct emu_run_params *p,
                 struct emu_exit *ex);

#endif
