/* cpu_opv (kernel-model/cpu_opv.c, spec 5): one call with a vector from the input, in guest
 * memory the input fills, on the guest machine of either architecture. The call's result is
 * the guest's exit status (unless the vector wrote over the program), which must be one
 * cpu_opv can return: 0 to the count (a comparison stopped the vector), the flags' answers, or
 * -EINVAL, -EFAULT, -EAGAIN; and the checks that come before any memory is read must answer as
 * spec 5.3 orders them.
 *
 * Input: byte 0 the architecture (bit 0); then count (signed), cpu (a CPU of guest_arg's
 * list), flags, where the vector is (0-127: GM_DATA, else a guest_arg), four operations of 8
 * bytes (type, signed; length, 2 bytes; for each pointer a guest_arg byte and an offset byte;
 * expect_fault bits), and the rest is data placed after the vector. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/le.h"
#include "guest_args.h"
#include "guest_code.h"
#include "guest_machine.h"
#include "harness.h"

#define HEADER        5
#define OP_BYTES      8
#define OPS           4
#define CPU_OP_SIZE   32
#define BUDGET        20000
#define LX_EINVAL     22
#define LX_EFAULT     14
#define LX_EAGAIN     11
#define CPU_OPS_TYPES 6

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    harness_init();
    for (int a = 0; a < ARCH_COUNT; a++)
        guest_machine_get(a);
    return 0;
}

/* What spec 5.3 decides before it reads the vector: the result, or 0 when it goes on. */
static long early_result(int count, int cpu, int flags)
{
    if (flags & ~3)
        return -LX_EINVAL;
    if (flags & 1)
        return flags & 2 ? -LX_EINVAL : CPU_OPS_TYPES;
    if (flags & 2)
        return OPS;
    if (cpu < 0 || count < 0 || count > OPS)
        return -LX_EINVAL;
    return 0;
}

static void wrong(const char *what, long got, long want)
{
    harness_fail("fuzz_cpu_opv: %s: exit status %ld, expected %ld", what, got, want);
}

/* Whether a copy or an add of the vector writes into the program's code. */
static bool overwrites_code(const uint8_t *vector, size_t code_len)
{
    for (int i = 0; i < OPS; i++) {
        const uint8_t *op = vector + i * CPU_OP_SIZE;
        uint64_t dst = le_get64(op + 8), len = le_get32(op + 4);
        int32_t type = (int32_t)le_get32(op);
        bool writes = type >= 2 && type <= 5; /* memcpy, memcpy-release, add, add-release */
        if (writes && dst < GM_CODE + code_len && dst + len > GM_CODE)
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 + HEADER + OPS * OP_BYTES)
        return 0;
    enum arch_id arch = data[0] & 1 ? ARCH_AARCH64 : ARCH_X86_64;
    struct guest_machine *m = guest_machine_get(arch);
    const struct arch_desc *a = guest_machine_arch(m);
    const uint8_t *h = data + 1;
    int count = (int8_t)h[0];
    int cpu = (int)guest_arg(a, (uint8_t)(0xe0 | (h[1] & 15)));
    int flags = h[2] & 0x80 ? (int8_t)h[2] : h[2] & 3;
    uint64_t vector = h[3] < 128 ? GM_DATA : guest_arg(a, h[3]);

    static uint8_t blob[GM_DATA_SIZE];
    memset(blob, 0, sizeof(blob));
    const uint8_t *op = h + HEADER;
    for (int i = 0; i < OPS; i++, op += OP_BYTES) {
        uint8_t *out = blob + i * CPU_OP_SIZE;
        le_put32(out, (uint32_t)(int32_t)(int8_t)op[0]);
        le_put32(out + 4, le_get16(op + 1));
        le_put64(out + 8, guest_arg(a, op[3]) + op[4]);
        le_put64(out + 16, guest_arg(a, op[5]) + op[6]);
        out[24] = op[7] & 1;
        out[25] = op[7] >> 1 & 1;
    }
    size_t rest = size - (1 + HEADER + OPS * OP_BYTES), at = OPS * CPU_OP_SIZE;
    rest = rest < sizeof(blob) - at ? rest : sizeof(blob) - at;
    memcpy(blob + at, op, rest);

    static uint8_t code[256];
    struct guest_code c = {.arch = arch, .buf = code, .cap = sizeof(code)};
    uint64_t args[6] = {
        vector, (uint64_t)(int64_t)count, (uint64_t)(int64_t)cpu, (uint64_t)(int64_t)flags, 0, 0};
    if (!guest_code_syscall(&c, KERNEL_CPU_OPV_NR_DEFAULT, args) ||
        !guest_code_exit_with_result(&c))
        harness_fail("fuzz_cpu_opv: the call does not fit its code buffer");
    struct kernel_result res;
    guest_machine_run(m, code, c.len, blob, at + rest, 0, BUDGET, &res);
    /* A copy may land on the program itself, which then runs what was copied. */
    if (res.outcome != KERNEL_EXITED && overwrites_code(blob, c.len))
        return 0;
    if (res.outcome != KERNEL_EXITED)
        wrong("the guest did not exit", res.outcome, KERNEL_EXITED);
    long got = res.status;
    long early = early_result(count, cpu, flags);
    if (early && (early & 0xff) != got)
        wrong("a check before the vector is read", got, early & 0xff);
    bool allowed = got <= (count > 0 ? count : 0) || got == (-LX_EINVAL & 0xff) ||
                   got == (-LX_EFAULT & 0xff) || got == (-LX_EAGAIN & 0xff);
    if (!early && !allowed)
        wrong("not a result cpu_opv can give", got, 0);
    return 0;
}
