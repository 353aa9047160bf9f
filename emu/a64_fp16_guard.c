/* The unallocated encodings of AArch64's "Advanced SIMD three same (FP16)" group make Debian's
 * Unicorn 2.0.1 abort: its translator (QEMU 5's disas_simd_three_reg_same_fp16) reaches
 * g_assert_not_reached() for them, where a CPU raises an undefined-instruction exception (Linux:
 * SIGILL, ILL_ILLOPC). Garbage a guest jumps into can hold one.
 *
 * The translator fetches each instruction word through cpu_ldl_code_aarch64(), reached through
 * an interposable relocation: the wrapper hands it `udf #0` instead of such a word, which the
 * translator turns into that exception at the instruction. Guest memory is not changed. */
#include <dlfcn.h>
#include <stdint.h>

#include "emu_internal.h"

typedef uint32_t (*ldl_code_fn)(void *env, uint64_t addr);
static ldl_code_fn real_ldl_code;

/* 0 Q U 01110 a 10 Rm 00 opcode 1 Rn Rd */
#define FP16_THREE_SAME_MASK  0x9f60c400u
#define FP16_THREE_SAME_VALUE 0x0e400400u

/* Unallocated (U, a, opcode) of the group, bit U << 4 | a << 3 | opcode (Arm ARM C4.1.96):
 * U=0 a=0 101; U=0 a=1 011, 100, 101; U=1 a=0 001; U=1 a=1 001, 011, 111. */
static const uint32_t fp16_unallocated =
    1u << 5 | 1u << 11 | 1u << 12 | 1u << 13 | 1u << 17 | 1u << 25 | 1u << 27 | 1u << 31;

bool a64_insn_unallocated_fp16(uint32_t insn)
{
    if ((insn & FP16_THREE_SAME_MASK) != FP16_THREE_SAME_VALUE)
        return false;
    unsigned op = (insn >> 29 & 1) << 4 | (insn >> 23 & 1) << 3 | (insn >> 11 & 7);
    return fp16_unallocated >> op & 1;
}

uint32_t cpu_ldl_code_aarch64(void *env, uint64_t addr);
uint32_t cpu_ldl_code_aarch64(void *env, uint64_t addr)
{
    uint32_t insn = real_ldl_code(env, addr);
    return a64_insn_unallocated_fp16(insn) ? 0 /* udf #0 */ : insn;
}

/* Resolved before any engine exists, as fault_pc.c's helpers. */
__attribute__((constructor)) static void a64_fp16_guard_resolve(void)
{
    real_ldl_code = (ldl_code_fn)dlsym(RTLD_NEXT, "cpu_ldl_code_aarch64");
}

bool a64_fp16_guard_wired(void) { return real_ldl_code != NULL; }
