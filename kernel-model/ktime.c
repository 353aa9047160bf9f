#include "ktime.h"

#include "sched.h"
#include "syscall.h"

int ktime_read_timespec(struct kernel *k, struct task *t, guest_addr_t addr, uint64_t *ns)
{
    int64_t ts[2];
    if (copy_from_user(k, t, ts, addr, sizeof(ts)) != 0)
        return -LX_EFAULT;
    if (ts[0] < 0 || ts[1] < 0 || ts[1] >= (int64_t)NSEC_PER_SEC)
        return -LX_EINVAL;
    /* Far-future times saturate instead of wrapping. */
    if ((uint64_t)ts[0] > UINT64_MAX / NSEC_PER_SEC - 1)
        *ns = UINT64_MAX;
    else
        *ns = (uint64_t)ts[0] * NSEC_PER_SEC + (uint64_t)ts[1];
    return 0;
}

int ktime_write_timespec(struct kernel *k, struct task *t, guest_addr_t addr, uint64_t ns)
{
    int64_t ts[2] = {(int64_t)(ns / NSEC_PER_SEC), (int64_t)(ns % NSEC_PER_SEC)};
    return copy_to_user(k, t, addr, ts, sizeof(ts));
}

/* Readings never go backwards, even across threads on CPUs whose clocks differ by a slice. */
static uint64_t monotonic_now(struct kernel *k, const struct task *t)
{
    uint64_t now = sched_now(k, t);
    if (now < k->st->time_floor_ns)
        now = k->st->time_floor_ns;
    k->st->time_floor_ns = now;
    return now;
}

int ktime_clock_now(struct kernel *k, const struct task *t, int clock, uint64_t *ns)
{
    switch (clock) {
    case LX_CLOCK_REALTIME:
    case LX_CLOCK_REALTIME_COARSE:
        *ns = KTIME_REALTIME_BASE_NS + monotonic_now(k, t);
        return 0;
    case LX_CLOCK_MONOTONIC:
    case LX_CLOCK_MONOTONIC_RAW:
    case LX_CLOCK_MONOTONIC_COARSE:
    case LX_CLOCK_BOOTTIME:
        *ns = monotonic_now(k, t);
        return 0;
    case LX_CLOCK_PROCESS_CPUTIME_ID:
        *ns = t->proc->insns * NS_PER_INSN;
        return 0;
    case LX_CLOCK_THREAD_CPUTIME_ID:
        *ns = t->insns * NS_PER_INSN;
        return 0;
    default:
        return -LX_EINVAL;
    }
}

uint64_t ktime_deadline(int clock, uint64_t abs_ns)
{
    if (clock == LX_CLOCK_REALTIME || clock == LX_CLOCK_REALTIME_COARSE)
        return abs_ns > KTIME_REALTIME_BASE_NS ? abs_ns - KTIME_REALTIME_BASE_NS : 0;
    return abs_ns;
}
