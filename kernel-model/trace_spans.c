#include "trace_spans.h"

#include <string.h>

void trace_spans_init(struct trace_spans *s, trace_span_fn done, void *ctx)
{
    memset(s, 0, sizeof(*s));
    s->done = done;
    s->ctx = ctx;
}

static void close_span(struct trace_spans *s, struct trace_span *open, uint64_t ns)
{
    if (!open->tid)
        return;
    /* A vCPU's clock never goes back, but an event can be stamped with the clock of the vCPU
     * the model serves; a span never ends before it starts. */
    open->end_ns = ns > open->start_ns ? ns : open->start_ns;
    s->done(s->ctx, open);
    open->tid = 0;
}

/* Events after which the thread is off its vCPU until a `switch` brings it back. */
static bool leaves_cpu(const char *ev)
{
    static const char *const leaving[] = {"preempt", "block", "exit", "migrate"};
    for (size_t i = 0; i < sizeof(leaving) / sizeof(leaving[0]); i++)
        if (!strcmp(ev, leaving[i]))
            return true;
    return false;
}

void trace_spans_event(struct trace_spans *s, const char *ev, int cpu, int tid, uint64_t ns,
                       uint64_t insns)
{
    if (!tid)
        return;
    for (int i = 0; i < TRACE_SPANS_CPUS; i++) {
        struct trace_span *o = &s->open[i];
        if (o->tid != tid)
            continue;
        o->end_insns = insns;
        if (leaves_cpu(ev) || (!strcmp(ev, "switch") && i != cpu))
            close_span(s, o, ns);
    }
    if (strcmp(ev, "switch") || cpu < 0 || cpu >= TRACE_SPANS_CPUS)
        return;
    struct trace_span *o = &s->open[cpu];
    close_span(s, o, ns);
    *o = (struct trace_span){
        .cpu = cpu, .tid = tid, .start_ns = ns, .start_insns = insns, .end_insns = insns};
}

void trace_spans_end(struct trace_spans *s, uint64_t ns)
{
    for (int i = 0; i < TRACE_SPANS_CPUS; i++)
        close_span(s, &s->open[i], ns);
}
