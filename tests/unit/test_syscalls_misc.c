/* Syscalls whose answers the model decides (spec 6.2, 7.7, 7.10): interval timers on virtual
 * time, waiting for signals, identity and limits, seeded randomness, the guest's few files. */
#include <criterion/criterion.h>
#include <string.h>

#include "guest_run.h"

static struct guest_result r;

static void run(const char *arch, const char *what, uint64_t seed)
{
    const char *args[] = {what, NULL};
    struct guest_opts o = {.seed = seed};
    cr_assert_eq(guest_run(arch, "syscalls_misc", args, &o, &r), 0, "%s", r.err);
    cr_assert_eq(r.outcome, KERNEL_EXITED, "%s %s: %s", arch, what, r.err);
    cr_assert_eq(r.status, 0);
}

static void expect_both(const char *what, const char *expected)
{
    for (int a = 0; a < 2; a++) {
        run(guest_arches[a], what, 1);
        cr_expect_str_eq(r.out, expected, "%s %s", guest_arches[a], what);
    }
}

Test(syscalls_misc, alarm_and_setitimer_fire_on_virtual_time)
{
    expect_both("timers", "alarm(1): one SIGALRM after 1s\n"
                          "setitimer 10ms: 4 alarms, interval read back 10000 us\n");
}

Test(syscalls_misc, sigwaitinfo_sigtimedwait_and_sigsuspend)
{
    /* glibc folds the SI_TKILL that raise() produces into SI_USER (0). */
    expect_both("waiting", "sigwaitinfo: User defined signal 1, si_code 0, si_pid is ours yes\n"
                           "sigtimedwait timeout: -1 EAGAIN\n"
                           "nothing pending: yes\n"
                           "sigsuspend: -1 EINTR, handler ran 1, mask restored yes\n");
}

Test(syscalls_misc, identity_and_limits_are_fixed_not_the_hosts)
{
    for (int a = 0; a < 2; a++) {
        run(guest_arches[a], "identity", 1);
        char want[512];
        snprintf(want, sizeof(want),
                 "uname: Linux rseqemu %s\n"
                 "ids: uid 1000 gid 1000 pid >=100 tid==pid yes ppid 1\n"
                 "stack limit 8 MiB, hard unlimited\n"
                 "lowering: 0 ok\n"
                 "raising the hard limit again: -1 EPERM\n"
                 "sched_getscheduler: 0\n",
                 guest_arches[a]);
        cr_expect_str_eq(r.out, want);
    }
}

Test(syscalls_misc, getrandom_follows_the_seed)
{
    for (int a = 0; a < 2; a++) {
        run(guest_arches[a], "random", 5);
        char first[sizeof(r.out)];
        strcpy(first, r.out);
        cr_expect(strstr(first, "getrandom: two draws differ yes\n"
                                "getrandom bad flags: -1 EINVAL\n") == first);
        run(guest_arches[a], "random", 5);
        cr_expect_str_eq(r.out, first, "same seed, same bytes");
        run(guest_arches[a], "random", 6);
        cr_expect_str_neq(r.out, first, "another seed, other bytes");
    }
}

Test(syscalls_misc, only_the_modelled_files_exist)
{
    expect_both("files", "cpu online: 0-3\n"
                         "lseek to 1: 1, then: -3\n"
                         "open a host file: -1 ENOENT\n"
                         "create a file: -1 EACCES\n"
                         "write to a cpu file: -1 EACCES\n"
                         "/dev/null: write 3 read 0\n"
                         "/proc/self/exe is absolute: yes\n"
                         "/proc/self/maps lists the stack: yes\n"
                         "stdout is a pipe: yes, isatty 0\n"
                         "close(99): -1 EBADF\n"
                         "cwd: /\n");
}
