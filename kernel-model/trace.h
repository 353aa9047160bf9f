/* Traces of a run, for people and tools: a readable log (--trace), the same as JSON lines
 * (--trace-json) and Chrome trace-event JSON for Perfetto (--perfetto). A trace observes the
 * run and never changes it: a traced run has the digest of an untraced one. */
#ifndef RSEQEMU_KERNEL_MODEL_TRACE_H
#define RSEQEMU_KERNEL_MODEL_TRACE_H

#include <stdbool.h>
#include <stdio.h>

struct trace;

enum trace_format {
    TRACE_TEXT,     /* one line per event, code addresses symbolized and disassembled */
    TRACE_JSON,     /* the same events as JSON objects, one per line */
    TRACE_PERFETTO, /* a track per vCPU with the threads it ran; aborts, signals, IPIs */
};

struct trace *trace_create(void);
/* Adds an output; the trace writes to out but does not close it. */
void trace_add_output(struct trace *tr, enum trace_format format, FILE *out);
/* Ends the open spans and the Perfetto document (after the run). */
void trace_finish(struct trace *tr);
void trace_destroy(struct trace *tr);

#endif
