/* The machine's part of rseqemu's own failure report (crash.h). */
#include "crash.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu/emu.h"

#include "event.h"
#include "kstate.h"

static const struct kernel *crash_current;

void crash_set_kernel(const struct kernel *k) { crash_current = k; }
const struct kernel *crash_kernel(void) { return crash_current; }

void crash_puts(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void put_digits(int fd, uint64_t v, unsigned base)
{
    char buf[24];
    int i = (int)sizeof(buf) - 1;
    buf[i] = '\0';
    do {
        buf[--i] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v && i > 0);
    crash_puts(fd, &buf[i]);
}

void crash_putu(int fd, uint64_t v) { put_digits(fd, v, 10); }

void crash_putx(int fd, uint64_t v)
{
    crash_puts(fd, "0x");
    put_digits(fd, v, 16);
}

static const char *const kind_names[] = {
    [EV_DECIDE] = "decide",
    [EV_SWITCH] = "switch",
    [EV_PREEMPT] = "preempt",
    [EV_MIGRATE] = "migrate",
    [EV_SYSCALL] = "syscall",
    [EV_SIGNAL_SEND] = "signal-send",
    [EV_SIGNAL_DELIVER] = "signal-deliver",
    [EV_SIGNAL_DEFAULT] = "signal-default",
    [EV_BLOCK] = "block",
    [EV_WAKE] = "wake",
    [EV_CLONE] = "clone",
    [EV_EXIT] = "exit",
    [EV_FAULT] = "fault",
    [EV_RSEQ_REGISTER] = "rseq-register",
    [EV_RSEQ_ABORT] = "rseq-abort",
    [EV_TIMER] = "timer",
    [EV_INJECT] = "inject",
    [EV_EXEC] = "exec",
    [EV_CPU_OPV] = "cpu_opv",
    [EV_HOTPLUG] = "hotplug",
};

static void put_event(int fd, const struct crash_event *e)
{
    const char *name = e->kind < sizeof(kind_names) / sizeof(kind_names[0]) && kind_names[e->kind]
                           ? kind_names[e->kind]
                           : "?";
    crash_puts(fd, "    #");
    crash_putu(fd, e->seq);
    crash_puts(fd, " ");
    crash_puts(fd, name);
    if (e->tid) {
        crash_puts(fd, " thread ");
        crash_putu(fd, (uint64_t)e->tid);
        crash_puts(fd, " at ");
        crash_putu(fd, e->insns);
        crash_puts(fd, " on CPU ");
        crash_putu(fd, (uint64_t)e->cpu);
    }
    crash_puts(fd, " (");
    crash_putx(fd, e->a);
    crash_puts(fd, " ");
    crash_putx(fd, e->b);
    crash_puts(fd, " ");
    crash_putx(fd, e->c);
    crash_puts(fd, ")\n");
}

void crash_write_machine(int fd)
{
    const struct kernel *k = crash_current;
    if (!k) {
        crash_puts(fd, "  no machine was running\n");
        return;
    }
    crash_puts(fd, "  machine: ");
    crash_puts(fd, k->arch->name);
    crash_puts(fd, ", seed ");
    crash_putu(fd, k->cfg.seed);
    crash_puts(fd, ", --kernel ");
    crash_puts(fd, kernel_profile_names[k->cfg.profile]);
    crash_puts(fd, ", ");
    crash_putu(fd, (uint64_t)k->cfg.ncpus);
    crash_puts(fd, " CPUs");
    if (k->st) {
        crash_puts(fd, ", ");
        crash_putu(fd, k->st->total_insns);
        crash_puts(fd, " instructions, ");
        crash_putu(fd, k->st->events);
        crash_puts(fd, " events");
    }
    crash_puts(fd, "\n");
    const struct crash_ring *r = &k->recent;
    if (r->next == 0)
        return;
    crash_puts(fd, "  last events, oldest first:\n");
    uint64_t from = r->next > CRASH_EVENTS ? r->next - CRASH_EVENTS : 0;
    for (uint64_t i = from; i < r->next; i++)
        put_event(fd, &r->ev[i % CRASH_EVENTS]);
}

void crash_test_fire(const char *kind)
{
    if (!strcmp(kind, "segv"))
        raise(SIGSEGV);
    else if (!strcmp(kind, "engine"))
        emu_engine_assert_test();
    abort();
}
