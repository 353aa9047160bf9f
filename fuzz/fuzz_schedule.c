/* Schedule files (kernel-model/schedule.c), every version of the format: the parser must refuse
 * what it cannot read with a line and a reason, and what it accepts must come back the same
 * when written out and read again (what --record writes, replay reads). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernel-model/schedule.h"

static void differ(const char *what, const char *text)
{
    harness_fail("fuzz_schedule: %s differs after writing the schedule out:\n%s", what, text);
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_list(char **a, char **b)
{
    if (!a || !b)
        return a == b;
    size_t i = 0;
    for (; a[i] && b[i]; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return !a[i] && !b[i];
}

/* What schedule_write_header() and schedule_write_event() keep of a parsed file. */
static void check_same(const struct schedule *a, const struct schedule *b, const char *text)
{
    if (a->version != b->version)
        differ("version", text);
    if (!same_str(a->program, b->program))
        differ("program", text);
    if (a->has_hash != b->has_hash || (a->has_hash && a->program_hash != b->program_hash))
        differ("program-hash", text);
    if (strcmp(a->arch, b->arch) != 0)
        differ("arch", text);
    if (!same_list(a->argv, b->argv))
        differ("argv", text);
    if (!same_list(a->envp, b->envp))
        differ("env", text);
    if (a->cpus != b->cpus || a->nodes != b->nodes || a->offline != b->offline)
        differ("cpus, nodes or offline", text);
    if (a->kernel != b->kernel || a->seed != b->seed || a->max_insns != b->max_insns ||
        a->max_mem != b->max_mem || a->cs_inject_span != b->cs_inject_span ||
        a->rseq_debug != b->rseq_debug || a->cpu_opv_nr != b->cpu_opv_nr ||
        a->policy != b->policy || a->fill != b->fill)
        differ("an option", text);
    if (a->policy == POLICY_PCT && (a->pct_depth != b->pct_depth || a->pct_steps != b->pct_steps))
        differ("pct-depth or pct-steps", text);
    if (a->nevents != b->nevents)
        differ("the number of events", text);
    for (size_t i = 0; i < a->nevents; i++) {
        const struct sched_event *x = &a->events[i], *y = &b->events[i];
        if (x->tid != y->tid || x->at != y->at || x->verb != y->verb || x->arg != y->arg)
            differ("an event", text);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    harness_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    struct schedule *s = schedule_parse((const char *)data, size, err, sizeof(err));
    if (!s) {
        if (err[0] == '\0')
            differ("a refusal without a reason", "");
        return 0;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        abort();
    schedule_write_header(out, s);
    for (size_t i = 0; i < s->nevents; i++) {
        const struct sched_event *e = &s->events[i];
        schedule_write_event(out, e->tid, e->at, e->verb, e->arg);
    }
    fclose(out);
    struct schedule *again = schedule_parse(text, len, err, sizeof(err));
    if (!again) {
        harness_fail("fuzz_schedule: the written schedule does not parse: %s\n%s", err, text);
    }
    check_same(s, again, text);
    schedule_free(again);
    schedule_free(s);
    free(text);
    return 0;
}
