/* Which thread each vCPU ran, when: spans rebuilt from a trace's events. The Perfetto output
 * and the timeline both draw them, so both see the same run. Pure bookkeeping. */
#ifndef RSEQEMU_KERNEL_MODEL_TRACE_SPANS_H
#define RSEQEMU_KERNEL_MODEL_TRACE_SPANS_H

#include <stdbool.h>
#include <stdint.h>

#define TRACE_SPANS_CPUS 64

struct trace_span {
    int cpu, tid;
    uint64_t start_ns, end_ns;
    uint64_t start_insns, end_insns; /* the thread's positions */
};

typedef void (*trace_span_fn)(void *ctx, const struct trace_span *span);

struct trace_spans {
    trace_span_fn done; /* called for each span as it ends */
    void *ctx;
    struct trace_span open[TRACE_SPANS_CPUS]; /* tid 0: the vCPU is idle */
};

void trace_spans_init(struct trace_spans *s, trace_span_fn done, void *ctx);
/* One event, by name (trace_rec.ev), on cpu (-1: none), of thread tid (0: none). */
void trace_spans_event(struct trace_spans *s, const char *ev, int cpu, int tid, uint64_t ns,
                       uint64_t insns);
/* Ends every open span at ns. */
void trace_spans_end(struct trace_spans *s, uint64_t ns);

#endif
