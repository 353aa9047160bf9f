/* Schedule files (README "Schedule files"): what parses, what is refused with its line, that
 * writing and reading again gives the same schedule, and that no mutation of a valid file
 * crashes the parser (this suite also runs under AddressSanitizer). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel-model/rng.h"
#include "kernel-model/schedule.h"

static const char valid[] = "rseqemu-schedule 1\n"
                            "# a comment line\n"
                            "program \"guests/x86_64/percpu counter\"   # a trailing comment\n"
                            "program-hash 0123456789abcdef\n"
                            "arch x86_64\n"
                            "argv \"prog\" \"a \\\"b\\\"\" \"#not a comment\"\n"
                            "env \"A=1\"\n"
                            "env \"B=two words\"\n"
                            "cpus 3\n"
                            "offline 1\n"
                            "nodes 1\n"
                            "kernel 6.1\n"
                            "seed 42\n"
                            "max-insns 1000000\n"
                            "cs-inject-span 8\n"
                            "rseq-debug report\n"
                            "cpu-opv-nr 335\n"
                            "policy random\n"
                            "fill none\n"
                            "events\n"
                            "101:500 preempt\n"
                            "100:20 migrate 2\n"
                            "101:500 signal SIGUSR1\n"
                            "100:7 switch\n"
                            "102:0 expire\n"
                            "100:30 interrupt\n"
                            "100:31 tick\n"
                            "100:32 notify\n"
                            "100:33 ipi\n"
                            "101:499 signal 12\n"
                            "100:41 online 1\n"
                            "100:40 offline 2\n";

/* Version 2 adds the pick event and pct's options. */
static const char valid_v2[] = "rseqemu-schedule 2\n"
                               "program \"guests/x86_64/ledger\"\n"
                               "cpus 2\n"
                               "policy pct\n"
                               "pct-depth 2\n"
                               "pct-steps 64\n"
                               "fill none\n"
                               "events\n"
                               "101:900 preempt\n"
                               "101:900 pick 102   # 102 runs next on 101's CPU\n"
                               "100:40 pick 101\n"
                               "102:7 switch\n";

static struct schedule *parse(const char *text, char *err, size_t errlen)
{
    err[0] = '\0';
    return schedule_parse(text, strlen(text), err, errlen);
}

