/* Chrome's trace-event JSON, which Perfetto UI and chrome://tracing open: one track per vCPU
 * with the threads it ran as slices, and instant events for what users look for (rseq
 * aborts, signals, IPIs, faults). Times are virtual microseconds. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "trace_rec.h"
#include "trace_spans.h"

#define VCPU_PID 1 /* every vCPU track belongs to one "process": the machine */

struct perfetto {
    FILE *out;
    bool first;
    uint64_t last_ns;
    struct trace_spans spans;
};

static void put(struct perfetto *p, json_t *ev)
{
    fputs(p->first ? "\n" : ",\n", p->out);
    p->first = false;
    json_dumpf(ev, p->out, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(ev);
}

static json_t *micros(uint64_t ns) { return json_real((double)ns / 1000.0); }

static void metadata(struct perfetto *p, const char *what, int tid, json_t *args)
{
    json_t *ev = json_object();
    json_object_set_new(ev, "ph", json_string("M"));
    json_object_set_new(ev, "name", json_string(what));
    json_object_set_new(ev, "pid", json_integer(VCPU_PID));
    if (tid >= 0)
        json_object_set_new(ev, "tid", json_integer(tid));
    json_object_set_new(ev, "args", args);
    put(p, ev);
}

static void start(struct perfetto *p, const struct trace_rec *r)
{
    int cpus = 1;
    for (int i = 0; i < r->nfields; i++)
        if (!strcmp(r->f[i].key, "cpus"))
            cpus = (int)r->f[i].i;
    metadata(p, "process_name", -1, json_pack("{s:s}", "name", "rseqemu vCPUs"));
    for (int c = 0; c < cpus; c++) {
        char name[32];
        snprintf(name, sizeof(name), "vCPU %d", c);
        metadata(p, "thread_name", c, json_pack("{s:s}", "name", name));
        metadata(p, "thread_sort_index", c, json_pack("{s:i}", "sort_index", c));
    }
}

static void span_done(void *ctx, const struct trace_span *s)
{
    struct perfetto *p = ctx;
    char name[32];
    snprintf(name, sizeof(name), "tid %d", s->tid);
    json_t *ev = json_object();
    json_object_set_new(ev, "name", json_string(name));
    json_object_set_new(ev, "cat", json_string("thread"));
    json_object_set_new(ev, "ph", json_string("X"));
    json_object_set_new(ev, "pid", json_integer(VCPU_PID));
    json_object_set_new(ev, "tid", json_integer(s->cpu));
    json_object_set_new(ev, "ts", micros(s->start_ns));
    json_object_set_new(ev, "dur", micros(s->end_ns - s->start_ns));
    json_object_set_new(ev, "args",
                        json_pack("{s:i,s:I,s:I}", "tid", s->tid, "insns_from",
                                  (json_int_t)s->start_insns, "insns_to",
                                  (json_int_t)s->end_insns));
    put(p, ev);
}

/* The events shown as marks, and their names on the track. */
static const struct {
    const char *ev, *name, *cat;
} instants[] = {
    {"rseq_abort", "rseq abort", "rseq"},
    {"signal", "signal", "signal"},
    {"signal_default", "killed", "signal"},
    {"ipi", "IPI", "ipi"},
    {"fault", "fault", "fault"},
    {"migrate", "migrate", "sched"},
};

static void instant(struct perfetto *p, const struct trace_rec *r)
{
    for (size_t i = 0; i < sizeof(instants) / sizeof(instants[0]); i++) {
        if (strcmp(r->ev, instants[i].ev) || r->cpu < 0)
            continue;
        json_t *ev = json_object();
        json_object_set_new(ev, "name", json_string(instants[i].name));
        json_object_set_new(ev, "cat", json_string(instants[i].cat));
        json_object_set_new(ev, "ph", json_string("i"));
        json_object_set_new(ev, "s", json_string("t"));
        json_object_set_new(ev, "pid", json_integer(VCPU_PID));
        json_object_set_new(ev, "tid", json_integer(r->cpu));
        json_object_set_new(ev, "ts", micros(r->ns));
        json_object_set_new(ev, "args", trace_rec_json(r));
        put(p, ev);
        return;
    }
}

static void perfetto_event(void *state, const struct trace_rec *r)
{
    struct perfetto *p = state;
    if (r->ns > p->last_ns)
        p->last_ns = r->ns;
    if (!strcmp(r->ev, "start"))
        start(p, r);
    trace_spans_event(&p->spans, r->ev, r->cpu, r->tid, r->ns, r->insns);
    instant(p, r);
}

static void perfetto_finish(void *state)
{
    struct perfetto *p = state;
    trace_spans_end(&p->spans, p->last_ns);
    fputs("\n]}\n", p->out);
    fflush(p->out);
}

void trace_writer_perfetto(struct trace_writer *w, FILE *out)
{
    struct perfetto *p = calloc(1, sizeof(*p));
    p->out = out;
    p->first = true;
    trace_spans_init(&p->spans, span_done, p);
    fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", out);
    *w = (struct trace_writer){
        .event = perfetto_event, .finish = perfetto_finish, .destroy = free, .state = p};
}
