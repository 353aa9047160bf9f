/* Schedule files: a run's scheduling as editable text (README, "Schedule files").
 *
 *   rseqemu-schedule 1
 *   program "build/guests/x86_64/percpu_counter"
 *   ...header lines: what a replay needs...
 *   events
 *   101:52731 preempt          # TID:INSNS VERB [ARG]
 *
 * A position is a thread and its own count of retired instructions, which stays exact however
 * the CPUs interleave. This file only reads and writes the text; policy.c acts on it. */
#ifndef RSEQEMU_KERNEL_MODEL_SCHEDULE_H
#define RSEQEMU_KERNEL_MODEL_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kernel.h"

/* The newest format version this rseqemu reads and writes. Version 2 added the pick event,
 * version 3 the stall and swap events; a file is written with the oldest version that holds
 * it, which older readers take. */
#define SCHEDULE_VERSION 3

/* What happens at a position. The first ones are enum inject_kind's, in its order. */
enum sched_verb {
    VERB_PREEMPT,   /* switched out and back in */
    VERB_MIGRATE,   /* switched out and moved to CPU arg */
    VERB_SIGNAL,    /* signal arg sent to the thread by the kernel */
    VERB_TICK,      /* an interrupt that schedules nothing */
    VERB_NOTIFY,    /* notify-resume without an rseq event */
    VERB_INTERRUPT, /* the interrupt that makes a running thread take its pending signals */
    VERB_SWITCH,    /* the host turns to another CPU (the one whose clock is lowest) */
    VERB_EXPIRE,    /* the thread's time slice ends: it goes behind the others on its CPU */
    VERB_IPI,       /* an IPI (as membarrier's rseq fence sends) interrupts the thread */
    VERB_OFFLINE,   /* CPU arg goes offline: its threads move to other CPUs (hotplug.h) */
    VERB_ONLINE,    /* CPU arg comes back online */
    VERB_PICK,      /* when the thread leaves its CPU here, thread arg runs next there (pulled
                       from another CPU if it is there) */
    VERB_STALL,     /* the thread's vCPU stops for arg instructions' time, no rseq event */
    VERB_SWAP,      /* the thread and CPU arg's thread exchange CPUs, then the two interleave
                       instruction by instruction for a while (SCHED_SWAP_INTERLEAVE_INSNS) */
    VERB_COUNT
};

/* A stall is at most this long (a second of virtual time at 1 ns per instruction). */
#define SCHED_STALL_INSNS_MAX 1000000000
/* How long the two threads of a swap interleave one instruction at a time. */
#define SCHED_SWAP_INTERLEAVE_INSNS 256

/* What fills the gaps between events: nothing (a recorded run, whose every decision is an
 * event) or the round-robin policy (a hand-written file). */
enum sched_fill { FILL_NONE, FILL_ROUND_ROBIN };

struct sched_event {
    int tid;
    uint64_t at; /* the thread's instruction count */
    uint8_t verb;
    int32_t arg; /* CPU, signal or thread; 0 when the verb takes none */
    uint32_t line;
};

/* A parsed file. Header values a file leaves out keep the defaults of schedule_parse(). */
struct schedule {
    int version;   /* what the file says; what schedule_write_header() writes */
    char *program; /* NULL if not given */
    bool has_hash;
    uint64_t program_hash; /* elf_image_hash() */
    char arch[16];         /* "" if not given */
    char **argv;           /* NULL-terminated; NULL if not given */
    char **envp;           /* NULL-terminated, never NULL */
    int cpus, nodes;
    uint64_t offline; /* CPUs offline from the start (--offline), bit per CPU */
    enum kernel_profile kernel;
    uint64_t seed, max_insns;
    uint64_t max_mem; /* bytes; 0: not given (or no cap) */
    uint32_t cs_inject_span;
    enum kernel_rseq_debug rseq_debug;
    int cpu_opv_nr;            /* 0: off */
    enum kernel_policy policy; /* the one that made the decisions: information */
    uint32_t pct_depth;        /* its options, if it is pct: information */
    uint64_t pct_steps;
    enum sched_fill fill;
    struct sched_event *events; /* sorted by thread, position, then line */
    size_t nevents;
};

const char *sched_verb_name(enum sched_verb v);
bool sched_verb_has_arg(enum sched_verb v);
/* The oldest version that can hold the recording of a run of this policy (pct may pick), which
 * follows these events (none unless it is script). */
int schedule_version_for(enum kernel_policy policy, const struct sched_event *events, size_t n);

/* NULL with "line N: why" in err. A file without an "events" line is all events. */
struct schedule *schedule_parse(const char *text, size_t len, char *err, size_t errlen);
/* Reads and parses path; NULL with the reason (naming the file) in err, and *unreadable set
 * when the file could not be read at all. */
struct schedule *schedule_load(const char *path, bool *unreadable, char *err, size_t errlen);
void schedule_free(struct schedule *s);

/* Writes everything before the events, ending with the "events" line. */
void schedule_write_header(FILE *out, const struct schedule *s);
void schedule_write_event(FILE *out, int tid, uint64_t at, enum sched_verb verb, int arg);

#endif
