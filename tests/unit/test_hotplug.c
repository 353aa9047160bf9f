/* CPU hotplug (README "What the guest sees"): CPUs offline from the start (--offline), the
 * schedule's offline and online events, what the guest reads of them (sysfs, sysconf,
 * sched_getaffinity, getcpu and the rseq area's cpu_id), the affinity fallback, membarrier
 * aimed at an offline CPU, the events a schedule cannot have, and record then replay.
 *
 * tests/guests/hotplug_probe's workers spin after a barrier, so a position of thread 101 past
 * 2 million instructions is inside its loop on both architectures, with every worker started.
 * The exact CPUs follow from the model's placement: a new thread goes to the next idle CPU,
 * round-robin fills the gaps of a hand-written schedule, and idle CPUs take waiting threads. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest_run.h"
#include "kernel-model/cpulist.h"

#define BUDGET 400000000ULL

static struct guest_result r;

static void run(const char *arch, const struct guest_opts *o, const char *const *args)
{
    cr_assert_eq(guest_run(arch, "hotplug_probe", args, o, &r), 0, "%s", r.err);
}

static void run_ok(const char *arch, const struct guest_opts *o, const char *const *args)
{
    run(arch, o, args);
    cr_assert_eq(r.outcome, KERNEL_EXITED, "%s: outcome %d\n%s", arch, r.outcome, r.err);
    cr_assert_eq(r.status, 0, "%s: status %d\n%s%s", arch, r.status, r.out, r.err);
}

/* The output line that starts with prefix, without its newline. */
static const char *line_of(const char *prefix)
{
    static char line[512];
    for (const char *p = r.out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, prefix, strlen(prefix)))
            continue;
        size_t n = strcspn(p, "\n");
        snprintf(line, sizeof(line), "%.*s", (int)n, p);
        return line;
    }
    cr_assert_fail("no line '%s' in:\n%s", prefix, r.out);
    return "";
}

