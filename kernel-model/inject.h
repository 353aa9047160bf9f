/* Injections placed by instruction: inside critical sections (the default policy's bias), and
 * where a schedule names an instruction (kernel_config.injects). Both work through the
 * address space's watched code: the engine stops in front of a translation block that runs
 * watched code, and this file picks the instruction of that block where the injection lands.
 * The scheduler then runs the thread exactly to it (sched.c). */
#ifndef RSEQEMU_KERNEL_MODEL_INJECT_H
#define RSEQEMU_KERNEL_MODEL_INJECT_H

#include "emu/cpu.h"
#include "kstate.h"

/* What the scheduler does to a running thread at an injection point. The first kinds are
 * those of enum kernel_inject_action. */
enum inject_kind {
    INJECT_PREEMPT = INJECT_ACT_PREEMPT,
    INJECT_MIGRATE = INJECT_ACT_MIGRATE,
    INJECT_SIGNAL = INJECT_ACT_SIGNAL,
    INJECT_TICK = INJECT_ACT_TICK,
    INJECT_NOTIFY = INJECT_ACT_NOTIFY,
    INJECT_SIGNAL_PENDING, /* take a deferred signal now */
    INJECT_PCT_STOP, /* pct: stop on a section's first instruction, whose entry was a change point
                      */
    /* A schedule's stall and swap events (enum sched_verb's values). */
    INJECT_STALL = 12,
    INJECT_SWAP = 13,
};

/* Resolves the configured injections against the first program (symbols) and watches their
 * instructions in mm. 0, or -1 with err set (an unknown symbol). */
int inject_resolve(struct kernel *k, char *err, size_t errlen);
/* Watches the injection points and the program's declared critical sections in a new
 * address space of the first program (spawn, execve). */
void inject_watch_mm(struct kernel *k, struct mm *mm);

/* The run of t on c stopped in front of watched code (EMU_EXIT_WATCH): place the injection
 * there, if any, in c->inject_at. resumed: the run started in front of this code, whose first
 * instruction has had its turn, and whose points below counted_end were counted then. */
void inject_watch_hit(struct kernel *k, struct kcpu *c, struct task *t, const struct emu_exit *ex,
                      bool resumed, guest_addr_t counted_end);

/* A critical section [start, end) became known (spec 2.10): watch it in mm. */
void inject_watch_cs(struct kernel *k, struct mm *mm, guest_addr_t start, guest_addr_t end);

#endif
