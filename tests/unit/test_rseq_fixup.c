/* The return-to-user fixup (spec 2.1-2.5, 2.7, 7.7) by the vectors of spec 9.2: an event is
 * injected on a named instruction of the guest rseq_fixup, on both architectures and both
 * kernel profiles (K61 and K63 agree on every vector here). */
#include <criterion/criterion.h>
#include <string.h>

#include "guest_run.h"

static const char *const tunable_off[] = {"GLIBC_TUNABLES=glibc.pthread.rseq=0", NULL};

struct fixup_case {
    const char *name;    /* spec 9.2 vector */
    const char *args[3]; /* VECTOR [VARIANT] */
    const char *injects[3];
    enum kernel_outcome outcome;
    int status;       /* exit status or signal */
    const char *out;  /* stdout after the "vector ..." line */
    const char *diag; /* expected in stderr, or NULL */
    enum kernel_rseq_debug debug;
};

static const struct fixup_case cases[] = {
    {"19 preempt at start_ip: abort, rseq_cs cleared",
     {"19"},
     {"preempt@fixup_cs_start"},
     KERNEL_EXITED,
     0,
     "aborted=1 counter=0 rseq_cs=0\n"},
    {"20 preempt at the commit: abort, no commit",
     {"20"},
     {"preempt@fixup_cs_last"},
     KERNEL_EXITED,
     0,
     "aborted=1 counter=0 rseq_cs=0\n"},
    {"21 preempt at the post-commit IP: no abort, rseq_cs cleared",
     {"21"},
     {"preempt@fixup_cs_post"},
     KERNEL_EXITED,
     0,
     "aborted=0 counter=1 rseq_cs=0\n"},
    {"22 preempt before arming: nothing",
     {"22"},
     {"preempt@fixup_cs_run"},
     KERNEL_EXITED,
     0,
     "aborted=0 counter=1 rseq_cs=armed\n"},
    {"23 post_commit_offset 0: never inside",
     {"23"},
     {"preempt@fixup_cs_start"},
     KERNEL_EXITED,
     0,
     "aborted=0 counter=1 rseq_cs=0\n"},
    {"24 signal inside: frame IP is abort_ip",
     {"24"},
     {"signal=SIGUSR1@fixup_cs_start"},
     KERNEL_EXITED,
     0,
     "aborted=1 counter=0 rseq_cs=0\nhandler ran 1, its saved IP is abort_ip: yes\n"},
    {"25 migration inside: abort, fields of the new CPU",
     {"25"},
     {"migrate=1@fixup_cs_start"},
     KERNEL_EXITED,
     0,
     "on cpu 0\naborted=1 counter=0 rseq_cs=0\nat abort_ip: cpu_id=1 cpu_id_start=1\n"},
    {"26 interrupt without a switch: no abort",
     {"26"},
     {"tick@fixup_cs_start"},
     KERNEL_EXITED,
     0,
     "aborted=0 counter=1 rseq_cs=armed\n"},
    {"27 wrong signature, IP inside",
     {"27"},
     {"preempt@fixup_cs_start"},
     KERNEL_SIGNALED,
     11,
     "",
     "signature before abort_ip does not match"},
    {"27 wrong signature, IP outside",
     {"27", "outside"},
     {"preempt@fixup_spot"},
     KERNEL_SIGNALED,
     11,
     "",
     "signature before abort_ip does not match"},
    {"28 wrong signature, handler exits",
     {"28"},
     {"preempt@fixup_cs_start"},
     KERNEL_EXITED,
     11,
     ""},
    {"28 wrong signature, handler returns",
     {"28", "return"},
     {"preempt@fixup_cs_start"},
     KERNEL_SIGNALED,
     11,
     "SIGSEGV handler returns\n"},
    {"29 version 1, IP outside",
     {"29"},
     {"preempt@fixup_spot"},
     KERNEL_SIGNALED,
     11,
     "",
     "version is not 0"},
    {"30 deprecated flag in the descriptor, IP inside",
     {"30"},
     {"preempt@fixup_cs_start"},
     KERNEL_SIGNALED,
     11,
     "",
     "rseq_cs->flags is not 0"},
    {"31 flag in the area, IP inside",
     {"31"},
     {"preempt@fixup_cs_start"},
     KERNEL_SIGNALED,
     11,
     "",
     "rseq->flags is not 0"},
    {"31 flag in the area, IP outside: no effect",
     {"31", "outside"},
     {"preempt@fixup_spot"},
     KERNEL_EXITED,
     0,
     "survived: rseq_cs=0\n"},
    {"32 abort_ip inside the section",
     {"32"},
     {"preempt@fixup_cs_start"},
     KERNEL_SIGNALED,
     11,
     "",
     "abort_ip inside the critical section"},
    {"33 abort_ip at the post-commit IP",
     {"33"},
     {"preempt@fixup2_start"},
     KERNEL_EXITED,
     0,
     "returned 0 counter=0 rseq_cs=0\n"},
    {"34 start_ip + post_commit_offset wraps",
     {"34"},
     {"preempt@fixup_spot"},
     KERNEL_SIGNALED,
     11,
     "",
     "wraps around"},
    {"35 section end beyond user space",
     {"35"},
     {"preempt@fixup_spot"},
     KERNEL_SIGNALED,
     11,
     "",
     "start_ip + post_commit_offset beyond user space"},
    {"36 abort_ip beyond user space",
     {"36"},
     {"preempt@fixup_spot"},
     KERNEL_SIGNALED,
     11,
     "",
     "abort_ip beyond user space"},
    {"37 rseq_cs beyond user space",
     {"37"},
     {"preempt@fixup_spot"},
     KERNEL_SIGNALED,
     11,
     "",
     "rseq_cs pointer beyond user space"},
    {"38 rseq_cs unmapped",
     {"38"},
     {"preempt@fixup_spot"},
     KERNEL_SIGNALED,
     11,
     "",
     "descriptor unreadable"},
    {"39 abort_ip - 4 unmapped",
     {"39"},
     {"preempt@fixup_cs_start"},
     KERNEL_SIGNALED,
     11,
     "",
     "signature before abort_ip unreadable"},
    {"40 unaligned descriptors work",
     {"40"},
     {"preempt@fixup_cs_start#1", "preempt@fixup_cs_start#2"},
     KERNEL_EXITED,
     0,
     "offset 1: aborted=1 counter=0\noffset 8: aborted=1 counter=0\n"},
    {"41 read-only area, then a sleep",
     {"41"},
     {NULL},
     KERNEL_SIGNALED,
     11,
     "area read-only, sleeping\n",
     "not writable"},
    {"42 a stale PREEMPT event aborts at a later notify-resume",
     {"42"},
     {"preempt@fixup_cs_run", "notify@fixup_cs_start"},
     KERNEL_EXITED,
     0,
     "aborted=1 counter=0 rseq_cs=0\n"},
    {"43 syscall inside, debug checks on",
     {"43"},
     {NULL},
     KERNEL_SIGNALED,
     11,
     "",
     "made syscall getpid inside a critical section"},
    {"43 syscall inside, debug checks off",
     {"43"},
     {NULL},
     KERNEL_EXITED,
     0,
     "returned 0 counter=1\n",
     NULL,
     RSEQ_DEBUG_OFF},
    {"44 sched_setaffinity migrates before it returns",
     {"44"},
     {NULL},
     KERNEL_EXITED,
     0,
     "cpu_id=1 cpu_id_start=1 getcpu=1\n"},
};