Test(schedule, a_valid_file_gives_every_field_and_sorted_events)
{
    char err[256];
    struct schedule *s = parse(valid, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    cr_expect_str_eq(s->program, "guests/x86_64/percpu counter");
    cr_expect(s->has_hash);
    cr_expect_eq(s->program_hash, 0x0123456789abcdefULL);
    cr_expect_str_eq(s->arch, "x86_64");
    cr_expect_str_eq(s->argv[1], "a \"b\"");
    cr_expect_str_eq(s->argv[2], "#not a comment");
    cr_expect_null(s->argv[3]);
    cr_expect_str_eq(s->envp[1], "B=two words");
    cr_expect_eq(s->cpus, 3);
    cr_expect_eq(s->offline, 0x2);
    cr_expect_eq(s->kernel, KERNEL_6_1);
    cr_expect_eq(s->seed, 42);
    cr_expect_eq(s->max_insns, 1000000);
    cr_expect_eq(s->cs_inject_span, 8);
    cr_expect_eq(s->rseq_debug, RSEQ_DEBUG_REPORT);
    cr_expect_eq(s->cpu_opv_nr, 335);
    cr_expect_eq(s->policy, POLICY_RANDOM);
    cr_expect_eq(s->fill, FILL_NONE);
    cr_assert_eq(s->nevents, 12);
    /* By thread, then position, then line. */
    cr_expect_eq(s->events[0].tid, 100);
    cr_expect_eq(s->events[0].at, 7);
    cr_expect_eq(s->events[0].verb, VERB_SWITCH);
    cr_expect_eq(s->events[1].verb, VERB_MIGRATE);
    cr_expect_eq(s->events[1].arg, 2);
    cr_expect_eq(s->events[6].verb, VERB_OFFLINE);
    cr_expect_eq(s->events[6].arg, 2);
    cr_expect_eq(s->events[7].verb, VERB_ONLINE);
    cr_expect_eq(s->events[7].arg, 1);
    cr_expect_eq(s->events[8].tid, 101);
    cr_expect_eq(s->events[8].at, 499);
    cr_expect_eq(s->events[8].arg, 12);
    cr_expect_eq(s->events[9].verb, VERB_PREEMPT);
    cr_expect_eq(s->events[10].verb, VERB_SIGNAL);
    cr_expect_eq(s->events[10].arg, 10);
    cr_expect_eq(s->events[10].line, 23);
    cr_expect_eq(s->events[11].tid, 102);
    schedule_free(s);
}

/* README "Schedule files": version 3 adds stall and swap, each with its argument, and a script
 * with either is written as version 3. */
Test(schedule, version_3_has_stall_and_swap)
{
    char err[256];
    struct schedule *s = parse("rseqemu-schedule 3\ncpus 2\nevents\n101:40 swap 1\n"
                               "101:40 stall 25\n102:7 stall 50000\n",
                               err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    cr_assert_eq(s->nevents, 3);
    cr_expect_eq(s->events[0].verb, VERB_SWAP);
    cr_expect_eq(s->events[0].arg, 1);
    cr_expect_eq(s->events[1].verb, VERB_STALL);
    cr_expect_eq(s->events[1].arg, 25);
    cr_expect_eq(s->events[2].arg, 50000);
    cr_expect_str_eq(sched_verb_name(VERB_STALL), "stall");
    cr_expect_str_eq(sched_verb_name(VERB_SWAP), "swap");
    cr_expect(sched_verb_has_arg(VERB_STALL) && sched_verb_has_arg(VERB_SWAP));
    cr_expect_eq(schedule_version_for(POLICY_SCRIPT, s->events, s->nevents), 3);
    cr_expect_eq(schedule_version_for(POLICY_SCRIPT, s->events, 0), 1);
    schedule_free(s);
}

Test(schedule, version_2_has_pick_events)
{
    char err[256];
    struct schedule *s = parse(valid_v2, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    cr_expect_eq(s->version, 2);
    cr_expect_eq(s->policy, POLICY_PCT);
    cr_expect_eq(s->pct_depth, 2);
    cr_expect_eq(s->pct_steps, 64);
    cr_assert_eq(s->nevents, 4);
    cr_expect_eq(s->events[0].tid, 100);
    cr_expect_eq(s->events[0].verb, VERB_PICK);
    cr_expect_eq(s->events[0].arg, 101);
    cr_expect_eq(s->events[1].verb, VERB_PREEMPT);
    cr_expect_eq(s->events[2].verb, VERB_PICK, "events at one position keep the file's order");
    cr_expect_eq(s->events[2].arg, 102);
    cr_expect_str_eq(sched_verb_name(VERB_PICK), "pick");
    cr_expect(sched_verb_has_arg(VERB_PICK));
    schedule_free(s);
}

Test(schedule, a_recording_is_version_2_only_when_it_can_hold_a_pick)
{
    char err[256];
    struct schedule *v1 = parse(valid, err, sizeof(err));
    struct schedule *v2 = parse(valid_v2, err, sizeof(err));
    cr_assert(v1 && v2, "%s", err);
    cr_expect_eq(schedule_version_for(POLICY_RANDOM, NULL, 0), 1);
    cr_expect_eq(schedule_version_for(POLICY_ROUND_ROBIN, NULL, 0), 1);
    cr_expect_eq(schedule_version_for(POLICY_PCT, NULL, 0), 2, "pct picks");
    cr_expect_eq(schedule_version_for(POLICY_SCRIPT, v1->events, v1->nevents), 1);
    cr_expect_eq(schedule_version_for(POLICY_SCRIPT, v2->events, v2->nevents), 2,
                 "replaying picks records picks");
    schedule_free(v1);
    schedule_free(v2);
}

Test(schedule, defaults_for_a_hand_written_file)
{
    char err[256];
    struct schedule *s = parse("rseqemu-schedule 1\nevents\n100:5 preempt\n", err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    cr_expect_null(s->program);
    cr_expect_eq(s->cpus, 4);
    cr_expect_eq(s->offline, 0, "every CPU online");
    cr_expect_eq(s->seed, 1);
    cr_expect_eq(s->kernel, KERNEL_6_18);
    cr_expect_eq(s->cpu_opv_nr, KERNEL_CPU_OPV_NR_DEFAULT);
    cr_expect_eq(s->fill, FILL_ROUND_ROBIN, "gaps are filled with round-robin");
    schedule_free(s);
}

static void write_and_read_again(const char *text)
{
    char err[256];
    struct schedule *s = parse(text, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    schedule_write_header(out, s);
    for (size_t i = 0; i < s->nevents; i++)
        schedule_write_event(out, s->events[i].tid, s->events[i].at, s->events[i].verb,
                             s->events[i].arg);
    fclose(out);
    struct schedule *t = schedule_parse(buf, len, err, sizeof(err));
    cr_assert_not_null(t, "%s\n%s", err, buf);
    cr_expect_str_eq(t->program, s->program);
    cr_expect_eq(t->program_hash, s->program_hash);
    for (int i = 0; s->argv && s->argv[i]; i++)
        cr_expect_str_eq(t->argv[i], s->argv[i]);
    for (int i = 0; s->envp[i]; i++)
        cr_expect_str_eq(t->envp[i], s->envp[i]);
    cr_expect_eq(t->version, s->version);
    cr_expect_eq(t->policy, s->policy);
    cr_expect_eq(t->pct_depth, s->pct_depth);
    cr_expect_eq(t->pct_steps, s->pct_steps);
    cr_expect_eq(t->cpus, s->cpus);
    cr_expect_eq(t->offline, s->offline);
    cr_expect_eq(t->seed, s->seed);
    cr_expect_eq(t->cpu_opv_nr, s->cpu_opv_nr);
    cr_assert_eq(t->nevents, s->nevents);
    for (size_t i = 0; i < s->nevents; i++) {
        cr_expect_eq(t->events[i].tid, s->events[i].tid);
        cr_expect_eq(t->events[i].at, s->events[i].at);
        cr_expect_eq(t->events[i].verb, s->events[i].verb);
        cr_expect_eq(t->events[i].arg, s->events[i].arg);
    }
    free(buf);
    schedule_free(s);
    schedule_free(t);
}

/* cpu_opv's number (README "Schedule files"): "off" is 0, and is written back as "off". */
Test(schedule, cpu_opv_off_is_read_and_written_as_off)
{
    char err[256];
    struct schedule *s = parse("rseqemu-schedule 1\ncpu-opv-nr off\n", err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    cr_expect_eq(s->cpu_opv_nr, 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    schedule_write_header(out, s);
    fclose(out);
    cr_expect(strstr(buf, "\ncpu-opv-nr off\n") != NULL, "%s", buf);
    free(buf);
    schedule_free(s);
}

Test(schedule, writing_and_reading_again_gives_the_same_schedule)
{
    write_and_read_again(valid);
    write_and_read_again(valid_v2);
}

Test(schedule, bad_files_are_refused_with_their_line_and_reason)
{
    static const struct {
        const char *text, *error;
    } cases[] = {
        {"", "line 1: empty file"},
        {"events\n", "line 1: expected 'rseqemu-schedule VERSION' first"},
        {"rseqemu-schedule 0\n", "line 1: version: 0 is out of range"},
        {"rseqemu-schedule 4\n", "line 1: format version 4; this rseqemu reads versions 1 to 3"},
        {"rseqemu-schedule 2\nevents\n100:5 stall 10\n",
         "line 3: stall needs 'rseqemu-schedule 3'"},
        {"rseqemu-schedule 2\nevents\n100:5 swap 1\n", "line 3: swap needs 'rseqemu-schedule 3'"},
        {"rseqemu-schedule 3\nevents\n100:5 stall 0\n", "line 3: stall: 0 is out of range"},
        {"rseqemu-schedule 3\ncpus 2\nevents\n100:5 swap 2\n", "line 4: swap: 2 is out of range"},
        {"rseqemu-schedule 1 x\n", "line 1: unexpected 'x'"},
        {"rseqemu-schedule 1\ncpus 0\n", "line 2: cpus: 0 is out of range"},
        {"rseqemu-schedule 1\ncpus 4\ncpus 4\n", "line 3: 'cpus' is given twice"},
        {"rseqemu-schedule 1\nkernel 5.4\n", "line 2: kernel must be one of 6.18, 6.1"},
        {"rseqemu-schedule 1\nprogram noquotes\n", "line 2: expected a double-quoted string"},
        {"rseqemu-schedule 1\nprogram \"open\n", "line 2: unterminated string"},
        {"rseqemu-schedule 1\nargv \"a\\q\"\n", "line 2: unknown escape"},
        {"rseqemu-schedule 1\nenv \"NOEQUALS\"\n", "line 2: env: expected \"NAME=VALUE\""},
        {"rseqemu-schedule 1\nprogram-hash 12\n", "line 2: program-hash: expected 16 hex"},
        {"rseqemu-schedule 1\nbogus 1\n", "line 2: unknown header line 'bogus'"},
        {"rseqemu-schedule 1\n100:5 preempt\n", "line 2: unknown header line '100:5'"},
        {"rseqemu-schedule 1\nevents\npreempt\n", "line 3: expected an event"},
        {"rseqemu-schedule 1\nevents\n0:5 preempt\n", "line 3: thread id: 0 is out of range"},
        {"rseqemu-schedule 1\nevents\n100:x preempt\n", "line 3: instruction count: expected"},
        {"rseqemu-schedule 1\nevents\n100:5 jump\n", "line 3: unknown event 'jump'"},
        {"rseqemu-schedule 1\ncpus 2\nevents\n100:5 migrate 2\n", "line 4: migrate: 2 is out"},
        {"rseqemu-schedule 1\nevents\n100:5 migrate\n", "line 3: migrate: expected a number"},
        {"rseqemu-schedule 1\nevents\n100:5 signal SIGNOPE\n", "line 3: signal: 'SIGNOPE'"},
        {"rseqemu-schedule 1\nevents\n100:5 preempt 3\n", "line 3: unexpected '3'"},
        {"rseqemu-schedule 1\noffline 0\n", "line 2: offline: CPU 0 cannot be taken offline"},
        {"rseqemu-schedule 1\noffline 1,3-2\n", "line 2: offline: the range 3-2 goes backwards"},
        {"rseqemu-schedule 1\noffline 1;2\n", "line 2: offline: expected ',' or '-' at ';2'"},
        {"rseqemu-schedule 1\noffline 1 2\n", "line 2: unexpected '2' after offline"},
        {"rseqemu-schedule 1\ncpus 4\noffline 2-4\n", "line 3: offline: CPU 4 is not below cpus"},
        {"rseqemu-schedule 1\noffline 5\ncpus 4\n", "line 2: offline: CPU 5 is not below cpus"},
        {"rseqemu-schedule 1\noffline 99\n", "line 2: offline: CPU 99 is not below 64"},
        {"rseqemu-schedule 1\nevents\n100:5 offline\n", "line 3: offline: expected a number"},
        {"rseqemu-schedule 1\nevents\n100:5 online 64\n", "line 3: online: 64 is out of range"},
        {"rseqemu-schedule 1\nevents\n100:99999999999999999999 tick\n", "line 3: instruction"},
        {"rseqemu-schedule 1\ncpus 2\nnodes 3\n", "nodes (3) is more than cpus (2)"},
        {"rseqemu-schedule 1\ncpu-opv-nr on\n", "line 2: cpu-opv-nr: expected a number"},
        {"rseqemu-schedule 1\ncpu-opv-nr 2147483648\n", "line 2: cpu-opv-nr: expected"},
        {"rseqemu-schedule 1\nevents\n100:5 pick 101\n", "line 3: pick needs 'rseqemu-schedule 2'"},
        {"rseqemu-schedule 2\nevents\n100:5 pick\n", "line 3: pick: expected a number"},
        {"rseqemu-schedule 2\nevents\n100:5 pick 0\n", "line 3: pick: 0 is out of range"},
        {"rseqemu-schedule 2\nevents\n100:5 pick x\n", "line 3: pick: expected a number"},
        {"rseqemu-schedule 2\nevents\n100:5 pick 101 7\n", "line 3: unexpected '7'"},
        {"rseqemu-schedule 2\nevents\n100:5 pick 3000000000\n", "line 3: pick: 3000000000 is"},
        {"rseqemu-schedule 1\npolicy pct\n", "line 2: policy pct needs 'rseqemu-schedule 2'"},
        {"rseqemu-schedule 1\npct-depth 2\n", "line 2: pct-depth needs 'rseqemu-schedule 2'"},
        {"rseqemu-schedule 1\npct-steps 9\n", "line 2: pct-steps needs 'rseqemu-schedule 2'"},
        {"rseqemu-schedule 2\npct-depth 17\n", "line 2: pct-depth: 17 is out of range"},
        {"rseqemu-schedule 2\npct-depth 0\n", "line 2: pct-depth: 0 is out of range"},
        {"rseqemu-schedule 2\npct-steps 0\n", "line 2: pct-steps: 0 is out of range"},
        {"rseqemu-schedule 2\npct-steps 1\npct-steps 1\n", "line 3: 'pct-steps' is given twice"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256];
        struct schedule *s = parse(cases[i].text, err, sizeof(err));
        cr_expect_null(s, "accepted: %s", cases[i].text);
        schedule_free(s);
        cr_expect(strstr(err, cases[i].error) != NULL, "for %s\nexpected \"%s\"\ngot \"%s\"",
                  cases[i].text, cases[i].error, err);
    }
}

/* Seeded mutations of a valid file: bytes flipped, cut, duplicated; each parse either
 * succeeds or names a line (or the nodes/cpus rule), and never crashes. */
static void mutate_and_parse(const char *text, uint64_t seed)
{
    struct rng rng;
    rng_init(&rng, seed, 99);
    size_t n = strlen(text);
    char *buf = malloc(2 * n + 2);
    static const char alphabet[] = "\n\" \\#:0123456789-x\t\x01\xff";
    int accepted = 0;
    for (int round = 0; round < 20000; round++) {
        memcpy(buf, text, n);
        size_t len = n;
        int edits = 1 + (int)rng_below(&rng, 4);
        for (int e = 0; e < edits; e++) {
            size_t at = rng_below(&rng, len);
            switch (rng_below(&rng, 4)) {
            case 0:
                buf[at] = alphabet[rng_below(&rng, sizeof(alphabet) - 1)];
                break;
            case 1:
                len = at; /* truncated */
                break;
            case 2:
                buf[at] = (char)rng_below(&rng, 256);
                break;
            default:
                if (len < 2 * n) { /* a stretch duplicated */
                    size_t k = rng_below(&rng, len - at) + 1;
                    if (len + k > 2 * n)
                        k = 2 * n - len;
                    memmove(buf + at + k, buf + at, len - at);
                    len += k;
                }
                break;
            }
            if (len == 0)
                break;
        }
        char err[256] = "";
        struct schedule *s = schedule_parse(buf, len, err, sizeof(err));
        if (s) {
            accepted++;
            schedule_free(s);
        } else {
            cr_assert(!strncmp(err, "line ", 5) || strstr(err, "more than cpus"),
                      "round %d: an error without its line: %s", round, err);
        }
    }
    cr_expect_gt(accepted, 0, "some mutations (in comments, say) still parse");
    free(buf);
}

Test(schedule, mutated_files_never_crash_the_parser)
{
    mutate_and_parse(valid, 1234);
    mutate_and_parse(valid_v2, 5678); /* pick events, and a version a mutation may lower */
}
