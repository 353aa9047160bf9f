/* Random programs on both architectures: machine code from the input, mixed with system calls
 * whose numbers come from the model's own table (syscalls.def) and whose arguments are drawn
 * from values that matter to a kernel (guest_args.h), run on a whole machine restored from a
 * snapshot under an instruction budget.
 *
 * A guest that faults, is killed or runs out of budget is an ordinary outcome; what this finds
 * is rseqemu failing: a sanitizer report, an engine assertion (abort), or the model saying the
 * machine failed (guest_machine_run aborts then).
 *
 * Input: byte 0 chooses the architecture (bit 0); then records until the end:
 *   0x00-0x5f  code: the next (tag & 0x1f) + 1 bytes, as they are
 *   0x60-0x7f  data: offset byte (x16 into GM_DATA), then (tag & 0x1f) + 1 bytes put there
 *   0x80-0xbf  a system call of the table: 2 bytes choose the row (among the modelled calls
 *              and cpu_opv for an even tag, among every row for an odd one), 6 bytes the
 *              arguments (guest_args.h)
 *   0xc0-0xff  the same with the 2 bytes as the number itself (any number, unknown ones too)
 * and the program ends with exit_group of the last result. Every eighth program runs twice,
 * and must run the same from the same snapshot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch/le.h"
#include "emu/hash.h"
#include "guest_args.h"
#include "guest_code.h"
#include "guest_machine.h"
#include "harness.h"
#include "kernel-model/syscall.h"

#define BUDGET 20000

/* The rows of the model's table with each architecture's number; modelled ones first. */
static const struct syscall_row_lite {
    const char *name;
    int nr[ARCH_COUNT];
    enum sys_status status;
} table[] = {
#define SYSCALL(name, x86_64, aarch64, fn, status, args) {#name, {x86_64, aarch64}, status},
#include "kernel-model/syscalls.def"
#undef SYSCALL
};
#define TABLE_ROWS (sizeof(table) / sizeof(table[0]))

struct numbers {
    uint64_t nr[TABLE_ROWS + 1];
    size_t modelled, all;
};
static struct numbers numbers[ARCH_COUNT];

static void numbers_init(enum arch_id a)
{
    struct numbers *n = &numbers[a];
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < TABLE_ROWS; i++) {
            bool modelled = table[i].status != SYS_UNSUPPORTED;
            if (table[i].nr[a] >= 0 && modelled == (pass == 0))
                n->nr[n->all++] = (uint64_t)table[i].nr[a];
        }
        if (pass == 0) {
            n->nr[n->all++] = KERNEL_CPU_OPV_NR_DEFAULT; /* cpu_opv has no Linux number */
            n->modelled = n->all;
        }
    }
}

static uint64_t runs[ARCH_COUNT], outcomes[ARCH_COUNT][KERNEL_PAUSED + 1];
static struct timespec started;

static void report(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double s = (double)(now.tv_sec - started.tv_sec) + (now.tv_nsec - started.tv_nsec) / 1e9;
    for (int a = 0; a < ARCH_COUNT; a++)
        fprintf(harness_err(),
                "fuzz_guest: %s: %llu programs (%.0f/s): %llu exited, %llu killed, %llu out of "
                "budget, %llu deadlocked\n",
                arch_get(a)->name, (unsigned long long)runs[a], s > 0 ? runs[a] / s : 0.0,
                (unsigned long long)outcomes[a][KERNEL_EXITED],
                (unsigned long long)outcomes[a][KERNEL_SIGNALED],
                (unsigned long long)outcomes[a][KERNEL_RUNAWAY],
                (unsigned long long)outcomes[a][KERNEL_DEADLOCK]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    harness_init();
    for (int a = 0; a < ARCH_COUNT; a++) {
        numbers_init(a);
        guest_machine_get(a);
    }
    clock_gettime(CLOCK_MONOTONIC, &started);
    atexit(report);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum arch_id arch = data[0] & 1 ? ARCH_AARCH64 : ARCH_X86_64;
    struct guest_machine *m = guest_machine_get(arch);
    const struct arch_desc *a = guest_machine_arch(m);
    static uint8_t code[GM_CODE_SIZE], blob[GM_DATA_SIZE];
    struct guest_code c = {.arch = arch, .buf = code, .cap = sizeof(code) - GUEST_CODE_CALL_MAX};
    size_t blob_len = 0;
    memset(blob, 0, sizeof(blob)); /* nothing of an earlier input may reach this one */
    const struct numbers *nums = &numbers[arch];
    size_t i = 1;
    while (i < size) {
        uint8_t tag = data[i++];
        if (tag < 0x60) {
            size_t n = (size_t)(tag & 0x1f) + 1;
            n = n < size - i ? n : size - i;
            if (!guest_code_bytes(&c, data + i, n))
                break;
            i += n;
        } else if (tag < 0x80) {
            if (i >= size)
                break;
            size_t off = (size_t)data[i++] * 16, n = (size_t)(tag & 0x1f) + 1;
            n = n < size - i ? n : size - i;
            memcpy(blob + off, data + i, n);
            i += n;
            blob_len = off + n > blob_len ? off + n : blob_len;
        } else {
            if (size - i < 8)
                break;
            uint16_t sel = le_get16(data + i);
            uint64_t nr =
                tag >= 0xc0 ? sel : nums->nr[sel % (tag & 1 ? nums->all : nums->modelled)];
            uint64_t args[6];
            for (int k = 0; k < 6; k++)
                args[k] = guest_arg(a, data[i + 2 + k]);
            i += 8;
            if (!guest_code_syscall(&c, nr, args))
                break;
        }
    }
    c.cap = sizeof(code);
    guest_code_exit_with_result(&c);
    struct kernel_result res;
    guest_machine_run(m, code, c.len, blob, blob_len, 0, BUDGET, &res);
    runs[arch]++;
    outcomes[arch][res.outcome]++;
    /* A run from the snapshot must not depend on the runs before it: every eighth program (by
     * its bytes, so that a failure replays) runs again, and the two must be the same run. */
    struct hash64 h = HASH64_INIT;
    hash64_bytes(&h, data, size);
    if ((h.h & 7) == 0) {
        struct kernel_result again;
        guest_machine_run(m, code, c.len, blob, blob_len, 0, BUDGET, &again);
        if (again.outcome != res.outcome || again.status != res.status ||
            again.insns != res.insns || again.digest != res.digest)
            harness_fail("fuzz_guest: the same program ran differently from the same snapshot: "
                         "outcome %d/%d, status %d/%d, %llu/%llu instructions, digest "
                         "%016llx/%016llx",
                         res.outcome, again.outcome, res.status, again.status,
                         (unsigned long long)res.insns, (unsigned long long)again.insns,
                         (unsigned long long)res.digest, (unsigned long long)again.digest);
    }
    return 0;
}