Test(cpulist, parses_and_writes_what_linux_writes)
{
    static const struct {
        const char *text;
        uint64_t mask;
        const char *written;
    } ok[] = {
        {"0", 0x1, "0"},      {"1,3", 0xa, "1,3"},        {"2-5", 0x3c, "2-5"},
        {"6,7", 0xc0, "6-7"}, {"1,3-4,3", 0x1a, "1,3-4"}, {"0-63", ~0ULL, "0-63"},
        {"5-5", 0x20, "5"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t m = 0;
        char err[96] = "", buf[64];
        cr_expect_eq(cpulist_parse(ok[i].text, 64, &m, err, sizeof(err)), 0, "%s: %s", ok[i].text,
                     err);
        cr_expect_eq(m, ok[i].mask, "%s", ok[i].text);
        cpulist_format(ok[i].mask, buf, sizeof(buf));
        cr_expect_str_eq(buf, ok[i].written);
    }
    static const struct {
        const char *text, *error;
    } bad[] = {
        {"", "expected a CPU number at ''"},     {"1,", "expected a CPU number at ''"},
        {"4", "CPU 4 is not below 4"},           {"1-9", "CPU 9 is not below 4"},
        {"3-1", "the range 3-1 goes backwards"}, {"1 2", "expected ',' or '-' at ' 2'"},
        {"-1", "expected a CPU number"},         {"99999999999999999999", "is not below 4"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t m = 0;
        char err[96] = "";
        cr_expect_eq(cpulist_parse(bad[i].text, 4, &m, err, sizeof(err)), -1, "%s", bad[i].text);
        cr_expect(strstr(err, bad[i].error), "%s: expected '%s', got '%s'", bad[i].text,
                  bad[i].error, err);
    }
    char buf[8];
    cpulist_format(0, buf, sizeof(buf));
    cr_expect_str_eq(buf, "", "no CPU, no text");
}

/* --cpus 8 --offline 1,3,5: sysfs, sysconf and the affinity mask agree on 0,2,4,6-7. */
Test(hotplug, offline_from_the_start_with_sparse_numbering)
{
    static const char *const args[] = {"show", NULL};
    struct guest_opts o = {.cpus = 8, .offline = 0x2a, .max_insns = BUDGET};
    for (int a = 0; a < 2; a++) {
        run_ok(guest_arches[a], &o, args);
        cr_expect_str_eq(r.out,
                         "show: onln 5 conf 8 online 0,2,4,6-7 possible 0-7 present 0-7 offline "
                         "1,3,5 affinity 0,2,4,6-7\ncpu 0\n",
                         "%s", guest_arches[a]);
    }
}

/* The random policy spreads six spinning threads, and migrates them, over online CPUs only. */
Test(hotplug, threads_run_only_on_online_cpus)
{
    static const char *const args[] = {"workers", "any", "any", "any", "any", "any", "any", NULL};
    for (int a = 0; a < 2; a++) {
        for (uint64_t seed = 1; seed <= 2; seed++) {
            struct guest_opts o = {.cpus = 8, .offline = 0x2a, .seed = seed, .max_insns = BUDGET};
            run_ok(guest_arches[a], &o, args);
            for (const char *p = r.out; (p = strstr(p, "cpus ")) != NULL;) {
                p += 5;
                while (*p >= '0' && *p <= '9') {
                    int cpu = (int)strtol(p, (char **)&p, 10);
                    cr_expect(cpu != 1 && cpu != 3 && cpu != 5, "%s seed %llu: ran on CPU %d\n%s",
                              guest_arches[a], (unsigned long long)seed, cpu, r.out);
                    p += *p == ' ';
                }
            }
            cr_expect(strstr(r.out, "offline cpu seen 1") == NULL, "%s", r.out);
            cr_expect(strstr(r.out, "disagrees 1") == NULL, "%s", r.out);
            cr_expect(guest_stat(&r, "migrations") > 0);
        }
    }
}

/* Two threads pinned to CPU 2 share it, one running and one queued, when it goes offline: both
 * move to CPU 0 with their affinity widened to every CPU (the root cpuset's fallback), their
 * cpu_id follows, and idle CPU 1 takes one of them. */
Test(hotplug, offline_moves_running_and_queued_threads_with_the_affinity_fallback)
{
    static const char *const args[] = {"workers", "any", "2", "2", NULL};
    struct guest_opts o = {.cpus = 4,
                           .max_insns = BUDGET,
                           .schedule = "rseqemu-schedule 1\nevents\n101:2000000 offline 2\n"};
    for (int a = 0; a < 2; a++) {
        run_ok(guest_arches[a], &o, args);
        cr_expect_str_eq(line_of("worker 1"),
                         "worker 1 (2): cpus 2 1 | affinity 0-1,3 | getcpu disagrees 0 | offline "
                         "cpu seen 0");
        cr_expect_str_eq(line_of("worker 2"),
                         "worker 2 (2): cpus 2 0 | affinity 0-1,3 | getcpu disagrees 0 | offline "
                         "cpu seen 0");
        cr_expect_str_eq(line_of("end"), "end: onln 3 conf 4 online 0-1,3 possible 0-3 present "
                                         "0-3 offline 2 affinity 0-1,3");
        cr_expect_eq(guest_stat(&r, "migrations") >= 2, 1);
    }
}

/* Threads that may use CPUs 2 and 3 keep that affinity: CPU 2's thread (101 itself, whose
 * position the event has) goes to 3; once 2 is back online, idle CPU 2 takes them again. */
Test(hotplug, offline_then_online_within_the_affinity)
{
    static const char *const args[] = {"workers", "2-3", "2-3", "2-3", NULL};
    struct guest_opts o = {
        .cpus = 4,
        .max_insns = BUDGET,
        .schedule = "rseqemu-schedule 1\nevents\n101:2000000 offline 2\n101:6000000 online 2\n"};
    for (int a = 0; a < 2; a++) {
        run_ok(guest_arches[a], &o, args);
        cr_expect_str_eq(line_of("worker 0"), "worker 0 (2-3): cpus 2 3 2 | affinity 2-3 | getcpu "
                                              "disagrees 0 | offline cpu seen 0");
        cr_expect_str_eq(line_of("worker 1"), "worker 1 (2-3): cpus 3 2 | affinity 2-3 | getcpu "
                                              "disagrees 0 | offline cpu seen 0");
        cr_expect_str_eq(line_of("end"), "end: onln 4 conf 4 online 0-3 possible 0-3 present 0-3 "
                                         "offline - affinity 0-3");
    }
}

/* A widened affinity stays wide: after CPU 2 is back, the fallen-back threads may use all. */
Test(hotplug, a_fallen_back_thread_keeps_every_cpu_once_its_own_is_back)
{
    static const char *const args[] = {"workers", "any", "2", "2", NULL};
    struct guest_opts o = {
        .cpus = 4,
        .max_insns = BUDGET,
        .schedule = "rseqemu-schedule 1\nevents\n101:2000000 offline 2\n101:6000000 online 2\n"};
    for (int a = 0; a < 2; a++) {
        run_ok(guest_arches[a], &o, args);
        cr_expect_str_eq(line_of("worker 2"), "worker 2 (2): cpus 2 0 | affinity 0-3 | getcpu "
                                              "disagrees 0 | offline cpu seen 0");
    }
}

/* select_fallback_rq looks in the offline CPU's node first: with two nodes (0-1, 2-3), CPU 3's
 * thread goes to CPU 2; with one node, to the lowest online CPU. */
Test(hotplug, the_fallback_cpu_is_in_the_same_node_first)
{
    static const char *const args[] = {"workers", "any", "any", "any", "any", NULL};
    const char *sched = "rseqemu-schedule 1\nevents\n101:2000000 offline 3\n";
    for (int a = 0; a < 2; a++) {
        struct guest_opts o = {.cpus = 4, .nodes = 2, .max_insns = BUDGET, .schedule = sched};
        run_ok(guest_arches[a], &o, args);
        cr_expect_str_eq(line_of("worker 0"), "worker 0 (any): cpus 3 2 | affinity 0-2 | getcpu "
                                              "disagrees 0 | offline cpu seen 0");
        o.nodes = 1;
        run_ok(guest_arches[a], &o, args);
        cr_expect_str_eq(line_of("worker 0"), "worker 0 (any): cpus 3 0 | affinity 0-2 | getcpu "
                                              "disagrees 0 | offline cpu seen 0");
    }
}

/* The thread whose position names the events runs on CPU 3: it moves to CPU 0, and its next
 * event at the same position still happens, there. Later, CPU 2's thread falls back to CPU 0
 * and idle CPU 3, online again, takes it. */
Test(hotplug, the_thread_of_the_event_moves_too)
{
    static const char *const args[] = {"workers", "any", "any", "any", NULL};
    struct guest_opts o = {.cpus = 4,
                           .max_insns = BUDGET,
                           .schedule = "rseqemu-schedule 1\nevents\n101:2000000 offline 3\n"
                                       "101:2000000 online 3\n101:3000000 offline 2\n"};
    for (int a = 0; a < 2; a++) {
        run_ok(guest_arches[a], &o, args);
        cr_expect_str_eq(line_of("worker 0"), "worker 0 (any): cpus 3 0 | affinity 0-1,3 | getcpu "
                                              "disagrees 0 | offline cpu seen 0");
        cr_expect_str_eq(line_of("worker 1"), "worker 1 (any): cpus 2 3 | affinity 0-1,3 | getcpu "
                                              "disagrees 0 | offline cpu seen 0");
        cr_expect_str_eq(line_of("end"), "end: onln 3 conf 4 online 0-1,3 possible 0-3 present "
                                         "0-3 offline 2 affinity 0-1,3");
    }
}

/* sched_setaffinity to offline CPUs only is EINVAL (spec 7.7: no online CPU in the mask). */
Test(hotplug, pinning_to_offline_cpus_only_is_einval)
{
    static const char *const args[] = {"workers", "1,3", "2-3", NULL};
    struct guest_opts o = {.cpus = 4, .offline = 0xa, .max_insns = BUDGET};
    for (int a = 0; a < 2; a++) {
        run_ok(guest_arches[a], &o, args);
        cr_expect(strstr(line_of("worker 0"), "| pin: Invalid argument"), "%s", r.out);
        cr_expect(strstr(line_of("worker 0"), "affinity 0,2 |"), "%s", r.out);
        cr_expect(strstr(line_of("worker 1"), "cpus 2 | affinity 2 |"), "%s", r.out);
    }
}

/* Spec 4.2 step 3: an offline target CPU gets no IPI and the call returns 0. */
Test(hotplug, membarrier_aimed_at_an_offline_cpu_sends_no_ipi)
{
    for (int a = 0; a < 2; a++) {
        struct guest_opts o = {.cpus = 4, .offline = 0x2, .max_insns = BUDGET};
        static const char *const to_offline[] = {"membarrier", "1", NULL};
        run_ok(guest_arches[a], &o, to_offline);
        cr_expect_str_eq(r.out, "membarrier rseq cpu 1: 0\n");
        cr_expect_eq(guest_stat(&r, "membarrier_ipis"), 0);
        /* The control: the spinner is on CPU 2, the next online CPU after the caller's. */
        static const char *const to_spinner[] = {"membarrier", "2", NULL};
        run_ok(guest_arches[a], &o, to_spinner);
        cr_expect_str_eq(r.out, "membarrier rseq cpu 2: 0\n");
        cr_expect_eq(guest_stat(&r, "membarrier_ipis"), 1);
    }
}

/* Events that cannot happen end the run with their line and the reason. */
Test(hotplug, impossible_events_are_refused)
{
    static const struct {
        int cpus;
        uint64_t offline;
        const char *events, *why;
    } cases[] = {
        {4, 0, "100:1000 offline 0\n", "100:1000 offline: CPU 0 cannot be taken offline"},
        {1, 0, "100:1000 offline 0\n", "CPU 0 is the last online CPU"},
        {4, 0, "100:1000 offline 2\n100:2000 offline 2\n",
         "line 4: 100:2000 offline: CPU 2 is "
         "already offline"},
        {4, 0x4, "100:1000 offline 2\n", "CPU 2 is already offline"},
        {4, 0, "100:1000 online 1\n", "CPU 1 is already online"},
        {4, 0, "100:1000 offline 4\n", "there is no CPU 4 (4 CPUs)"},
        {4, 0, "100:1000 online 63\n", "there is no CPU 63 (4 CPUs)"},
        {4, 0x4, "100:1000 migrate 2\n", "100:1000 migrate: that CPU is offline"},
    };
    static const char *const args[] = {"show", NULL};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char sched[256];
        snprintf(sched, sizeof(sched), "rseqemu-schedule 1\nevents\n%s", cases[i].events);
        struct guest_opts o = {.cpus = cases[i].cpus,
                               .offline = cases[i].offline,
                               .max_insns = BUDGET,
                               .schedule = sched};
        run("x86_64", &o, args);
        cr_expect_eq(r.outcome, KERNEL_BAD_SCHEDULE, "%s: outcome %d", cases[i].events, r.outcome);
        cr_expect(strstr(r.err, cases[i].why), "%sexpected '%s' in:\n%s", cases[i].events,
                  cases[i].why, r.err);
    }
}

/* --record writes the events of a script run, and replaying the recording (fill none: every
 * decision is an event) gives the same run. */
Test(hotplug, record_then_replay_gives_the_same_run)
{
    static const char *const args[] = {"workers", "any", "2", "2-3", NULL};
    for (int a = 0; a < 2; a++) {
        char *rec = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&rec, &len);
        fputs("rseqemu-schedule 1\nfill none\nevents\n", f);
        struct guest_opts o = {.cpus = 4,
                               .offline = 0x8,
                               .max_insns = BUDGET,
                               .record = f,
                               .schedule = "rseqemu-schedule 1\nevents\n101:2000000 offline 2\n"
                                           "101:2500000 online 3\n101:4000000 online 2\n"};
        run_ok(guest_arches[a], &o, args);
        fclose(f);
        char *first_out = strdup(r.out);
        uint64_t digest = r.digest;
        cr_expect(strstr(rec, "\n101:2000000 offline 2\n"), "%s", rec);
        cr_expect(strstr(rec, "\n101:2500000 online 3\n"), "%s", rec);
        cr_expect(strstr(rec, "\n101:4000000 online 2\n"), "%s", rec);
        o.record = NULL;
        o.schedule = rec;
        run_ok(guest_arches[a], &o, args);
        cr_expect_eq(r.digest, digest, "%s: the replay differs", guest_arches[a]);
        cr_expect_str_eq(r.out, first_out);
        free(first_out);
        free(rec);
    }
}
