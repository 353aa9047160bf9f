/* cpu_opv (spec 5) by the vectors of spec 9.5 on both architectures. The guest cpu_opv_vectors
 * runs 59-73 and 75 on its main thread A, pinned to CPU 0, then 62b (an empty vector still
 * sends the IPI, spec 5.4) and 74 with a thread B spinning inside a critical section on CPU 2;
 * cpu_opv_freestanding uses guest/include/cpu_opv.h without libc. The syscall number is the
 * run's (spec 5.1, --cpu-opv-nr). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "guest_run.h"

/* Every run is small: a budget far above what it needs still ends a runaway one quickly. */
#define BUDGET 50000000ULL

static struct guest_result r;

static const char vectors_out[] =
    "59 NR_FLAG cpu 0 = 6, cpu -1 = 6\n"
    "60 VEC_LEN_MAX_FLAG = 4, flags 3 = -22, flags 4 = -22\n"
    "61 cpu -1 = -22, cpuopcnt 5 = -22, cpuopcnt -1 = -22\n"
    "62 vector unmapped = -14, empty NULL vector = 0\n"
    "63 op 6 = -22, ADD len 3 = -22, MEMCPY len 4097 = -22\n"
    "64 two 4096-byte MEMCPYs = -22; MEMCPY 4096 + three 8-byte ADDs = 0, copied yes, added yes\n"
    "65 COMPARE_EQ a=TASK_SIZE len 0 = -22, a=TASK_SIZE-4 len 8 = -14\n"
    "66 MEMCPY src unmapped = -14, expect_fault_src = -11, expect_fault_dst only = -14\n"
    "67 read-only destination: MEMCPY = -14 (expected -11), ADD = -14 (expected -11)\n"
    "68 cpu not allowed = -22, cpu = number of CPUs = -22, nothing done yes\n"
    "69 bad pointer and cpu not allowed = -14\n"
    "70 [EQ equal, EQ different, ADD] = 2, ADD done no\n"
    "71 [NE equal] = 1; [NE different, MEMCPY_RELEASE] = 0, copied yes\n"
    "72 = 0: byte 0xff + 1 = 0x00, neighbour 0x11; 7 - 1 = 6; unaligned 8-byte add yes\n"
    "73 EQ len 0 = 0; [ADD, NE len 0] = 2, ADD kept yes\n"
    "75 own CPU = 0, applied yes\n";

static const char thread_b_out[] =
    "62b empty vector to CPU 2 = 0\n"
    "62b B left its section through the abort handler: yes\n"
    "74 vector to CPU 2 = 0; B aborted twice in all yes, then committed 11 (none lost: yes)\n";

/* The IPIs of 62b and 74 are the only things that interrupt B: no injection in sections. */
static void run_vectors(const char *arch, const char *const *args, enum kernel_profile profile,
                        uint64_t seed)
{
    struct guest_opts o = {
        .profile = profile, .no_cs_inject = true, .seed = seed, .max_insns = BUDGET};
    cr_assert_eq(guest_run(arch, "cpu_opv_vectors", args, &o, &r), 0, "%s", r.err);
    cr_expect_eq(r.outcome, KERNEL_EXITED, "%s: %s", arch, r.err);
    cr_expect_eq(r.status, 0, "%s", arch);
    /* 62b and 74 each sent one IPI to CPU 2 and aborted B there; 75 (A's own CPU) none. */
    cr_expect_eq(guest_stat(&r, "cpu_opv_ipis"), 2, "%s seed %llu", arch, (unsigned long long)seed);
    cr_expect_eq(guest_stat(&r, "rseq_aborts_ipi"), 2, "%s seed %llu", arch,
                 (unsigned long long)seed);
    cr_expect_eq(guest_stat(&r, "rseq_aborts"), 2, "%s seed %llu", arch, (unsigned long long)seed);
    cr_expect_eq(guest_stat(&r, "membarrier_ipis"), 0, "%s", arch);
}

static void check_all(enum kernel_profile profile)
{
    char want[4096];
    snprintf(want, sizeof(want), "%s%s", vectors_out, thread_b_out);
    for (int a = 0; a < 2; a++) {
        run_vectors(guest_arches[a], NULL, profile, 1);
        cr_expect_str_eq(r.out, want, "%s", guest_arches[a]);
        /* Each call of the guest, queries and refused ones included. */
        cr_expect_eq(guest_stat(&r, "cpu_opv_calls"), 37, "%s", guest_arches[a]);
    }
}

