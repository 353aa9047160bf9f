#include "event.h"

#include "syscall.h"
#include "trace_rec.h"

static void event_begin(struct kernel *k, enum event_kind kind, const struct task *t)
{
    struct hash64 *h = &k->st->digest;
    k->st->events++;
    hash64_u64(h, (uint64_t)kind);
    hash64_u64(h, t ? (uint64_t)t->tid : 0);
    hash64_u64(h, t ? t->insns : 0);
    hash64_u64(h, t ? (uint64_t)t->cpu : 0);
}

static void recent_note(struct kernel *k, enum event_kind kind, const struct task *t, uint64_t a,
                        uint64_t b, uint64_t c)
{
    struct crash_ring *r = &k->recent;
    r->ev[r->next % CRASH_EVENTS] = (struct crash_event){.seq = k->st->events,
                                                         .insns = t ? t->insns : 0,
                                                         .a = a,
                                                         .b = b,
                                                         .c = c,
                                                         .tid = t ? t->tid : 0,
                                                         .cpu = t ? t->cpu : 0,
                                                         .kind = (uint32_t)kind};
    r->next++;
    if (k->cfg.crash_test && k->st->events == k->cfg.crash_test_event)
        crash_test_fire(k->cfg.crash_test);
}

void event_emit(struct kernel *k, enum event_kind kind, const struct task *t, uint64_t a,
                uint64_t b, uint64_t c)
{
    recent_note(k, kind, t, a, b, c);
    /* Decisions are causes, not part of what happened: a replay, which takes them from a
     * schedule file, must give the same digest. */
    if (kind == EV_DECIDE)
        return;
    if (k->cfg.trace)
        trace_event(k, kind, t, a, b, c);
    event_begin(k, kind, t);
    hash64_u64(&k->st->digest, a);
    hash64_u64(&k->st->digest, b);
    hash64_u64(&k->st->digest, c);
}

void event_syscall(struct kernel *k, const struct task *t, const struct sys_args *args, long ret)
{
    recent_note(k, EV_SYSCALL, t, args->nr, args->a[0], (uint64_t)ret);
    if (k->cfg.trace)
        trace_syscall(k, t, args, ret);
    event_begin(k, EV_SYSCALL, t);
    struct hash64 *h = &k->st->digest;
    hash64_u64(h, args->nr);
    for (int i = 0; i < 6; i++)
        hash64_u64(h, args->a[i]);
    hash64_u64(h, (uint64_t)ret);
}
