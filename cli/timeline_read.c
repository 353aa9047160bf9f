/* Reading a --trace-json file into what the timeline draws: the vCPUs' spans (rebuilt as the
 * Perfetto output rebuilds them), the marks, and the critical sections aborts interrupted. */
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "timeline.h"

#define GROW(arr, n, cap)                                                                          \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            (cap) = (cap) ? 2 * (cap) : 256;                                                       \
            (arr) = realloc((arr), (cap) * sizeof(*(arr)));                                        \
            if (!(arr))                                                                            \
                abort();                                                                           \
        }                                                                                          \
    } while (0)

struct reader {
    struct timeline *tl;
    struct trace_spans spans;
    /* Per thread id: its last ended span (index + 1, 0 none). */
    size_t *last_span;
    size_t last_span_len;
    uint64_t ns_per_insn;
};

static void span_done(void *ctx, const struct trace_span *s)
{
    struct reader *rd = ctx;
    struct timeline *tl = rd->tl;
    GROW(tl->spans, tl->nspans, tl->spans_cap);
    tl->spans[tl->nspans++] = *s;
    if ((size_t)s->tid >= rd->last_span_len) {
        size_t len = (size_t)s->tid * 2 + 64;
        rd->last_span = realloc(rd->last_span, len * sizeof(*rd->last_span));
        if (!rd->last_span)
            abort();
        memset(rd->last_span + rd->last_span_len, 0,
               (len - rd->last_span_len) * sizeof(*rd->last_span));
        rd->last_span_len = len;
    }
    rd->last_span[s->tid] = tl->nspans;
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static int64_t num(json_t *o, const char *key, int64_t otherwise)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : otherwise;
}

/* "worker+0x45" or the address. */
static const char *where(json_t *o, const char *key)
{
    char k[64];
    snprintf(k, sizeof(k), "%s_sym", key);
    const char *sym = str(o, k);
    return sym[0] ? sym : str(o, key);
}

static void add_mark(struct timeline *tl, enum timeline_mark_kind kind, int cpu, int tid,
                     uint64_t ns, const char *text)
{
    GROW(tl->marks, tl->nmarks, tl->marks_cap);
    struct timeline_mark *m = &tl->marks[tl->nmarks++];
    *m = (struct timeline_mark){.kind = kind, .cpu = cpu, .tid = tid, .ns = ns};
    snprintf(m->text, sizeof(m->text), "%s", text);
}

/* The span of tid that holds positions [from, to]: the one running now, else its last one. */
static const struct trace_span *span_holding(struct reader *rd, int tid, uint64_t from, uint64_t to)
{
    for (int c = 0; c < TRACE_SPANS_CPUS; c++) {
        const struct trace_span *s = &rd->spans.open[c];
        if (s->tid == tid && s->start_insns <= from && to <= s->end_insns)
            return s;
    }
    if ((size_t)tid >= rd->last_span_len || !rd->last_span[tid])
        return NULL;
    const struct trace_span *s = &rd->tl->spans[rd->last_span[tid] - 1];
    return s->start_insns <= from && to <= s->end_insns ? s : NULL;
}

static void add_shade(struct reader *rd, json_t *o, int tid, uint64_t insns)
{
    int64_t before = num(o, "cs_insn", -1);
    if (before < 0 || (uint64_t)before > insns)
        return;
    uint64_t from = insns - (uint64_t)before;
    const struct trace_span *s = span_holding(rd, tid, from, insns);
    if (!s)
        return;
    struct timeline *tl = rd->tl;
    GROW(tl->shades, tl->nshades, tl->shades_cap);
    struct timeline_shade *sh = &tl->shades[tl->nshades++];
    *sh = (struct timeline_shade){
        .cpu = s->cpu,
        .tid = tid,
        .from_ns = s->start_ns + (from - s->start_insns) * rd->ns_per_insn,
        .to_ns = s->start_ns + (insns - s->start_insns) * rd->ns_per_insn,
    };
    snprintf(sh->text, sizeof(sh->text), "tid %d in the critical section at %s", tid,
             where(o, "cs_start"));
}

