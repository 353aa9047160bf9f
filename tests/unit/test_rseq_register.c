/* rseq(2) registration, unregistration and life cycle (spec 1.4-1.7), by the vectors of spec
 * 9.1, on both guest architectures and both kernel profiles. The guest (rseq_register) is
 * freestanding, so nothing registers before it; tests/e2e runs it natively too and compares. */
#include <criterion/criterion.h>
#include <string.h>

#include "guest_run.h"

static struct guest_result r;

/* The output every profile shares, with the lines that differ filled in. */
static void expected(char *buf, size_t len, bool k61)
{
    const char *v5 =
        k61 ? "5 len 33 = -22\n" : "5 len 33 = 0, unregister with 32 = -22, with 33 = 0\n";
    /* 6.1 writes only cpu_id_start and cpu_id; the guest prefilled node_id and mm_cid. */
    const char *ids = k61 ? "node_id=99 mm_cid=99" : "node_id=0 mm_cid=0";
    snprintf(buf, len,
             "1 rseq(NULL, 0, 0, 0) = -22\n"
             "2 rseq(area+1) = -22\n"
             "3 rseq(area+16) = -22\n"
             "4 len 31 = -22, len 28 = -22\n"
             "%s"
             "6 flags -1 = -22, flags 2 = -22\n"
             "7 rseq(-4096) = -14\n"
             "8 rseq(0x10000) = -14\n"
             "9 prefilled area: rseq(area) = 0\n"
             "9 fields: rseq_cs=0 cpu_id_start=cpu cpu_id=cpu %s\n"
             "10 identical again = -16\n"
             "11 other sig = -1\n"
             "12 other area = -22, other len = -22\n"
             "13 flags 3 = -22\n"
             "14 unregister: wrong sig = -1, wrong len = -22, other area = -22\n"
             "16 mprotect(PROT_READ) = 0\n"
             "16 mprotect(PROT_READ|PROT_WRITE) = 0\n"
             "16 read-only area: unregister = -14, then identical registration = -16\n"
             "17 fork child: identical registration = -16\n"
             "17 child fields: rseq_cs=0 cpu_id_start=cpu cpu_id=cpu %s\n"
             "17 fork child exit status = 0\n"
             "17 thread started = yes, its identical registration = 0\n"
             "15 unregister = 0\n"
             "15 after: cpu_id_start=0 cpu_id=-1 %s rseq_cs=unchanged\n"
             "15 second unregister = -22\n"
             "18 registering before execve = 0\n"
             "18 after execve: rseq(area) = 0\n"
             "18 fields: rseq_cs=0 cpu_id_start=cpu cpu_id=cpu node_id=0 mm_cid=0\n"
             "18 unregister = 0\n",
             v5, ids, ids, ids);
}

static void check(enum kernel_profile profile, uint64_t seed, int cpus)
{
    char want[4096];
    expected(want, sizeof(want), profile == KERNEL_6_1);
    for (int a = 0; a < 2; a++) {
        struct guest_opts o = {.seed = seed, .cpus = cpus, .profile = profile};
        cr_assert_eq(guest_run(guest_arches[a], "rseq_register", NULL, &o, &r), 0, "%s", r.err);
        cr_assert_eq(r.outcome, KERNEL_EXITED, "%s: %s", guest_arches[a], r.err);
        cr_expect_eq(r.status, 0, "%s", guest_arches[a]);
        cr_expect_str_eq(r.out, want, "%s, kernel %s, seed %llu", guest_arches[a],
                         profile == KERNEL_6_1 ? "6.1" : "6.18", (unsigned long long)seed);
    }
}

/* Spec 9.1 vectors 1-18, Linux 6.3..6.18 rules (1.4 K63 changes, 1.5, 1.7). */
Test(rseq_register, vectors_9_1_on_linux_6_18) { check(KERNEL_6_18, 1, 4); }

/* Spec 9.1 vectors 1-18, Linux 6.1 rules: rseq_len must be 32 (vector 5); only cpu_id_start
 * and cpu_id are the kernel's (1.1). */
Test(rseq_register, vectors_9_1_on_linux_6_1) { check(KERNEL_6_1, 1, 4); }

/* The outcome does not depend on the schedule. */
Test(rseq_register, vectors_9_1_other_seeds_and_cpus)
{
    check(KERNEL_6_18, 7, 1);
    check(KERNEL_6_18, 12, 3);
}

/* Two threads registered at one area: the emulator says so (spec 1.7, "A single struct rseq
 * per thread"). */
Test(rseq_register, shared_area_is_reported)
{
    struct guest_opts o = {0};
    cr_assert_eq(guest_run("x86_64", "rseq_register", NULL, &o, &r), 0, "%s", r.err);
    cr_expect_not_null(strstr(r.err, "registers the rseq area at"), "%s", r.err);
    cr_expect_null(strstr(r.err, "must not write"), "%s", r.err);
}