/* Spec 9.5, vectors 59-75 (62b: spec 5.4, an empty vector to an allowed CPU). */
Test(cpu_opv, vectors_9_5_on_linux_6_18) { check_all(KERNEL_6_18); }

/* The same on the 6.1 profile: cpu_opv predates both, and the abort is the same. */
Test(cpu_opv, vectors_9_5_on_linux_6_1) { check_all(KERNEL_6_1); }

/* Spec 9.5 vector 74 (and 62b) under other seeds: B is interrupted by the IPIs and nothing
 * else, whatever the interleaving of the vCPUs. */
Test(cpu_opv, vector_74_is_the_same_under_every_seed)
{
    static const char *const only_74[] = {"74", NULL};
    for (int a = 0; a < 2; a++) {
        for (uint64_t seed = 1; seed <= 6; seed++) {
            run_vectors(guest_arches[a], only_74, KERNEL_6_18, seed);
            cr_expect_str_eq(r.out, thread_b_out, "%s seed %llu", guest_arches[a],
                             (unsigned long long)seed);
        }
    }
}

/* Spec 5.1: 1000 on both arches unless the run says otherwise; off gives ENOSYS, and another
 * number takes precedence over a Linux call there (x86-64 335: uretprobe since 6.11). */
Test(cpu_opv, the_syscall_number_is_the_runs)
{
    static const struct {
        int arch;       /* index in guest_arches */
        int cpu_opv_nr; /* guest_opts.cpu_opv_nr */
        const char *nr; /* the number the guest calls */
        const char *out;
    } cases[] = {
        {0, 0, "1000", "nr 1000: NR_FLAG = 6\n"},     {1, 0, "1000", "nr 1000: NR_FLAG = 6\n"},
        {0, 0, "335", "nr 335: NR_FLAG = -38\n"},     {0, -1, "1000", "nr 1000: NR_FLAG = -38\n"},
        {1, -1, "1000", "nr 1000: NR_FLAG = -38\n"},  {0, 335, "335", "nr 335: NR_FLAG = 6\n"},
        {0, 335, "1000", "nr 1000: NR_FLAG = -38\n"}, {1, 295, "295", "nr 295: NR_FLAG = 6\n"},
        {1, 295, "1000", "nr 1000: NR_FLAG = -38\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *args[] = {"nr", cases[i].nr, NULL};
        struct guest_opts o = {.cpu_opv_nr = cases[i].cpu_opv_nr, .max_insns = BUDGET};
        const char *arch = guest_arches[cases[i].arch];
        cr_assert_eq(guest_run(arch, "cpu_opv_vectors", args, &o, &r), 0, "%s", r.err);
        cr_expect_eq(r.outcome, KERNEL_EXITED, "%s: %s", arch, r.err);
        cr_expect_str_eq(r.out, cases[i].out, "%s with cpu_opv at %d", arch, cases[i].cpu_opv_nr);
        /* Calls to another number are not cpu_opv's. */
        bool answered = strstr(cases[i].out, "= 6") != NULL;
        cr_expect_eq(guest_stat(&r, "cpu_opv_calls"), answered ? 1 : 0, "%s %s", arch, cases[i].nr);
    }
}

/* Spec 9.5 vectors 59, 60 and 75 through the guest header in a program without libc. */
Test(cpu_opv, the_guest_header_works_without_libc)
{
    for (int a = 0; a < 2; a++) {
        struct guest_opts o = {.max_insns = BUDGET};
        cr_assert_eq(guest_run(guest_arches[a], "cpu_opv_freestanding", NULL, &o, &r), 0, "%s",
                     r.err);
        cr_expect_eq(r.outcome, KERNEL_EXITED, "%s: %s", guest_arches[a], r.err);
        cr_expect_str_eq(r.out,
                         "59 NR_FLAG = 6\n60 VEC_LEN_MAX_FLAG = 4\n"
                         "75 [EQ, ADD] on own CPU = 0, counter = 42\n",
                         "%s", guest_arches[a]);
    }
}
