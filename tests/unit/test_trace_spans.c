/* Which thread each vCPU ran (kernel-model/trace_spans.c), rebuilt from trace events as the
 * Perfetto output and the timeline rebuild it: a span opens at a switch and ends when its
 * thread leaves the vCPU, at the next switch there, or at the end of the run. */
#include <criterion/criterion.h>

#include "kernel-model/trace_spans.h"

static struct trace_span got[16];
static int ngot;

static void collect(void *ctx, const struct trace_span *s)
{
    (void)ctx;
    cr_assert_lt(ngot, 16);
    got[ngot++] = *s;
}

static struct trace_spans spans;

static void setup(void)
{
    ngot = 0;
    trace_spans_init(&spans, collect, NULL);
}

static void expect(int i, int cpu, int tid, uint64_t from, uint64_t to, uint64_t insns_from,
                   uint64_t insns_to)
{
    cr_assert_gt(ngot, i, "span %d never ended", i);
    const struct trace_span *s = &got[i];
    cr_expect_eq(s->cpu, cpu, "span %d: cpu %d", i, s->cpu);
    cr_expect_eq(s->tid, tid, "span %d: tid %d", i, s->tid);
    cr_expect_eq(s->start_ns, from, "span %d: from %llu", i, (unsigned long long)s->start_ns);
    cr_expect_eq(s->end_ns, to, "span %d: to %llu", i, (unsigned long long)s->end_ns);
    cr_expect_eq(s->start_insns, insns_from, "span %d", i);
    cr_expect_eq(s->end_insns, insns_to, "span %d", i);
}

TestSuite(trace_spans, .init = setup);

Test(trace_spans, leaving_events_end_a_span_and_switches_start_one)
{
    trace_spans_event(&spans, "switch", 0, 1, 0, 0);
    trace_spans_event(&spans, "syscall", 0, 1, 50, 50);
    trace_spans_event(&spans, "preempt", 0, 1, 100, 100);
    trace_spans_event(&spans, "switch", 0, 2, 100, 0);
    trace_spans_event(&spans, "block", 0, 2, 130, 30);
    trace_spans_event(&spans, "switch", 0, 1, 130, 100);
    trace_spans_event(&spans, "exit", 0, 1, 160, 130);
    cr_assert_eq(ngot, 3);
    expect(0, 0, 1, 0, 100, 0, 100);
    expect(1, 0, 2, 100, 130, 0, 30);
    expect(2, 0, 1, 130, 160, 100, 130);
}

Test(trace_spans, an_ipi_or_a_signal_leaves_the_thread_running)
{
    trace_spans_event(&spans, "switch", 1, 7, 10, 0);
    trace_spans_event(&spans, "ipi", 1, 7, 20, 10);
    trace_spans_event(&spans, "signal", 1, 7, 30, 20);
    trace_spans_event(&spans, "rseq_abort", 1, 7, 30, 20);
    cr_assert_eq(ngot, 0);
    trace_spans_end(&spans, 45);
    expect(0, 1, 7, 10, 45, 0, 20);
}

Test(trace_spans, a_migration_ends_the_span_on_the_old_vcpu)
{
    trace_spans_event(&spans, "switch", 0, 3, 0, 0);
    trace_spans_event(&spans, "switch", 1, 4, 0, 0);
    trace_spans_event(&spans, "preempt", 0, 3, 40, 40);
    trace_spans_event(&spans, "migrate", 0, 3, 40, 40);
    trace_spans_event(&spans, "switch", 1, 3, 55, 40);
    expect(0, 0, 3, 0, 40, 0, 40);
    expect(1, 1, 4, 0, 55, 0, 0); /* a switch on vCPU 1 ends what ran there */
    trace_spans_end(&spans, 70);
    expect(2, 1, 3, 55, 70, 40, 40);
}

Test(trace_spans, a_span_never_ends_before_it_starts)
{
    /* Events are stamped with the clock of the vCPU the model serves; another vCPU's may be
     * behind. */
    trace_spans_event(&spans, "switch", 2, 9, 500, 0);
    trace_spans_event(&spans, "block", 2, 9, 400, 5);
    expect(0, 2, 9, 500, 500, 0, 5);
}

Test(trace_spans, events_without_a_thread_or_vcpu_change_nothing)
{
    trace_spans_event(&spans, "timer", -1, 0, 5, 0);
    trace_spans_event(&spans, "switch", -1, 4, 5, 0);
    trace_spans_event(&spans, "switch", TRACE_SPANS_CPUS, 4, 5, 0);
    trace_spans_end(&spans, 10);
    cr_expect_eq(ngot, 0);
}
