/* futex(2): errno cases, virtual-time timeouts, wake counts and bitsets, requeue, wake_op, the
 * join wake-up at thread exit (vector 84) and restarts after signals (vector 83). The guest
 * (tests/guests/futex_ops.c) prints one line per check; the same lines come out natively. */
#include <criterion/criterion.h>
#include <string.h>

#include "guest_run.h"

static const char expected[] =
    "wait on a different value: EAGAIN\n"
    "wait misaligned: EINVAL\n"
    "wait_bitset with bitset 0: EINVAL\n"
    "wait on unmapped memory: EFAULT\n"
    "wait with tv_nsec out of range: EINVAL\n"
    "wake with nobody waiting: 0\n"
    "unknown operation: ENOSYS\n"
    "relative timeout: ETIMEDOUT, waited at least 10ms: yes\n"
    "absolute timeout: ETIMEDOUT\n"
    "wake bitset 1 (2 of 4 match): 2\n"
    "wake 1 of the rest: 1\n"
    "wake the rest: 1\n"
    "cmp_requeue with a stale value: EAGAIN\n"
    "cmp_requeue: 3\n"
    "wake on the old word: 0\n"
    "wake on the new word: 2\n"
    "wake_op: woke 0, second word now 1\n"
    "join through CLONE_CHILD_CLEARTID: returned 42\n"
    "interrupted with SA_RESTART: wait returned 0, handler ran 1, word 1\n"
    "interrupted without SA_RESTART: wait returned EINTR, handler ran 1, word 0\n";

static void check(const char *arch, int cpus, uint64_t seed)
{
    static struct guest_result r;
    struct guest_opts o = {.cpus = cpus, .seed = seed, .max_insns = 200000000};
    cr_assert_eq(guest_run(arch, "futex_ops", NULL, &o, &r), 0, "%s", r.err);
    cr_assert_eq(r.outcome, KERNEL_EXITED, "%s: outcome %d\n%s", arch, r.outcome, r.err);
    cr_assert_eq(r.status, 0);
    cr_assert_str_eq(r.out, expected, "%s cpus %d seed %llu", arch, cpus, (unsigned long long)seed);
}

/* spec 7.6 */
Test(futex, operations_match_linux_on_x86_64) { check("x86_64", 4, 1); }
Test(futex, operations_match_linux_on_aarch64) { check("aarch64", 4, 1); }

/* spec 7.6: the outcome of every check is the same whatever the schedule. */
Test(futex, results_do_not_depend_on_cpus_or_seed)
{
    for (int a = 0; a < 2; a++)
        for (int cpus = 1; cpus <= 8; cpus *= 2)
            check(guest_arches[a], cpus, (uint64_t)cpus + 7);
}