static struct guest_result r;

static void run_case(const struct fixup_case *c, const char *arch, enum kernel_profile profile)
{
    struct guest_opts o = {.envp = tunable_off,
                           .no_cs_inject = true,
                           .injects = c->injects,
                           .profile = profile,
                           .rseq_debug = c->debug};
    cr_assert_eq(guest_run(arch, "rseq_fixup", c->args, &o, &r), 0, "%s: %s", c->name, r.err);
    const char *what = profile == KERNEL_6_1 ? "6.1" : "6.18";
    cr_expect_eq(r.outcome, c->outcome, "%s %s [%s]: outcome %d\n%s%s", arch, what, c->name,
                 r.outcome, r.out, r.err);
    cr_expect_eq(r.status, c->status, "%s %s [%s]: status %d\n%s", arch, what, c->name, r.status,
                 r.err);
    char want[1024];
    snprintf(want, sizeof(want), "vector %s%s%s\n%s", c->args[0], c->args[1] ? " " : "",
             c->args[1] ? c->args[1] : "", c->out);
    cr_expect_str_eq(r.out, want, "%s %s [%s]\n%s", arch, what, c->name, r.err);
    if (c->diag)
        cr_expect_not_null(strstr(r.err, c->diag), "%s %s [%s]: no '%s' in\n%s", arch, what,
                           c->name, c->diag, r.err);
}

/* Spec 9.2, vectors 19-44, each on both architectures, Linux 6.18 and 6.1. */
Test(rseq_fixup, vectors_9_2)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        for (int a = 0; a < 2; a++) {
            run_case(&cases[i], guest_arches[a], KERNEL_6_18);
            run_case(&cases[i], guest_arches[a], KERNEL_6_1);
        }
}

/* Spec 2.4: the SIGSEGV a failed fixup forces names the descriptor and the field. */
Test(rseq_fixup, failure_report_names_the_descriptor_field_and_value)
{
    static const struct fixup_case c = {
        "27", {"27"}, {"preempt@fixup_cs_start"}, KERNEL_SIGNALED, 11, "", NULL};
    run_case(&c, "x86_64", KERNEL_6_18);
    cr_expect_not_null(strstr(r.err, "rseq: tid 100 gets SIGSEGV: signature before abort_ip "
                                     "does not match (at 0x"),
                       "%s", r.err);
    cr_expect_not_null(strstr(r.err, "value 0x12345678"), "%s", r.err);
    cr_expect_not_null(strstr(r.err, "<fixup_cs_start>"), "%s", r.err);
}
