/* Where the guest sees its program (README "What the guest sees"): the path rseqemu was given,
 * absolute against the guest's working directory "/" and clean, as Linux's /proc/self/exe is;
 * never the host's absolute path, so the same command line gives the same run, and digest, in
 * every checkout. */
#include <criterion/criterion.h>
#include <string.h>

#include "guest_run.h"
#include "kernel-model/vfs.h"

Test(vfs_path, made_absolute_against_the_root_and_cleaned)
{
    static const struct {
        const char *given, *seen;
    } cases[] = {
        {"build/guests/x86_64/percpu_counter", "/build/guests/x86_64/percpu_counter"},
        {"./prog", "/prog"},
        {"/abs//dir/./prog", "/abs/dir/prog"},
        {"a/b/../c", "/a/c"},
        {"../../prog", "/prog"},
        {"a/..", "/"},
        {"/", "/"},
        {"dir/", "/dir"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[64];
        size_t n = vfs_abs_path(cases[i].given, buf, sizeof(buf));
        cr_expect_str_eq(buf, cases[i].seen, "%s", cases[i].given);
        cr_expect_eq(n, strlen(cases[i].seen), "%s", cases[i].given);
    }
}

Test(vfs_path, cut_at_the_buffer_and_always_terminated)
{
    char buf[8];
    size_t n = vfs_abs_path("ab/cdefghij", buf, sizeof(buf));
    cr_expect_eq(n, strlen(buf));
    cr_expect_str_eq(buf, "/ab");
}

/* The program as the guest sees it through readlink("/proc/self/exe") is the path it was run
 * by, made absolute: tests run guests by their absolute path in the build tree. */
Test(vfs_path, proc_self_exe_is_the_path_given)
{
    static struct guest_result r;
    for (int a = 0; a < 2; a++) {
        const char *args[] = {"exe", NULL};
        cr_assert_eq(guest_run(guest_arches[a], "syscalls_misc", args, NULL, &r), 0, "%s", r.err);
        char want[4200];
        snprintf(want, sizeof(want), "/proc/self/exe: %s\n",
                 guest_path(guest_arches[a], "syscalls_misc"));
        cr_expect(strstr(r.out, want) != NULL, "%s: no line %s in:\n%s", guest_arches[a], want,
                  r.out);
    }
}
