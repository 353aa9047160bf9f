/* The syscall table (kernel-model/syscalls.def): one row per call, both architectures'
 * numbers as Linux 6.1 assigns them, a handler for what is modelled. */
#include <criterion/criterion.h>
#include <string.h>

#include "arch/arch.h"
#include "kernel-model/syscall.h"

struct known {
    const char *name;
    int x86_64, aarch64;
};

/* Numbers from arch/x86/entry/syscalls/syscall_64.tbl and include/uapi/asm-generic/unistd.h
 * (spec 7.3). */
static const struct known known[] = {
    {"read", 0, 63},
    {"write", 1, 64},
    {"mmap", 9, 222},
    {"mprotect", 10, 226},
    {"munmap", 11, 215},
    {"brk", 12, 214},
    {"rt_sigaction", 13, 134},
    {"rt_sigprocmask", 14, 135},
    {"rt_sigreturn", 15, 139},
    {"ioctl", 16, 29},
    {"sched_yield", 24, 124},
    {"madvise", 28, 233},
    {"nanosleep", 35, 101},
    {"getpid", 39, 172},
    {"clone", 56, 220},
    {"exit", 60, 93},
    {"kill", 62, 129},
    {"sigaltstack", 131, 132},
    {"arch_prctl", 158, -1},
    {"gettid", 186, 178},
    {"tkill", 200, 130},
    {"futex", 202, 98},
    {"sched_setaffinity", 203, 122},
    {"sched_getaffinity", 204, 123},
    {"set_tid_address", 218, 96},
    {"clock_gettime", 228, 113},
    {"clock_nanosleep", 230, 115},
    {"exit_group", 231, 94},
    {"tgkill", 234, 131},
    {"newfstatat", 262, 79},
    {"readlinkat", 267, 78},
    {"ppoll", 271, 73},
    {"set_robust_list", 273, 99},
    {"prlimit64", 302, 261},
    {"getcpu", 309, 168},
    {"getrandom", 318, 278},
    {"membarrier", 324, 283},
    {"rseq", 334, 293},
    {"clone3", 435, 435},
    {"poll", 7, -1},
    {"fork", 57, -1},
    {"mmap2", -1, -1},
};

Test(syscall_table, numbers_match_linux)
{
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        const struct syscall_row *row = syscall_by_name(known[i].name);
        if (known[i].x86_64 < 0 && known[i].aarch64 < 0) {
            cr_expect_null(row, "%s is a 32-bit-only call and must not be listed", known[i].name);
            continue;
        }
        cr_assert_not_null(row, "%s missing", known[i].name);
        cr_expect_eq(row->nr[ARCH_X86_64], known[i].x86_64, "%s x86-64", known[i].name);
        cr_expect_eq(row->nr[ARCH_AARCH64], known[i].aarch64, "%s aarch64", known[i].name);
    }
}

Test(syscall_table, lookup_by_number_finds_the_row_for_each_arch)
{
    for (int a = 0; a < ARCH_COUNT; a++) {
        const struct arch_desc *arch = arch_get((enum arch_id)a);
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
            int nr = a == ARCH_X86_64 ? known[i].x86_64 : known[i].aarch64;
            if (nr < 0)
                continue;
            const struct syscall_row *row = syscall_lookup(arch, (uint64_t)nr);
            cr_assert_not_null(row, "%s %d", arch->name, nr);
            cr_expect_str_eq(row->name, known[i].name);
        }
    }
}

Test(syscall_table, unknown_numbers_have_no_row)
{
    const struct arch_desc *x86 = arch_get(ARCH_X86_64), *a64 = arch_get(ARCH_AARCH64);
    cr_expect_null(syscall_lookup(x86, 1000));
    cr_expect_null(syscall_lookup(x86, (uint64_t)-1));
    cr_expect_null(syscall_lookup(a64, 244)); /* arch-specific range, unused on arm64 */
    /* Numbers the table lists for one arch only are unknown on the other. */
    cr_expect_null(syscall_lookup(a64, 1000));
}

Test(syscall_table, every_number_belongs_to_one_row_per_arch)
{
    for (int a = 0; a < ARCH_COUNT; a++) {
        const struct arch_desc *arch = arch_get((enum arch_id)a);
        for (uint64_t nr = 0; nr < 1024; nr++) {
            const struct syscall_row *row = syscall_lookup(arch, nr);
            if (row)
                cr_expect_eq((uint64_t)row->nr[a], nr, "%s: %s", arch->name, row->name);
        }
    }
}

Test(syscall_table, supported_rows_have_handlers_and_unsupported_ones_return_enosys)
{
    const struct syscall_row *rseq = syscall_by_name("rseq");
    cr_assert_not_null(rseq);
    cr_expect_eq(rseq->status, SYS_SUPPORTED);
    const struct syscall_row *io_setup = syscall_by_name("io_setup");
    cr_assert_not_null(io_setup, "unsupported calls are listed so reports can name them");
    cr_expect_eq(io_setup->status, SYS_UNSUPPORTED);
    cr_expect_eq(io_setup->fn(NULL, NULL, NULL), -LX_ENOSYS);
}
