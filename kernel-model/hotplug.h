/* CPU hotplug: CPUs possible but not online, from the start (--offline) or by a schedule's
 * `offline N` and `online N` events. kcpu.online, read through sched_online_mask(), is the one
 * truth every part of the model (scheduler, affinity, sysfs, membarrier) asks. */
#ifndef RSEQEMU_KERNEL_MODEL_HOTPLUG_H
#define RSEQEMU_KERNEL_MODEL_HOTPLUG_H

#include "kstate.h"

struct sched_event;

/* Where t goes when it may not stay on or go back to CPU `from` (Linux's select_fallback_rq):
 * an online CPU t may use in from's NUMA node, else any online CPU it may use, lowest first.
 * When none is left, t's affinity widens to every possible CPU first, as the root cpuset's
 * fallback does (cpuset_cpus_allowed_fallback), and t takes the lowest online CPU. */
int hotplug_fallback_cpu(struct kernel *k, struct task *t, int from);

/* A schedule's `offline N` or `online N` at the position of t (running, and served): done
 * and recorded, or refused with the reason (the run ends). Taking N offline moves every
 * thread running or queued there to its fallback CPU, with the rseq migration event. */
void hotplug_script_event(struct kernel *k, struct task *t, const struct sched_event *e);

#endif
