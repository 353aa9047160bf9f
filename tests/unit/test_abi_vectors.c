/* Signals and the process ABI as a program sees them: the vectors of spec 9.6 beyond the frame
 * layouts (test_sigframe_*) and the futex ones (test_futex). tests/e2e also compares the guest
 * with the host kernel. */
#include <criterion/criterion.h>
#include <string.h>

#include "guest_run.h"

static struct guest_result r;

/* Spec 9.6 vectors 79-82 and 85-87, both architectures. */
Test(abi_vectors, vectors_9_6)
{
    static const char want[] =
        "79 in the handler: SIGUSR1 blocked 1, SIGUSR2 blocked 1; after: 0 0\n"
        "80 on the alternate stack 1, SS_ONSTACK 1, changing it there: EPERM\n"
        "81 rt_sigaction sigsetsize 16 = -22, SIGKILL = -22\n"
        "81 rt_sigprocmask how 3 = -22, how 3 without sets = 0, sigsetsize 4 = -22\n"
        "82 tgkill(our pid, a tid not ours) = -3, tgkill(0, our tid) = -22\n"
        "85 clone3 size 63 = -22, size 4097 = -7\n"
        "85 clone3 stack without stack_size = -22\n"
        "86 AT_RANDOM present: yes\n"
        "87 sched_getaffinity len 4 = -22, len 12 = -22, len 128 = a mask size: yes\n"
        "87 set_robust_list len 16 = -22\n";
    for (int a = 0; a < 2; a++) {
        cr_assert_eq(guest_run(guest_arches[a], "abi_vectors", NULL, NULL, &r), 0, "%s", r.err);
        cr_expect_eq(r.outcome, KERNEL_EXITED, "%s: %s", guest_arches[a], r.err);
        cr_expect_eq(r.status, 0);
        cr_expect_str_eq(r.out, want, "%s", guest_arches[a]);
    }
}

/* Spec 9.6 vector 76: on x86-64 a handler without SA_RESTORER is accepted, and the signal then
 * kills the process with SIGSEGV (there is no return address to build a frame with). */
Test(abi_vectors, x86_64_handler_without_restorer_kills)
{
    const char *args[] = {"76", NULL};
    cr_assert_eq(guest_run("x86_64", "abi_vectors", args, NULL, &r), 0, "%s", r.err);
    cr_expect_eq(r.outcome, KERNEL_SIGNALED, "%s", r.err);
    cr_expect_eq(r.status, 11);
    cr_expect_str_eq(r.out, "76 rt_sigaction without SA_RESTORER = 0\n");
}

/* Spec 9.6 vector 78: aarch64 needs no SA_RESTORER; the handler returns through the kernel's
 * trampoline and the program goes on. */
Test(abi_vectors, aarch64_handler_without_restorer_returns)
{
    cr_assert_eq(guest_run("aarch64", "abi_vectors", NULL, NULL, &r), 0, "%s", r.err);
    cr_expect_eq(r.outcome, KERNEL_EXITED, "%s", r.err);
    cr_expect_not_null(strstr(r.out, "79 in the handler"), "%s", r.out);
}
