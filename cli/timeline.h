/* `rseqemu timeline`: a run's trace (--trace-json) drawn as a self-contained SVG. */
#ifndef RSEQEMU_CLI_TIMELINE_H
#define RSEQEMU_CLI_TIMELINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kernel-model/trace_spans.h"

enum timeline_mark_kind { MARK_ABORT, MARK_SIGNAL, MARK_IPI, MARK_FAULT, MARK_MIGRATE };

struct timeline_mark {
    enum timeline_mark_kind kind;
    int cpu, tid;
    uint64_t ns;
    char text[240]; /* the tooltip */
};

/* Where a thread ran inside a critical section, up to where something interrupted it. */
struct timeline_shade {
    int cpu, tid;
    uint64_t from_ns, to_ns;
    char text[160];
};

struct timeline {
    char title[160];
    int cpus;
    uint64_t end_ns;
    struct trace_span *spans;
    size_t nspans, spans_cap;
    struct timeline_mark *marks;
    size_t nmarks, marks_cap;
    struct timeline_shade *shades;
    size_t nshades, shades_cap;
};

/* The part of the run to draw, in virtual nanoseconds, and the drawing's width. */
struct timeline_view {
    uint64_t from_ns, to_ns;
    int width;
};

/* The largest thread id a trace may name: Linux's PID_MAX_LIMIT. */
#define TIMELINE_TID_MAX (4 * 1024 * 1024)

/* Reads a --trace-json file. 0, or -1 with err naming the line and the problem. */
int timeline_read(struct timeline *tl, FILE *in, char *err, size_t errlen);
void timeline_free(struct timeline *tl);
void timeline_svg(const struct timeline *tl, const struct timeline_view *v, FILE *out);

#endif
