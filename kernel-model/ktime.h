/* Virtual time as guests see it: clocks, timespecs and timevals. */
#ifndef RSEQEMU_KERNEL_MODEL_KTIME_H
#define RSEQEMU_KERNEL_MODEL_KTIME_H

#include "kstate.h"

/* CLOCK_REALTIME at virtual time 0: 2026-01-01T00:00:00Z, the same on every host. */
#define KTIME_REALTIME_BASE_NS (1767225600ULL * 1000000000ULL)
#define NSEC_PER_SEC           1000000000ULL

/* A struct timespec from guest memory: 0, -LX_EFAULT, or -LX_EINVAL when out of range. */
int ktime_read_timespec(struct kernel *k, struct task *t, guest_addr_t addr, uint64_t *ns);
int ktime_write_timespec(struct kernel *k, struct task *t, guest_addr_t addr, uint64_t ns);
/* The value of a clock for t; -LX_EINVAL for an unknown clock. */
int ktime_clock_now(struct kernel *k, const struct task *t, int clock, uint64_t *ns);
/* An absolute time on `clock` as a virtual deadline (CLOCK_MONOTONIC time). */
uint64_t ktime_deadline(int clock, uint64_t abs_ns);

#endif
