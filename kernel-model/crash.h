/* When rseqemu itself fails: an assertion of the engine or of the model, a fault of the host
 * process. The fatal signal is caught (cli/crash_handler.c) and ends with rseqemu's own
 * report: the command, the seed and profile of the machine that was running, and its last
 * events, then exit status 70 (EXIT_INTERNAL). Everything here can run in a signal handler:
 * the events are kept as numbers, formatted only when the report is written. */
#ifndef RSEQEMU_KERNEL_MODEL_CRASH_H
#define RSEQEMU_KERNEL_MODEL_CRASH_H

#include <stdint.h>

struct kernel;

#define CRASH_EVENTS 24

struct crash_event {
    uint64_t seq, insns, a, b, c;
    int32_t tid, cpu;
    uint32_t kind; /* enum event_kind */
};

/* The last events of a machine, oldest overwritten first. */
struct crash_ring {
    struct crash_event ev[CRASH_EVENTS];
    uint64_t next;
};

/* The machine the report describes: the one that runs now (NULL: none). */
void crash_set_kernel(const struct kernel *k);
const struct kernel *crash_kernel(void);
/* Writes the machine's part of the report to fd. */
void crash_write_machine(int fd);

/* Fails on purpose (kernel_config.crash_test). */
void crash_test_fire(const char *kind);

/* Async-signal-safe writing. */
void crash_puts(int fd, const char *s);
void crash_putu(int fd, uint64_t v);
void crash_putx(int fd, uint64_t v);

#endif
