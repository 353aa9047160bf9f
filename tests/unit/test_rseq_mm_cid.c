/* mm_cid (spec 3.1, 3.2) by the vectors of spec 9.3 on both architectures. The model also
 * checks the contract at every schedule-in and ends a run that breaks it. */
#include <criterion/criterion.h>
#include <string.h>

#include "guest_run.h"

static struct guest_result r;

/* Spec 9.3, vectors 45-48 (Linux 6.18: mm_cid is written). */
Test(rseq_mm_cid, vectors_9_3)
{
    static const char want[] =
        "45 single thread: mm_cid 0 on each of 4 CPUs: yes\n"
        "46 A on CPU 0 and B on CPU 1: ids differ: yes, both in {0, 1}: yes\n"
        "48 parent and forked child both hold id 0: yes\n"
        "47 8 threads on CPUs {2,3}: every mm_cid < 2: yes; CPUs 2 and 3 never shared an id: "
        "yes\n";
    for (int a = 0; a < 2; a++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            struct guest_opts o = {.seed = seed};
            cr_assert_eq(guest_run(guest_arches[a], "rseq_mm_cid", NULL, &o, &r), 0, "%s", r.err);
            cr_expect_eq(r.outcome, KERNEL_EXITED, "%s seed %llu: %s", guest_arches[a],
                         (unsigned long long)seed, r.err);
            cr_expect_str_eq(r.out, want, "%s seed %llu:\n%s", guest_arches[a],
                             (unsigned long long)seed, r.out);
        }
}

/* Spec 3.1: "absent in K61": Linux 6.1 never writes the field, glibc's zero stays. */
Test(rseq_mm_cid, linux_6_1_leaves_the_field_alone)
{
    struct guest_opts o = {.profile = KERNEL_6_1};
    cr_assert_eq(guest_run("x86_64", "rseq_mm_cid", NULL, &o, &r), 0, "%s", r.err);
    cr_expect_eq(r.outcome, KERNEL_EXITED, "%s", r.err);
    /* Every id reads 0, so distinct running threads look alike. */
    cr_expect_not_null(strstr(r.out, "46 A on CPU 0 and B on CPU 1: ids differ: no"), "%s", r.out);
}
