/* The boundary sweep: every event Linux could produce at every instruction of a window around
 * each critical section (and each cpu_opv and membarrier call), one event per run, each run
 * restored from a snapshot taken just before the section's entry (README, "Sweeping critical
 * sections").
 *
 * explore/ drives the machine only through kernel.h; it owns what a sweep decides: which entries,
 * which boundaries, which events, and how a run is judged. */
#ifndef RSEQEMU_EXPLORE_SWEEP_H
#define RSEQEMU_EXPLORE_SWEEP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kernel-model/kernel.h"

struct elf_image;

enum sweep_event {
    SWEEP_PREEMPT, /* switched out, another thread of its CPU runs, it comes back */
    SWEEP_MIGRATE, /* exchanged with the thread of another CPU, the two interleaving closely */
    SWEEP_SIGNAL,  /* a signal the program handles */
    SWEEP_STALL,   /* the vCPU stops between two instructions, no rseq event */
    SWEEP_EVENT_COUNT
};
extern const char *const sweep_event_names[SWEEP_EVENT_COUNT];

struct sweep_config {
    struct kernel_config kcfg; /* the base run's machine; arch from the program */
    const struct elf_image *img;
    const char *prog;         /* as the user named it, for schedule files */
    char *const *argv;        /* the guest's, argv[0] first */
    uint32_t entries;         /* dynamic entries swept per section (default 3) */
    uint32_t window;          /* instructions before a section's start (default 24) */
    uint64_t max_schedules;   /* 0: all */
    uint64_t stall_insns;     /* a stall's length (default 50000) */
    uint64_t schedule_insns;  /* per schedule; 0: twice the base run plus a million */
    int jobs;                 /* worker processes (default 1) */
    const char *out_dir;      /* schedule files of the failures */
    const char *json, *junit; /* NULL: not written */
    bool progress;            /* a progress line on stderr */
    bool stats; /* `stat NAME VALUE` lines on stderr: schedules, restore cost (host time) */
    FILE *out;  /* the summary and the table */
};

/* Runs the whole sweep and writes its results. Returns the exit status: 0 every schedule
 * passed, 1 a failure was found (or the base run fails), or 65/66/70 (README, "Exit codes"). */
int sweep_run(const struct sweep_config *cfg);

#endif
