/* Clocks, sleeps and interval timers, all on virtual time. */
#include <string.h>

#include "emu/aspace.h"
#include "futex.h"
#include "ktime.h"
#include "sched.h"
#include "signal.h"
#include "syscall.h"
#include "task.h"

#define ITIMER_REAL 0

long sys_clock_gettime(struct kernel *k, struct task *t, const struct sys_args *a)
{
    uint64_t ns;
    int rc = ktime_clock_now(k, t, (int)a->a[0], &ns);
    if (rc)
        return rc;
    return ktime_write_timespec(k, t, a->a[1], ns);
}

long sys_clock_getres(struct kernel *k, struct task *t, const struct sys_args *a)
{
    uint64_t ns;
    int rc = ktime_clock_now(k, t, (int)a->a[0], &ns);
    if (rc)
        return rc;
    return a->a[1] ? ktime_write_timespec(k, t, a->a[1], 1) : 0;
}

long sys_gettimeofday(struct kernel *k, struct task *t, const struct sys_args *a)
{
    uint64_t ns;
    ktime_clock_now(k, t, LX_CLOCK_REALTIME, &ns);
    if (a->a[0]) {
        int64_t tv[2] = {(int64_t)(ns / NSEC_PER_SEC), (int64_t)(ns % NSEC_PER_SEC / 1000)};
        if (copy_to_user(k, t, a->a[0], tv, sizeof(tv)) != 0)
            return -LX_EFAULT;
    }
    if (a->a[1]) {
        int32_t tz[2] = {0, 0};
        if (copy_to_user(k, t, a->a[1], tz, sizeof(tz)) != 0)
            return -LX_EFAULT;
    }
    return 0;
}

long sys_time(struct kernel *k, struct task *t, const struct sys_args *a)
{
    uint64_t ns;
    ktime_clock_now(k, t, LX_CLOCK_REALTIME, &ns);
    int64_t sec = (int64_t)(ns / NSEC_PER_SEC);
    if (a->a[0] && copy_to_user(k, t, a->a[0], &sec, sizeof(sec)) != 0)
        return -LX_EFAULT;
    return sec;
}

/* Blocks t until the absolute virtual time `deadline` (monotonic). */
static long sleep_until(struct kernel *k, struct task *t, uint64_t deadline, guest_addr_t rem,
                        bool restartable)
{
    if (deadline <= sched_now(k, t))
        return 0;
    t->wait.kind = WAIT_SLEEP;
    t->wait.timeout_ret = 0;
    t->wait.interrupted_ret = restartable ? -LX_ERESTART_RESTARTBLOCK : -LX_ERESTARTNOHAND;
    t->restart =
        (struct task_restart){.kind = RESTART_NANOSLEEP, .deadline_ns = deadline, .addr = rem};
    sched_block(k, t);
    timer_arm_task(k, t, deadline);
    return SYS_BLOCKED;
}

long sys_nanosleep(struct kernel *k, struct task *t, const struct sys_args *a)
{
    uint64_t ns;
    int rc = ktime_read_timespec(k, t, a->a[0], &ns);
    if (rc)
        return rc;
    return sleep_until(k, t, sched_now(k, t) + ns, a->a[1], true);
}

long sys_clock_nanosleep(struct kernel *k, struct task *t, const struct sys_args *a)
{
    int clock = (int)a->a[0];
    uint64_t ns, now;
    if (clock == LX_CLOCK_THREAD_CPUTIME_ID)
        return -LX_EINVAL;
    if (ktime_clock_now(k, t, clock, &now) != 0)
        return -LX_EINVAL;
    int rc = ktime_read_timespec(k, t, a->a[2], &ns);
    if (rc)
        return rc;
    if (a->a[1] & LX_TIMER_ABSTIME)
        return sleep_until(k, t, ktime_deadline(clock, ns), 0, true);
    return sleep_until(k, t, sched_now(k, t) + ns, a->a[3], true);
}

long sys_restart_syscall(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)a;
    switch (t->restart.kind) {
    case RESTART_NANOSLEEP:
        return sleep_until(k, t, t->restart.deadline_ns, t->restart.addr, true);
    case RESTART_FUTEX_WAIT:
        return futex_restart(k, t);
    default:
        return -LX_EINTR;
    }
}

long sys_pause(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)a;
    t->wait.kind = WAIT_PAUSE;
    t->wait.interrupted_ret = -LX_ERESTARTNOHAND;
    sched_block(k, t);
    return SYS_BLOCKED;
}

/* ppoll/poll: no file here ever becomes ready, so polling is a sleep (param_test -s uses
 * poll(NULL, 0, ms) to sleep). */
static long poll_sleep(struct kernel *k, struct task *t, guest_addr_t fds, uint64_t nfds,
                       bool has_timeout, uint64_t timeout_ns)
{
    if (nfds > 0) {
        uint8_t pfd[8];
        for (uint64_t i = 0; i < nfds; i++) {
            if (copy_from_user(k, t, pfd, fds + i * 8, 8) != 0)
                return -LX_EFAULT;
            int16_t revents = 0;
            int32_t fd;
            memcpy(&fd, pfd, 4);
            if (fd >= 0 && (fd >= FD_MAX || t->proc->fds[fd].kind == FD_NONE))
                revents = 0x20; /* POLLNVAL */
            else if (fd >= 0)
                revents = (int16_t)(*(int16_t *)(pfd + 4) & 0x5); /* POLLIN|POLLOUT: ready */
            if (copy_to_user(k, t, fds + i * 8 + 6, &revents, 2) != 0)
                return -LX_EFAULT;
            if (revents)
                return 1;
        }
    }
    if (!has_timeout) {
        t->wait.kind = WAIT_PAUSE;
        t->wait.interrupted_ret = -LX_ERESTARTNOHAND;
        sched_block(k, t);
        return SYS_BLOCKED;
    }
    if (timeout_ns == 0)
        return 0;
    return sleep_until(k, t, sched_now(k, t) + timeout_ns, 0, false);
}