static void event(struct reader *rd, json_t *o, const char *ev, int cpu, int tid, uint64_t ns,
                  uint64_t insns)
{
    struct timeline *tl = rd->tl;
    char text[240];
    if (!strcmp(ev, "start")) {
        tl->cpus = (int)num(o, "cpus", 1);
        rd->ns_per_insn = (uint64_t)num(o, "ns_per_insn", 1);
        snprintf(tl->title, sizeof(tl->title), "%s, %d vCPUs, policy %s, seed %lld", str(o, "arch"),
                 tl->cpus, str(o, "policy"), (long long)num(o, "seed", 0));
    } else if (!strcmp(ev, "rseq_abort")) {
        snprintf(text, sizeof(text), "tid %d: rseq abort (%s) at %s: %s -> %s", tid, str(o, "why"),
                 where(o, "ip"), str(o, "ip_insn"), where(o, "abort_ip"));
        add_mark(tl, MARK_ABORT, cpu, tid, ns, text);
        add_shade(rd, o, tid, insns);
    } else if (!strcmp(ev, "signal")) {
        snprintf(text, sizeof(text), "tid %d: %s delivered to %s", tid, str(o, "sig"),
                 where(o, "handler"));
        add_mark(tl, MARK_SIGNAL, cpu, tid, ns, text);
    } else if (!strcmp(ev, "signal_default")) {
        snprintf(text, sizeof(text), "tid %d: killed by %s at %s", tid, str(o, "sig"),
                 where(o, "ip"));
        add_mark(tl, MARK_FAULT, cpu, tid, ns, text);
    } else if (!strcmp(ev, "fault")) {
        snprintf(text, sizeof(text), "tid %d: %s fault at %s: %s (address %s)", tid, str(o, "kind"),
                 where(o, "ip"), str(o, "ip_insn"), str(o, "addr"));
        add_mark(tl, MARK_FAULT, cpu, tid, ns, text);
    } else if (!strcmp(ev, "ipi")) {
        snprintf(text, sizeof(text), "IPI to cpu %d (tid %d at %s)", cpu, tid, where(o, "ip"));
        add_mark(tl, MARK_IPI, cpu, tid, ns, text);
    } else if (!strcmp(ev, "migrate")) {
        snprintf(text, sizeof(text), "tid %d: migrated from cpu %lld to cpu %lld", tid,
                 (long long)num(o, "from", -1), (long long)num(o, "to", -1));
        add_mark(tl, MARK_MIGRATE, cpu, tid, ns, text);
    }
}

/* What no trace rseqemu writes holds, and what the reader would size its tables by: a vCPU
 * beyond the model's, a thread id beyond Linux's (PID_MAX_LIMIT), a machine of no vCPU or of
 * more than the model has. False when the numbers are in range, else true with why. */
static bool out_of_range(json_t *o, const char *ev, int64_t cpu, int64_t tid, char *why, size_t len)
{
    if (cpu < -1 || cpu >= TRACE_SPANS_CPUS)
        snprintf(why, len, "cpu %lld is out of range", (long long)cpu);
    else if (tid < 0 || tid > TIMELINE_TID_MAX)
        snprintf(why, len, "tid %lld is out of range", (long long)tid);
    else if (!strcmp(ev, "start") &&
             (num(o, "cpus", 1) < 1 || num(o, "cpus", 1) > TRACE_SPANS_CPUS))
        snprintf(why, len, "cpus %lld is out of range", (long long)num(o, "cpus", 1));
    else
        return false;
    return true;
}

static int span_order(const void *a, const void *b)
{
    const struct trace_span *x = a, *y = b;
    if (x->cpu != y->cpu)
        return x->cpu < y->cpu ? -1 : 1;
    return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

int timeline_read(struct timeline *tl, FILE *in, char *err, size_t errlen)
{
    memset(tl, 0, sizeof(*tl));
    struct reader rd = {.tl = tl, .ns_per_insn = 1};
    trace_spans_init(&rd.spans, span_done, &rd);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    while ((len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        if (len == 0 || line[0] == '\n')
            continue;
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        const char *ev = json_string_value(json_object_get(o, "ev"));
        json_t *t = json_object_get(o, "t");
        if (!o || !ev || !json_is_integer(t) || json_integer_value(t) < 0) {
            snprintf(err, errlen, "line %d: %s", lineno,
                     !o   ? jerr.text
                     : ev ? "no virtual time (\"t\") in the event"
                          : "not a trace event (no \"ev\")");
            json_decref(o);
            rc = -1;
            break;
        }
        uint64_t ns = (uint64_t)json_integer_value(t);
        int64_t cpu = num(o, "cpu", -1), tid = num(o, "tid", 0);
        uint64_t insns = (uint64_t)num(o, "insns", 0);
        char why[96];
        if (out_of_range(o, ev, cpu, tid, why, sizeof(why))) {
            snprintf(err, errlen, "line %d: %s", lineno, why);
            json_decref(o);
            rc = -1;
            break;
        }
        if (ns > tl->end_ns)
            tl->end_ns = ns;
        event(&rd, o, ev, (int)cpu, (int)tid, ns, insns);
        trace_spans_event(&rd.spans, ev, (int)cpu, (int)tid, ns, insns);
        json_decref(o);
    }
    free(line);
    trace_spans_end(&rd.spans, tl->end_ns);
    free(rd.last_span);
    if (rc == 0 && lineno == 0) {
        snprintf(err, errlen, "the trace is empty");
        rc = -1;
    }
    /* Drawn lane by lane, left to right. */
    if (tl->nspans)
        qsort(tl->spans, tl->nspans, sizeof(*tl->spans), span_order);
    if (rc == 0 && !tl->cpus)
        for (size_t i = 0; i < tl->nspans; i++)
            if (tl->spans[i].cpu + 1 > tl->cpus)
                tl->cpus = tl->spans[i].cpu + 1;
    return rc;
}

void timeline_free(struct timeline *tl)
{
    free(tl->spans);
    free(tl->marks);
    free(tl->shades);
    memset(tl, 0, sizeof(*tl));
}
