/* membarrier(2) and its rseq fence (spec 4) by the vectors of spec 9.4 on both architectures
 * and both kernel profiles. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <string.h>

#include "guest_run.h"
#include "kernel-model/membarrier.h"

static struct guest_result r;

static void check(enum kernel_profile profile)
{
    bool k61 = profile == KERNEL_6_1;
    char want[2048];
    snprintf(want, sizeof(want),
             "49 QUERY = %s\n"
             "50 PRIVATE_EXPEDITED_RSEQ before registering = -1\n"
             "51 RSEQ flags 2 = -22, QUERY flags 1 = -22\n"
             "52 REGISTER_RSEQ = 0, again = 0\n"
             "53 PRIVATE_EXPEDITED = -1, GET_REGISTRATIONS = %s\n"
             "54 RSEQ cpu 1000 = 0, cpu -5 = 0\n"
             "57 single-threaded RSEQ = 0\n"
             "55 RSEQ to cpu 1 = 0\n"
             "55 B left its section through the abort handler: yes\n"
             "56 RSEQ to all = 0\n"
             "56 B aborted again: yes; C aborted by it: no\n"
             "spinners done: B aborted at least 3 times: yes, C killed by signal 9\n"
             "58 after execve: PRIVATE_EXPEDITED_RSEQ = -1\n",
             k61 ? "0x1ff" : "0x3ff", k61 ? "-22" : "272");
    for (int a = 0; a < 2; a++) {
        /* Only the fences interrupt the spinners: no other injection in critical sections. */
        struct guest_opts o = {.profile = profile, .no_cs_inject = true};
        cr_assert_eq(guest_run(guest_arches[a], "rseq_membarrier", NULL, &o, &r), 0, "%s", r.err);
        cr_expect_eq(r.outcome, KERNEL_EXITED, "%s: %s", guest_arches[a], r.err);
        cr_expect_str_eq(r.out, want, "%s %s", guest_arches[a], k61 ? "6.1" : "6.18");
        /* 55, 56 and the final kick: each fence aborted B and nothing else (57: no IPI). The
         * policy may still preempt a spinner (C spins until it is killed, while A waits for
         * its fences): every other abort is such a preemption or migration, none a signal. */
        cr_expect_eq(guest_stat(&r, "membarrier_ipis"), 3, "%s", guest_arches[a]);
        cr_expect_eq(guest_stat(&r, "rseq_aborts_ipi"), 3, "%s", guest_arches[a]);
        cr_expect_eq(guest_stat(&r, "rseq_aborts"),
                     3 + guest_stat(&r, "rseq_aborts_preempt") +
                         guest_stat(&r, "rseq_aborts_migrate"),
                     "%s", guest_arches[a]);
    }
}

/* Spec 9.4, vectors 49-58, Linux 6.18 (QUERY 0x3ff, GET_REGISTRATIONS 272). */
Test(membarrier, vectors_9_4_on_linux_6_18) { check(KERNEL_6_18); }

/* Spec 9.4 on Linux 6.1 (QUERY 0x1ff, GET_REGISTRATIONS unknown). */
Test(membarrier, vectors_9_4_on_linux_6_1) { check(KERNEL_6_1); }

/* Spec 4.2 steps 3 and 4: the caller of the rseq fence sends its IPIs and waits for them. A
 * fence that interrupts the thread running on another CPU keeps its caller MEMBARRIER_IPI_WAIT_NS
 * of virtual time (the other CPUs run on meanwhile); one aimed at the caller's own CPU (the
 * handler runs locally) or at a CPU running none of the process's threads sends nothing to
 * wait for. */
Test(membarrier, the_caller_waits_for_its_ipis)
{
    for (int a = 0; a < 2; a++) {
        struct guest_opts o = {.no_cs_inject = true};
        cr_assert_eq(guest_run(guest_arches[a], "membarrier_wait", NULL, &o, &r), 0, "%s", r.err);
        cr_assert_eq(r.outcome, KERNEL_EXITED, "%s: %s", guest_arches[a], r.err);
        static const struct {
            const char *fence;
            bool ipi;
        } want[] = {{"cpu1", true}, {"cpu0", false}, {"cpu2", false}, {"all", true}};
        const char *line = r.out;
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
            char fence[16];
            long rc;
            long long ns;
            cr_assert_eq(sscanf(line, "%15[^:]: %ld %lld", fence, &rc, &ns), 3, "%s: %s",
                         guest_arches[a], r.out);
            cr_expect_str_eq(fence, want[i].fence, "%s: %s", guest_arches[a], r.out);
            cr_expect_eq(rc, 0, "%s: %s", guest_arches[a], r.out);
            /* Two clock_gettime calls and the syscall's own instructions cost well under 1 us. */
            if (want[i].ipi)
                cr_expect(ns >= (long long)MEMBARRIER_IPI_WAIT_NS &&
                              ns < (long long)MEMBARRIER_IPI_WAIT_NS + 1000,
                          "%s %s: %lld ns", guest_arches[a], fence, ns);
            else
                cr_expect(ns < 1000, "%s %s: %lld ns", guest_arches[a], fence, ns);
            line = strchr(line, '\n') + 1;
        }
        /* The handler run locally for CPU 0 counts as one too. */
        cr_expect_eq(guest_stat(&r, "membarrier_ipis"), 3, "%s", guest_arches[a]);
    }
}