long sys_poll(struct kernel *k, struct task *t, const struct sys_args *a)
{
    int timeout_ms = (int)a->a[2];
    return poll_sleep(k, t, a->a[0], a->a[1], timeout_ms >= 0,
                      timeout_ms >= 0 ? (uint64_t)timeout_ms * 1000000ULL : 0);
}

long sys_ppoll(struct kernel *k, struct task *t, const struct sys_args *a)
{
    uint64_t ns = 0;
    if (a->a[2]) {
        int rc = ktime_read_timespec(k, t, a->a[2], &ns);
        if (rc)
            return rc;
    }
    return poll_sleep(k, t, a->a[0], a->a[1], a->a[2] != 0, ns);
}

static int itimer_write(struct kernel *k, struct task *t, guest_addr_t addr, uint64_t interval,
                        uint64_t value)
{
    int64_t v[4] = {(int64_t)(interval / NSEC_PER_SEC), (int64_t)(interval % NSEC_PER_SEC / 1000),
                    (int64_t)(value / NSEC_PER_SEC), (int64_t)(value % NSEC_PER_SEC / 1000)};
    return copy_to_user(k, t, addr, v, sizeof(v));
}

static uint64_t itimer_left(struct kernel *k, struct task *t)
{
    uint64_t now = sched_now(k, t), d = t->proc->itimer_deadline_ns;
    return d > now ? d - now : (d ? 1000 : 0);
}

long sys_getitimer(struct kernel *k, struct task *t, const struct sys_args *a)
{
    if (a->a[0] != ITIMER_REAL)
        return a->a[0] <= 2 ? itimer_write(k, t, a->a[1], 0, 0) : -LX_EINVAL;
    return itimer_write(k, t, a->a[1], t->proc->itimer_interval_ns, itimer_left(k, t));
}

long sys_setitimer(struct kernel *k, struct task *t, const struct sys_args *a)
{
    if (a->a[0] > 2)
        return -LX_EINVAL;
    int64_t v[4] = {0, 0, 0, 0};
    if (a->a[1] && copy_from_user(k, t, v, a->a[1], sizeof(v)) != 0)
        return -LX_EFAULT;
    if (v[1] < 0 || v[1] >= 1000000 || v[3] < 0 || v[3] >= 1000000 || v[0] < 0 || v[2] < 0)
        return -LX_EINVAL;
    if (a->a[2] && itimer_write(k, t, a->a[2], t->proc->itimer_interval_ns, itimer_left(k, t)))
        return -LX_EFAULT;
    if (a->a[0] != ITIMER_REAL)
        return 0; /* virtual and profiling timers are accepted and never fire */
    struct process *p = t->proc;
    uint64_t value = (uint64_t)v[2] * NSEC_PER_SEC + (uint64_t)v[3] * 1000;
    p->itimer_interval_ns = (uint64_t)v[0] * NSEC_PER_SEC + (uint64_t)v[1] * 1000;
    p->itimer_deadline_ns = value ? sched_now(k, t) + value : 0;
    timer_arm_itimer(k, p);
    return 0;
}

long sys_alarm(struct kernel *k, struct task *t, const struct sys_args *a)
{
    struct process *p = t->proc;
    uint64_t left = itimer_left(k, t);
    p->itimer_interval_ns = 0;
    p->itimer_deadline_ns =
        a->a[0] ? sched_now(k, t) + (uint64_t)(uint32_t)a->a[0] * NSEC_PER_SEC : 0;
    timer_arm_itimer(k, p);
    return (long)((left + NSEC_PER_SEC / 2) / NSEC_PER_SEC);
}

long sys_times(struct kernel *k, struct task *t, const struct sys_args *a)
{
    uint64_t ticks = t->proc->insns * NS_PER_INSN / 10000000ULL; /* CLK_TCK 100 */
    if (a->a[0]) {
        int64_t tms[4] = {(int64_t)ticks, 0, 0, 0};
        if (copy_to_user(k, t, a->a[0], tms, sizeof(tms)) != 0)
            return -LX_EFAULT;
    }
    return (long)(sched_now(k, t) / 10000000ULL);
}

long sys_getrusage(struct kernel *k, struct task *t, const struct sys_args *a)
{
    int who = (int)a->a[0];
    if (who != 0 && who != -1 && who != 1)
        return -LX_EINVAL;
    uint8_t ru[144] = {0};
    uint64_t ns = (who == 1 ? t->insns : t->proc->insns) * NS_PER_INSN;
    if (who == -1)
        ns = 0;
    int64_t utime[2] = {(int64_t)(ns / NSEC_PER_SEC), (int64_t)(ns % NSEC_PER_SEC / 1000)};
    memcpy(ru, utime, sizeof(utime));
    return copy_to_user(k, t, a->a[1], ru, sizeof(ru));
}
